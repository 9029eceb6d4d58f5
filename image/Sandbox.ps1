<#
.SYNOPSIS
    A sandbox node and the image's entrypoint as a real process: for the demo, the tests and the benchmark
    (dot-source this file).
.DESCRIPTION
    - A ConfigMap volume as the kubelet writes it (AksAuditd.Core's ConfigMapVolumeWriter, also used by the
      xUnit and Pester tests). The kubelet's atomic writer keeps each version of the data
      in its own folder and swaps one link:
          <volume>/..2026_11_29_08_00_00.123456789/<key>    the files of one version
          <volume>/..data -> ..2026_11_29_08_00_00.123456789
          <volume>/<key>  -> ..data/<key>                    what a container sees
      An update writes a new timestamped folder, points a temporary link at it and renames that link over
      ..data (rename(2) is atomic: a reader sees the old set or the new one, never a mix), then adds and removes
      the visible links and deletes the old folder. The entrypoint must cope with exactly this.
    - Manifests read with YamlDotNet, the parser the module ships.
    - A node's / in a temporary folder, with /etc/audit as the auditd package leaves it.
    - image/Dockerfile read as data (final stage COPY, ENV, ENTRYPOINT), so the entrypoint runs from the image
      layout with the image's settings, <Layout> standing for the image's /.
    - The machine's audit state saved and restored around anything that loads rules into the real kernel, under
      the machine-wide kernel test lock. Every rules volume and every entrypoint run against this machine's /
      passes tests/Shared/KernelLoadGuard.cs first (Assert-SafeKernelLoad): -e 2, -f 2 and --loginuid-immutable
      are refused before they can load; they are tested only in the VM (tests/vm).
#>

$script:SandboxRepoRoot = (Resolve-Path (Join-Path $PSScriptRoot '..')).Path

function Import-SandboxDependency {
    # An assembly the module ships (Dependencies/<Name>.dll), loaded once into this session, so that the sandbox
    # uses the module's own code (YamlDotNet, the Core's ConfigMap writer): from the imported module,
    # $env:AKSAUDITD_MODULE, or the repository's staged module.
    param([Parameter(Mandatory)] [string] $Name, [Parameter(Mandatory)] [string] $TypeName)
    if ($TypeName -as [type]) { return }
    $candidates = @()
    $module = Get-Module AksAuditd | Select-Object -First 1
    if ($module) { $candidates += Join-Path $module.ModuleBase "Dependencies/$Name.dll" }
    if ($env:AKSAUDITD_MODULE) { $candidates += Join-Path $env:AKSAUDITD_MODULE "Dependencies/$Name.dll" }
    $candidates += Join-Path $SandboxRepoRoot "out/AksAuditd/Dependencies/$Name.dll"
    $dll = $candidates | Where-Object { Test-Path -LiteralPath $_ } | Select-Object -First 1
    if (-not $dll) { throw "$Name.dll not found (looked in: $($candidates -join ', ')); run: dotnet pwsh ./build.ps1 build" }
    Add-Type -LiteralPath $dll
}

function ConvertFrom-YamlNode {
    # YamlDotNet's untyped result (Dictionary<object,object>, List<object>, strings) as ordered hashtables,
    # arrays and strings, which PowerShell indexes and tests (Contains) naturally.
    param($Node)
    if ($Node -is [System.Collections.IDictionary]) {
        $map = [ordered]@{}
        foreach ($key in $Node.Keys) { $map[[string]$key] = ConvertFrom-YamlNode $Node[$key] }
        return $map
    }
    if ($Node -is [System.Collections.IList]) {
        return , @(foreach ($item in $Node) { ConvertFrom-YamlNode $item })
    }
    return $Node
}

function Read-KubernetesManifest {
    # Every document of a manifest file, parsed with YamlDotNet.
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Path)
    Import-SandboxDependency YamlDotNet 'YamlDotNet.Serialization.DeserializerBuilder'
    $deserializer = [YamlDotNet.Serialization.DeserializerBuilder]::new().Build()
    $text = [System.IO.File]::ReadAllText($Path)
    foreach ($document in [regex]::Split($text, '(?m)^---[ \t]*\r?$')) {
        if ($document -notmatch '(?m)^[^#\s]') { continue }
        try { $node = $deserializer.Deserialize([System.IO.StringReader]::new($document)) }
        catch { throw "${Path}: not valid YAML: $($_.Exception.InnerException.Message ?? $_.Exception.Message)" }
        if ($null -ne $node) { ConvertFrom-YamlNode $node }
    }
}

