# The node cmdlets as a user meets them: the exact command plan per distribution, errors, typed status.
BeforeAll {
    Import-Module (Join-Path $env:AKSAUDITD_MODULE 'AksAuditd.psd1') -Force
    $script:OsRelease = Join-Path $PSScriptRoot '../AksAuditd.Core.Tests/Host/OsRelease'

    function New-NodeRoot([string] $Fixture) {
        $root = Join-Path $TestDrive ([guid]::NewGuid().ToString('N'))
        New-Item -ItemType Directory (Join-Path $root 'etc'), (Join-Path $root 'run/systemd/system') -Force | Out-Null
        Copy-Item (Join-Path $OsRelease $Fixture) (Join-Path $root 'etc/os-release')
        $root
    }

    function Get-WhatIfLines([scriptblock] $Script) {
        $transcript = Join-Path $TestDrive "whatif-$([guid]::NewGuid().ToString('N')).txt"
        Start-Transcript -Path $transcript -UseMinimalHeader | Out-Null
        try { & $Script | Out-Null } finally { Stop-Transcript | Out-Null }
        Get-Content $transcript | Where-Object { $_ -like 'What if:*' }
    }
}

Describe 'Install-Auditd -WhatIf' {
    It 'lists the exact apt-get commands on <Fixture>' -ForEach @(
        @{ Fixture = 'ubuntu-22.04' }, @{ Fixture = 'debian-11' }
    ) {
        $root = New-NodeRoot $Fixture
        $lines = Get-WhatIfLines { Install-Auditd -HostRoot $root -WhatIf }
        $lines | Should -Be @(
            "What if: Performing the operation `"DEBIAN_FRONTEND=noninteractive chroot $root apt-get -q -o DPkg::Lock::Timeout=60 update`" on target `"$root`"."
            "What if: Performing the operation `"DEBIAN_FRONTEND=noninteractive chroot $root apt-get -q -y -o DPkg::Lock::Timeout=60 install auditd audispd-plugins`" on target `"$root`"."
            "What if: Performing the operation `"SYSTEMD_IGNORE_CHROOT=1 chroot $root systemctl enable auditd`" on target `"$root`"."
            "What if: Performing the operation `"SYSTEMD_IGNORE_CHROOT=1 chroot $root systemctl start auditd`" on target `"$root`"."
        )
    }

    It 'uses <Manager> and <Packages> on <Fixture>' -ForEach @(
        @{ Fixture = 'azurelinux-3.0'; Manager = 'tdnf'; Packages = 'audit' }
        @{ Fixture = 'azurelinux-2.0'; Manager = 'tdnf'; Packages = 'audit' }
        @{ Fixture = 'rhel-9'; Manager = 'dnf'; Packages = 'audit audispd-plugins' }
        @{ Fixture = 'almalinux-8'; Manager = 'dnf'; Packages = 'audit audispd-plugins' }
    ) {
        $root = New-NodeRoot $Fixture
        $result = Install-Auditd -HostRoot $root -WhatIf
        $result.PSObject.TypeNames[0] | Should -Be 'AksAuditd.Core.Host.InstallResult'
        $result.PackageManager | Should -Be $Manager
        ($result.Packages -join ' ') | Should -Be $Packages
        $result.Changed | Should -BeFalse
        $lines = Get-WhatIfLines { Install-Auditd -HostRoot $root -WhatIf }
        $lines[0] | Should -Be "What if: Performing the operation `"chroot $root $Manager install -y $Packages`" on target `"$root`"."
    }

    It 'stops with UnsupportedDistribution naming an unknown distribution' {
        $root = New-NodeRoot 'unknown-alpine-3.19'
        $failure = { Install-Auditd -HostRoot $root -WhatIf -ErrorAction Stop } | Should -Throw -PassThru
        $failure.FullyQualifiedErrorId | Should -Be 'UnsupportedDistribution,AksAuditd.PowerShell.Commands.InstallAuditdCommand'
        $failure.Exception.Message | Should -Match 'Alpine Linux v3.19'
    }
}

Describe 'Get-AuditdStatus' {
    It 'returns a typed status of this machine''s kernel' {
        $status = Get-AuditdStatus -HostRoot /
        $status.PSObject.TypeNames[0] | Should -Be 'AksAuditd.Core.Host.AuditdStatus'
        $status.Version | Should -Match '^\d+\.\d+'
        $status.BacklogLimit | Should -BeGreaterThan 0
        ($status | Format-Table | Out-String) | Should -Match 'PidHolder'
    }
}

Describe 'Get-AuditRuleDrift -Kernel' {
    It 'has the Kernel parameter set and reads the kernel without changing it' {
        (Get-Command Get-AuditRuleDrift).ParameterSets.Name | Should -Contain 'Kernel'
        { Get-AuditRuleDrift -Kernel -HostRoot / -ErrorAction Stop } | Should -Not -Throw
    }
}
