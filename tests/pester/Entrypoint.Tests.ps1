# The entrypoint's own promises (image/entrypoint.ps1), each run for real: the backoff schedule, the configuration
# read again while the loop runs (and a broken edit that keeps the previous one), a failed Restart-Auditd retried
# until its cause is gone, and an init container whose SIGTERM arrives while dpkg installs auditd.
BeforeAll {
    . (Join-Path $PSScriptRoot 'DaemonSet.Helpers.ps1')
    Import-Module (Join-Path $env:AKSAUDITD_MODULE 'AksAuditd.psd1') -Force
    $script:Layout = New-TestImageLayout
    $script:EntrypointPath = Join-Path $RepoRoot 'image/entrypoint.ps1'

    function Import-EntrypointFunction {
        # One function of image/entrypoint.ps1, exactly as written there, as a script block: its schedule is tested
        # without running the loop for minutes.
        param([Parameter(Mandatory)] [string] $Name)
        $errors = $null
        $ast = [System.Management.Automation.Language.Parser]::ParseFile($EntrypointPath, [ref]$null, [ref]$errors)
        if ($errors) { throw "image/entrypoint.ps1 does not parse: $($errors -join '; ')" }
        $definition = $ast.Find({ param($node) $node -is [System.Management.Automation.Language.FunctionDefinitionAst] -and $node.Name -eq $Name }, $true)
        if (-not $definition) { throw "image/entrypoint.ps1 defines no function $Name" }
        return $definition.Body.GetScriptBlock()
    }

    function New-ConfigSandbox {
        # A sandbox node plus an aks-auditd-config ConfigMap volume holding config.yaml.
        param([Parameter(Mandatory)] [string] $ConfigText)
        $sandbox = New-SandboxNode
        $volume = Join-Path $sandbox.Root 'aks-auditd-config'
        Write-ConfigMapVolume $volume ([ordered]@{ 'config.yaml' = $ConfigText })
        $sandbox | Add-Member ConfigVolume $volume
        $sandbox | Add-Member ConfigFile (Join-Path $volume 'config.yaml')
        return $sandbox
    }
}

AfterAll {
    Remove-TestImageLayout $Layout
}

Describe 'The loop''s backoff schedule (Get-Backoff in image/entrypoint.ps1)' {
    BeforeAll {
        $script:Backoff = Import-EntrypointFunction 'Get-Backoff'
    }

    It 'starts at one poll interval doubled and never waits more than five minutes (README: at most five minutes)' {
        # The default poll interval, 30s: 60, 120, 240, then the cap, 300 s, for as long as the failures last.
        $schedule = foreach ($failures in 1..8) { (& $Backoff -PollInterval ([TimeSpan]::FromSeconds(30)) -Failures $failures).TotalSeconds }
        $schedule | Should -Be @(60, 120, 240, 300, 300, 300, 300, 300)
        # One minute: ten poll intervals would be ten minutes; five minutes is the cap.
        $schedule = foreach ($failures in 1..5) { (& $Backoff -PollInterval ([TimeSpan]::FromMinutes(1)) -Failures $failures).TotalSeconds }
        $schedule | Should -Be @(120, 240, 300, 300, 300)
        # A failure that lasts a day (2880 consecutive failures at 30 s) still waits five minutes, no more.
        (& $Backoff -PollInterval ([TimeSpan]::FromSeconds(30)) -Failures 2880) | Should -Be ([TimeSpan]::FromMinutes(5))
        (& $Backoff -PollInterval ([TimeSpan]::FromSeconds(45)) -Failures ([int]::MaxValue)) | Should -Be ([TimeSpan]::FromMinutes(5))
    }

    It 'stops at ten poll intervals when that comes first, and never waits less than one poll interval' {
        $schedule = foreach ($failures in 1..6) { (& $Backoff -PollInterval ([TimeSpan]::FromSeconds(1)) -Failures $failures).TotalSeconds }
        $schedule | Should -Be @(2, 4, 8, 10, 10, 10)
        # A poll interval of five minutes or more: the loop never polls faster than asked, so a retry waits one interval.
        (& $Backoff -PollInterval ([TimeSpan]::FromMinutes(5)) -Failures 1) | Should -Be ([TimeSpan]::FromMinutes(5))
        (& $Backoff -PollInterval ([TimeSpan]::FromMinutes(10)) -Failures 3) | Should -Be ([TimeSpan]::FromMinutes(10))
    }
}

