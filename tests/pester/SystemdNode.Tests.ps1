# The module on a real systemd node: Debian 12 booted under qemu (tests/vm/Invoke-SystemdNode.ps1), the image's
# entrypoint and the cmdlets driving it through nsenter into systemd's PID 1. The VM records facts (exit codes,
# PIDs, loaded rules, the cmdlets' results) per step; every assertion is here, on the host.
# The VM has its own kernel: immutable mode (-e 2) is set there for real, never on this machine.
BeforeAll {
    $script:Vm = & (Join-Path $PSScriptRoot '../vm/Invoke-SystemdNode.ps1') -ModulePath $env:AKSAUDITD_MODULE

    function Get-Fact([string] $Step) {
        # A step the VM did not record, or one that threw there, fails the test that needs it, with the reason.
        $recorded = $Vm.Steps[$Step]
        if (-not $recorded) {
            throw "The VM recorded no step '$Step'; its console is in $($Vm.WorkDirectory)/console-*.log"
        }
        if ($recorded.error) { throw "Step '$Step' failed in the VM: $($recorded.error)" }
        return $recorded.facts
    }

    $script:Nsenter = 'nsenter --target 1 --mount --uts --ipc --net --pid -- '
}

Describe 'The systemd node (Debian 12 under qemu)' {
    It 'booted twice, each boot ending on its own within the time limit' {
        $Vm.Boots.Count | Should -Be 2
        $Vm.Boots | ForEach-Object { $_.TimedOut | Should -BeFalse -Because "boot $($_.Boot) must end by itself (see $($_.Console))" }
    }

    It 'runs systemd as PID 1 and starts without auditd' {
        $facts = Get-Fact 'node'
        $facts.pid1 | Should -Be 'systemd'
        $facts.systemdBooted | Should -BeTrue
        $facts.auditdInstalled | Should -Not -Be 'installed'
        $facts.auditctlPresent | Should -BeFalse
    }
}

Describe 'The init container (entrypoint -Init) on the systemd node' {
    It 'installs auditd from nothing through nsenter into PID 1, enables and starts it, syncs and loads the rules' {
        $facts = Get-Fact 'init'
        $facts.exitCode | Should -Be 0 -Because ($facts.messages -join "`n")
        $facts.auditdInstalled | Should -Be 'installed'
        $facts.active | Should -BeTrue
        $facts.enabled | Should -Be 'enabled'
        $facts.commands | Should -Contain 'DEBIAN_FRONTEND=noninteractive nsenter --target 1 --mount --uts --ipc --net --pid -- apt-get -q -y -o DPkg::Lock::Timeout=60 install auditd audispd-plugins'
        @($facts.commands | Where-Object { $_ -match $Nsenter }).Count | Should -BeGreaterThan 3
        $facts.kernelRules | Should -Contain '-w /etc/passwd -p wa -k vm-passwd'
        $facts.kernelRules | Should -Contain '-a always,exit -F arch=b64 -S sethostname -F key=vm-hostname'
        $facts.auditPid | Should -BeGreaterThan 0
        $facts.auditPid | Should -Be $facts.mainPid
        $facts.plugins | Should -Match 'audisp-syslog LOG_INFO LOG_LOCAL6'
    }

    It 'runs no package manager when auditd is already installed' {
        $facts = Get-Fact 'install-again'
        $facts.errors | Should -BeNullOrEmpty
        $facts.commands | Should -BeNullOrEmpty
        $facts.active | Should -BeTrue
    }
}

Describe 'The main container (the entrypoint loop) on the systemd node' {
    It 'verifies on its first pass, loads a changed rules ConfigMap, applies a changed plugin, then exits 0 on SIGTERM' {
        $facts = Get-Fact 'loop'
        $facts.firstPassVerified | Should -BeTrue
        $facts.ruleLoaded | Should -BeTrue
        $facts.pluginReloaded | Should -BeTrue
        $facts.pluginsBefore | Should -Be @('/sbin/audisp-syslog LOG_INFO LOG_LOCAL6')
        $facts.pluginsAfter | Should -Be @('/sbin/audisp-syslog LOG_INFO LOG_LOCAL5')
        # First pass: verify only. Then the rules change, then the plugin's new args: auditd 3.0.9 keeps a plugin's
        # old args on SIGHUP, so the pass restarts it once.
        $facts.restartMethods | Should -Be @('None', 'LoadRules', 'Reload+Restart')
        $facts.errors | Should -BeNullOrEmpty
        $facts.exitedOnSigterm | Should -BeTrue
        $facts.exitCode | Should -Be 0 -Because ($facts.stderr -join "`n")
    }
}

