<#
.SYNOPSIS
    The systemd node scenario: runs inside the test VM (tests/vm/boot.sh), one part per boot.
.DESCRIPTION
    Each step drives the node through the module's cmdlets or the real container entrypoint, as the DaemonSet
    does: the node's / is bind-mounted at /node, so the module reaches systemd's PID 1 through nsenter. A step
    writes one JSON line to -ResultPath: {"boot":N,"step":"...","facts":{...},"error":"..."}. The facts are what
    the node did (exit codes, PIDs, loaded rules, the cmdlets' results); tests/pester/SystemdNode.Tests.ps1
    asserts on them on the host. Nothing here decides pass or fail.
    Exit code 10 asks boot.sh for a reboot (the next boot runs -Boot 2); 0 powers the VM off.
    This VM has its own kernel: immutable mode (-e 2) is set here, and only here.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [int] $Boot,
    [Parameter(Mandatory)] [string] $ResultPath
)

$ErrorActionPreference = 'Stop'
# This scenario loads -e 2 into the kernel it runs on, which only the VM's own kernel may take: it runs only where
# boot.sh left its mark (the VM's /var/lib/aks-vm), never on a machine whose kernel is shared.
if (-not (Test-Path -LiteralPath '/var/lib/aks-vm/boots') -or -not (Test-Path -LiteralPath '/aks/scenario')) {
    throw 'Invoke-NodeScenario.ps1 runs only inside the systemd node VM (tests/vm/boot.sh); it would lock this kernel with -e 2.'
}
Set-StrictMode -Version 3.0
$ProgressPreference = 'SilentlyContinue'

$HostRoot = '/node'
$StatePath = '/node/var/lib/aks-auditd'
$RulesTarget = '/node/etc/audit/rules.d'
$PluginsTarget = '/node/etc/audit/plugins.d'
$RulesSource = '/run/aks/rules'
$PluginsSource = '/run/aks/plugins'
$Image = '/aks/image'
$Pwsh = "$Image/usr/local/bin/pwsh"
# How long an awaited outcome may take under TCG; never asserted on. A pwsh start is the slow part (the -Init step,
# an apt install included, took 150 s on the last run); everything else runs in this process or the running loop.
$StartDeadline = 420
$Deadline = 120

# Opened for writing only: a serial port cannot seek, so no append mode.
$results = [System.IO.StreamWriter]::new([System.IO.File]::Open($ResultPath, 'Open', 'Write'))
$results.AutoFlush = $true

function Write-Step {
    param([string] $Step, [System.Collections.IDictionary] $Facts, [string] $ErrorText)
    $line = [ordered]@{ boot = $Boot; step = $Step; facts = $Facts; error = $ErrorText } | ConvertTo-Json -Compress -Depth 8
    $results.WriteLine("AKSVM $line")
    Write-Host "aks-vm: step $Step done$(if ($ErrorText) { " with error: $ErrorText" })"
}

function Invoke-Step {
    # Runs a step; an exception is recorded with the facts gathered so far, and the scenario goes on.
    param([string] $Step, [scriptblock] $Body)
    $facts = [ordered]@{}
    Write-Host "aks-vm: step $Step starting"
    try {
        & $Body $facts
        Write-Step $Step $facts $null
    }
    catch {
        Write-Step $Step $facts "$($_.Exception.Message) at $($_.InvocationInfo.PositionMessage)"
    }
}

function Invoke-Tool {
    # A native command's exit code and its output lines (stdout and stderr together).
    param([string] $FilePath, [string[]] $ArgumentList = @())
    $output = & $FilePath @ArgumentList 2>&1 | ForEach-Object { "$_" }
    [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = @($output) }
}

function Wait-Until {
    # Polls a condition once a second; true when it held within the deadline.
    param([scriptblock] $Condition, [int] $Seconds = $Deadline)
    $until = [DateTime]::UtcNow.AddSeconds($Seconds)
    while ([DateTime]::UtcNow -lt $until) {
        if (& $Condition) { return $true }
        Start-Sleep -Seconds 1
    }
    return [bool](& $Condition)
}