Describe 'The entrypoint reads its configuration again while it runs' {
    AfterEach {
        if ($script:Run -and -not $Run.Process.HasExited) { $null = Stop-Entrypoint $Run }
        $script:Run = $null
        if ($script:Sandbox) { Remove-Item -LiteralPath $Sandbox.Root -Recurse -Force -ErrorAction SilentlyContinue }
        $script:Sandbox = $null
    }

    It 'takes an edit of config.yaml on the next pass, and keeps the previous configuration when an edit is broken' {
        # The settings under test come from the file only: the sandbox's environment sets neither syncMode nor logLevel.
        $script:Sandbox = New-ConfigSandbox "logLevel: info`nsyncMode: managed`n"
        $script:Run = Start-Entrypoint -Layout $Layout -Sandbox $Sandbox -Arguments '-NoRestart' -Environment @{ AA_CONFIG_FILE = $Sandbox.ConfigFile }
        Wait-Until { (Get-RulesFiles $Sandbox.RulesDirectory).Contains('70-modules.rules') } | Should -Not -BeNullOrEmpty
        # Managed: the package's audit.rules, which no ConfigMap names, stays; nothing is logged at debug.
        $stray = Join-Path $Sandbox.RulesDirectory '95-stray.rules'
        [System.IO.File]::WriteAllText($stray, "-w /etc/hosts -p wa -k stray`n")
        Wait-Until { @(Get-EntrypointLog $Run | Where-Object msg -eq 'aks-auditd starting').Count -eq 1 } | Should -Not -BeNullOrEmpty
        (Get-RulesFiles $Sandbox.RulesDirectory).Keys | Should -Contain 'audit.rules'
        @(Get-EntrypointLog $Run | Where-Object level -eq 'debug') | Should -BeNullOrEmpty

        # The kubelet swaps the volume to the edit: mirror mode and debug logging, read on the next pass.
        Write-ConfigMapVolume $Sandbox.ConfigVolume ([ordered]@{ 'config.yaml' = "logLevel: debug`nsyncMode: mirror`n" })
        Wait-Until { -not (Test-Path -LiteralPath $stray) -and -not (Test-Path -LiteralPath (Join-Path $Sandbox.RulesDirectory 'audit.rules')) } -Timeout ([TimeSpan]::FromSeconds(30)) |
            Should -Not -BeNullOrEmpty -Because 'mirror mode makes rules.d exactly the ConfigMap'
        Wait-Until { @(Get-EntrypointLog $Run | Where-Object { $_.level -eq 'debug' -and $_.msg -like '*: no drift' }).Count -gt 0 } -Timeout ([TimeSpan]::FromSeconds(30)) |
            Should -Not -BeNullOrEmpty -Because 'logLevel debug makes the loop log each pass without drift'

        # A broken edit: an error line naming the file, once, and the loop carries on with mirror and debug.
        Write-ConfigMapVolume $Sandbox.ConfigVolume ([ordered]@{ 'config.yaml' = "logLevel: info`nsyncMode: sometimes`n" })
        Wait-Until { @(Get-EntrypointLog $Run | Where-Object msg -like 'Invalid configuration; keeping the previous one*').Count -gt 0 } -Timeout ([TimeSpan]::FromSeconds(30)) |
            Should -Not -BeNullOrEmpty
        $broken = @(Get-EntrypointLog $Run).Count
        [System.IO.File]::WriteAllText($stray, "-w /etc/hosts -p wa -k stray`n")
        Wait-Until { -not (Test-Path -LiteralPath $stray) } -Timeout ([TimeSpan]::FromSeconds(30)) |
            Should -Not -BeNullOrEmpty -Because 'the previous configuration (mirror) still rules the passes after a broken edit'
        $afterDrift = @(Get-EntrypointLog $Run).Count
        Wait-Until { @(Get-EntrypointLog $Run | Select-Object -Skip $afterDrift | Where-Object { $_.level -eq 'debug' -and $_.msg -like '*: no drift' }).Count -gt 0 } -Timeout ([TimeSpan]::FromSeconds(30)) |
            Should -Not -BeNullOrEmpty -Because 'the previous logLevel (debug) is kept too'

        $log = @(Get-EntrypointLog $Run)
        $invalid = @($log | Where-Object msg -like 'Invalid configuration; keeping the previous one*')
        $invalid.Count | Should -Be 1 -Because 'a broken edit is reported once, not on every poll'
        $invalid[0].level | Should -Be 'error'
        $invalid[0].msg | Should -Match ([regex]::Escape($Sandbox.ConfigFile))
        $invalid[0].msg | Should -Match 'sometimes'
        @($log | Select-Object -Skip $broken | Where-Object { $_.level -in 'error', 'fatal' -or $_.msg -eq 'Retrying after a failed iteration' }) |
            Should -BeNullOrEmpty -Because 'the passes after the broken edit succeed on the previous configuration'
        $Run.Process.HasExited | Should -BeFalse

        (Stop-Entrypoint $Run).ExitCode | Should -Be 0
        Get-Content -Raw $Run.Err | Should -BeNullOrEmpty
    }
}