Describe 'Restart-Auditd modes under systemd' {
    It 'LoadRules runs augenrules --load and keeps the daemon' {
        $facts = Get-Fact 'mode-LoadRules'
        $facts.result.succeeded | Should -BeTrue -Because $facts.result.message
        $facts.result.method | Should -Be 'LoadRules'
        $facts.result.commands | Should -Be @('nsenter --target 1 --mount --uts --ipc --net --pid -- augenrules --load')
        $facts.mainPidAfter | Should -Be $facts.mainPidBefore
        $facts.auditPidAfter | Should -Be $facts.mainPidAfter
    }

    It 'Reload sends SIGHUP to the main process only: same daemon, its syslog plugin still running' {
        $facts = Get-Fact 'mode-Reload'
        $facts.result.succeeded | Should -BeTrue -Because $facts.result.message
        $facts.result.method | Should -Be 'Reload'
        $facts.result.commands | Should -Be @('nsenter --target 1 --mount --uts --ipc --net --pid -- systemctl kill --kill-who=main --signal=SIGHUP auditd.service')
        $facts.mainPidAfter | Should -Be $facts.mainPidBefore
        @($facts.pluginPidsAfter).Count | Should -Be 1
    }

    It 'Restart runs systemctl restart auditd: a new daemon holds the audit PID' {
        $facts = Get-Fact 'mode-Restart'
        $facts.result.succeeded | Should -BeTrue -Because $facts.result.message
        $facts.result.method | Should -Be 'Restart'
        $facts.result.commands | Should -Be @('nsenter --target 1 --mount --uts --ipc --net --pid -- systemctl restart auditd')
        $facts.mainPidAfter | Should -Not -Be $facts.mainPidBefore
        $facts.auditPidAfter | Should -Be $facts.mainPidAfter
        $facts.active | Should -BeTrue
    }
}

Describe 'Restart-Auditd -Mode Auto under systemd' {
    It 'does nothing but verify when nothing is pending' {
        $facts = Get-Fact 'auto-nothing'
        $facts.sync.rulesChanged | Should -BeFalse
        $facts.sync.pluginsChanged | Should -BeFalse
        $facts.result.method | Should -Be 'None'
        $facts.result.succeeded | Should -BeTrue -Because $facts.result.message
        $facts.result.commands | Should -BeNullOrEmpty
    }

    It 'loads rules after a rules change' {
        $facts = Get-Fact 'auto-rules'
        $facts.sync.rulesChanged | Should -BeTrue
        $facts.result.method | Should -Be 'LoadRules'
        $facts.result.succeeded | Should -BeTrue -Because $facts.result.message
        $facts.kernelRules | Should -Contain '-w /etc/group -p wa -k vm-auto-rules'
        $facts.mainPidAfter | Should -Be $facts.mainPidBefore
    }

    It 'reloads after a plugins change, then restarts once because auditd kept the plugin''s old args' {
        $facts = Get-Fact 'auto-plugins'
        $facts.sync.pluginsChanged | Should -BeTrue
        $facts.result.method | Should -Be 'Reload+Restart'
        $facts.result.commands | Should -Be @(
            'nsenter --target 1 --mount --uts --ipc --net --pid -- systemctl kill --kill-who=main --signal=SIGHUP auditd.service'
            'nsenter --target 1 --mount --uts --ipc --net --pid -- systemctl restart auditd')
        $facts.result.succeeded | Should -BeTrue -Because $facts.result.message
        $facts.pluginLoaded | Should -BeTrue
        $facts.mainPidAfter | Should -Not -Be $facts.mainPidBefore
    }

    It 'reloads, loads rules, then restarts once for the plugin''s new args, after both changed' {
        $facts = Get-Fact 'auto-both'
        $facts.sync.rulesChanged | Should -BeTrue
        $facts.sync.pluginsChanged | Should -BeTrue
        $facts.result.method | Should -Be 'Reload+LoadRules+Restart'
        $facts.result.commands | Should -Be @(
            'nsenter --target 1 --mount --uts --ipc --net --pid -- systemctl kill --kill-who=main --signal=SIGHUP auditd.service'
            'nsenter --target 1 --mount --uts --ipc --net --pid -- augenrules --load'
            'nsenter --target 1 --mount --uts --ipc --net --pid -- systemctl restart auditd')
        $facts.result.succeeded | Should -BeTrue -Because $facts.result.message
        $facts.pluginLoaded | Should -BeTrue
        $facts.kernelRules | Should -Contain '-w /etc/group -p wa -k vm-auto-both'
    }

    It 'starts a stopped auditd through systemd, which loads rules.d' {
        $facts = Get-Fact 'auto-stopped'
        $facts.stop | Should -Be 0
        $facts.activeBefore | Should -BeFalse
        $facts.result.method | Should -Be 'Start'
        $facts.result.succeeded | Should -BeTrue -Because $facts.result.message
        $facts.result.commands | Should -Be @('nsenter --target 1 --mount --uts --ipc --net --pid -- systemctl start auditd')
        $facts.active | Should -BeTrue
        $facts.auditPidAfter | Should -Be $facts.mainPidAfter
        $facts.kernelRules | Should -Contain '-w /etc/passwd -p wa -k vm-passwd'
    }
}