function Get-KernelRules { @((Invoke-Tool auditctl '-l').Output) }
# auditctl -l lists a watch as "-w path -p wa -k key" and a syscall rule as "... -F key=key".
function Test-KernelKey([string] $Key) { [bool]((Get-KernelRules) -match "(-k |-F key=)$([regex]::Escape($Key))$") }
function Get-MainPid { [int]((Invoke-Tool systemctl 'show', '--property=MainPID', '--value', 'auditd.service').Output | Select-Object -First 1) }
function Get-AuditPid { if (((Invoke-Tool auditctl '-s').Output -join "`n") -match '(?m)^pid (\d+)') { [int]$Matches[1] } else { -1 } }
function Get-Enabled { if (((Invoke-Tool auditctl '-s').Output -join "`n") -match '(?m)^enabled (\d+)') { [int]$Matches[1] } else { -1 } }
function Test-Active { (Invoke-Tool systemctl 'is-active', '--quiet', 'auditd').ExitCode -eq 0 }

function Get-PluginProcess {
    # Every audisp-syslog process: its PID and command line, read from /proc.
    foreach ($dir in Get-ChildItem /proc -Directory | Where-Object Name -Match '^\d+$') {
        try { $cmdline = [System.IO.File]::ReadAllText("$($dir.FullName)/cmdline") } catch { continue }
        if ($cmdline -like '*audisp-syslog*') {
            [pscustomobject]@{ Pid = [int]$dir.Name; CommandLine = ($cmdline.TrimEnd([char]0) -replace [char]0, ' ') }
        }
    }
}

function ConvertTo-RestartFacts {
    # The RestartResult and the errors Restart-Auditd wrote, as plain data.
    param($Result, $Errors)
    [ordered]@{
        method = if ($Result) { $Result.Method } else { $null }
        succeeded = if ($Result) { $Result.Succeeded } else { $null }
        rebootRequired = if ($Result) { $Result.RebootRequired } else { $null }
        rebootRequiredFirstReport = if ($Result) { $Result.RebootRequiredFirstReport } else { $null }
        rolledBack = if ($Result) { $Result.RolledBack } else { $null }
        message = if ($Result) { $Result.Message } else { $null }
        # @() around the if: an if statement's output is enumerated, which made one command a string and none null.
        commands = @(if ($Result) { $Result.Commands })
        errors = @($Errors | ForEach-Object { [ordered]@{ id = $_.FullyQualifiedErrorId; target = "$($_.TargetObject)"; message = $_.Exception.Message } })
    }
}

function Invoke-Restart {
    param([string] $Mode)
    $errors = $null
    $result = Restart-Auditd -HostRoot $HostRoot -StatePath $StatePath -Mode $Mode -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable errors -WarningAction SilentlyContinue |
        Select-Object -Last 1
    ConvertTo-RestartFacts $result $errors
}

function Invoke-Sync {
    # Both syncs as the loop runs them: the ConfigMap folders to the node's rules.d and plugins.d. A source the sync
    # refuses as a whole (SourceRejectedByKernel, SourceEmpty) is a terminating error: recorded with the others.
    $errors = [System.Collections.Generic.List[object]]::new()
    # Empty, not $null: a $null piped to Where-Object is one item; a sync that threw has no output.
    $rules = @()
    $plugins = @()
    try {
        $rules = Sync-AuditRules -SourcePath $RulesSource -TargetPath $RulesTarget -StatePath $StatePath -PassThru -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable ruleErrors
        $errors.AddRange(@($ruleErrors))
    }
    catch { $errors.Add($_) }
    try {
        $plugins = Sync-AuditPlugins -SourcePath $PluginsSource -TargetPath $PluginsTarget -StatePath $StatePath -PassThru -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable pluginErrors
        $errors.AddRange(@($pluginErrors))
    }
    catch { $errors.Add($_) }
    [ordered]@{
        rulesChanged = [bool]($rules | Where-Object { $_.PSObject.Properties['Changed'] -and $_.Changed })
        pluginsChanged = [bool]($plugins | Where-Object { $_.PSObject.Properties['Changed'] -and $_.Changed })
        errors = @($errors | ForEach-Object { [ordered]@{ id = $_.FullyQualifiedErrorId; target = "$($_.TargetObject)"; message = $_.Exception.Message } })
    }
}

