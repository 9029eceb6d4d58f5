<#
.SYNOPSIS
    The AksAuditd container entrypoint: keeps the node's auditd rules and plugins in step with the ConfigMaps.
.DESCRIPTION
    Loop mode (the DaemonSet's main container): every PollInterval, one Sync-AuditNode pass (rules, plugins,
    Restart-Auditd -Mode Auto when the node's state directory says a change is not loaded yet or a restart
    failed, and every five minutes the kernel's counters). The first pass also verifies the node (-Verify).
    A failing pass is logged with its cause and retried after a bounded backoff; the loop never exits on its
    own. A ConfigMap update (the kubelet swapping ..data) starts the next pass early. SIGTERM ends the loop
    between two passes, exit 0. The configuration is read again when its file changes.
    -Init (the init container): Install-Auditd, then one verifying pass, then exit; only a failed
    installation fails it.

    Every line on stdout is one JSON object (time, level, msg, fields) for Container Insights. The decisions
    are the cmdlets'; this script only schedules them, logs what they did and keeps the heartbeat fresh.
.EXAMPLE
    pwsh -NoProfile -File /app/entrypoint.ps1
.EXAMPLE
    pwsh -NoProfile -File /app/entrypoint.ps1 -Init
.EXAMPLE
    pwsh -NoProfile -File /app/entrypoint.ps1 -NoRestart    # a sandbox node without auditd
#>
[CmdletBinding()]
param(
    # Install auditd, sync once, load, and exit (the init container).
    [switch] $Init,

    # Sync files only, never Restart-Auditd: for a sandbox node without auditd (the demo, the tests).
    [switch] $NoRestart,

    # The file the kubelet's liveness probe checks; touched between steps and while waiting.
    [string] $HeartbeatPath = $(if ($env:AA_HEARTBEAT_FILE) { $env:AA_HEARTBEAT_FILE } else { '/run/aks-auditd/heartbeat' })
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0
# stdout carries only JSON lines: nothing may reach the host's formatter or its warning and progress output.
$env:AA_LOG_FORMAT = 'json'
$ProgressPreference = 'SilentlyContinue'
$WarningPreference = 'SilentlyContinue'
$InformationPreference = 'SilentlyContinue'
$VerbosePreference = 'SilentlyContinue'
$script:heartbeatWarned = $false
$script:reporter = $null

function Write-StartupFailure {
    # Before the module is loaded there is no Write-AksAuditdLog: the same JSON shape, by hand.
    param([string] $Message, [hashtable] $Field = @{})
    $line = [ordered]@{ time = [DateTime]::UtcNow.ToString('o'); level = 'fatal'; msg = $Message }
    foreach ($key in $Field.Keys) { $line[$key] = $Field[$key] }
    [Console]::Out.WriteLine(($line | ConvertTo-Json -Compress))
}

try {
    Import-Module AksAuditd
}
catch {
    Write-StartupFailure "Cannot load the AksAuditd module: $($_.Exception.Message)" @{ psModulePath = $env:PSModulePath }
    exit 1
}

# SIGTERM (pod deletion) sets this event. The handler runs on a runtime thread that has no PowerShell
# runspace, so it cannot be a script block: it is a compiled expression that marks the signal handled (the
# runtime would otherwise end the process at once, mid-step) and sets the event.
$stopping = [System.Threading.ManualResetEventSlim]::new($false)
$expression = [System.Linq.Expressions.Expression]
$signalContext = $expression::Parameter([System.Runtime.InteropServices.PosixSignalContext], 'context')
$handler = $expression::Lambda[Action[System.Runtime.InteropServices.PosixSignalContext]](
    $expression::Block(
        $expression::Assign($expression::Property($signalContext, 'Cancel'), $expression::Constant($true)),
        $expression::Call($expression::Constant($stopping), [System.Threading.ManualResetEventSlim].GetMethod('Set', [Type[]]@()))),
    [System.Linq.Expressions.ParameterExpression[]]@($signalContext)).Compile()
$signalRegistrations = foreach ($signal in 'SIGTERM', 'SIGINT') {
    [System.Runtime.InteropServices.PosixSignalRegistration]::Create([System.Runtime.InteropServices.PosixSignal]$signal, $handler)
}

function Write-Log {
    param([string] $Message, [string] $Level = 'info', [hashtable] $Field = @{})
    Write-AksAuditdLog $Message -Level $Level -Field $Field
}

function Get-ErrorField {
    # The fields that let a person find the cause: for a refused rule, the file and line.
    param([System.Management.Automation.ErrorRecord] $Record, [string] $Command)
    $field = @{ errorId = $Record.FullyQualifiedErrorId; category = "$($Record.CategoryInfo.Category)" }
    if ($Command) { $field.command = $Command }
    $target = $Record.TargetObject
    if ($null -ne $target) {
        $properties = $target.PSObject.Properties
        if ($properties['LineNumber'] -and $properties['Path']) {
            $field.file = $target.Path
            $field.line = $target.LineNumber
            if ($properties['Code']) { $field.code = $target.Code }
            if ($properties['Rule'] -and $target.Rule) { $field.rule = $target.Rule }
        }
        elseif ("$target" -match '^(?<file>.+):(?<line>\d+)$') {
            # The sync and Restart-Auditd name a refused rule as "file:line".
            $field.file = $Matches.file
            $field.line = [int]$Matches.line
        }
        else {
            $field.target = "$target"
        }
    }
    return $field
}

function Get-ErrorMessage {
    param([System.Management.Automation.ErrorRecord] $Record)
    if ($Record.ErrorDetails -and $Record.ErrorDetails.Message) { return $Record.ErrorDetails.Message }
    return $Record.Exception.Message
}

function Invoke-Step {
    # Runs one cmdlet and turns its error, warning and information streams into log lines, so none of them
    # reaches stdout as text. Returns its output and whether it reported errors; a terminating error throws.
    param([string] $Command, [hashtable] $Parameters)
    $streams = @{
        ErrorAction = 'SilentlyContinue'; ErrorVariable = 'stepErrors'
        WarningAction = 'SilentlyContinue'; WarningVariable = 'stepWarnings'
        InformationAction = 'SilentlyContinue'; InformationVariable = 'stepInformation'
    }
    $output = & $Command @Parameters @streams
    foreach ($warning in $stepWarnings) { Write-Log $warning.Message -Level warn -Field @{ command = $Command } }
    foreach ($information in $stepInformation) { Write-Log "$($information.MessageData)" -Level info -Field @{ command = $Command } }
    foreach ($record in $stepErrors) { Write-Log (Get-ErrorMessage $record) -Level error -Field (Get-ErrorField $record $Command) }
    Update-Heartbeat
    return [pscustomobject]@{ Output = @($output); Failed = $stepErrors.Count -gt 0 }
}

function Update-Heartbeat {
    # /healthz answers from this beat; the file stays for probes of older manifests.
    if ($script:reporter) { $script:reporter.Beat() }
    try {
        [System.IO.File]::WriteAllText($HeartbeatPath, '')
    }
    catch {
        if (-not $script:heartbeatWarned) {
            $script:heartbeatWarned = $true
            Write-Log "Cannot write the heartbeat; the liveness probe will fail: $($_.Exception.Message)" -Level error -Field @{ file = $HeartbeatPath }
        }
    }
}

function Read-Configuration {
    $configuration = Get-AksAuditdConfiguration -WarningAction SilentlyContinue -WarningVariable configurationWarnings
    foreach ($warning in $configurationWarnings) { Write-Log $warning.Message -Level warn -Field @{ file = $configuration.ConfigFile } }
    $script:configurationStamp = Get-FileStamp $configuration.ConfigFile
    return $configuration
}

function Get-FileStamp {
    # Length and time of the file a path resolves to: in a ConfigMap volume, config.yaml -> ..data/config.yaml,
    # and the kubelet's update makes it a new file. The environment cannot change while the process runs.
    param([string] $Path)
    $file = [System.IO.FileInfo]::new($Path)
    if ($file.LinkTarget) { $file = [System.IO.FileInfo]$file.ResolveLinkTarget($true) }
    if (-not $file.Exists) { return 'missing' }
    return "$($file.FullName)|$($file.Length)|$($file.LastWriteTimeUtc.Ticks)"
}

function Get-SourceStamp {
    # What identifies the content of the ConfigMap volumes: the kubelet swaps ..data to a new timestamped
    # folder on every update, so its target changes exactly when the content does.
    param($Configuration)
    $stamp = foreach ($source in $Configuration.RulesSource, $Configuration.PluginsSource) {
        # Path.Combine, not Join-Path: this runs every second, and Join-Path would load a command assembly
        # (Microsoft.PowerShell.Commands.Management) into the idle loop for nothing else.
        $data = [System.IO.FileInfo]::new([System.IO.Path]::Combine($source, '..data'))
        if ($data.LinkTarget) { $data.LinkTarget } else { [System.IO.Directory]::GetLastWriteTimeUtc($source).Ticks }
    }
    return $stamp -join '|'
}

function Wait-NextIteration {
    # Sleeps in one-second slices: SIGTERM ends the wait at once, a ConfigMap update starts the next iteration
    # early, and the heartbeat stays fresh through long backoffs.
    param([TimeSpan] $Delay, $Configuration, [string] $Stamp)
    $deadline = [DateTime]::UtcNow + $Delay
    while ($true) {
        $remaining = $deadline - [DateTime]::UtcNow
        if ($remaining -le [TimeSpan]::Zero) { return }
        $slice = [Math]::Min(1000, [Math]::Ceiling($remaining.TotalMilliseconds))
        if ($stopping.Wait([int]$slice)) { return }
        Update-Heartbeat
        if ((Get-SourceStamp $Configuration) -ne $Stamp) { return }
    }
}

function Get-Backoff {
    # Doubles with each consecutive failure, from one poll interval up to ten, and never beyond five minutes.
    param([TimeSpan] $PollInterval, [int] $Failures)
    $ceiling = [Math]::Max($PollInterval.TotalSeconds, [Math]::Min(300, 10 * $PollInterval.TotalSeconds))
    $seconds = [Math]::Min($ceiling, $PollInterval.TotalSeconds * [Math]::Pow(2, [Math]::Min($Failures, 20)))
    return [TimeSpan]::FromSeconds($seconds)
}

function Test-LogLevel {
    # Skips building a line nobody will see: the idle loop runs every poll interval for the life of the node.
    param($Configuration, [string[]] $Levels)
    return "$($Configuration.LogLevel)" -in $Levels
}

function Sync-Node {
    # One pass, all of it in Sync-AuditNode: rules, plugins, Restart-Auditd -Mode Auto when the node's state
    # directory says something is not loaded yet, and now and then the status check. Each of its steps runs
    # whatever the one before did; this only schedules the status check. Returns $true when the pass succeeded.
    param($Configuration, [switch] $Verify)
    # The configuration this script holds, not the file read again: after a broken edit it is the last good one.
    $parameters = @{ Verify = $Verify.IsPresent; Configuration = $Configuration }
    if ($NoRestart) {
        $parameters.NoRestart = $true
    }
    elseif ([DateTime]::UtcNow -ge $script:nextStatusCheck) {
        # The kernel's counters, now and then: Sync-AuditNode warns when lost events grow or the backlog fills.
        $script:nextStatusCheck = [DateTime]::UtcNow + $StatusInterval
    }
    else {
        $parameters.SkipStatus = $true
    }

    $run = Invoke-Step 'Sync-AuditNode' $parameters
    $pass = $run.Output | Select-Object -First 1
    if ($pass -and (Test-LogLevel $Configuration 'Debug', 'Trace')) {
        foreach ($sync in $pass.Rules, $pass.Plugins) {
            if ($sync -and -not $sync.Changed) {
                Write-Log "$($sync.Kind): no drift" -Level debug -Field @{ command = 'Sync-AuditNode'; target = $sync.TargetPath; durationMs = [int]$sync.Duration.TotalMilliseconds }
            }
        }
    }

    return [bool]($pass -and $pass.Succeeded -and -not $run.Failed)
}

# Startup: a configuration that cannot load is the one error that stops the container (exit 1, one line).
try {
    $configuration = Read-Configuration
}
catch {
    $record = $_
    Write-Log "Invalid configuration: $(Get-ErrorMessage $record)" -Level fatal -Field (Get-ErrorField $record 'Get-AksAuditdConfiguration')
    exit 1
}

Update-Heartbeat
$module = Get-Module AksAuditd
Write-Log 'aks-auditd starting' -Field @{
    mode = $(if ($Init) { 'init' } else { 'loop' }); version = "$($module.Version)"; node = "$env:NODE_NAME"
    pollInterval = "$($configuration.PollInterval)"; hostRoot = $configuration.HostRoot; syncMode = "$($configuration.SyncMode)"
    restart = -not $NoRestart
    rulesSource = $configuration.RulesSource; pluginsSource = $configuration.PluginsSource; configFile = $configuration.ConfigFile
    configFileFound = $configuration.ConfigFileFound; pid = $PID
}

if ($Init) {
    # Without auditd on the node there is nothing to keep in step: the only failure that fails the init container.
    # SIGTERM during the install does not stop it: the handler above only sets $stopping, so apt-get and dpkg run
    # to their end (a dpkg killed halfway leaves the node's packages half-configured, and apt refusing to work
    # until someone runs dpkg --configure -a). The pod's terminationGracePeriodSeconds leaves room for that.
    try {
        $install = Invoke-Step 'Install-Auditd' @{ HostRoot = $configuration.HostRoot }
        if ($install.Failed) { throw 'Install-Auditd reported errors (logged above)' }
    }
    catch {
        Write-Log "Cannot install auditd on the node: $(Get-ErrorMessage $_)" -Level fatal -Field (Get-ErrorField $_ 'Install-Auditd')
        exit 1
    }
    if ($stopping.IsSet) {
        Write-Log 'Stopping after the install, as asked; the loop does the first pass' -Field @{ reason = 'signal' }
        exit 0
    }
    # A refused rule set is not fatal here: the loop keeps retrying and picks up a corrected ConfigMap.
    $StatusInterval = [TimeSpan]::MaxValue
    $script:nextStatusCheck = [DateTime]::MaxValue
    try {
        if (-not (Sync-Node $configuration -Verify)) { Write-Log 'First sync incomplete; the loop will retry' -Level warn }
    }
    catch {
        Write-Log "First sync failed; the loop will retry: $(Get-ErrorMessage $_)" -Level error -Field (Get-ErrorField $_ $null)
    }
    Write-Log 'aks-auditd init done'
    exit 0
}

# /metrics, /healthz, /readyz and, with the fleet-status component, the Node's conditions and Events: all read
# what the cmdlets' services record. Reporting is not the node's job: if it cannot start, the loop runs without it.
try {
    $script:reporter = Start-AksAuditdReporter -NoKernel:$NoRestart -ErrorAction Stop
}
catch {
    Write-Log "Reporting not started; the loop runs without it: $(Get-ErrorMessage $_)" -Level error -Field (Get-ErrorField $_ 'Start-AksAuditdReporter')
}

# The first pass also verifies the node: Restart-Auditd -Mode Auto starts a stopped auditd and checks the kernel.
$verify = $true
$StatusInterval = [TimeSpan]::FromMinutes(5)
$script:nextStatusCheck = [DateTime]::UtcNow
$failures = 0
while (-not $stopping.IsSet) {
    $stamp = Get-SourceStamp $configuration
    try {
        $stampNow = Get-FileStamp $configuration.ConfigFile
        try {
            if ($stampNow -ne $script:configurationStamp) { $configuration = Read-Configuration }
        }
        catch {
            # A broken edit of the config ConfigMap must not stop a running node agent: keep the last good one,
            # and say so once per edit, not on every poll.
            $script:configurationStamp = $stampNow
            Write-Log "Invalid configuration; keeping the previous one: $(Get-ErrorMessage $_)" -Level error -Field (Get-ErrorField $_ 'Get-AksAuditdConfiguration')
        }
        $succeeded = Sync-Node $configuration -Verify:$verify
        $verify = $false
    }
    catch {
        Write-Log "Iteration failed: $(Get-ErrorMessage $_)" -Level error -Field (Get-ErrorField $_ $null)
        $succeeded = $false
    }

    if ($stopping.IsSet) { break }
    if ($succeeded) {
        $failures = 0
        $delay = $configuration.PollInterval
    }
    else {
        $failures++
        $delay = Get-Backoff $configuration.PollInterval $failures
        Write-Log 'Retrying after a failed iteration' -Level warn -Field @{ failures = $failures; retryInSeconds = $delay.TotalSeconds }
    }
    Update-Heartbeat
    Wait-NextIteration $delay $configuration $stamp
}

Write-Log 'aks-auditd stopping' -Field @{ reason = 'signal' }
if ($script:reporter) { $script:reporter.Dispose() }
foreach ($registration in $signalRegistrations) { $registration.Dispose() }
exit 0
