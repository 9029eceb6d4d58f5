# Helpers for DaemonSet.Tests.ps1: the Dockerfile as data, the image layout, a sandbox node, and the entrypoint
# as a real process. Dot-sourced by the tests (not a *.Tests.ps1 file, so Pester does not run it by itself).

$script:RepoRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
. (Join-Path $RepoRoot 'image/ConfigMapVolume.ps1')

function Read-Dockerfile {
    # Instructions of image/Dockerfile as objects (continuation lines joined, comments dropped), each with its stage.
    param([string] $Path = (Join-Path $RepoRoot 'image/Dockerfile'))
    $instructions = [System.Collections.Generic.List[object]]::new()
    $stage = -1
    $pending = ''
    foreach ($line in [System.IO.File]::ReadAllLines($Path)) {
        if ($line -match '^\s*#') { continue }
        if ($line -match '\\\s*$') { $pending += ($line -replace '\\\s*$', ' '); continue }
        $full = ($pending + $line).Trim()
        $pending = ''
        if (-not $full) { continue }
        $keyword, $rest = $full -split '\s+', 2
        $keyword = $keyword.ToUpperInvariant()
        if ($keyword -eq 'FROM') { $stage++ }
        $instructions.Add([pscustomobject]@{ Stage = $stage; Keyword = $keyword; Arguments = "$rest" })
    }
    $last = ($instructions | Measure-Object Stage -Maximum).Maximum
    foreach ($instruction in $instructions) { $instruction | Add-Member IsFinalStage ($instruction.Stage -eq $last) }
    return $instructions
}

function Get-DockerfileCopy {
    # The final stage's COPY lines: (From, Source, Destination).
    foreach ($copy in Read-Dockerfile | Where-Object { $_.IsFinalStage -and $_.Keyword -eq 'COPY' }) {
        $words = $copy.Arguments -split '\s+'
        $from = ($words | Where-Object { $_ -like '--from=*' }) -replace '^--from=', ''
        $paths = @($words | Where-Object { $_ -notlike '--*' })
        if ($paths.Count -ne 2) { throw "COPY with other than one source and one destination: $($copy.Arguments)" }
        [pscustomobject]@{ From = $from; Source = $paths[0]; Destination = $paths[1] }
    }
}

function Get-DockerfileEnvironment {
    # ENV of the final stage (KEY=value pairs), as the container's process sees them.
    $environment = [ordered]@{}
    foreach ($instruction in Read-Dockerfile | Where-Object { $_.IsFinalStage -and $_.Keyword -eq 'ENV' }) {
        foreach ($pair in $instruction.Arguments -split '\s+' | Where-Object { $_ }) {
            $name, $value = $pair -split '=', 2
            $environment[$name] = $value
        }
    }
    return $environment
}

function Get-DockerfileEntrypoint {
    $entrypoint = Read-Dockerfile | Where-Object { $_.IsFinalStage -and $_.Keyword -eq 'ENTRYPOINT' }
    return @($entrypoint.Arguments | ConvertFrom-Json)
}

function New-TestImageLayout {
    # The tree `build.ps1 image-layout` writes, in a temporary folder (PowerShell linked, not copied).
    $root = Join-Path ([System.IO.Path]::GetTempPath()) "aks-auditd-layout-$([guid]::NewGuid().ToString('n'))"
    $null = & (Join-Path $RepoRoot 'image/New-ImageLayout.ps1') -ModulePath $env:AKSAUDITD_MODULE -Destination $root -LinkPowerShell
    return $root
}

function Remove-TestImageLayout {
    param([string] $Root)
    $linked = Join-Path $Root 'opt/microsoft/powershell/7'
    if ((Test-Path -LiteralPath $linked) -and (Get-Item -LiteralPath $linked -Force).LinkType) { [System.IO.File]::Delete($linked) }
    Remove-Item -LiteralPath $Root -Recurse -Force -ErrorAction SilentlyContinue
}

function Get-FileTree {
    # Relative path => SHA-256 of every file under a folder (links followed), for comparing trees.
    param([string] $Path)
    $tree = @{}
    $item = Get-Item -LiteralPath $Path -Force
    if (-not $item.PSIsContainer) {
        $tree[''] = (Get-FileHash -LiteralPath $Path -Algorithm SHA256).Hash
        return $tree
    }
    $base = $item.FullName.TrimEnd('/') + '/'
    foreach ($file in [System.IO.Directory]::EnumerateFiles($item.FullName, '*', [System.IO.SearchOption]::AllDirectories)) {
        $tree[$file.Substring($base.Length)] = (Get-FileHash -LiteralPath $file -Algorithm SHA256).Hash
    }
    return $tree
}

