# The DaemonSet as it ships: the image's file tree (image/Dockerfile and the layout build.ps1 writes agree),
# the default ConfigMaps, and the entrypoint run from that tree against a sandbox node and kubelet-style
# ConfigMap volumes.
BeforeAll {
    . (Join-Path $PSScriptRoot 'DaemonSet.Helpers.ps1')
    Import-Module (Join-Path $env:AKSAUDITD_MODULE 'AksAuditd.psd1') -Force
    $script:Layout = New-TestImageLayout
}

AfterAll {
    Remove-TestImageLayout $Layout
}

Describe 'image/Dockerfile' {
    BeforeAll {
        $script:Instructions = Read-Dockerfile
        $script:Froms = @($Instructions | Where-Object Keyword -eq 'FROM')
        $script:Final = @($Instructions | Where-Object IsFinalStage)
    }

    It 'builds with the .NET 10 SDK and runs on the .NET 10 runtime of Azure Linux 3.0' {
        $Froms.Count | Should -Be 2
        $Froms[0].Arguments | Should -Match '^--platform=\$BUILDPLATFORM mcr\.microsoft\.com/dotnet/sdk:\$\{DOTNET_VERSION\}-azurelinux3\.0 AS build$'
        $Froms[1].Arguments | Should -Match '^mcr\.microsoft\.com/dotnet/runtime:\$\{DOTNET_VERSION\}-azurelinux3\.0$'
        ($Instructions | Where-Object { $_.Keyword -eq 'ARG' -and $_.Arguments -like 'DOTNET_VERSION=*' }).Arguments | Should -Be 'DOTNET_VERSION=10.0'
    }

    It 'builds the module with build.ps1 and takes PowerShell from the package the tests run' {
        $runs = ($Instructions | Where-Object { $_.Stage -eq 0 -and $_.Keyword -eq 'RUN' }).Arguments -join "`n"
        $runs | Should -Match 'dotnet tool restore'
        $runs | Should -Match '\./build\.ps1 build'
        # The layout maps /opt/microsoft/powershell/7 to $PSHOME: true only if the build stage copies $PSHOME there.
        $runs | Should -Match ([regex]::Escape('cp -r "$(dotnet pwsh -NoProfile -NonInteractive -Command ''$PSHOME'')" /opt/microsoft/powershell/7'))
        $manifest = Get-Content -Raw (Join-Path $RepoRoot '.config/dotnet-tools.json') | ConvertFrom-Json
        $manifest.tools.powershell.version | Should -Be $PSVersionTable.PSVersion.ToString()
    }

    It 'compiles PowerShell''s engine and the module ahead of time, in the two folders the final stage copies' {
        $build = @($Instructions | Where-Object { $_.Stage -eq 0 -and $_.Keyword -eq 'RUN' })
        $compile = @($build | Where-Object Arguments -match 'image/Invoke-ReadyToRun\.ps1')
        $compile.Count | Should -Be 1
        $compile[0].Arguments | Should -Match '-PowerShellHome /opt/microsoft/powershell/7\b'
        $compile[0].Arguments | Should -Match '-ModulePath /src/out/AksAuditd\b'
        # The stage runs on the build machine's platform; the code is for the platform being built.
        $compile[0].Arguments | Should -Match '-TargetArchitecture "\$\{TARGETARCH\}"'
        @($Instructions | Where-Object { $_.Stage -eq 0 -and $_.Keyword -eq 'ARG' }).Arguments | Should -Contain 'TARGETARCH'
        # After the module is built and PowerShell copied, or it compiles nothing the image gets.
        $position = [array]::IndexOf($build, $compile[0])
        $position | Should -BeGreaterThan 1
        $before = $build[0..($position - 1)].Arguments -join "`n"
        $before | Should -Match '\./build\.ps1 build'
        $before | Should -Match '/opt/microsoft/powershell/7'
        @(Get-DockerfileCopy | Where-Object From -eq 'build' | ForEach-Object Source | Sort-Object) |
            Should -Be @('/opt/microsoft/powershell/7', '/src/out/AksAuditd')
    }

    It 'carries the OCI labels, with the module version' {
        $labels = ($Final | Where-Object Keyword -eq 'LABEL').Arguments -join ' '
        foreach ($label in 'title', 'description', 'source', 'licenses', 'version') {
            $labels | Should -Match "org\.opencontainers\.image\.$label="
        }
        $labels | Should -Match 'org\.opencontainers\.image\.licenses="MIT"'
        $labels | Should -Match 'org\.opencontainers\.image\.version="\$\{VERSION\}"'
        $props = [xml](Get-Content -Raw (Join-Path $RepoRoot 'Directory.Build.props'))
        $version = ($props.Project.PropertyGroup | Where-Object { $_['VersionPrefix'] } | Select-Object -First 1).VersionPrefix
        ($Final | Where-Object { $_.Keyword -eq 'ARG' -and $_.Arguments -like 'VERSION=*' }).Arguments | Should -Be "VERSION=$version"
    }

    It 'installs what the liveness probe and the chroot need: sh, find and chroot' {
        $install = ($Final | Where-Object Keyword -eq 'RUN').Arguments -join ' '
        $install | Should -Match 'tdnf install -y .*\bbash\b'
        $install | Should -Match 'tdnf install -y .*\bfindutils\b'
        $install | Should -Match 'tdnf install -y .*\bcoreutils\b'
    }

    It 'sets the measured runtime settings, each one documented in the README' {
        $environment = Get-DockerfileEnvironment
        $environment['DOTNET_gcServer'] | Should -Be '0'
        $environment.Contains('AA_LOG_FORMAT') | Should -BeFalse -Because 'the entrypoint sets it for itself; a pwsh started by hand in the container gets the PowerShell streams'
        $agent = (Get-DockerfileEntrypoint).Environment
        $agent.Count | Should -BeGreaterThan 0
        $docs = Get-Content -Raw (Join-Path $RepoRoot 'README.md')
        foreach ($settings in $environment, $agent) {
            foreach ($name in $settings.Keys | Where-Object { $_ -like 'DOTNET_*' -or $_ -like 'MALLOC_*' }) {
                $docs | Should -Match "\b$name=$([regex]::Escape($settings[$name]))" -Because "$name is a runtime setting and needs its measurement"
            }
        }
    }

    It 'gives the loop''s GC and JIT settings to the agent''s process only, not to a pwsh started by hand' {
        # Tuned for a loop that idles: a person reading a big audit log in the same image (kubectl exec, kubectl
        # debug) gets the runtime's defaults, which hold less memory for it.
        $environment = Get-DockerfileEnvironment
        $agent = (Get-DockerfileEntrypoint).Environment
        foreach ($name in 'DOTNET_gcConcurrent', 'DOTNET_GCRegionSize', 'DOTNET_TieredPGO') {
            $agent.Contains($name) | Should -BeTrue -Because "$name is measured on the idle loop"
            $environment.Contains($name) | Should -BeFalse -Because "ENV would give $name to every pwsh in the image"
        }
    }

    It 'bounds every pwsh''s gen0 budget, and the agent''s to less than a person''s' {
        # The runtime sizes gen0 from the CPU's L3 cache (about 200 MB between collections on a 260 MB L3): ENV
        # bounds it for a person printing a big log, and the ENTRYPOINT's env bounds it further for the idle loop.
        $person = [Convert]::ToInt64((Get-DockerfileEnvironment)['DOTNET_GCgen0size'], 16)
        $loop = [Convert]::ToInt64((Get-DockerfileEntrypoint).Environment['DOTNET_GCgen0size'], 16)
        $person | Should -Be 16MB
        $loop | Should -BeLessThan $person
    }

    It 'starts the entrypoint with the image''s pwsh, without a profile' {
        $entrypoint = (Get-DockerfileEntrypoint).Command
        $entrypoint[0] | Should -Be '/usr/local/bin/pwsh'
        $entrypoint | Should -Contain '-NoProfile'
        $entrypoint | Should -Contain '-NonInteractive'
        $entrypoint[-2..-1] | Should -Be @('-File', '/app/entrypoint.ps1')
    }
}

