# The node cmdlets as a user meets them: the exact command plan per distribution, errors, typed status.
BeforeAll {
    Import-Module (Join-Path $env:AKSAUDITD_MODULE 'AksAuditd.psd1') -Force
    # Restart-Auditd and Install-Auditd behind the kernel load guard (tests/Shared/KernelLoadGuard.cs): they refuse
    # to load -e 2, -f 2 or --loginuid-immutable into this machine's kernel, whatever a test wrote.
    . (Join-Path $PSScriptRoot '../../image/Sandbox.ps1')
    Import-KernelTestType
    . ([scriptblock]::Create([AksAuditd.Tests.Shared.KernelLoadGuard]::CmdletProxyScript))
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
    It 'stops with HostCommandFailed naming auditctl when the node root has no auditctl' {
        # A root without auditd installed: chroot cannot run auditctl there and exits 127.
        $root = Join-Path $TestDrive 'no-auditd'
        New-Item -ItemType Directory $root | Out-Null
        $failure = { Get-AuditdStatus -HostRoot $root -ErrorAction Stop } | Should -Throw -PassThru
        $failure.FullyQualifiedErrorId | Should -Be 'HostCommandFailed,AksAuditd.PowerShell.Commands.GetAuditdStatusCommand'
        $failure.CategoryInfo.Category | Should -Be 'InvalidResult'
        $failure.TargetObject | Should -Be "chroot $root auditctl -s"
        $failure.Exception.ExitCode | Should -Be 127
        $failure.Exception.Message | Should -Match 'auditctl.*No such file or directory'
        $failure.Exception.Message | Should -Not -Match 'hostPID' # a missing program is not the kernel refusing a PID namespace
    }

    It 'returns a typed status of this machine''s kernel' {
        $status = Get-AuditdStatus -HostRoot /
        $status.PSObject.TypeNames[0] | Should -Be 'AksAuditd.Core.Host.AuditdStatus'
        $status.Version | Should -Match '^\d+\.\d+'
        $status.BacklogLimit | Should -BeGreaterThan 0
        ($status | Format-Table | Out-String) | Should -Match 'PidHolder'
    }
}

Describe 'Get-AuditRuleDrift -Kernel' {
    # MachineAudit (tests/Shared) was compiled with the kernel load guard by Import-KernelTestType, above.

    It 'reports a rule loaded by hand as Unexpected and leaves the kernel as it was' {
        (Get-Command Get-AuditRuleDrift).ParameterSets.Name | Should -Contain 'Kernel'
        $machine = [AksAuditd.Tests.Shared.MachineAudit]::new()
        try {
            $watched = $machine.Scratch()
            $machine.Auditctl('-w', $watched, '-p', 'wa', '-k', 'aks_pester_by_hand') | Out-Null
            $kernelBefore = $machine.Auditctl('-l')
            $statusBefore = $machine.Status()

            $drift = @(Get-AuditRuleDrift -Kernel -HostRoot / -ErrorAction Stop)

            $byHand = @($drift | Where-Object Rule -eq "-w $watched -p wa -k aks_pester_by_hand")
            $byHand.Count | Should -Be 1
            "$($byHand[0].Status)" | Should -Be 'Unexpected'
            $machine.Auditctl('-l') | Should -Be $kernelBefore
            $statusAfter = $machine.Status()
            foreach ($setting in 'enabled', 'failure', 'pid', 'rate_limit', 'backlog_limit', 'backlog_wait_time') {
                $statusAfter[$setting] | Should -Be $statusBefore[$setting] -Because "reading drift must not change $setting"
            }
        }
        finally {
            $machine.Dispose()
        }
    }
}

Describe 'Restart-Auditd on this machine''s kernel' {
    # tests/Shared/MachineAudit.cs, as the xUnit tests use it (compiled by Import-KernelTestType, above): the
    # kernel test lock, and /etc/audit, the kernel's rules and settings and a stopped auditd put back on Dispose.
    # It never loads -e 2 or -f 2.

    It 'reports a rule the kernel rejects as RuleRejected at its file and line and puts rules.d and the kernel back' {
        $machine = [AksAuditd.Tests.Shared.MachineAudit]::new()
        $saved = @{ AA_HOST_ROOT = $env:AA_HOST_ROOT; AA_CONFIG_FILE = $env:AA_CONFIG_FILE }
        try {
            $source = $machine.Scratch(); $state = $machine.Scratch(); $watched = $machine.Scratch()
            # Watches are validated against this machine's /, as on a node.
            $env:AA_HOST_ROOT = '/'; $env:AA_CONFIG_FILE = Join-Path $state 'no-config.yaml'
            $sync = @{ SourcePath = $source; TargetPath = '/etc/audit/rules.d'; StatePath = $state; Confirm = $false }
            Set-Content (Join-Path $source '50-aks-pester.rules') "-w $watched -p wa -k aks_pester_good"
            Sync-AuditRules @sync
            (Restart-Auditd -HostRoot / -StatePath $state -Confirm:$false -ErrorAction Stop).Succeeded | Should -BeTrue
            $kernelBefore = $machine.Auditctl('-l')
            $kernelBefore | Should -Match ([regex]::Escape("-w $watched -p wa -k aks_pester_good"))
            $rulesFiles = { [AksAuditd.Tests.Shared.MachineAudit]::RulesFiles().GetEnumerator() | ForEach-Object { "$($_.Key)=$($_.Value)" } }
            $filesBefore = & $rulesFiles

            # The watched directory exists when the sync validates it and is gone when the rules load.
            $gone = Join-Path $watched 'app'
            New-Item -ItemType Directory $gone | Out-Null
            Set-Content (Join-Path $source '60-aks-pester-bad.rules') "-w $watched/new -p wa -k aks_pester_new`n-w $gone/app.conf -p wa -k aks_pester_bad"
            Sync-AuditRules @sync
            Remove-Item $gone

            $result = Restart-Auditd -HostRoot / -StatePath $state -Confirm:$false -ErrorVariable problems -ErrorAction SilentlyContinue

            $problems.Count | Should -Be 1
            $problems[0].FullyQualifiedErrorId | Should -Be 'RuleRejected,AksAuditd.PowerShell.Commands.RestartAuditdCommand'
            $problems[0].CategoryInfo.Category | Should -Be 'InvalidData'
            $problems[0].TargetObject | Should -Be '/etc/audit/rules.d/60-aks-pester-bad.rules:2'
            $problems[0].Exception.Message | Should -Match ([regex]::Escape("-w $gone/app.conf -p wa -k aks_pester_bad"))
            $result.RolledBack | Should -BeTrue
            $result.Succeeded | Should -BeFalse
            & $rulesFiles | Should -Be $filesBefore
            $machine.Auditctl('-l') | Should -Be $kernelBefore
        }
        finally {
            foreach ($name in $saved.Keys) { Set-Item "env:$name" $saved[$name] -ErrorAction SilentlyContinue; if ($null -eq $saved[$name]) { Remove-Item "env:$name" -ErrorAction SilentlyContinue } }
            $machine.Dispose()
        }
    }
}
