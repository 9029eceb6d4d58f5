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
        $Froms[0].Arguments | Should -Match '^mcr\.microsoft\.com/dotnet/sdk:\$\{DOTNET_VERSION\}-azurelinux3\.0 AS build$'
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

    It 'sets the measured runtime settings, each one documented in docs/daemonset.md' {
        $environment = Get-DockerfileEnvironment
        $environment['DOTNET_gcServer'] | Should -Be '0'
        $environment['AA_LOG_FORMAT'] | Should -Be 'json'
        $docs = Get-Content -Raw (Join-Path $RepoRoot 'docs/daemonset.md')
        foreach ($name in $environment.Keys | Where-Object { $_ -like 'DOTNET_*' }) {
            $docs | Should -Match "\b$name=$([regex]::Escape($environment[$name]))" -Because "$name is a runtime setting and needs its measurement"
        }
    }

    It 'starts the entrypoint with the image''s pwsh, without a profile' {
        $entrypoint = Get-DockerfileEntrypoint
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

Describe 'The entrypoint from the image layout' {
    BeforeEach {
        $script:Sandbox = New-SandboxNode
    }

    AfterEach {
        if ($script:Run -and -not $Run.Process.HasExited) { $null = Stop-Entrypoint $Run }
        $script:Run = $null
        Remove-Item -LiteralPath $Sandbox.Root -Recurse -Force -ErrorAction SilentlyContinue
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

    It 'keeps a fresh heartbeat, logs only JSON, and exits 0 within 5 seconds of SIGTERM' {
        $script:Run = Start-Entrypoint -Layout $Layout -Sandbox $Sandbox

        Wait-Until { @(Get-EntrypointLog $Run | Where-Object msg -eq 'aks-auditd starting').Count -eq 1 } | Should -Not -BeNullOrEmpty
        Wait-Until { Test-Path -LiteralPath $Sandbox.Heartbeat } | Should -Not -BeNullOrEmpty
        $first = (Get-Item -LiteralPath $Sandbox.Heartbeat).LastWriteTimeUtc
        Wait-Until { (Get-Item -LiteralPath $Sandbox.Heartbeat).LastWriteTimeUtc -gt $first } -Timeout ([TimeSpan]::FromSeconds(10)) | Should -Not -BeNullOrEmpty
        # The DaemonSet's probe, on this heartbeat.
        & /bin/sh -c "test -n `"`$(find '$($Sandbox.Heartbeat)' -mmin -5 2>/dev/null)`""
        $LASTEXITCODE | Should -Be 0

        $stop = Stop-Entrypoint $Run
        $stop.Exited | Should -BeTrue -Because 'SIGTERM must end the loop within 5 seconds'
        $stop.ExitCode | Should -Be 0
        $log = @(Get-EntrypointLog $Run)
        $log[-1].msg | Should -Be 'aks-auditd stopping'
        $log | ForEach-Object { $_.time | Should -Not -BeNullOrEmpty; $_.level | Should -Not -BeNullOrEmpty; $_.msg | Should -Not -BeNullOrEmpty }
        Get-Content -Raw $Run.Err | Should -BeNullOrEmpty
    }
}