function Read-ConfigMapData {
    # The data of the (first) ConfigMap in a manifest as key => text.
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Path)
    $configMap = Read-KubernetesManifest $Path | Where-Object { $_ -is [System.Collections.IDictionary] -and $_['kind'] -eq 'ConfigMap' } | Select-Object -First 1
    if (-not $configMap) { throw "$Path holds no ConfigMap" }
    if (-not $configMap.Contains('data') -or $configMap['data'] -isnot [System.Collections.IDictionary]) { throw "$Path has no 'data' mapping" }
    $data = [ordered]@{}
    foreach ($key in $configMap['data'].Keys) { $data[$key] = [string]$configMap['data'][$key] }
    return $data
}

function Import-KernelTestType {
    # The xUnit tests' machine helpers, compiled once per session from tests/Shared: KernelLoadGuard (the one check
    # before any load into this machine's kernel), KernelTestLock and MachineAudit. Compiled together, because
    # MachineAudit uses the guard and a type compiled in memory cannot be referenced by a later Add-Type.
    if ('AksAuditd.Tests.Shared.KernelLoadGuard' -as [type]) { return }
    $shared = Join-Path $script:SandboxRepoRoot 'tests/Shared'
    # The test projects' implicit usings, which these files rely on.
    $usings = Join-Path ([System.IO.Path]::GetTempPath()) "aks-auditd-usings-$([guid]::NewGuid().ToString('n')).cs"
    Set-Content -LiteralPath $usings ('System', 'System.Collections.Generic', 'System.IO', 'System.Linq', 'System.Threading' | ForEach-Object { "global using $_;" })
    try {
        Add-Type -Path $usings, (Join-Path $shared 'KernelLoadGuard.cs'), (Join-Path $shared 'KernelTestLock.cs'), (Join-Path $shared 'MachineAudit.cs')
    }
    finally {
        Remove-Item -LiteralPath $usings -Force
    }
}

function Assert-SafeKernelLoad {
    # The kernel load guard (tests/Shared/KernelLoadGuard.cs): throws when rules text, or this machine's
    # /etc/audit (-Node), would set -e 2, -f 2 or --loginuid-immutable.
    param([System.Collections.IDictionary] $Data, [switch] $Node)
    Import-KernelTestType
    if ($Data) {
        foreach ($key in $Data.Keys) {
            [AksAuditd.Tests.Shared.KernelLoadGuard]::AssertSafeText([string]$Data[$key], "ConfigMap entry $key")
        }
    }
    if ($Node) { [AksAuditd.Tests.Shared.KernelLoadGuard]::AssertSafeNode('/etc/audit') }
}

function Write-ConfigMapVolume {
    # Creates the volume, or updates it to exactly $Data, the way the kubelet does (AksAuditd.Core's
    # ConfigMapVolumeWriter, the writer the xUnit tests use too). A volume may feed an entrypoint that loads this
    # machine's kernel, so its rules pass the kernel load guard first.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [string] $Path,
        [Parameter(Mandatory)] [System.Collections.IDictionary] $Data
    )
    Assert-SafeKernelLoad -Data $Data
    Import-SandboxDependency AksAuditd.Core 'AksAuditd.Core.Sync.ConfigMapVolumeWriter'
    $payload = [System.Collections.Generic.Dictionary[string, string]]::new()
    foreach ($key in $Data.Keys) { $payload[[string]$key] = [string]$Data[$key] }
    [void][AksAuditd.Core.Sync.ConfigMapVolumeWriter]::new($Path).Update($payload, $null, $null)
}

function Read-Dockerfile {
    # Instructions of image/Dockerfile as objects (continuation lines joined, comments dropped), each with its stage.
    param([string] $Path = (Join-Path $SandboxRepoRoot 'image/Dockerfile'))
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
    # ENTRYPOINT of the final stage: the command, and the settings it gives its own process only. The agent's runtime
    # settings come as `/usr/bin/env NAME=value ... <command>`, so a pwsh started by hand in the image keeps the
    # runtime's defaults.
    $entrypoint = Read-Dockerfile | Where-Object { $_.IsFinalStage -and $_.Keyword -eq 'ENTRYPOINT' }
    $words = @($entrypoint.Arguments | ConvertFrom-Json)
    $environment = [ordered]@{}
    $first = 0
    if ($words[0] -eq '/usr/bin/env') {
        $first = 1
        while ($first -lt $words.Count -and $words[$first] -match '^([A-Za-z_][A-Za-z0-9_]*)=(.*)$') {
            $environment[$Matches[1]] = $Matches[2]
            $first++
        }
    }
    return [pscustomobject]@{ Environment = $environment; Command = @($words[$first..($words.Count - 1)]) }
}