Describe 'Restart-Auditd with upstream''s RefuseManualStop=yes (a unit drop-in)' {
    It 'is refused by systemctl restart, and restarts auditd by SIGTERM and systemctl start instead' {
        $facts = Get-Fact 'refuse-manual-stop'
        $facts.refuseProperty | Should -Be 'yes'
        $facts.systemctlRestartExit | Should -Not -Be 0
        $facts.systemctlRestartOutput | Should -Match 'refuse|may be requested by dependency only'
        $facts.result.succeeded | Should -BeTrue -Because $facts.result.message
        $facts.result.method | Should -Be 'Restart'
        $facts.result.commands | Should -Be @(
            'nsenter --target 1 --mount --uts --ipc --net --pid -- systemctl kill --kill-who=main --signal=SIGTERM auditd.service'
            'nsenter --target 1 --mount --uts --ipc --net --pid -- systemctl start auditd')
        $facts.mainPidAfter | Should -Not -Be $facts.mainPidBefore
        $facts.auditPidAfter | Should -Be $facts.mainPidAfter
        $facts.active | Should -BeTrue
    }
}

Describe 'A rule the systemd node''s kernel rejects' {
    It 'is reported at its file and line, rolled back in rules.d and the kernel, and its source refused next time' {
        $facts = Get-Fact 'rejected'
        $facts.sync.errors | Should -BeNullOrEmpty -Because (($facts.sync.errors | ForEach-Object { "$($_.id): $($_.message)" }) -join '; ')
        $facts.sync.rulesChanged | Should -BeTrue
        $facts.badFileWritten | Should -BeTrue
        $facts.result.rolledBack | Should -BeTrue
        $facts.result.succeeded | Should -BeFalse
        $facts.result.errors.Count | Should -Be 1
        $facts.result.errors[0].id | Should -Be 'RuleRejected,AksAuditd.PowerShell.Commands.RestartAuditdCommand'
        $facts.result.errors[0].target | Should -Be '/node/etc/audit/rules.d/60-vm-bad.rules:2'
        $facts.result.errors[0].message | Should -Match 'No such file or directory'
        $facts.filesRestored | Should -BeTrue
        $facts.kernelRestored | Should -BeTrue
        $facts.rejectedRecorded | Should -BeTrue
        $facts.resync.errors[0].id | Should -Be 'SourceRejectedByKernel,AksAuditd.PowerShell.Commands.SyncAuditRulesCommand'
        $facts.fixedRestart.succeeded | Should -BeTrue -Because $facts.fixedRestart.message
    }
}

Describe 'Another process holding the kernel''s audit PID on the systemd node' {
    It 'makes Restart-Auditd refuse to restart or signal auditd, naming the holder' {
        $facts = Get-Fact 'pid-holder'
        $facts.holding | Should -BeTrue -Because ($facts.holderStderr -join "`n")
        $facts.auditPid | Should -Be $facts.holderPid
        $facts.statusPidHolder | Should -Be 'pidholder'
        $facts.statusRunning | Should -BeFalse
        foreach ($attempt in $facts.restart, $facts.reload) {
            $attempt.succeeded | Should -BeFalse
            $attempt.commands | Should -BeNullOrEmpty
            $attempt.message | Should -Match "Another process, pidholder \(PID $($facts.holderPid)\), holds the kernel's audit PID"
            $attempt.errors[0].id | Should -Be 'AuditdNotVerified,AksAuditd.PowerShell.Commands.RestartAuditdCommand'
        }
        $facts.activeDuring | Should -BeFalse
        $facts.auditPidAfter | Should -Be $facts.holderPid
    }

    It 'starts auditd again once the holder is gone' {
        $facts = Get-Fact 'pid-holder'
        $facts.afterHolder.method | Should -Be 'Start'
        $facts.afterHolder.succeeded | Should -BeTrue -Because $facts.afterHolder.message
        $facts.activeAfter | Should -BeTrue
    }
}

Describe 'Immutable mode (-e 2) on the systemd node' {
    It 'says RebootRequired, loudly once per boot, and loads nothing' {
        $facts = Get-Fact 'immutable'
        $facts.sync.rulesChanged | Should -BeTrue
        $facts.lock | Should -Be 0
        $facts.enabled | Should -Be 2
        $facts.first.rebootRequired | Should -BeTrue
        $facts.first.rebootRequiredFirstReport | Should -BeTrue
        $facts.first.succeeded | Should -BeFalse
        $facts.first.commands | Should -BeNullOrEmpty
        $facts.second.rebootRequired | Should -BeTrue
        $facts.second.rebootRequiredFirstReport | Should -BeFalse
        $facts.kernelRules | Should -Not -Contain '-w /etc/hostname -p wa -k vm-after-reboot'
    }

    It 'loads the new rules after the node reboots' {
        $before = Get-Fact 'immutable'
        $facts = Get-Fact 'after-reboot'
        $facts.bootId | Should -Not -Be $before.bootId
        $facts.active | Should -BeTrue
        $facts.enabled | Should -Be 1
        $facts.kernelRules | Should -Contain '-w /etc/hostname -p wa -k vm-after-reboot'
        $facts.result.succeeded | Should -BeTrue -Because $facts.result.message
        $facts.result.rebootRequired | Should -BeFalse
        $facts.statusImmutable | Should -BeFalse
        $facts.statusRunning | Should -BeTrue
    }
}