Describe 'The entrypoint retries a failed Restart-Auditd on this machine''s real kernel' {
    It 'backs off while auditd cannot start, and starts it on a later pass once the cause is gone (HostRoot /)' {
        $lock = $null
        $saved = $null
        $run = $null
        $root = Join-Path ([System.IO.Path]::GetTempPath()) "aks-auditd-retry-$([guid]::NewGuid().ToString('n'))"
        try {
            # Inside the try: a failure to save still releases the lock, and nothing is restored that was not saved.
            $lock = Enter-KernelTestLock
            $saved = Save-NodeAuditState
            if ($saved.AuditdRunning -or (Get-KernelAuditSettings)['pid'] -ne '0') { throw 'An audit daemon already runs on this machine; stop it before running this test.' }
            $sandbox = [pscustomobject]@{
                Root = $root
                Node = '/'
                RulesVolume = Join-Path $root 'auditd-rules'
                PluginsVolume = Join-Path $root 'audisp-plugins'
                Heartbeat = Join-Path $root 'heartbeat'
            }
            New-Item -ItemType Directory $root | Out-Null
            Write-ConfigMapVolume $sandbox.PluginsVolume ([ordered]@{ 'syslog.conf' = [System.IO.File]::ReadAllText('/etc/audit/plugins.d/syslog.conf') })
            Write-ConfigMapVolume $sandbox.RulesVolume ([ordered]@{ '80-aks-auditd-retry.rules' = "-w /etc/hosts -p wa -k aks_auditd_retry`n" })
            # The cause: auditd.conf names a log format auditd does not know, so auditd refuses to start (the init
            # script still exits 0; Restart-Auditd finds no daemon registered with the kernel).
            $conf = [System.IO.File]::ReadAllText('/etc/audit/auditd.conf')
            if ($conf -notmatch '(?m)^log_format = ') { throw '/etc/audit/auditd.conf has no log_format line to break' }
            [System.IO.File]::WriteAllText('/etc/audit/auditd.conf', ($conf -replace '(?m)^log_format = .*$', 'log_format = AKS_AUDITD_BROKEN'))

            $run = Start-Entrypoint -Layout $Layout -Sandbox $sandbox -Environment @{ AA_POLL_INTERVAL = '1s'; AA_STATE_DIR = (Join-Path $root 'state') }
            if (-not (Wait-Until { @(Get-EntrypointLog $run | Where-Object msg -eq 'Retrying after a failed iteration').Count -ge 2 } -Timeout ([TimeSpan]::FromSeconds(150)))) {
                throw "the loop did not retry twice; the entrypoint said: $(Get-Content -Raw $run.Out) $(Get-Content -Raw $run.Err)"
            }
            (Get-KernelAuditSettings)['pid'] | Should -Be '0' -Because 'auditd cannot start while auditd.conf is broken'
            $failedLog = @(Get-EntrypointLog $run)
            $notVerified = @($failedLog | Where-Object { $_.level -eq 'error' -and $_.errorId -like 'AuditdNotVerified*' })
            $notVerified.Count | Should -BeGreaterOrEqual 2 -Because 'each pass tried Restart-Auditd again and said it failed'
            $notVerified[0].command | Should -Be 'Sync-AuditNode'
            @($failedLog | Where-Object msg -eq 'Retrying after a failed iteration')[0..1].retryInSeconds | Should -Be @(2, 4)

            # The cause removed by hand, as an operator would: no ConfigMap changes, so only the backoff brings the next pass.
            [System.IO.File]::WriteAllText('/etc/audit/auditd.conf', $conf)
            $started = Wait-Until {
                (Get-KernelAuditSettings)['pid'] -ne '0' -and ((& auditctl -l) -match 'aks_auditd_retry$')
            } -Timeout ([TimeSpan]::FromSeconds(120))
            $started | Should -Not -BeNullOrEmpty -Because 'a later pass retries the restart and auditd starts with the synced rules'
            Wait-Until { @(Get-EntrypointLog $run | Where-Object { $_.msg -like 'Restart-Auditd:*' -and $_.succeeded }).Count -gt 0 } -Timeout ([TimeSpan]::FromSeconds(30)) |
                Should -Not -BeNullOrEmpty

            (Stop-Entrypoint $run -Timeout ([TimeSpan]::FromSeconds(30))).ExitCode | Should -Be 0
            $log = @(Get-EntrypointLog $run)
            $success = @($log | Where-Object { $_.msg -like 'Restart-Auditd:*' -and $_.succeeded })[0]
            $success.reason | Should -Match 'an earlier restart did not succeed'
            $lastRetry = [array]::LastIndexOf([object[]]$log, @($log | Where-Object msg -eq 'Retrying after a failed iteration')[-1])
            [array]::IndexOf([object[]]$log, $success) | Should -BeGreaterThan $lastRetry -Because 'the retries stop once the restart succeeds'
            Get-Content -Raw $run.Err | Should -BeNullOrEmpty
        }
        finally {
            try {
                if ($run -and -not $run.Process.HasExited) { $null = Stop-Entrypoint $run }
                if ($saved) { Restore-NodeAuditState $saved }
                Remove-Item -LiteralPath $root -Recurse -Force -ErrorAction SilentlyContinue
            }
            finally {
                if ($lock) { $lock.Dispose() }
            }
        }
        (& auditctl -l) | Should -Not -Match 'aks_auditd_retry'
        (Get-KernelAuditSettings)['pid'] | Should -Be '0'
    }
}