function New-SandboxNode {
    # A node's / in a temporary folder: /etc/audit as the auditd package leaves it on Ubuntu (rules.d/audit.rules
    # with the package's settings, plugins.d/syslog.conf switched off), and the ConfigMap volumes the kubelet
    # would mount, built from kubernetes/. Needs nothing installed: the demo runs on a laptop.
    $root = Join-Path ([System.IO.Path]::GetTempPath()) "aks-auditd-node-$([guid]::NewGuid().ToString('n'))"
    $node = Join-Path $root 'node'
    # The folders of an AKS Ubuntu node that rules name: the sync checks a watch's parent folder on the node, as
    # the kernel does when it loads the rule. /bin, /sbin and /lib are links into /usr (merged /usr).
    $folders = 'etc/audit/rules.d', 'etc/audit/plugins.d', 'etc/security', 'etc/ssh', 'etc/pam.d', 'etc/kubernetes',
        'usr/bin', 'usr/sbin', 'usr/lib', 'usr/lib/systemd', 'usr/local/bin', 'var/log/audit', 'var/lib', 'tmp', 'run'
    foreach ($dir in $folders) { New-Item -ItemType Directory -Force (Join-Path $node $dir) | Out-Null }
    foreach ($link in 'bin', 'sbin', 'lib') { [System.IO.Directory]::CreateSymbolicLink((Join-Path $node $link), "usr/$link") | Out-Null }
    [System.IO.File]::WriteAllText((Join-Path $node 'etc/audit/rules.d/audit.rules'),
        "## rules.d/audit.rules as the auditd package installs it`n-D`n-b 8192`n--backlog_wait_time 60000`n-f 1`n")
    [System.IO.File]::WriteAllText((Join-Path $node 'etc/audit/plugins.d/syslog.conf'),
        "active = no`ndirection = out`npath = /sbin/audisp-syslog`ntype = always`nargs = LOG_INFO`nformat = string`n")
    New-Item -ItemType Directory -Force (Join-Path $root 'run') | Out-Null
    $sandbox = [pscustomobject]@{
        Root = $root
        Node = $node
        RulesVolume = Join-Path $root 'auditd-rules'
        PluginsVolume = Join-Path $root 'audisp-plugins'
        RulesDirectory = Join-Path $node 'etc/audit/rules.d'
        PluginsDirectory = Join-Path $node 'etc/audit/plugins.d'
        StateDirectory = Join-Path $node 'var/lib/aks-auditd'
        Heartbeat = Join-Path $root 'run/heartbeat'
    }
    Write-ConfigMapVolume $sandbox.RulesVolume (Read-ConfigMapData (Join-Path $SandboxRepoRoot 'kubernetes/auditd-rules.yaml'))
    Write-ConfigMapVolume $sandbox.PluginsVolume (Read-ConfigMapData (Join-Path $SandboxRepoRoot 'kubernetes/audisp-plugins.yaml'))
    return $sandbox
}

