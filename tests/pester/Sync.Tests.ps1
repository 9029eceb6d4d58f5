# Drift and sync as a user meets them in a fresh pwsh: a kubelet-style ConfigMap volume, -WhatIf, backups, errors.
BeforeAll {
    Import-Module (Join-Path $env:AKSAUDITD_MODULE 'AksAuditd.psd1') -Force

    # The kubelet's layout of a ConfigMap volume, written by the one writer the xUnit tests and the sandbox use
    # (AksAuditd.Core's ConfigMapVolumeWriter through image/Sandbox.ps1).
    . (Join-Path $PSScriptRoot '../../image/Sandbox.ps1')
    function New-ConfigMapVolume {
        param([string] $Path, [hashtable] $Data)
        Write-ConfigMapVolume -Path $Path -Data $Data
    }
}

Describe 'Sync-AuditRules from a ConfigMap volume' {
    BeforeEach {
        $script:root = Join-Path ([IO.Path]::GetTempPath()) ("aks-auditd-pester-" + [Guid]::NewGuid().ToString('N').Substring(0, 8))
        $script:source = Join-Path $root 'configmap'
        $script:target = Join-Path $root 'rules.d'
        $script:state = Join-Path $root 'state'
        New-Item -ItemType Directory -Force $target | Out-Null
        Set-Content -Path (Join-Path $target '50-mde.rules') -Value '-w /opt/microsoft -p wa -k mde'
        New-ConfigMapVolume -Path $source -Data @{ '10-base.rules' = "-D`n-b 8192`n"; '20-identity.rules' = "-w /etc/passwd -p wa -k identity`n"; 'README.md' = 'docs' }
    }
    AfterEach { Remove-Item -Recurse -Force $root }

    It 'syncs only *.rules, warns about other files and leaves foreign files alone' {
        $result = Sync-AuditRules -SourcePath $source -TargetPath $target -StatePath $state -PassThru -WarningVariable warnings 3>$null
        $result.Changed | Should -BeTrue
        $result.Added | Should -Be @('10-base.rules', '20-identity.rules')
        $result.Foreign | Should -Be @('50-mde.rules')
        ($warnings -join "`n") | Should -Match 'README\.md'
        (Get-ChildItem -Force $target).Name | Sort-Object | Should -Be @('10-base.rules', '20-identity.rules', '50-mde.rules')
        Get-Content -Raw (Join-Path $target '10-base.rules') | Should -Be "-D`n-b 8192`n"
    }

    It 'follows a kubelet update and backs up what it replaces and removes' {
        Sync-AuditRules -SourcePath $source -TargetPath $target -StatePath $state 3>$null
        New-ConfigMapVolume -Path $source -Data @{ '10-base.rules' = "-D`n-b 16384`n" }
        (Get-AuditRuleDrift -SourcePath $source -TargetPath $target -StatePath $state 3>$null | ForEach-Object { "$($_.Name):$($_.Status)" }) |
            Should -Be @('10-base.rules:Modified', '20-identity.rules:Removed', '50-mde.rules:Foreign')

        $result = Sync-AuditRules -SourcePath $source -TargetPath $target -StatePath $state -PassThru 3>$null
        $result.Modified | Should -Be @('10-base.rules')
        $result.Removed | Should -Be @('20-identity.rules')
        Get-Content -Raw (Join-Path $result.BackupPath 'files/10-base.rules') | Should -Be "-D`n-b 8192`n"
        Get-Content -Raw (Join-Path $result.BackupPath 'files/20-identity.rules') | Should -Be "-w /etc/passwd -p wa -k identity`n"
        $manifest = Get-Content -Raw (Join-Path $result.BackupPath 'manifest.json') | ConvertFrom-Json
        $manifest.removed.name | Should -Be @('20-identity.rules')
        (Get-ChildItem -Force $target).Name | Sort-Object | Should -Be @('10-base.rules', '50-mde.rules')
    }

    It '-WhatIf changes nothing' {
        $before = Get-ChildItem -Force $target | ForEach-Object { "$($_.Name):$($_.Length)" }
        Sync-AuditRules -SourcePath $source -TargetPath $target -StatePath $state -Mode Mirror -WhatIf 3>$null
        Get-ChildItem -Force $target | ForEach-Object { "$($_.Name):$($_.Length)" } | Should -Be $before
        Test-Path $state | Should -BeFalse
    }

    It 'refuses an empty ConfigMap with SourceEmpty unless -AllowEmpty' {
        Sync-AuditRules -SourcePath $source -TargetPath $target -StatePath $state 3>$null
        New-ConfigMapVolume -Path $source -Data @{}
        { Sync-AuditRules -SourcePath $source -TargetPath $target -StatePath $state -ErrorAction Stop 3>$null } |
            Should -Throw -ErrorId 'SourceEmpty,AksAuditd.PowerShell.Commands.SyncAuditRulesCommand'
        (Get-ChildItem $target).Count | Should -Be 3
        $result = Sync-AuditRules -SourcePath $source -TargetPath $target -StatePath $state -AllowEmpty -PassThru 3>$null
        $result.Removed | Should -Be @('10-base.rules', '20-identity.rules')
        (Get-ChildItem $target).Name | Should -Be @('50-mde.rules')
    }

    It 'refuses a target that is a file with TargetNotADirectory' {
        $file = Join-Path $root 'not-a-dir'
        Set-Content $file 'x'
        { Sync-AuditRules -SourcePath $source -TargetPath $file -StatePath $state -ErrorAction Stop 3>$null } |
            Should -Throw -ErrorId 'TargetNotADirectory,AksAuditd.PowerShell.Commands.SyncAuditRulesCommand'
    }
}