function Set-SyslogPlugin {
    # The plugins ConfigMap: one syslog.conf whose args name the facility.
    param([string] $Facility)
    Set-Content -LiteralPath "$PluginsSource/syslog.conf" -Value @(
        'active = yes', 'direction = out', 'path = /sbin/audisp-syslog', 'type = always', "args = LOG_INFO $Facility", 'format = string')
}

function Get-EntrypointEnvironment {
    @{
        AA_CONFIG_FILE = "$Image/etc/aks-auditd/config.yaml"; AA_HOST_ROOT = $HostRoot
        AA_RULES_SOURCE = $RulesSource; AA_PLUGINS_SOURCE = $PluginsSource; AA_POLL_INTERVAL = '2s'
        AA_LOG_LEVEL = 'debug'; AA_HEARTBEAT_FILE = '/run/aks-vm-heartbeat'; NODE_NAME = 'aks-vm-node'
    }
}

function Read-JsonLines {
    param([string[]] $Lines)
    foreach ($line in $Lines) {
        if ($line -match '^\s*\{') { try { $line | ConvertFrom-Json } catch { } }
    }
}

if ($Boot -eq 1) {
    # The pod's view of the node: the node's / at /node, as the DaemonSet mounts it (with hostPID: true).
    New-Item -ItemType Directory -Force $HostRoot, $RulesSource, $PluginsSource | Out-Null
    if (-not (Test-Path "$HostRoot/etc/os-release")) { & mount --rbind / $HostRoot }
    Set-Content -LiteralPath "$RulesSource/10-vm.rules" -Value @(
        '-w /etc/passwd -p wa -k vm-passwd', '-a always,exit -F arch=b64 -S sethostname -F key=vm-hostname')
    Set-SyslogPlugin 'LOG_LOCAL6'

    Invoke-Step 'node' {
        param($facts)
        $facts.pid1 = (Get-Content /proc/1/comm).Trim()
        $facts.systemdBooted = Test-Path /run/systemd/system
        $facts.auditdInstalled = (Invoke-Tool dpkg-query '-W', '-f=${db:Status-Status}', 'auditd').Output -join ''
        $facts.auditctlPresent = Test-Path /sbin/auditctl
        $facts.kernel = (Invoke-Tool uname '-r').Output -join ''
    }

    Invoke-Step 'init' {
        # The init container: the real entrypoint with -Init installs auditd from the node's apt repository
        # (an offline one in this VM), syncs and loads.
        param($facts)
        $environment = Get-EntrypointEnvironment
        foreach ($key in $environment.Keys) { Set-Item "env:$key" $environment[$key] }
        $run = Invoke-Tool timeout '900', $Pwsh, '-NoProfile', '-File', "$Image/app/entrypoint.ps1", '-Init'
        $log = @(Read-JsonLines $run.Output)
        $facts.exitCode = $run.ExitCode
        $facts.commands = @($log | Where-Object { $_.PSObject.Properties['command'] } | ForEach-Object command)
        $facts.messages = @($log | ForEach-Object { "$($_.level): $($_.msg)" })
        $facts.auditdInstalled = (Invoke-Tool dpkg-query '-W', '-f=${db:Status-Status}', 'auditd').Output -join ''
        $facts.active = Test-Active
        $facts.enabled = (Invoke-Tool systemctl 'is-enabled', 'auditd').Output -join ''
        $facts.kernelRules = Get-KernelRules
        $facts.auditPid = Get-AuditPid
        $facts.mainPid = Get-MainPid
        $facts.plugins = @(Get-PluginProcess | ForEach-Object CommandLine)
    }

    Import-Module AksAuditd

    Invoke-Step 'install-again' {
        param($facts)
        $errors = $null
        $result = Install-Auditd -HostRoot $HostRoot -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable errors
        $facts.commands = @($result.Commands)
        $facts.errors = @($errors | ForEach-Object { $_.FullyQualifiedErrorId })
        $facts.active = Test-Active
    }

    Invoke-Step 'loop' {
        # The main container: the loop picks up a rules change and a plugins change, then ends on SIGTERM.
        param($facts)
        $out = '/run/aks-vm-loop.out'
        $process = Start-Process -FilePath $Pwsh -ArgumentList '-NoProfile', '-File', "$Image/app/entrypoint.ps1" -RedirectStandardOutput $out -RedirectStandardError '/run/aks-vm-loop.err' -PassThru
        try {
            # The first pass verifies (-Verify): Sync-AuditNode logs one line with command Restart-Auditd and its
            # outcome; succeeded true is what a good first pass prints. A pwsh start under TCG is the slow part.
            $facts.firstPassVerified = Wait-Until -Seconds $StartDeadline {
                [bool](Read-JsonLines (Get-Content $out -ErrorAction SilentlyContinue) |
                    Where-Object { $_.PSObject.Properties['command'] -and $_.command -eq 'Restart-Auditd' -and $_.PSObject.Properties['succeeded'] -and $_.succeeded })
            }
            if (-not $facts.firstPassVerified) {
                throw "The loop logged no successful Restart-Auditd pass within $StartDeadline s. stdout:`n$((Get-Content $out -ErrorAction SilentlyContinue) -join "`n")`nstderr:`n$((Get-Content '/run/aks-vm-loop.err' -ErrorAction SilentlyContinue) -join "`n")"
            }
            Set-Content -LiteralPath "$RulesSource/20-vm-loop.rules" -Value '-w /etc/shadow -p wa -k vm-loop'
            $facts.ruleLoaded = Wait-Until { Test-KernelKey 'vm-loop' }
            $pluginsBefore = @(Get-PluginProcess)
            Set-SyslogPlugin 'LOG_LOCAL5'
            $facts.pluginReloaded = Wait-Until { @(Get-PluginProcess | Where-Object CommandLine -Match 'LOG_LOCAL5').Count -eq 1 }
            $facts.pluginsBefore = @($pluginsBefore | ForEach-Object CommandLine)
            $facts.pluginsAfter = @(Get-PluginProcess | ForEach-Object CommandLine)
        }
        finally {
            # procps (kill) is not on a minimal node; the shell's own kill is.
            & /bin/sh -c "kill -TERM $($process.Id)"
            $facts.exitedOnSigterm = $process.WaitForExit($Deadline * 1000)
            $facts.log = @(Get-Content $out -ErrorAction SilentlyContinue | Select-Object -Last 80)
            if (-not $facts.exitedOnSigterm) { $process.Kill() }
        }
        $facts.exitCode = $process.ExitCode
        $log = @(Read-JsonLines (Get-Content $out))
        $facts.restartMethods = @($log | Where-Object { $_.PSObject.Properties['method'] } | ForEach-Object method)
        $facts.errors = @($log | Where-Object level -In 'error', 'fatal' | ForEach-Object msg)
        $facts.stderr = @(Get-Content '/run/aks-vm-loop.err' -ErrorAction SilentlyContinue)
    }

    foreach ($mode in 'LoadRules', 'Reload', 'Restart') {
        Invoke-Step "mode-$mode" {
            param($facts)
            $facts.mainPidBefore = Get-MainPid
            $facts.pluginPidsBefore = @(Get-PluginProcess | ForEach-Object Pid)
            $facts.result = Invoke-Restart $mode
            # A SIGHUP'd auditd restarts its plugins on its own time; wait for one to run again.
            $null = Wait-Until { @(Get-PluginProcess).Count -ge 1 }
            $facts.mainPidAfter = Get-MainPid
            $facts.auditPidAfter = Get-AuditPid
            $facts.pluginPidsAfter = @(Get-PluginProcess | ForEach-Object Pid)
            $facts.active = Test-Active
            $facts.kernelRules = Get-KernelRules
        }
    }

    Invoke-Step 'auto-nothing' {
        param($facts)
        $facts.sync = Invoke-Sync
        $facts.result = Invoke-Restart 'Auto'
    }

    Invoke-Step 'auto-rules' {
        param($facts)
        Set-Content -LiteralPath "$RulesSource/30-vm-auto.rules" -Value '-w /etc/group -p wa -k vm-auto-rules'
        $facts.sync = Invoke-Sync
        $facts.mainPidBefore = Get-MainPid
        $facts.result = Invoke-Restart 'Auto'
        $facts.mainPidAfter = Get-MainPid
        $facts.kernelRules = Get-KernelRules
    }

    Invoke-Step 'auto-plugins' {
        param($facts)
        Set-SyslogPlugin 'LOG_LOCAL4'
        $facts.sync = Invoke-Sync
        $facts.mainPidBefore = Get-MainPid
        $facts.result = Invoke-Restart 'Auto'
        $facts.pluginLoaded = Wait-Until { @(Get-PluginProcess | Where-Object CommandLine -Match 'LOG_LOCAL4').Count -eq 1 }
        $facts.mainPidAfter = Get-MainPid
    }

    Invoke-Step 'auto-both' {
        param($facts)
        Set-Content -LiteralPath "$RulesSource/30-vm-auto.rules" -Value '-w /etc/group -p wa -k vm-auto-both'
        Set-SyslogPlugin 'LOG_LOCAL3'
        $facts.sync = Invoke-Sync
        $facts.result = Invoke-Restart 'Auto'
        $facts.pluginLoaded = Wait-Until { @(Get-PluginProcess | Where-Object CommandLine -Match 'LOG_LOCAL3').Count -eq 1 }
        $facts.kernelRules = Get-KernelRules
    }

    Invoke-Step 'auto-stopped' {
        param($facts)
        $facts.stop = (Invoke-Tool systemctl 'stop', 'auditd').ExitCode
        $facts.activeBefore = Test-Active
        $facts.result = Invoke-Restart 'Auto'
        $facts.active = Test-Active
        $facts.auditPidAfter = Get-AuditPid
        $facts.mainPidAfter = Get-MainPid
        $facts.kernelRules = Get-KernelRules
    }

    Invoke-Step 'refuse-manual-stop' {
        # Upstream's unit (kept by RHEL) refuses a manual stop; here as a drop-in on Debian's unit.
        param($facts)
        $dropIn = '/etc/systemd/system/auditd.service.d'
        New-Item -ItemType Directory -Force $dropIn | Out-Null
        Set-Content -LiteralPath "$dropIn/refuse-manual-stop.conf" -Value '[Unit]', 'RefuseManualStop=yes'
        try {
            $null = Invoke-Tool systemctl 'daemon-reload'
            $facts.refuseProperty = (Invoke-Tool systemctl 'show', '--property=RefuseManualStop', '--value', 'auditd').Output -join ''
            $direct = Invoke-Tool systemctl 'restart', 'auditd'
            $facts.systemctlRestartExit = $direct.ExitCode
            $facts.systemctlRestartOutput = $direct.Output -join "`n"
            $facts.mainPidBefore = Get-MainPid
            $facts.result = Invoke-Restart 'Restart'
            $facts.mainPidAfter = Get-MainPid
            $facts.auditPidAfter = Get-AuditPid
            $facts.active = Test-Active
        }
        finally {
            Remove-Item -Recurse -Force $dropIn
            $null = Invoke-Tool systemctl 'daemon-reload'
        }
    }

    Invoke-Step 'rejected' {
        # The sync writes a rule the kernel refuses (its directory is gone by load time): the set is rolled back.
        param($facts)
        New-Item -ItemType Directory -Force /srv/vm-app | Out-Null
        Set-Content -LiteralPath "$RulesSource/60-vm-bad.rules" -Value '-w /etc/hosts -p wa -k vm-bad-ok', '-w /srv/vm-app/app.conf -p wa -k vm-bad'
        $filesBefore = @(Get-ChildItem $RulesTarget -File | Sort-Object Name | ForEach-Object { "$($_.Name) $((Get-FileHash $_.FullName).Hash)" })
        $kernelBefore = Get-KernelRules
        $facts.sync = Invoke-Sync
        $facts.badFileWritten = Test-Path "$RulesTarget/60-vm-bad.rules"
        Remove-Item -Recurse -Force /srv/vm-app
        $facts.result = Invoke-Restart 'Auto'
        $facts.filesRestored = ((@(Get-ChildItem $RulesTarget -File | Sort-Object Name | ForEach-Object { "$($_.Name) $((Get-FileHash $_.FullName).Hash)" })) -join "`n") -eq ($filesBefore -join "`n")
        $facts.kernelRestored = ((Get-KernelRules) -join "`n") -eq ($kernelBefore -join "`n")
        $facts.rejectedRecorded = Test-Path "$StatePath/rejected/rules.json"
        try {
            $facts.resync = Invoke-Sync
        }
        finally {
            # Whatever happened, the later steps start from a source without the bad rule.
            Remove-Item -LiteralPath "$RulesSource/60-vm-bad.rules"
        }
        $facts.fixedSync = Invoke-Sync
        $facts.fixedRestart = Invoke-Restart 'Auto'
    }

    Invoke-Step 'pid-holder' {
        # Another audit agent holds the kernel's audit PID: Restart-Auditd refuses to start or signal auditd.
        param($facts)
        $facts.stop = (Invoke-Tool systemctl 'stop', 'auditd').ExitCode
        $holder = Start-Process -FilePath /aks/bin/pidholder -RedirectStandardOutput /run/pidholder.out -RedirectStandardError /run/pidholder.err -PassThru
        try {
            $facts.holding = Wait-Until { (Get-Content /run/pidholder.out -ErrorAction SilentlyContinue) -match 'holding' }
            $facts.holderPid = $holder.Id
            $facts.auditPid = Get-AuditPid
            $status = Get-AuditdStatus -HostRoot $HostRoot -WarningAction SilentlyContinue
            $facts.statusPidHolder = $status.PidHolder
            $facts.statusRunning = $status.Running
            $facts.restart = Invoke-Restart 'Restart'
            $facts.reload = Invoke-Restart 'Reload'
            $facts.activeDuring = Test-Active
            $facts.auditPidAfter = Get-AuditPid
            $facts.holderStderr = @(Get-Content /run/pidholder.err -ErrorAction SilentlyContinue)
        }
        finally {
            $holder.Kill()
            $null = $holder.WaitForExit(30000)
        }
        # The kernel drops a dead holder when a record cannot reach it; a user message makes one.
        $facts.holderGone = Wait-Until { $null = Invoke-Tool auditctl '-m', 'aks-vm holder gone'; (Get-AuditPid) -eq 0 }
        $facts.afterHolder = Invoke-Restart 'Auto'
        $facts.activeAfter = Test-Active
    }

    Invoke-Step 'immutable' {
        # enabled 2 for real, in this VM's kernel: new rules wait for the reboot.
        param($facts)
        Set-Content -LiteralPath "$RulesSource/40-vm-reboot.rules" -Value '-w /etc/hostname -p wa -k vm-after-reboot'
        $facts.sync = Invoke-Sync
        $facts.lock = (Invoke-Tool auditctl '-e', '2').ExitCode
        $facts.enabled = Get-Enabled
        $facts.first = Invoke-Restart 'Auto'
        $facts.second = Invoke-Restart 'Auto'
        $facts.kernelRules = Get-KernelRules
        $facts.bootId = (Get-Content /proc/sys/kernel/random/boot_id).Trim()
    }
    $results.Dispose()
    exit 10
}

Import-Module AksAuditd
Invoke-Step 'after-reboot' {
    param($facts)
    $facts.active = Wait-Until { Test-Active }
    $facts.enabled = Get-Enabled
    $facts.bootId = (Get-Content /proc/sys/kernel/random/boot_id).Trim()
    $null = Wait-Until { Test-KernelKey 'vm-after-reboot' }
    $facts.kernelRules = Get-KernelRules
    if (-not (Test-Path "$HostRoot/etc/os-release")) { & mount --rbind / $HostRoot }
    $facts.result = Invoke-Restart 'Auto'
    $status = Get-AuditdStatus -HostRoot $HostRoot -WarningAction SilentlyContinue
    $facts.statusImmutable = $status.Immutable
    $facts.statusRunning = $status.Running
}
$results.Dispose()
exit 0