function Start-Entrypoint {
    # The image's ENTRYPOINT from the layout, with the image's ENV and the entrypoint's own settings, <Layout> standing for the image's / and the
    # sandbox's folders for the node and the ConfigMap mounts. stdout and stderr go to files (Out, Err) the caller reads.
    param(
        [Parameter(Mandatory)] [string] $Layout,
        [Parameter(Mandatory)] $Sandbox,
        [string[]] $Arguments = @(),
        [hashtable] $Environment = @{},
        # Words that run the entrypoint, such as 'unshare', '-n', '--' (no network); each must exec it, so the
        # process the caller signals is still pwsh.
        [string[]] $Prefix = @()
    )
    if ($Sandbox.Node -eq '/') {
        # The entrypoint will load this machine's kernel: what it reads must pass the kernel load guard.
        Assert-SafeKernelLoad -Node
        foreach ($volume in $Sandbox.RulesVolume) {
            foreach ($file in Get-ChildItem -LiteralPath $volume -File -ErrorAction SilentlyContinue) {
                [AksAuditd.Tests.Shared.KernelLoadGuard]::AssertSafeFile($file.FullName)
            }
        }
    }
    $entrypoint = Get-DockerfileEntrypoint
    $start = [System.Diagnostics.ProcessStartInfo]::new('/bin/sh')
    $command = @($Prefix) + @($entrypoint.Command | ForEach-Object { if ($_.StartsWith('/')) { Join-Path $Layout $_.TrimStart('/') } else { $_ } }) + $Arguments
    $out = Join-Path $Sandbox.Root 'stdout.log'
    $err = Join-Path $Sandbox.Root 'stderr.log'
    # exec: the process the caller signals is pwsh itself, as in the container.
    $start.ArgumentList.Add('-c')
    $start.ArgumentList.Add('exec "$@" >"$AKS_AUDITD_STDOUT" 2>"$AKS_AUDITD_STDERR"')
    $start.ArgumentList.Add('entrypoint')
    foreach ($word in $command) { $start.ArgumentList.Add($word) }
    foreach ($name in @($start.Environment.Keys)) {
        if ($name -like 'AA_*' -or $name -eq 'PSModulePath' -or $name -like 'DOTNET_*' -or $name -like 'POWERSHELL_*') { $start.Environment.Remove($name) | Out-Null }
    }
    foreach ($entry in (Get-DockerfileEnvironment).GetEnumerator()) { $start.Environment[$entry.Key] = $entry.Value }
    foreach ($entry in $entrypoint.Environment.GetEnumerator()) { $start.Environment[$entry.Key] = $entry.Value }
    $settings = @{
        AKS_AUDITD_STDOUT = $out
        AKS_AUDITD_STDERR = $err
        PSModulePath = Join-Path $Layout 'usr/local/share/powershell/Modules'
        AA_CONFIG_FILE = Join-Path $Layout 'etc/aks-auditd/config.yaml'
        AA_HOST_ROOT = $Sandbox.Node
        AA_RULES_SOURCE = $Sandbox.RulesVolume
        AA_PLUGINS_SOURCE = $Sandbox.PluginsVolume
        AA_HEARTBEAT_FILE = $Sandbox.Heartbeat
        AA_POLL_INTERVAL = '1s'
        # Loopback and a free port, not the image's :9877: several sandboxes may run on one machine.
        AA_METRICS_ADDRESS = "127.0.0.1:$(Get-FreeTcpPort)"
    }
    foreach ($entry in $Environment.GetEnumerator()) { $settings[$entry.Key] = $entry.Value }
    foreach ($entry in $settings.GetEnumerator()) { $start.Environment[$entry.Key] = [string]$entry.Value }
    $process = [System.Diagnostics.Process]::Start($start)
    $metrics = if ($settings.AA_METRICS_ADDRESS -match '^(?<host>[^:]*):(?<port>\d+)$') {
        "http://$(if ($Matches.host) { $Matches.host } else { '127.0.0.1' }):$($Matches.port)"
    }
    return [pscustomobject]@{ Process = $process; Out = $out; Err = $err; Started = [DateTime]::UtcNow; MetricsUrl = $metrics }
}

function Get-FreeTcpPort {
    # A port the kernel just handed out on loopback; free again once the listener closes.
    $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    $listener.Start()
    try { return $listener.LocalEndpoint.Port } finally { $listener.Stop() }
}

function Get-EntrypointLog {
    # stdout as parsed JSON objects; a line that is not a JSON object fails the test that reads it.
    param([Parameter(Mandatory)] $Run)
    if (-not (Test-Path -LiteralPath $Run.Out)) { return @() }
    # Only whole lines: while the entrypoint runs, the text after the last newline may be a line half written.
    $text = [System.IO.File]::ReadAllText($Run.Out)
    $lines = $text.Split("`n")
    $lines = if ($text.EndsWith("`n")) { $lines } else { $lines | Select-Object -SkipLast 1 }
    foreach ($line in $lines) {
        if (-not $line) { continue }
        try { $entry = $line | ConvertFrom-Json -ErrorAction Stop }
        catch { throw "stdout line is not JSON: $line" }
        if ($entry -isnot [System.Management.Automation.PSCustomObject]) { throw "stdout line is not a JSON object: $line" }
        $entry
    }
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
    # and rules, and whether auditd was running. A kernel already immutable or in panic mode is refused: its
    # settings cannot be put back, and a test must never run on it.
    $settings = Get-KernelAuditSettings
    foreach ($name in 'enabled', 'failure', 'rate_limit', 'backlog_limit', 'backlog_wait_time') {
        if (-not $settings.ContainsKey($name)) { throw "auditctl -s did not report $name; cannot save the kernel's audit settings" }
    }
    if ($settings['enabled'] -eq '2') { throw 'This kernel''s audit configuration is immutable (enabled 2); nothing can load until it reboots.' }
    if ($settings['failure'] -eq '2') { throw 'The kernel''s audit failure mode is 2 (panic); tests refuse to run on it.' }
    Assert-SafeKernelLoad -Node
    $backup = Join-Path ([System.IO.Path]::GetTempPath()) "aks-auditd-etc-audit-$([guid]::NewGuid().ToString('n'))"
    & cp -a /etc/audit $backup
    if ($LASTEXITCODE -ne 0) { throw 'cannot back up /etc/audit' }
    return [pscustomobject]@{
        Backup = $backup
        Settings = $settings
        Rules = @(& auditctl -l)
        AuditdRunning = [bool](& pidof auditd)
    }
}