Describe 'build.ps1 image-layout' {
    It 'writes what the COPY lines of the final stage copy, at the same paths, and nothing else' {
        # Where each COPY source is on this machine: the build context is the repository; the build stage's
        # /src is a copy of it, with out/AksAuditd staged by build.ps1, and its PowerShell is this $PSHOME.
        $buildStage = @{ '/src/out/AksAuditd' = $env:AKSAUDITD_MODULE; '/opt/microsoft/powershell/7' = $PSHOME }
        $expected = @{}
        foreach ($copy in Get-DockerfileCopy) {
            $source = if ($copy.From) {
                $copy.From | Should -Be 'build'
                $buildStage.ContainsKey($copy.Source) | Should -BeTrue -Because "the test knows where $($copy.Source) comes from"
                $buildStage[$copy.Source]
            }
            else {
                Join-Path $RepoRoot $copy.Source
            }
            $tree = Get-FileTree $source
            foreach ($file in $tree.Keys) {
                $expected[(($copy.Destination.TrimEnd('/') + '/' + $file).TrimEnd('/')).TrimStart('/')] = $tree[$file]
            }
        }

        $actual = Get-FileTree $Layout
        ($actual.Keys | Sort-Object) | Should -Be ($expected.Keys | Sort-Object)
        foreach ($file in $expected.Keys) {
            $actual[$file] | Should -Be $expected[$file] -Because "$file must have the content the image has"
        }
    }

    It 'keeps the pwsh launcher executable' {
        (Get-Item (Join-Path $Layout 'usr/local/bin/pwsh')).UnixFileMode.HasFlag([System.IO.UnixFileMode]::UserExecute) | Should -BeTrue
    }

    It 'ships a default config.yaml identical to the aks-auditd-config ConfigMap, which loads without warnings' {
        $image = Get-Content -Raw (Join-Path $Layout 'etc/aks-auditd/config.yaml')
        $configMap = (Read-ConfigMapData (Join-Path $RepoRoot 'kubernetes/aks-auditd-config.yaml'))['config.yaml']
        $image | Should -BeExactly $configMap
        $configuration = Get-AksAuditdConfiguration -Path (Join-Path $Layout 'etc/aks-auditd/config.yaml') -WarningVariable warnings -WarningAction SilentlyContinue
        $warnings | Should -BeNullOrEmpty
        $configuration.HostRoot | Should -Be '/node'
        $configuration.AllowedPluginPaths | Should -Contain '/sbin/audisp-syslog'
    }
}