Describe 'Sync-AuditPlugins' {
    BeforeEach {
        $script:root = Join-Path ([IO.Path]::GetTempPath()) ("aks-auditd-pester-" + [Guid]::NewGuid().ToString('N').Substring(0, 8))
        New-Item -ItemType Directory -Force (Join-Path $root 'src'), (Join-Path $root 'plugins.d') | Out-Null
    }
    AfterEach { Remove-Item -Recurse -Force $root }

    It 'reports a bad plugin value with file and line and changes nothing' {
        Set-Content (Join-Path $root 'src/syslog.conf') "active = maybe`ndirection = out`npath = /sbin/audisp-syslog`n"
        $result = Sync-AuditPlugins -SourcePath (Join-Path $root 'src') -TargetPath (Join-Path $root 'plugins.d') -StatePath (Join-Path $root 'state') -PassThru -ErrorVariable problems -ErrorAction SilentlyContinue
        $problems[0].FullyQualifiedErrorId | Should -Be 'InvalidPluginConfig,AksAuditd.PowerShell.Commands.SyncAuditPluginsCommand'
        $problems[0].TargetObject | Should -BeLike '*syslog.conf:1'
        $result.Blocked | Should -BeTrue
        Get-ChildItem (Join-Path $root 'plugins.d') | Should -BeNullOrEmpty
    }
    It '-WhatIf reports the plan and changes nothing in plugins.d nor the state directory' {
        $src = Join-Path $root 'src'; $plugins = Join-Path $root 'plugins.d'; $state = Join-Path $root 'state'
        $syslog = "active = yes`ndirection = out`npath = /sbin/audisp-syslog`ntype = always`nformat = string`n"
        Set-Content -NoNewline -Path (Join-Path $src 'syslog.conf') -Value $syslog
        Set-Content -NoNewline -Path (Join-Path $src 'local6.conf') -Value "active = no`ndirection = out`npath = /sbin/audisp-syslog`ntype = always`nargs = LOG_LOCAL6`n"
        Sync-AuditPlugins -SourcePath $src -TargetPath $plugins -StatePath $state -AllowedPluginPath /sbin/audisp-syslog
        Set-Content -NoNewline -Path (Join-Path $src 'syslog.conf') -Value ($syslog -replace 'format = string', 'format = binary')
        Remove-Item (Join-Path $src 'local6.conf')
        $snapshot = {
            param($dir)
            Get-ChildItem -Recurse -Force $dir | Sort-Object FullName |
                ForEach-Object { '{0} {1:o} {2}' -f $_.FullName, $_.LastWriteTimeUtc, $(if (-not $_.PSIsContainer) { (Get-FileHash $_.FullName).Hash }) }
        }
        $pluginsBefore = & $snapshot $plugins
        $stateBefore = & $snapshot $state
        $stateBefore | Should -Not -BeNullOrEmpty

        $plan = Sync-AuditPlugins -SourcePath $src -TargetPath $plugins -StatePath $state -AllowedPluginPath /sbin/audisp-syslog -WhatIf -PassThru
        $plan.WhatIf | Should -BeTrue
        $plan.Changed | Should -BeFalse
        $plan.Modified | Should -Be @('syslog.conf')
        $plan.Removed | Should -Be @('local6.conf')
        # What a person at the prompt reads: -WhatIf writes to the host, so ask a fresh pwsh and read its output.
        $shown = & ([Diagnostics.Process]::GetCurrentProcess().MainModule.FileName) -NoProfile -NonInteractive -Command {
            param($module, $src, $plugins, $state)
            Import-Module $module
            Sync-AuditPlugins -SourcePath $src -TargetPath $plugins -StatePath $state -AllowedPluginPath /sbin/audisp-syslog -WhatIf
        } -args (Join-Path $env:AKSAUDITD_MODULE 'AksAuditd.psd1'), $src, $plugins, $state
        ($shown -join "`n") | Should -Match ([regex]::Escape("What if: Performing the operation `"Sync plugins from $src (Managed): ") + '.*1 modified, 1 removed.*' + [regex]::Escape("on target `"$plugins`""))

        & $snapshot $plugins | Should -Be $pluginsBefore
        & $snapshot $state | Should -Be $stateBefore
        Get-Content -Raw (Join-Path $plugins 'syslog.conf') | Should -Be $syslog
    }
}
