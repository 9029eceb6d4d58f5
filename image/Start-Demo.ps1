<#
.SYNOPSIS
    The README's main job: the real container entrypoint keeping a sandbox node in step with a ConfigMap.
.DESCRIPTION
    Builds the image's file tree (as build.ps1 image-layout does), makes a sandbox node (a temporary folder with
    an /etc/audit tree as the auditd package leaves it) and kubelet-style ConfigMap volumes from kubernetes/,
    then runs the entrypoint from the image tree and narrates what it does:
      1. the drift between the ConfigMap and the node;
      2. the sync;
      3. a ConfigMap update arriving (the kubelet's atomic ..data swap);
      4. a bad rule refused while the node keeps its rules;
    and stops it with SIGTERM, as the kubelet would. With -LoadKernel (root, auditd installed) it then runs the
    entrypoint against this machine's / so the ConfigMap's rules load into the real kernel, shows
    Get-AuditdStatus, and restores the previous rules, settings and files. Everything it made is removed.
    Called by: dotnet pwsh ./build.ps1 demo [-LoadKernel]
.EXAMPLE
    ./image/Start-Demo.ps1 -ModulePath out/AksAuditd
.EXAMPLE
    sudo dotnet pwsh ./build.ps1 demo -LoadKernel
#>
[CmdletBinding()]
param(
    # The staged module (build.ps1 build writes out/AksAuditd).
    [Parameter(Mandatory)]
    [string] $ModulePath,

    # Also load the ConfigMap's rules into this machine's kernel (root and auditd needed), then restore.
    [switch] $LoadKernel
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0
. (Join-Path $PSScriptRoot 'Sandbox.ps1')

$modulePath = $PSCmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath($ModulePath)
$pollInterval = 2
$clock = [System.Diagnostics.Stopwatch]::StartNew()

function Write-Step {
    param([string] $Text)
    Write-Host ''
    Write-Host ("[{0,4:0.0}s] {1}" -f $clock.Elapsed.TotalSeconds, $Text) -ForegroundColor Cyan
}

function Write-Note {
    param([string] $Text, [ConsoleColor] $Color = 'Gray')
    Write-Host "        $Text" -ForegroundColor $Color
}

function Show-EntrypointLog {
    # Prints the entrypoint's JSON lines that arrived since the last call, one per line, with their fields.
    param($Run)
    if (-not (Test-Path -LiteralPath $Run.Out)) { return }
    $lines = [System.IO.File]::ReadAllLines($Run.Out)
    for ($i = $script:shownLines; $i -lt $lines.Count; $i++) {
        $entry = $lines[$i] | ConvertFrom-Json
        $fields = @($entry.PSObject.Properties | Where-Object Name -notin 'time', 'level', 'msg', 'pid', 'command', 'kind' |
            ForEach-Object { "$($_.Name)=$(if ($_.Value -is [array]) { $_.Value -join ',' } else { $_.Value })" })
        $color = switch ($entry.level) { 'error' { 'Red' } 'fatal' { 'Red' } 'warn' { 'Yellow' } default { 'DarkGray' } }
        $text = "  log | $($entry.level.PadRight(5)) $($entry.msg)"
        if ($fields) { $text += "  [$($fields -join ' ')]" }
        if ($text.Length -gt 240) { $text = $text.Substring(0, 237) + '...' }
        Write-Host $text -ForegroundColor $color
    }
    $script:shownLines = $lines.Count
}

function Wait-Log {
    # Waits for a log line matching $Match (showing lines as they come); returns it.
    param($Run, [scriptblock] $Match, [int] $TimeoutSeconds = 20)
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    while ([DateTime]::UtcNow -lt $deadline) {
        Show-EntrypointLog $Run
        $found = @(Get-EntrypointLog $Run | Where-Object $Match)
        if ($found) { return $found[-1] }
        if ($Run.Process.HasExited) { throw "The entrypoint exited with $($Run.Process.ExitCode): $(Get-Content -Raw $Run.Err)" }
        Start-Sleep -Milliseconds 200
    }
    throw 'The entrypoint did not log what the demo waited for in time.'
}

function Show-RulesDirectory {
    param([string] $Path)
    foreach ($file in Get-ChildItem -LiteralPath $Path -File | Sort-Object Name) {
        $rules = @([System.IO.File]::ReadAllLines($file.FullName) | Where-Object { $_ -match '^\s*-' }).Count
        Write-Note ("{0,-28} {1,3} rule lines" -f $file.Name, $rules)
    }
}

$layout = Join-Path ([System.IO.Path]::GetTempPath()) "aks-auditd-demo-image-$([guid]::NewGuid().ToString('n'))"
$sandbox = $null
$run = $null
try {
    Import-Module (Join-Path $modulePath 'AksAuditd.psd1') -Force
    Write-Host 'AksAuditd demo: the DaemonSet''s entrypoint against a sandbox node, fed by a kubelet-style ConfigMap volume.' -ForegroundColor White

    Write-Step 'The image: the file tree image/Dockerfile produces (module, entrypoint, config.yaml, pwsh)'
    $null = & (Join-Path $PSScriptRoot 'New-ImageLayout.ps1') -ModulePath $modulePath -Destination $layout -LinkPowerShell
    Write-Note "$layout"

    Write-Step 'The node: /etc/audit as the auditd package leaves it, and the auditd-rules ConfigMap mounted as the kubelet does'
    $sandbox = New-SandboxNode
    Write-Note "node root       $($sandbox.Node)"
    Write-Note "rules ConfigMap $($sandbox.RulesVolume) -> $([System.IO.FileInfo]::new((Join-Path $sandbox.RulesVolume '..data')).LinkTarget)"

    Write-Step '1. Drift: what the ConfigMap says and the node does not have (Get-AuditRuleDrift)'
    $env:AA_CONFIG_FILE = Join-Path $layout 'etc/aks-auditd/config.yaml'
    $drift = @(Get-AuditRuleDrift -SourcePath $sandbox.RulesVolume -TargetPath $sandbox.RulesDirectory -StatePath $sandbox.StateDirectory -WarningAction SilentlyContinue)
    foreach ($item in $drift) { Write-Note ("{0,-10} {1}" -f $item.Status, $item.Name) -Color Yellow }
    Write-Note "$(@($drift | Where-Object { "$($_.Status)" -ne 'Foreign' }).Count) files to write; audit.rules (Foreign: the package's own) is left alone in managed mode"

    Write-Step "2. The sync: the entrypoint starts (poll every $pollInterval s; -NoRestart: this node has no auditd)"
    $script:shownLines = 0
    $run = Start-Entrypoint -Layout $layout -Sandbox $sandbox -Arguments '-NoRestart' -Environment @{ AA_POLL_INTERVAL = "${pollInterval}s" }
    $null = Wait-Log $run { $_.msg -like 'Synced rules*' }
    $null = Wait-Log $run { $_.msg -like 'Synced plugins*' -or $_.msg -like '*plugins*no drift*' } -TimeoutSeconds 5
    Write-Note 'rules.d on the node now:'
    Show-RulesDirectory $sandbox.RulesDirectory
    $left = @(Get-AuditRuleDrift -SourcePath $sandbox.RulesVolume -TargetPath $sandbox.RulesDirectory -StatePath $sandbox.StateDirectory -WarningAction SilentlyContinue |
        Where-Object { "$($_.Status)" -ne 'Foreign' })
    Write-Note "drift after the sync: $($left.Count) files (audit.rules is the package's, not the ConfigMap's)" -Color Green

    Write-Step '3. A ConfigMap update arrives: kubectl apply adds 80-demo.rules; the kubelet swaps ..data'
    $configMap = Read-ConfigMapData (Join-Path $SandboxRepoRoot 'kubernetes/auditd-rules.yaml')
    $update = [ordered]@{} + $configMap
    $update['80-demo.rules'] = "## Who changes the hosts file.`n-w /etc/hosts -p wa -k demo-hosts`n"
    $sent = [System.Diagnostics.Stopwatch]::StartNew()
    Write-ConfigMapVolume $sandbox.RulesVolume $update
    $null = Wait-Log $run { $_.msg -like 'Synced rules*' -and "$($_.added)" -like '*80-demo.rules*' }
    Write-Note ("80-demo.rules reached rules.d {0:0.0} s after the update (poll interval {1} s)" -f $sent.Elapsed.TotalSeconds, $pollInterval) -Color Green
    $goodSet = Get-RulesFiles $sandbox.RulesDirectory

    Write-Step '4. A bad rule: 90-typo.rules has a watch on a relative path, which auditctl refuses'
    $bad = [ordered]@{} + $update
    $bad['90-typo.rules'] = "## A typo: the path must start with /`n-w etc/shadow -p wa -k typo`n"
    Write-ConfigMapVolume $sandbox.RulesVolume $bad
    $refusal = Wait-Log $run { $_.level -eq 'error' -and "$($_.file)" -like '*90-typo.rules' }
    Start-Sleep -Milliseconds 300
    Show-EntrypointLog $run
    Write-Note ("refused: {0} line {1}" -f (Split-Path -Leaf $refusal.file), $refusal.line) -Color Green
    $now = Get-RulesFiles $sandbox.RulesDirectory
    $kept = -not $now.Contains('90-typo.rules') -and @($goodSet.Keys | Where-Object { $now[$_] -ne $goodSet[$_] }).Count -eq 0
    if (-not $kept) { throw 'The node did not keep its last good rules.' }
    Write-Note 'the node keeps its last good rules: rules.d is unchanged and has no 90-typo.rules' -Color Green

    Write-Step 'SIGTERM, as the kubelet sends when the pod is deleted'
    $stop = Stop-Entrypoint $run
    Show-EntrypointLog $run
    Write-Note ("exit code {0} after {1:0.00} s" -f $stop.ExitCode, $stop.Elapsed.TotalSeconds) -Color $(if ($stop.ExitCode -eq 0) { 'Green' } else { 'Red' })

    if ($LoadKernel) {
        Write-Step '-LoadKernel: the same entrypoint against this machine''s / (the ConfigMap''s rules into the real kernel)'
        if ([Environment]::UserName -ne 'root' -or -not (Get-Command auditctl -ErrorAction SilentlyContinue)) {
            throw '-LoadKernel needs root and auditd (auditctl) on this machine.'
        }
        $lock = $null
        $saved = $null
        $kernel = [pscustomobject]@{
            Root = $sandbox.Root; Node = '/'; RulesVolume = $sandbox.RulesVolume; PluginsVolume = (Join-Path $sandbox.Root 'node-plugins')
            Heartbeat = $sandbox.Heartbeat
        }
        try {
            $lock = Enter-KernelTestLock
            $saved = Save-NodeAuditState
            Write-ConfigMapVolume $sandbox.RulesVolume $update
            # This machine's own plugins stay as they are: the demo loads rules, it does not rewire auditd.
            $plugins = [ordered]@{}
            if (Test-Path /etc/audit/plugins.d/syslog.conf) { $plugins['syslog.conf'] = [System.IO.File]::ReadAllText('/etc/audit/plugins.d/syslog.conf') }
            Write-ConfigMapVolume $kernel.PluginsVolume $plugins
            $script:shownLines = 0
            $run = Start-Entrypoint -Layout $layout -Sandbox $kernel -Environment @{ AA_POLL_INTERVAL = "${pollInterval}s"; AA_STATE_DIR = (Join-Path $sandbox.Root 'kernel-state') }
            $loaded = Wait-Log $run { $_.msg -like 'Restart-Auditd:*' } -TimeoutSeconds 40
            if (-not $loaded.succeeded) { throw "Restart-Auditd did not succeed: $($loaded.msg)" }
            $null = Stop-Entrypoint $run
            Show-EntrypointLog $run
            Write-Note 'Get-AuditdStatus -HostRoot /' -Color White
            Get-AuditdStatus -HostRoot / -WarningAction SilentlyContinue | Format-Table -AutoSize | Out-String -Stream | Where-Object { $_ } | ForEach-Object { Write-Note $_ }
            Write-Note 'auditctl -l (first lines)' -Color White
            & auditctl -l | Select-Object -First 6 | ForEach-Object { Write-Note $_ }
        }
        finally {
            try {
                if ($run -and -not $run.Process.HasExited) { $null = Stop-Entrypoint $run }
                if ($saved) { Restore-NodeAuditState $saved }
            }
            finally {
                if ($lock) { $lock.Dispose() }
            }
        }
        Write-Note "restored: /etc/audit, the kernel's rules and settings, auditd $(if ($saved.AuditdRunning) { 'running' } else { 'stopped' })" -Color Green
    }

    Write-Step ("Done in {0:0.0} s. Deploy it for real: README.md, 'Deploy from nothing'." -f $clock.Elapsed.TotalSeconds)
}
finally {
    if ($run -and -not $run.Process.HasExited) { $null = Stop-Entrypoint $run }
    Remove-Item Env:AA_CONFIG_FILE -ErrorAction SilentlyContinue
    if ($sandbox) { Remove-Item -LiteralPath $sandbox.Root -Recurse -Force -ErrorAction SilentlyContinue }
    $linked = Join-Path $layout 'opt/microsoft/powershell/7'
    if ((Test-Path -LiteralPath $linked) -and (Get-Item -LiteralPath $linked -Force).LinkType) { [System.IO.File]::Delete($linked) }
    Remove-Item -LiteralPath $layout -Recurse -Force -ErrorAction SilentlyContinue
}