function New-SandboxNode {
    # A node's / in a temporary folder: /etc/audit with the auditd package's rules.d and plugins.d as this
    # machine has them, and the ConfigMap volumes the kubelet would mount, built from kubernetes/.
    $root = Join-Path ([System.IO.Path]::GetTempPath()) "aks-auditd-node-$([guid]::NewGuid().ToString('n'))"
    $node = Join-Path $root 'node'
    foreach ($dir in 'etc/audit/rules.d', 'etc/audit/plugins.d', 'var/lib', 'tmp') { New-Item -ItemType Directory -Force (Join-Path $node $dir) | Out-Null }
    Copy-Item /etc/audit/rules.d/audit.rules (Join-Path $node 'etc/audit/rules.d/audit.rules')
    Copy-Item /etc/audit/plugins.d/*.conf (Join-Path $node 'etc/audit/plugins.d')
    New-Item -ItemType Directory -Force (Join-Path $root 'run') | Out-Null
    $sandbox = [pscustomobject]@{
        Root = $root
        Node = $node
        RulesVolume = Join-Path $root 'auditd-rules'
        PluginsVolume = Join-Path $root 'audisp-plugins'
        RulesDirectory = Join-Path $node 'etc/audit/rules.d'
        PluginsDirectory = Join-Path $node 'etc/audit/plugins.d'
        Heartbeat = Join-Path $root 'run/heartbeat'
    }
    Write-ConfigMapVolume $sandbox.RulesVolume (Read-ConfigMapData (Join-Path $RepoRoot 'kubernetes/auditd-rules.yaml'))
    Write-ConfigMapVolume $sandbox.PluginsVolume (Read-ConfigMapData (Join-Path $RepoRoot 'kubernetes/audisp-plugins.yaml'))
    return $sandbox
}

function Start-Entrypoint {
    # The image's ENTRYPOINT from the layout, with the image's ENV, <Layout> standing for the image's / and the
    # sandbox's folders for the node and the ConfigMap mounts. stdout and stderr go to files the tests read.
    param(
        [Parameter(Mandatory)] [string] $Layout,
        [Parameter(Mandatory)] $Sandbox,
        [string[]] $Arguments = @(),
        [hashtable] $Environment = @{}
    )
    $entrypoint = Get-DockerfileEntrypoint
    $start = [System.Diagnostics.ProcessStartInfo]::new('/bin/sh')
    $command = @($entrypoint | ForEach-Object { if ($_.StartsWith('/')) { Join-Path $Layout $_.TrimStart('/') } else { $_ } }) + $Arguments
    $out = Join-Path $Sandbox.Root 'stdout.log'
    $err = Join-Path $Sandbox.Root 'stderr.log'
    # exec: the process the test signals is pwsh itself, as in the container.
    $start.ArgumentList.Add('-c')
    $start.ArgumentList.Add('exec "$@" >"$AKS_AUDITD_TEST_OUT" 2>"$AKS_AUDITD_TEST_ERR"')
    $start.ArgumentList.Add('entrypoint')
    foreach ($word in $command) { $start.ArgumentList.Add($word) }
    foreach ($name in @($start.Environment.Keys)) {
        if ($name -like 'AA_*' -or $name -eq 'PSModulePath' -or $name -like 'DOTNET_*' -or $name -like 'POWERSHELL_*') { $start.Environment.Remove($name) | Out-Null }
    }
    foreach ($entry in (Get-DockerfileEnvironment).GetEnumerator()) { $start.Environment[$entry.Key] = $entry.Value }
    $settings = @{
        AKS_AUDITD_TEST_OUT = $out
        AKS_AUDITD_TEST_ERR = $err
        PSModulePath = Join-Path $Layout 'usr/local/share/powershell/Modules'
        AA_CONFIG_FILE = Join-Path $Layout 'etc/aks-auditd/config.yaml'
        AA_HOST_ROOT = $Sandbox.Node
        AA_RULES_SOURCE = $Sandbox.RulesVolume
        AA_PLUGINS_SOURCE = $Sandbox.PluginsVolume
        AA_HEARTBEAT_FILE = $Sandbox.Heartbeat
        AA_POLL_INTERVAL = '1s'
    }
    foreach ($entry in $Environment.GetEnumerator()) { $settings[$entry.Key] = $entry.Value }
    foreach ($entry in $settings.GetEnumerator()) { $start.Environment[$entry.Key] = [string]$entry.Value }
    $process = [System.Diagnostics.Process]::Start($start)
    return [pscustomobject]@{ Process = $process; Out = $out; Err = $err; Started = [DateTime]::UtcNow }
}

function Get-EntrypointLog {
    # stdout as parsed JSON objects; a line that is not a JSON object fails the test that reads it.
    param([Parameter(Mandatory)] $Run)
    if (-not (Test-Path -LiteralPath $Run.Out)) { return @() }
    $lines = [System.IO.File]::ReadAllLines($Run.Out)
    foreach ($line in $lines) {
        if (-not $line) { continue }
        try { $entry = $line | ConvertFrom-Json -ErrorAction Stop }
        catch { throw "stdout line is not JSON: $line" }
        if ($entry -isnot [System.Management.Automation.PSCustomObject]) { throw "stdout line is not a JSON object: $line" }
        $entry
    }
}

function Wait-Until {
    # Polls a condition until it holds or the timeout passes; returns the elapsed time, or $null on timeout.
    param([Parameter(Mandatory)] [scriptblock] $Condition, [TimeSpan] $Timeout = [TimeSpan]::FromSeconds(60))
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    while ($watch.Elapsed -lt $Timeout) {
        if (& $Condition) { return $watch.Elapsed }
        Start-Sleep -Milliseconds 100
    }
    return $null
}

function Stop-Entrypoint {
    # SIGTERM, as the kubelet sends on pod deletion; returns the exit code and how long the exit took.
    param([Parameter(Mandatory)] $Run, [TimeSpan] $Timeout = [TimeSpan]::FromSeconds(5))
    if ($Run.Process.HasExited) { return [pscustomobject]@{ ExitCode = $Run.Process.ExitCode; Elapsed = [TimeSpan]::Zero; Exited = $true } }
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    & kill -TERM $Run.Process.Id
    $exited = $Run.Process.WaitForExit([int]$Timeout.TotalMilliseconds)
    $elapsed = $watch.Elapsed
    if (-not $exited) {
        $Run.Process.Kill()
        $Run.Process.WaitForExit()
    }
    return [pscustomobject]@{ ExitCode = $Run.Process.ExitCode; Elapsed = $elapsed; Exited = $exited }
}

function Get-RulesFiles {
    # name => content of the *.rules files in a folder.
    param([string] $Path)
    $files = [ordered]@{}
    foreach ($file in Get-ChildItem -LiteralPath $Path -Filter '*.rules' -File | Sort-Object Name) {
        $files[$file.Name] = [System.IO.File]::ReadAllText($file.FullName)
    }
    return $files
}

function Enter-KernelTestLock {
    # The machine-wide lock of tests/Shared/KernelTestLock.cs: .NET opens a FileShare.None file with flock(LOCK_EX).
    param([TimeSpan] $Timeout = [TimeSpan]::FromMinutes(10))
    $deadline = [DateTime]::UtcNow + $Timeout
    while ($true) {
        try {
            return [System.IO.FileStream]::new('/run/aks-auditd-tests.kernel.lock', 'OpenOrCreate', 'ReadWrite', 'None')
        }
        catch [System.IO.IOException] {
            if ([DateTime]::UtcNow -ge $deadline) { throw }
            Start-Sleep -Milliseconds 200
        }
    }
}

function Get-KernelAuditSettings {
    # auditctl -s as name => value.
    $settings = @{}
    foreach ($line in & auditctl -s) {
        $name, $value = "$line" -split ' ', 2
        if ($value) { $settings[$name] = $value.Trim() }
    }
    return $settings
}

function Save-NodeAuditState {
    # What a test that loads rules through the real /etc/audit must put back: the files, the kernel's settings
    # and rules, and whether auditd was running.
    $backup = Join-Path ([System.IO.Path]::GetTempPath()) "aks-auditd-etc-audit-$([guid]::NewGuid().ToString('n'))"
    & cp -a /etc/audit $backup
    if ($LASTEXITCODE -ne 0) { throw 'cannot back up /etc/audit' }
    return [pscustomobject]@{
        Backup = $backup
        Settings = Get-KernelAuditSettings
        Rules = @(& auditctl -l)
        AuditdRunning = [bool](& pidof auditd)
    }
}

function Restore-NodeAuditState {
    param([Parameter(Mandatory)] $State)
    if (-not $State.AuditdRunning -and (& pidof auditd)) { & service auditd stop *> $null }
    & rm -rf /etc/audit
    & cp -a $State.Backup /etc/audit
    & rm -rf $State.Backup
    & auditctl -D *> $null
    # Never -e 2 or -f 2: only the values a test may restore.
    if ($State.Settings['enabled'] -in '0', '1') { & auditctl -e $State.Settings['enabled'] *> $null }
    if ($State.Settings['failure'] -in '0', '1') { & auditctl -f $State.Settings['failure'] *> $null }
    & auditctl -b $State.Settings['backlog_limit'] *> $null
    & auditctl --backlog_wait_time $State.Settings['backlog_wait_time'] *> $null
    if ($State.Rules.Count -gt 0 -and $State.Rules[0] -ne 'No rules') {
        $file = [System.IO.Path]::GetTempFileName()
        [System.IO.File]::WriteAllLines($file, [string[]]$State.Rules)
        & auditctl -R $file *> $null
        Remove-Item $file
    }
}
