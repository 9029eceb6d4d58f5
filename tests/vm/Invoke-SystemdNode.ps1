<#
.SYNOPSIS
    Boots a real systemd node (Debian 12) under qemu, runs the node scenario on it, and returns what it recorded.
.DESCRIPTION
    tools/prepare-systemd-node.sh builds (once, cached) the node's disk, kernel and initrd. Each run:
      1. writes a payload disk: the container image's file tree (image/New-ImageLayout.ps1: PowerShell, the module,
         the entrypoint), the .NET runtime PowerShell runs on (copied from this machine's dotnet), the scenario
         (tests/vm/boot.sh, Invoke-NodeScenario.ps1) and tests/vm/pidholder.c compiled statically with gcc;
      2. boots a sparse copy of the cached disk with qemu (TCG: KVM does not work on this machine), the payload as
         a second, read-only disk; the node's aks-scenario.service runs boot.sh;
      3. reads the scenario's JSON lines from the second serial port (ttyS1); the kernel and systemd write to the
         first (console-N.log). The scenario reboots once (immutable rules load only after a reboot): qemu runs
         with -no-reboot, so the runner boots the same disk a second time.
    Each boot is bounded (-BootTimeoutSeconds, generous for a busy machine); a boot that overruns is killed and
    reported. The VM has its own kernel, so -e 2 set there never reaches this machine.
    The result: Steps (step name => boot, facts, error), Boots (per boot: exit code, timed out, seconds, console
    log) and the work folder. tests/pester/SystemdNode.Tests.ps1 asserts on it.
.EXAMPLE
    ./tests/vm/Invoke-SystemdNode.ps1 -ModulePath out/AksAuditd
.EXAMPLE
    (./tests/vm/Invoke-SystemdNode.ps1 -ModulePath out/AksAuditd).Steps['init'].facts
#>
[CmdletBinding()]
param(
    # The staged module (build.ps1 build writes out/AksAuditd).
    [Parameter(Mandatory)]
    [string] $ModulePath,

    # Where the payload, the disk copy and the logs go; emptied first. Default: out/vm.
    [string] $WorkDirectory,

    # The cached node (tools/prepare-systemd-node.sh).
    [string] $CacheDirectory = '/var/cache/aks-auditd-tests/systemd-node',

    # How long one boot may take, from qemu's start to its exit.
    [int] $BootTimeoutSeconds = 2400
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

$repoRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
$modulePath = $PSCmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath($ModulePath)
$work = if ($WorkDirectory) { $PSCmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath($WorkDirectory) } else { Join-Path $repoRoot 'out/vm' }
$bootCount = 2

function Invoke-Native {
    param([string] $FilePath, [string[]] $ArgumentList)
    $output = & $FilePath @ArgumentList 2>&1
    if ($LASTEXITCODE -ne 0) { throw "'$FilePath $($ArgumentList -join ' ')' failed with exit code $($LASTEXITCODE): $($output -join "`n")" }
}

foreach ($tool in @(
        @{ Name = 'qemu-system-x86_64'; Package = 'qemu-system-x86' }
        @{ Name = 'gcc'; Package = 'gcc' }
        @{ Name = 'mkfs.ext4'; Package = 'e2fsprogs' })) {
    if (-not (Get-Command $tool.Name -CommandType Application -ErrorAction SilentlyContinue)) {
        throw "The systemd node tests need $($tool.Name), which is not installed: apt-get install $($tool.Package) (.ci/run installs it)."
    }
}

# 1. The cached node.
$prepareWatch = [System.Diagnostics.Stopwatch]::StartNew()
& bash (Join-Path $repoRoot 'tools/prepare-systemd-node.sh') $CacheDirectory
if ($LASTEXITCODE -ne 0) { throw "tools/prepare-systemd-node.sh failed (exit code $LASTEXITCODE); its output is above" }

if (Test-Path -LiteralPath $work) { Remove-Item -LiteralPath $work -Recurse -Force }
$payload = New-Item -ItemType Directory -Force (Join-Path $work 'payload')

# 2. The payload disk.
# ReadyToRun, as the image holds it: under TCG every JIT-compiled method costs ten times what it does on this
# machine, so IL alone makes each pwsh start take minutes.
$null = & (Join-Path $repoRoot 'image/New-ImageLayout.ps1') -ModulePath $modulePath -Destination (Join-Path $payload 'image') -ReadyToRun

# The .NET runtime the pinned PowerShell runs on, from this machine's dotnet (as the image's base has it).
$dotnetPath = (Get-Command dotnet -CommandType Application | Select-Object -First 1).Source
$dotnetTarget = [System.IO.File]::ResolveLinkTarget($dotnetPath, $true)
$dotnetRoot = Split-Path $(if ($dotnetTarget) { $dotnetTarget.FullName } else { $dotnetPath })
$framework = (Get-Content -Raw (Join-Path $PSHOME 'pwsh.runtimeconfig.json') | ConvertFrom-Json).runtimeOptions.framework
$major = ([version]$framework.version).Major
$runtime = Get-ChildItem (Join-Path $dotnetRoot "shared/$($framework.name)") -Directory |
    Where-Object { $_.Name -match '^\d+\.\d+\.\d+$' -and ([version]$_.Name).Major -eq $major } |
    Sort-Object { [version]$_.Name } | Select-Object -Last 1
if (-not $runtime) { throw "No $($framework.name) $major.x runtime under $dotnetRoot/shared: PowerShell needs $($framework.version)" }
$dotnet = New-Item -ItemType Directory -Force (Join-Path $payload "dotnet/shared/$($framework.name)")
Invoke-Native cp @('-a', $runtime.FullName, $dotnet.FullName)
Invoke-Native cp @('-a', (Join-Path $dotnetRoot 'host'), (Join-Path $dotnetRoot 'dotnet'), (Join-Path $payload 'dotnet'))

$scenario = New-Item -ItemType Directory -Force (Join-Path $payload 'scenario')
Copy-Item (Join-Path $PSScriptRoot 'Invoke-NodeScenario.ps1') $scenario
Copy-Item (Join-Path $PSScriptRoot 'boot.sh') $payload
$bin = New-Item -ItemType Directory -Force (Join-Path $payload 'bin')
Invoke-Native gcc @('-static', '-O2', '-Wall', '-o', (Join-Path $bin 'pidholder'), (Join-Path $PSScriptRoot 'pidholder.c'))

$payloadBytes = (Get-ChildItem $payload -Recurse -File | Measure-Object Length -Sum).Sum
$payloadImage = Join-Path $work 'payload.img'
# Room for ext4's metadata and many small files: a third more, plus 64 MiB.
$payloadMiB = [int][math]::Ceiling($payloadBytes * 1.34 / 1MB) + 64
Invoke-Native mkfs.ext4 @('-q', '-F', '-L', 'aks-payload', '-d', $payload.FullName, $payloadImage, "${payloadMiB}M")
Remove-Item -LiteralPath $payload -Recurse -Force
Write-Host "systemd node: cached disk checked and payload written in $([int]$prepareWatch.Elapsed.TotalSeconds) s"

# 3. The node's disk: a sparse copy, so the cache stays as built.
$disk = Join-Path $work 'disk.img'
Invoke-Native cp @('--sparse=always', (Join-Path $CacheDirectory 'disk.img'), $disk)

$steps = [ordered]@{}
$boots = foreach ($boot in 1..$bootCount) {
    $console = Join-Path $work "console-$boot.log"
    $resultsLog = Join-Path $work "results-$boot.log"
    $arguments = @(
        '-accel', 'tcg', '-cpu', 'max', '-smp', '2', '-m', '2048', '-display', 'none', '-monitor', 'none', '-no-reboot',
        '-kernel', (Join-Path $CacheDirectory 'vmlinuz'), '-initrd', (Join-Path $CacheDirectory 'initrd.img'),
        # panic=-1: a kernel panic reboots, which -no-reboot turns into qemu's exit, so a broken boot ends at once.
        '-append', 'root=/dev/vda rw console=ttyS0 panic=-1',
        '-drive', "file=$disk,format=raw,if=virtio",
        '-drive', "file=$payloadImage,format=raw,if=virtio,readonly=on",
        '-nic', 'none', '-serial', "file:$console", '-serial', "file:$resultsLog")
    Write-Host "systemd node: boot $boot of $bootCount (qemu, TCG; up to $BootTimeoutSeconds s)"
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    # ArgumentList, not one string: the kernel command line is one argument with spaces.
    $start = [System.Diagnostics.ProcessStartInfo]::new('qemu-system-x86_64')
    foreach ($argument in $arguments) { $start.ArgumentList.Add($argument) }
    $start.RedirectStandardError = $true
    $start.RedirectStandardOutput = $true
    $qemu = [System.Diagnostics.Process]::Start($start)
    $qemuOutput = $qemu.StandardOutput.ReadToEndAsync()
    $qemuError = $qemu.StandardError.ReadToEndAsync()
    $finished = $false
    try {
        $finished = $qemu.WaitForExit($BootTimeoutSeconds * 1000)
    }
    finally {
        # Over the time limit, or this run stopped (Ctrl+C, a failed wait): qemu never outlives the runner.
        if (-not $qemu.HasExited) {
            $qemu.Kill($true)
            $null = $qemu.WaitForExit(30000)
        }
    }
    $seconds = [int]$watch.Elapsed.TotalSeconds
    $qemuText = "$($qemuOutput.Result)$($qemuError.Result)".Trim()

    $recorded = 0
    if (Test-Path -LiteralPath $resultsLog) {
        foreach ($line in Get-Content -LiteralPath $resultsLog) {
            $line = $line.TrimEnd("`r")
            if ($line -notmatch '^AKSVM (\{.*\})$') { continue }
            $step = $Matches[1] | ConvertFrom-Json -AsHashtable
            $steps[$step.step] = $step
            $recorded++
        }
    }
    Write-Host "systemd node: boot $boot ended after $seconds s$(if (-not $finished) { ' (killed: over the time limit)' }), $recorded steps recorded"
    if ($qemuText) { Write-Host "systemd node: qemu said: $qemuText" }
    $exitCode = if ($finished) { $qemu.ExitCode } else { $null }
    [pscustomobject]@{
        Boot = $boot; TimedOut = -not $finished; ExitCode = $exitCode; Seconds = $seconds; Steps = $recorded
        Console = $console; Qemu = $qemuText
    }
    # A boot that overran or that qemu could not run leaves nothing for the next boot to continue.
    if (-not $finished -or $exitCode -ne 0) { break }
}

[pscustomobject]@{ Steps = $steps; Boots = @($boots); WorkDirectory = $work }