Describe 'The init container stopped while dpkg installs auditd' {
    BeforeAll {
        # tools/prepare-node-root.sh and tools/prepare-offline-packages.sh (run by .ci/run) cache these; read-only here.
        $script:NodeRootCache = '/var/cache/aks-auditd-tests/debootstrap-bookworm'
        $script:PackageCache = '/var/cache/aks-auditd-tests/debs-bookworm'

        function Get-DpkgProcess {
            # The dpkg processes running in a root: comm dpkg, and /proc/<pid>/root pointing at it.
            param([Parameter(Mandatory)] [string] $Root)
            foreach ($entry in [System.IO.Directory]::EnumerateDirectories('/proc')) {
                $id = [System.IO.Path]::GetFileName($entry)
                if ($id -notmatch '^\d+$') { continue }
                try {
                    if ([System.IO.File]::ReadAllText("$entry/comm").Trim() -ne 'dpkg') { continue }
                    if ([System.IO.FileInfo]::new("$entry/root").LinkTarget -eq $Root) { [int]$id }
                }
                catch [System.IO.IOException] { }  # the process ended while it was read
                catch [System.UnauthorizedAccessException] { }
            }
        }
    }

    It 'lets dpkg finish the install, then exits 0 with a line saying it stopped on the signal' {
        if (-not (Test-Path -LiteralPath (Join-Path $NodeRootCache '.aks-auditd-root-complete'))) { throw "$NodeRootCache is missing: run tools/prepare-node-root.sh" }
        if (-not (Test-Path -LiteralPath (Join-Path $PackageCache '.aks-auditd-debs-complete'))) { throw "$PackageCache is missing: run tools/prepare-offline-packages.sh" }
        $work = Join-Path '/var/tmp' "aks-auditd-init-sigterm-$([guid]::NewGuid().ToString('n'))"
        $root = Join-Path $work 'node'
        $packages = Join-Path $work 'packages'
        $hold = Join-Path $root 'tmp/aks-auditd-slow-hold'
        $lock = $null
        $saved = $null
        $run = $null
        $procMounted = $false
        try {
            # Install-Auditd starts the installed auditd in the root, and it registers with this machine's kernel:
            # under the kernel test lock, with the kernel's settings put back afterwards.
            $lock = Enter-KernelTestLock
            $saved = Save-NodeAuditState
            New-Item -ItemType Directory $work | Out-Null
            & cp -a $NodeRootCache $root
            if ($LASTEXITCODE -ne 0) { throw "cannot copy $NodeRootCache" }
            & mount -t proc proc (Join-Path $root 'proc')
            if ($LASTEXITCODE -ne 0) { throw "cannot mount /proc in $root" }
            $procMounted = $true
            # The package's postinst must not start the daemon: starting it is Install-Auditd's own step.
            [System.IO.File]::WriteAllText((Join-Path $root 'usr/sbin/policy-rc.d'), "#!/bin/sh`nexit 101`n")
            & chmod 755 (Join-Path $root 'usr/sbin/policy-rc.d')

            # Debian's packages, plus one whose postinst holds dpkg while a file exists: the signal then arrives
            # while dpkg is certainly running, whatever the machine's speed.
            & cp -a $PackageCache $packages
            if ($LASTEXITCODE -ne 0) { throw "cannot copy $PackageCache" }
            $slow = Join-Path $work 'slow'
            New-Item -ItemType Directory (Join-Path $slow 'DEBIAN') | Out-Null
            [System.IO.File]::WriteAllText((Join-Path $slow 'DEBIAN/control'),
                "Package: aks-auditd-slow`nVersion: 1.0`nArchitecture: all`nMaintainer: AksAuditd tests <tests@example.invalid>`nDescription: a package whose postinst waits`n")
            [System.IO.File]::WriteAllText((Join-Path $slow 'DEBIAN/postinst'),
                "#!/bin/sh`ntouch /tmp/aks-auditd-slow-started`nwhile [ -e /tmp/aks-auditd-slow-hold ]; do sleep 0.2; done`nexit 0`n")
            & chmod 755 (Join-Path $slow 'DEBIAN/postinst')
            $null = & dpkg-deb --build --root-owner-group $slow (Join-Path $packages 'aks-auditd-slow_1.0_all.deb')
            if ($LASTEXITCODE -ne 0) { throw 'dpkg-deb could not build the slow package' }
            [System.IO.File]::WriteAllText($hold, '')
            # The auditd Install-Auditd starts loads the package's rules.d into this machine's kernel: checked first.
            $auditd = Get-ChildItem -LiteralPath $packages -Filter 'auditd_*.deb' | Select-Object -First 1
            $packageRules = & /bin/sh -c "dpkg-deb --fsys-tarfile '$($auditd.FullName)' | tar -xO ./etc/audit/rules.d/audit.rules"
            if ($LASTEXITCODE -ne 0 -or -not $packageRules) { throw "cannot read rules.d/audit.rules from $($auditd.Name)" }
            Assert-SafeKernelLoad -Data ([ordered]@{ "$($auditd.Name):/etc/audit/rules.d/audit.rules" = ($packageRules -join "`n") })

            $sandbox = [pscustomobject]@{
                Root = $work
                Node = $root
                RulesVolume = Join-Path $work 'auditd-rules'
                PluginsVolume = Join-Path $work 'audisp-plugins'
                Heartbeat = Join-Path $work 'heartbeat'
            }
            Write-ConfigMapVolume $sandbox.RulesVolume (Read-ConfigMapData (Join-Path $RepoRoot 'kubernetes/auditd-rules.yaml'))
            Write-ConfigMapVolume $sandbox.PluginsVolume (Read-ConfigMapData (Join-Path $RepoRoot 'kubernetes/audisp-plugins.yaml'))
            # The init container as the DaemonSet runs it, offline (-PackagePath's folder, no network at all).
            $run = Start-Entrypoint -Layout $Layout -Sandbox $sandbox -Arguments '-Init' -Prefix 'unshare', '-n', '--' -Environment @{ AA_PACKAGE_PATH = $packages }

            $started = Join-Path $root 'tmp/aks-auditd-slow-started'
            if (-not (Wait-Until { (Test-Path -LiteralPath $started) -or $run.Process.HasExited } -Timeout ([TimeSpan]::FromMinutes(5))) -or -not (Test-Path -LiteralPath $started)) {
                throw "dpkg never ran the held postinst; the entrypoint said: $(Get-Content -Raw $run.Out) $(Get-Content -Raw $run.Err)"
            }
            $dpkg = @(Get-DpkgProcess $root)
            $dpkg | Should -Not -BeNullOrEmpty -Because 'dpkg runs the held postinst'

            # The kubelet's SIGTERM goes to the container's PID 1, the entrypoint's pwsh; dpkg is not signalled.
            & kill -TERM $run.Process.Id
            # dpkg cannot finish while the postinst is held, so the entrypoint must still be waiting for it.
            $run.Process.WaitForExit(3000) | Should -BeFalse -Because 'SIGTERM must not end the init container while dpkg runs'
            @(Get-DpkgProcess $root) | Should -Not -BeNullOrEmpty
            [System.IO.File]::Delete($hold)

            $run.Process.WaitForExit(300000) | Should -BeTrue -Because 'the install finishes and the init container exits'
            $run.Process.ExitCode | Should -Be 0
            $log = @(Get-EntrypointLog $run)
            $log[0].msg | Should -Be 'aks-auditd starting'
            $log[0].mode | Should -Be 'init'
            $log[-1].msg | Should -Be 'Stopping after the install, as asked; the loop does the first pass'
            $log[-1].reason | Should -Be 'signal'
            @($log | Where-Object msg -eq 'aks-auditd init done') | Should -BeNullOrEmpty -Because 'the first pass is left to the loop'
            @($log | Where-Object level -in 'error', 'fatal') | Should -BeNullOrEmpty
            Get-Content -Raw $run.Err | Should -BeNullOrEmpty

            # dpkg finished: nothing half-installed or half-configured, and auditd installed from the folder.
            @(Get-DpkgProcess $root) | Should -BeNullOrEmpty
            $audit = & chroot $root dpkg --audit
            $LASTEXITCODE | Should -Be 0
            "$audit".Trim() | Should -BeNullOrEmpty
            $states = & chroot $root dpkg-query -W '-f=${Package} ${db:Status-Status}\n' auditd audispd-plugins aks-auditd-slow
            $states | Sort-Object | Should -Be @('aks-auditd-slow installed', 'audispd-plugins installed', 'auditd installed')
            Test-Path -LiteralPath (Join-Path $root 'sbin/auditctl') | Should -BeTrue
        }
        finally {
            try {
                if ($run -and -not $run.Process.HasExited) { $run.Process.Kill(); $run.Process.WaitForExit() }
                if (Test-Path -LiteralPath $hold) { [System.IO.File]::Delete($hold) }
                # The held postinst ends once the file is gone; dpkg then has nothing left to wait for.
                $null = Wait-Until { @(Get-DpkgProcess $root).Count -eq 0 } -Timeout ([TimeSpan]::FromMinutes(2))
                if (Test-Path -LiteralPath (Join-Path $root 'etc/init.d/auditd')) { $null = & chroot $root service auditd stop 2>&1 }
                if ($procMounted) { & umount -l (Join-Path $root 'proc') }
                if ($saved) { Restore-NodeAuditState $saved }
                if (Test-Path -LiteralPath $work) { & rm -rf --one-file-system $work }
            }
            finally {
                if ($lock) { $lock.Dispose() }
            }
        }
        (Get-KernelAuditSettings)['pid'] | Should -Be '0' -Because 'the auditd the install started in the root is stopped'
    }
}