function Restore-NodeAuditState {
    # Every step runs even when an earlier one failed; the failures are thrown together at the end, each naming
    # its step and quoting auditctl.
    param([Parameter(Mandatory)] $State)
    $failures = [System.Collections.Generic.List[string]]::new()
    function Invoke-RestoreStep {
        param([string] $What, [scriptblock] $Action)
        try { & $Action } catch { $failures.Add("${What}: $($_.Exception.Message)") }
    }
    function Invoke-Auditctl {
        param([string[]] $Arguments)
        [AksAuditd.Tests.Shared.KernelLoadGuard]::AssertSafeCommand('auditctl', $Arguments)
        $output = & auditctl @Arguments 2>&1
        if ($LASTEXITCODE -ne 0) { throw "auditctl $($Arguments -join ' ') exited $($LASTEXITCODE): $($output -join ' ')" }
    }
    Assert-SafeKernelLoad

    Invoke-RestoreStep 'stopping auditd' {
        if (-not $State.AuditdRunning -and (& pidof auditd)) {
            $output = & service auditd stop 2>&1
            if ($LASTEXITCODE -ne 0) { throw "service auditd stop exited $($LASTEXITCODE): $($output -join ' ')" }
        }
    }
    # The backup is checked to be ours before anything is touched, and deleted only after a complete copy: a
    # failed copy (a full disk, a bad state object) throws and keeps the backup, so nothing is lost. /etc/audit
    # itself stays in place (its contents are replaced), so mounts over it in other namespaces stay valid.
    Invoke-RestoreStep 'putting /etc/audit back' {
        $backup = [string]$State.Backup
        if (-not ($backup -match 'aks-auditd-etc-audit-[0-9a-f]{32}$' -and (Test-Path -LiteralPath (Join-Path $backup 'auditd.conf') -PathType Leaf))) {
            throw "Refusing to restore /etc/audit from '$backup': it is not a backup made by Save-NodeAuditState"
        }
        Get-ChildItem -LiteralPath /etc/audit -Force | Remove-Item -Recurse -Force
        & cp -a "$backup/." /etc/audit/
        if ($LASTEXITCODE -ne 0) {
            throw "Could not copy $backup back to /etc/audit; the backup is kept there: copy it back by hand (cp -a $backup/. /etc/audit/)"
        }
        & rm -rf -- $backup
    }
    Invoke-RestoreStep 'deleting the kernel''s rules' { Invoke-Auditctl '-D' }
    # Never -e 2 or -f 2: the guard refuses them, and Save-NodeAuditState refused a machine already in either.
    Invoke-RestoreStep 'restoring failure' { Invoke-Auditctl '-f', $State.Settings['failure'] }
    Invoke-RestoreStep 'restoring backlog_limit' { Invoke-Auditctl '-b', $State.Settings['backlog_limit'] }
    Invoke-RestoreStep 'restoring backlog_wait_time' { Invoke-Auditctl '--backlog_wait_time', $State.Settings['backlog_wait_time'] }
    Invoke-RestoreStep 'restoring rate_limit' { Invoke-Auditctl '-r', $State.Settings['rate_limit'] }
    Invoke-RestoreStep 'loading the rules the kernel had before (auditctl -l)' {
        $rules = @($State.Rules | Where-Object { $_ -and $_ -ne 'No rules' })
        if ($rules.Count -gt 0) {
            $file = [System.IO.Path]::GetTempFileName()
            try {
                [System.IO.File]::WriteAllLines($file, [string[]]$rules)
                Invoke-Auditctl '-R', $file
            }
            finally { Remove-Item -LiteralPath $file -Force }
        }
    }
    Invoke-RestoreStep 'restoring enabled' { Invoke-Auditctl '-e', $State.Settings['enabled'] }
    if ($failures.Count -gt 0) {
        throw "Restoring this machine's audit state failed in $($failures.Count) step(s): $($failures -join '; ')"
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
