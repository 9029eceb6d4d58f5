# Sync-AuditNode as a user meets it in a fresh pwsh: one pass over a scratch node root, steps that fail alone,
# -WhatIf, the error ids of each step, the format view. -NoRestart: this file never touches the kernel or auditd
# (the pass with restarts is tested in xUnit, NodeSyncTests, and on the real kernel by the DaemonSet tests).
BeforeAll {
    Import-Module (Join-Path $env:AKSAUDITD_MODULE 'AksAuditd.psd1') -Force
    $script:syslog = "active = yes`ndirection = out`npath = /sbin/audisp-syslog`ntype = always`nargs = LOG_INFO`nformat = string`n"
}

Describe 'Sync-AuditNode' {
    BeforeEach {
        $script:root = Join-Path ([IO.Path]::GetTempPath()) ("aks-auditd-pester-node-" + [Guid]::NewGuid().ToString('N').Substring(0, 8))
        $script:node = Join-Path $root 'node'
        $script:rulesSource = Join-Path $root 'rules'
        $script:pluginsSource = Join-Path $root 'plugins'
        New-Item -ItemType Directory -Force (Join-Path $node 'etc/audit/rules.d'), (Join-Path $node 'etc/audit/plugins.d'), $rulesSource, $pluginsSource | Out-Null
        Set-Content -NoNewline -Path (Join-Path $rulesSource '50-identity.rules') -Value "-w /etc/passwd -p wa -k identity`n"
        Set-Content -NoNewline -Path (Join-Path $pluginsSource 'syslog.conf') -Value $syslog
        $script:pass = @{ HostRoot = $node; RulesSourcePath = $rulesSource; PluginsSourcePath = $pluginsSource; NoRestart = $true }
    }
    AfterEach { Remove-Item -Recurse -Force $root }

    It 'syncs rules.d and plugins.d in one pass and returns the typed result of each step' {
        $result = Sync-AuditNode @pass -Confirm:$false

        $result.GetType().FullName | Should -Be 'AksAuditd.Core.Sync.NodeSyncResult'
        $result.Succeeded | Should -BeTrue
        $result.Rules.GetType().FullName | Should -Be 'AksAuditd.Core.Sync.SyncResult'
        $result.Rules.Added | Should -Be @('50-identity.rules')
        $result.Plugins.Added | Should -Be @('syslog.conf')
        $result.Restart | Should -BeNullOrEmpty -Because '-NoRestart'
        Get-Content -Raw (Join-Path $node 'etc/audit/plugins.d/syslog.conf') | Should -Be $syslog
        Test-Path (Join-Path $node 'var/lib/aks-auditd/backup/rules') | Should -BeTrue -Because 'the state directory defaults to the host root''s /var/lib/aks-auditd'
        ($result | Format-List | Out-String) | Should -Match 'Result\s+: in step: every step succeeded'
    }

    It 'a rules source that fails as a whole still lets the plugins sync, with the step''s own error id' {
        Remove-Item (Join-Path $rulesSource '50-identity.rules')

        $result = Sync-AuditNode @pass -ErrorVariable problems -ErrorAction SilentlyContinue

        $problems.Count | Should -Be 1
        $problems[0].FullyQualifiedErrorId | Should -Be 'SourceEmpty,AksAuditd.PowerShell.Commands.SyncAuditNodeCommand'
        $problems[0].TargetObject | Should -Be $rulesSource
        $result.Succeeded | Should -BeFalse
        $result.Failures.Step | Should -Be @('Rules')
        $result.Plugins.Changed | Should -BeTrue
        Get-Content -Raw (Join-Path $node 'etc/audit/plugins.d/syslog.conf') | Should -Be $syslog
        ($result | Format-List | Out-String) | Should -Match 'Result\s+: failed: rules'
    }

    It '-WhatIf shows both plans and changes nothing on the node' {
        $shown = & (Join-Path $PSHOME 'pwsh') -NoProfile -NonInteractive -Command {
            param($module, $node, $rules, $plugins)
            Import-Module $module
            $result = Sync-AuditNode -HostRoot $node -RulesSourcePath $rules -PluginsSourcePath $plugins -NoRestart -WhatIf
            "whatif=$($result.WhatIf)"
        } -args (Join-Path $env:AKSAUDITD_MODULE 'AksAuditd.psd1'), $node, $rulesSource, $pluginsSource
        $text = $shown -join "`n"
        $text | Should -Match ([regex]::Escape("What if: Performing the operation `"Sync rules from $rulesSource (Managed): "))
        $text | Should -Match ([regex]::Escape("What if: Performing the operation `"Sync plugins from $pluginsSource (Managed): "))
        $text | Should -Match 'whatif=True'
        Get-ChildItem -Force (Join-Path $node 'etc/audit/rules.d'), (Join-Path $node 'etc/audit/plugins.d') | Should -BeNullOrEmpty
        Test-Path (Join-Path $node 'var/lib/aks-auditd') | Should -BeFalse
    }

    It 'has help with examples' {
        (Get-Help Sync-AuditNode -Examples).examples.example.Count | Should -BeGreaterOrEqual 2
    }
}