Describe 'The default ConfigMaps' {
    It 'auditd-rules passes Test-AuditRule on <_> nodes, without a single finding' -ForEach 'x86_64', 'aarch64' {
        $manifest = Join-Path $RepoRoot 'kubernetes/auditd-rules.yaml'
        @(Test-AuditRule -Path $manifest -Arch $_) | Should -BeNullOrEmpty
        Test-AuditRule -Path $manifest -Arch $_ -Quiet | Should -BeTrue
    }

    It 'auditd-rules passes Test-AuditRule against this machine''s root (watched folders exist, names resolve)' {
        @(Test-AuditRule -Path (Join-Path $RepoRoot 'kubernetes/auditd-rules.yaml') -HostRoot / | Where-Object { "$($_.Severity)" -eq 'Error' }) | Should -BeNullOrEmpty
    }

    It 'Test-AuditRule names a bad line of the ConfigMap by entry and line (the check above can fail)' {
        $manifest = Join-Path ([System.IO.Path]::GetTempPath()) "aks-auditd-rules-$([guid]::NewGuid().ToString('n')).yaml"
        try {
            $text = (Get-Content -Raw (Join-Path $RepoRoot 'kubernetes/auditd-rules.yaml')) -replace '(?m)^(  zz-settings\.rules: \|)$', "  90-typo.rules: |`n    ## typo`n    -w etc/shadow -p wa -k typo`n`$1"
            [System.IO.File]::WriteAllText($manifest, $text)
            $errors = @(Test-AuditRule -Path $manifest | Where-Object { "$($_.Severity)" -eq 'Error' })
            $errors.Count | Should -Be 1
            $errors[0].Path | Should -BeLike '*`[90-typo.rules`]'
            $errors[0].LineNumber | Should -Be 2
        }
        finally {
            Remove-Item -LiteralPath $manifest -ErrorAction SilentlyContinue
        }
    }

    It 'audisp-plugins passes the plugin validation with the allow-list of aks-auditd-config' {
        $sandbox = New-SandboxNode
        try {
            $env:AA_CONFIG_FILE = Join-Path $Layout 'etc/aks-auditd/config.yaml'
            $result = Sync-AuditPlugins -SourcePath $sandbox.PluginsVolume -TargetPath $sandbox.PluginsDirectory -StatePath (Join-Path $sandbox.Node 'var/lib/aks-auditd') -PassThru -ErrorVariable failures -ErrorAction SilentlyContinue -WarningVariable warnings -WarningAction SilentlyContinue
            $failures | Should -BeNullOrEmpty
            $warnings | Should -BeNullOrEmpty
            $result.Blocked | Should -BeFalse
            $result.Modified | Should -Be @('syslog.conf')
            Get-Content -Raw (Join-Path $sandbox.PluginsDirectory 'syslog.conf') | Should -Match '(?m)^args = LOG_INFO LOG_LOCAL6$'
        }
        finally {
            Remove-Item Env:AA_CONFIG_FILE -ErrorAction SilentlyContinue
            Remove-Item -LiteralPath $sandbox.Root -Recurse -Force
        }
    }

    It 'audisp-plugins is refused when its program is not on the allow-list' {
        # The check above must be able to fail: the same ConfigMap with another program.
        $sandbox = New-SandboxNode
        try {
            $env:AA_CONFIG_FILE = Join-Path $Layout 'etc/aks-auditd/config.yaml'
            $plugins = Read-ConfigMapData (Join-Path $RepoRoot 'kubernetes/audisp-plugins.yaml')
            $plugins['syslog.conf'] = $plugins['syslog.conf'] -replace '/sbin/audisp-syslog', '/usr/bin/curl'
            Write-ConfigMapVolume $sandbox.PluginsVolume $plugins
            $null = Sync-AuditPlugins -SourcePath $sandbox.PluginsVolume -TargetPath $sandbox.PluginsDirectory -StatePath (Join-Path $sandbox.Node 'var/lib/aks-auditd') -ErrorVariable failures -ErrorAction SilentlyContinue -WarningAction SilentlyContinue
            $failures.FullyQualifiedErrorId | Should -Match '^PluginPathNotAllowed'
        }
        finally {
            Remove-Item Env:AA_CONFIG_FILE -ErrorAction SilentlyContinue
            Remove-Item -LiteralPath $sandbox.Root -Recurse -Force
        }
    }
}

Describe 'The entrypoint from the image layout' {
    BeforeEach {
        $script:Sandbox = New-SandboxNode
    }

    AfterEach {
        if ($script:Run -and -not $Run.Process.HasExited) { $null = Stop-Entrypoint $Run }
        $script:Run = $null
        Remove-Item -LiteralPath $Sandbox.Root -Recurse -Force -ErrorAction SilentlyContinue
    }

    It 'syncs the ConfigMap into rules.d, and an update reaches rules.d within two poll intervals' {
        $script:Run = Start-Entrypoint -Layout $Layout -Sandbox $Sandbox -Arguments '-NoRestart' -Environment @{ AA_POLL_INTERVAL = '2s' }
        $configMap = Read-ConfigMapData (Join-Path $RepoRoot 'kubernetes/auditd-rules.yaml')

        # The first pass: the node had only the package's audit.rules; now it also has every ConfigMap file.
        Wait-Until { $files = Get-RulesFiles $Sandbox.RulesDirectory; @($configMap.Keys | Where-Object { $files[$_] -ne $configMap[$_] }).Count -eq 0 } |
            Should -Not -BeNullOrEmpty
        (Get-RulesFiles $Sandbox.RulesDirectory).Keys | Should -Contain 'audit.rules' -Because 'managed mode leaves files it did not place'

        $update = [ordered]@{} + $configMap
        $update['80-update.rules'] = "-w /etc/hosts -p wa -k hosts`n"
        $update['40-identity.rules'] = $configMap['40-identity.rules'] + "-w /etc/nsswitch.conf -p wa -k identity`n"
        $update.Remove('60-shells.rules')
        Write-ConfigMapVolume $Sandbox.RulesVolume $update

        $elapsed = Wait-Until {
            $files = Get-RulesFiles $Sandbox.RulesDirectory
            $files['80-update.rules'] -eq $update['80-update.rules'] -and $files['40-identity.rules'] -eq $update['40-identity.rules'] -and -not $files.Contains('60-shells.rules')
        } -Timeout ([TimeSpan]::FromSeconds(30))
        $elapsed | Should -Not -BeNullOrEmpty

        (Stop-Entrypoint $Run).ExitCode | Should -Be 0
        @(Get-EntrypointLog $Run | Where-Object level -in 'error', 'fatal') | Should -BeNullOrEmpty
        Get-Content -Raw $Run.Err | Should -BeNullOrEmpty
    }

    It 'refuses a bad rule: the node keeps its last good set and a JSON error line names the file and line' {
        $script:Run = Start-Entrypoint -Layout $Layout -Sandbox $Sandbox -Arguments '-NoRestart'
        Wait-Until { (Get-RulesFiles $Sandbox.RulesDirectory).Contains('70-modules.rules') } | Should -Not -BeNullOrEmpty
        $good = Get-RulesFiles $Sandbox.RulesDirectory

        $configMap = Read-ConfigMapData (Join-Path $RepoRoot 'kubernetes/auditd-rules.yaml')
        $bad = [ordered]@{} + $configMap
        $bad['40-identity.rules'] = $configMap['40-identity.rules'] + "-w /etc/nsswitch.conf -p wa -k identity`n"
        $bad['90-typo.rules'] = "## a watch with a relative path`n-w /etc/hosts -p wa -k hosts`n-w etc/shadow -p wa -k typo`n"
        Write-ConfigMapVolume $Sandbox.RulesVolume $bad

        Wait-Until { @(Get-EntrypointLog $Run | Where-Object { $_.level -eq 'error' -and "$($_.file)" -like '*/90-typo.rules' }).Count -gt 0 } -Timeout ([TimeSpan]::FromSeconds(30)) |
            Should -Not -BeNullOrEmpty
        $refusal = @(Get-EntrypointLog $Run | Where-Object { $_.level -eq 'error' -and "$($_.file)" -like '*/90-typo.rules' })[0]
        $refusal.line | Should -Be 3
        $refusal.file | Should -Be (Join-Path $Sandbox.RulesVolume '90-typo.rules')
        $refusal.msg | Should -Match 'etc/shadow'
        # The whole update is refused, not only the bad file: the node keeps exactly its last good set.
        $now = Get-RulesFiles $Sandbox.RulesDirectory
        ($now.Keys | Sort-Object) | Should -Be ($good.Keys | Sort-Object)
        foreach ($name in $good.Keys) { $now[$name] | Should -BeExactly $good[$name] }
        $Run.Process.HasExited | Should -BeFalse

        # Fixed in the ConfigMap: the loop takes it without waiting out its backoff.
        $bad['90-typo.rules'] = "## fixed`n-w /etc/hosts -p wa -k hosts`n-w /etc/shadow -p wa -k typo`n"
        Write-ConfigMapVolume $Sandbox.RulesVolume $bad
        Wait-Until { (Get-RulesFiles $Sandbox.RulesDirectory)['90-typo.rules'] -eq $bad['90-typo.rules'] } -Timeout ([TimeSpan]::FromSeconds(30)) | Should -Not -BeNullOrEmpty

        (Stop-Entrypoint $Run).ExitCode | Should -Be 0
        Get-Content -Raw $Run.Err | Should -BeNullOrEmpty
    }

    It 'logs a failing iteration with its cause, backs off within bounds, and carries on' {
        $script:Run = Start-Entrypoint -Layout $Layout -Sandbox $Sandbox -Arguments '-NoRestart'
        Wait-Until { (Get-RulesFiles $Sandbox.RulesDirectory).Contains('70-modules.rules') } | Should -Not -BeNullOrEmpty

        # The ConfigMap mount disappears (a missing mount): every pass fails until it is back.
        $away = "$($Sandbox.RulesVolume).away"
        Move-Item -LiteralPath $Sandbox.RulesVolume -Destination $away
        Wait-Until { @(Get-EntrypointLog $Run | Where-Object msg -eq 'Retrying after a failed iteration').Count -ge 3 } -Timeout ([TimeSpan]::FromSeconds(60)) |
            Should -Not -BeNullOrEmpty
        $Run.Process.HasExited | Should -BeFalse

        # Only the rules step fails: a plugins change still reaches the node while the rules mount is away.
        $plugins = [ordered]@{} + (Read-ConfigMapData (Join-Path $RepoRoot 'kubernetes/audisp-plugins.yaml'))
        $plugins['zz-isolated.conf'] = "active = no`ndirection = out`npath = /sbin/audisp-syslog`ntype = always`nformat = string`n"
        Write-ConfigMapVolume $Sandbox.PluginsVolume $plugins
        Wait-Until { Test-Path -LiteralPath (Join-Path $Sandbox.PluginsDirectory 'zz-isolated.conf') } -Timeout ([TimeSpan]::FromSeconds(30)) | Should -Not -BeNullOrEmpty

        $log = @(Get-EntrypointLog $Run)
        $failure = @($log | Where-Object { $_.level -eq 'error' -and $_.errorId -like 'SourceMissing*' })[0]
        $failure.command | Should -Be 'Sync-AuditNode'
        $failure.msg | Should -Match ([regex]::Escape($Sandbox.RulesVolume))
        $retries = @($log | Where-Object msg -eq 'Retrying after a failed iteration')
        # The sandbox polls every second: 2, 4, 8, then ten poll intervals (10 s) for as long as the failure lasts.
        $expected = @(2, 4, 8) + @(10) * 20
        $retries.retryInSeconds | Should -Be $expected[0..($retries.Count - 1)] -Because 'the pause doubles from one poll interval and stops at ten'

        # Back, with a change: the loop picks it up without waiting out its backoff.
        Move-Item -LiteralPath $away -Destination $Sandbox.RulesVolume
        $update = [ordered]@{} + (Read-ConfigMapData (Join-Path $RepoRoot 'kubernetes/auditd-rules.yaml'))
        $update['80-back.rules'] = "-w /etc/hosts -p wa -k back`n"
        Write-ConfigMapVolume $Sandbox.RulesVolume $update
        Wait-Until { (Get-RulesFiles $Sandbox.RulesDirectory).Contains('80-back.rules') } -Timeout ([TimeSpan]::FromSeconds(30)) | Should -Not -BeNullOrEmpty

        (Stop-Entrypoint $Run).ExitCode | Should -Be 0
        Get-Content -Raw $Run.Err | Should -BeNullOrEmpty
    }

    It '-Init exits 1 with a fatal JSON line naming the cause when auditd cannot be installed' {
        # The sandbox has no /etc/os-release: Install-Auditd cannot tell the distribution, the one init failure.
        $script:Run = Start-Entrypoint -Layout $Layout -Sandbox $Sandbox -Arguments '-Init'

        $Run.Process.WaitForExit(60000) | Should -BeTrue
        $Run.Process.ExitCode | Should -Be 1
        $log = @(Get-EntrypointLog $Run)
        $log[0].msg | Should -Be 'aks-auditd starting'
        $log[0].mode | Should -Be 'init'
        $log[-1].level | Should -Be 'fatal'
        $log[-1].msg | Should -Match '^Cannot install auditd on the node: .*os-release'
        $log[-1].errorId | Should -Match '^UnsupportedDistribution'
        (Get-RulesFiles $Sandbox.RulesDirectory).Keys | Should -Be @('audit.rules') -Because 'nothing is synced without auditd'
        Get-Content -Raw $Run.Err | Should -BeNullOrEmpty
    }

    It 'exits 1 with one clear JSON line on an invalid configuration' {
        $script:Run = Start-Entrypoint -Layout $Layout -Sandbox $Sandbox -Environment @{ AA_POLL_INTERVAL = '30' }

        $Run.Process.WaitForExit(60000) | Should -BeTrue
        $Run.Process.ExitCode | Should -Be 1
        $log = @(Get-EntrypointLog $Run)
        $log.Count | Should -Be 1
        $log[0].level | Should -Be 'fatal'
        $log[0].msg | Should -Match 'AA_POLL_INTERVAL'
        Get-Content -Raw $Run.Err | Should -BeNullOrEmpty
    }

    It 'keeps a fresh heartbeat, logs only JSON, and exits 0 on SIGTERM, well within the grace period' {
        $script:Run = Start-Entrypoint -Layout $Layout -Sandbox $Sandbox

        Wait-Until { @(Get-EntrypointLog $Run | Where-Object msg -eq 'aks-auditd starting').Count -eq 1 } | Should -Not -BeNullOrEmpty
        Wait-Until { Test-Path -LiteralPath $Sandbox.Heartbeat } | Should -Not -BeNullOrEmpty
        $first = (Get-Item -LiteralPath $Sandbox.Heartbeat).LastWriteTimeUtc
        Wait-Until { (Get-Item -LiteralPath $Sandbox.Heartbeat).LastWriteTimeUtc -gt $first } -Timeout ([TimeSpan]::FromSeconds(30)) | Should -Not -BeNullOrEmpty
        # The DaemonSet's probe, on this heartbeat.
        & /bin/sh -c "test -n `"`$(find '$($Sandbox.Heartbeat)' -mmin -5 2>/dev/null)`""
        $LASTEXITCODE | Should -Be 0

        # A generous deadline, far below the pod's terminationGracePeriodSeconds: an outcome, not a timing.
        $stop = Stop-Entrypoint $Run -Timeout ([TimeSpan]::FromSeconds(30))
        $stop.Exited | Should -BeTrue -Because 'SIGTERM must end the loop, between two steps, long before the kubelet sends SIGKILL'
        $stop.ExitCode | Should -Be 0
        $log = @(Get-EntrypointLog $Run)
        $log[-1].msg | Should -Be 'aks-auditd stopping'
        $log | ForEach-Object { $_.time | Should -Not -BeNullOrEmpty; $_.level | Should -Not -BeNullOrEmpty; $_.msg | Should -Not -BeNullOrEmpty }
        Get-Content -Raw $Run.Err | Should -BeNullOrEmpty
    }
}

Describe 'The entrypoint on this machine''s real kernel' {
    It 'loads a changed rule set into the kernel within two poll intervals (HostRoot /)' {
        $lock = $null
        $saved = $null
        $root = Join-Path ([System.IO.Path]::GetTempPath()) "aks-auditd-kernel-$([guid]::NewGuid().ToString('n'))"
        $run = $null
        try {
            # Inside the try: a failure to save still releases the lock, and nothing is restored that was not saved.
            $lock = Enter-KernelTestLock
            $saved = Save-NodeAuditState
            $sandbox = [pscustomobject]@{
                Root = $root
                Node = '/'
                RulesVolume = Join-Path $root 'auditd-rules'
                PluginsVolume = Join-Path $root 'audisp-plugins'
                Heartbeat = Join-Path $root 'heartbeat'
            }
            New-Item -ItemType Directory $root | Out-Null
            # The node's own syslog.conf, unchanged: this test is about rules, and a plugin change would signal auditd.
            Write-ConfigMapVolume $sandbox.PluginsVolume ([ordered]@{ 'syslog.conf' = [System.IO.File]::ReadAllText('/etc/audit/plugins.d/syslog.conf') })
            Write-ConfigMapVolume $sandbox.RulesVolume ([ordered]@{ '80-aks-auditd-test.rules' = "-w /etc/hosts -p wa -k aks_auditd_test_a`n" })

            $run = Start-Entrypoint -Layout $Layout -Sandbox $sandbox -Environment @{ AA_POLL_INTERVAL = '3s'; AA_STATE_DIR = (Join-Path $root 'state') }
            if (-not (Wait-Until { (& auditctl -l) -match 'aks_auditd_test_a$' } -Timeout ([TimeSpan]::FromSeconds(90)))) {
                throw "the first rule set did not load; the entrypoint said: $(Get-Content -Raw $run.Out) $(Get-Content -Raw $run.Err)"
            }

            Write-ConfigMapVolume $sandbox.RulesVolume ([ordered]@{
                '80-aks-auditd-test.rules' = "-w /etc/hosts -p wa -k aks_auditd_test_b`n-w /etc/resolv.conf -p wa -k aks_auditd_test_b`n"
            })
            $elapsed = Wait-Until {
                $listing = & auditctl -l
                @($listing -match 'aks_auditd_test_b$').Count -eq 2 -and -not ($listing -match 'aks_auditd_test_a$')
            } -Timeout ([TimeSpan]::FromSeconds(60))
            $elapsed | Should -Not -BeNullOrEmpty

            (Stop-Entrypoint $run).ExitCode | Should -Be 0
            $log = @(Get-EntrypointLog $run)
            @($log | Where-Object { $_.msg -like 'Restart-Auditd:*' -and $_.succeeded }).Count | Should -BeGreaterOrEqual 2
            @($log | Where-Object level -in 'error', 'fatal') | Should -BeNullOrEmpty
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
        (& auditctl -l) | Should -Not -Match 'aks_auditd_test'
    }
}
