# The DaemonSet's pod, end to end: its init and main containers from localhost/aks-auditd:dev under podman, with
# the privileges, mounts, env, memory limit and probes kubernetes/daemonset.yaml declares (tests/e2e/PodRunner.ps1),
# this machine as the node (hostPath / is this machine's /) and the real kernel. Every scenario runs under the
# containers/common default seccomp profile (podman, CRI-O) and containerd's RuntimeDefault (AKS).
# It holds the kernel test lock throughout and puts back /etc/audit, /var/lib/aks-auditd, the kernel's rules and
# settings, and auditd's state. Deadlines are generous and only bound a wait: no timing is asserted.
BeforeDiscovery {
    $script:Profiles = @(
        @{ Profile = 'containers/common default (podman, CRI-O)'; File = 'containers-common-default.json'
            RefusedWithoutAuditWrite = $true; WithoutAuditWrite = 'the audit socket is refused and the error names the seccomp profile and AUDIT_WRITE' }
        @{ Profile = 'containerd RuntimeDefault (AKS)'; File = 'containerd-runtime-default.json'
            RefusedWithoutAuditWrite = $false; WithoutAuditWrite = 'the audit socket opens (why the bug hid on AKS)' }
    )
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'PodRunner.ps1')
    $script:Image = if ($env:AKSAUDITD_IMAGE) { $env:AKSAUDITD_IMAGE } else { 'localhost/aks-auditd:dev' }
    $script:Spec = Get-PodTemplate
    $script:PollSeconds = 2
    # The rules of the e2e's ConfigMap and what `auditctl -l` lists for them (watches list as written).
    $script:BaseRules = "-D`n-b 8192`n"
    $script:Watches = @('-w /etc/passwd -p wa -k e2e_passwd', '-w /etc/group -p wa -k e2e_group')

    function Get-KernelRules { @(& auditctl -l | Where-Object { $_ -and $_ -ne 'No rules' }) }
    function Get-NodeRulesFiles { Get-RulesFiles '/etc/audit/rules.d' }

    function Get-E2EConfigMaps {
        param([string[]] $Watches, [hashtable] $Extra = @{})
        $rules = [ordered]@{ '10-e2e-base.rules' = $BaseRules; '50-e2e-watch.rules' = (($Watches -join "`n") + "`n") }
        foreach ($key in $Extra.Keys) { $rules[$key] = $Extra[$key] }
        # The shipped configuration, polled every $PollSeconds so that a test waits seconds, not minutes.
        $config = Read-ConfigMapData (Join-Path $SandboxRepoRoot 'kubernetes/aks-auditd-config.yaml')
        $config['config.yaml'] = $config['config.yaml'] -replace '(?m)^pollInterval:.*$', "pollInterval: ${PollSeconds}s"
        return @{
            'auditd-rules' = $rules
            'audisp-plugins' = Read-ConfigMapData (Join-Path $SandboxRepoRoot 'kubernetes/audisp-plugins.yaml')
            'aks-auditd-config' = $config
        }
    }

    function Reset-E2ENode {
        # Each pod starts from the node as it was: the package's rules.d, no state, no rules in the kernel.
        Get-ChildItem /etc/audit/rules.d -Force | Remove-Item -Force -Recurse
        & cp -a "$($Saved.Backup)/rules.d/." /etc/audit/rules.d/
        Get-ChildItem /etc/audit/plugins.d -Force | Remove-Item -Force -Recurse
        & cp -a "$($Saved.Backup)/plugins.d/." /etc/audit/plugins.d/
        if (Test-Path /var/lib/aks-auditd) { Remove-Item /var/lib/aks-auditd -Recurse -Force }
        & auditctl -D *> $null
    }

    $script:Lock = Enter-KernelTestLock -Timeout ([TimeSpan]::FromMinutes(30))
    $script:Saved = Save-NodeAuditState
    $script:StateExisted = Test-Path -LiteralPath /var/lib/aks-auditd
    if ($StateExisted) {
        $script:StateBackup = Join-Path ([System.IO.Path]::GetTempPath()) "aks-auditd-e2e-state-$([guid]::NewGuid().ToString('n'))"
        & cp -a /var/lib/aks-auditd $StateBackup
    }
}

AfterAll {
    try {
        if ($Saved) { Restore-NodeAuditState $Saved }
        if ($StateExisted) {
            if ($StateBackup -and (Test-Path -LiteralPath $StateBackup)) {
                Remove-Item -LiteralPath /var/lib/aks-auditd -Recurse -Force
                & cp -a $StateBackup /var/lib/aks-auditd
                Remove-Item -LiteralPath $StateBackup -Recurse -Force
            }
        }
        elseif (Test-Path -LiteralPath /var/lib/aks-auditd) {
            Remove-Item -LiteralPath /var/lib/aks-auditd -Recurse -Force
        }
    }
    finally {
        if ($Lock) { $Lock.Dispose() }
    }
}

Describe 'The DaemonSet pod under <Profile>' -ForEach $Profiles {
    BeforeAll {
        $script:SeccompFile = Join-Path $PSScriptRoot "seccomp/$File"
        $script:Run = [guid]::NewGuid().ToString('n').Substring(0, 8)
        $script:Root = Join-Path ([System.IO.Path]::GetTempPath()) "aks-auditd-e2e-$Run"
        $script:Init = "aks-auditd-e2e-init-$Run"
        $script:Main = "aks-auditd-e2e-main-$Run"
        Reset-E2ENode
        $script:Volumes = New-PodVolumes -Spec $Spec -Root $Root -ConfigMapData (Get-E2EConfigMaps -Watches $Watches)
        $script:MainSpec = Get-PodContainer $Spec 'aks-auditd'
    }

    AfterAll {
        foreach ($name in $Init, $Main) { if ($name) { Remove-PodContainer $name } }
        if ($Root -and (Test-Path -LiteralPath $Root)) { Remove-Item -LiteralPath $Root -Recurse -Force }
    }

    It 'the init container finds auditd, loads the ConfigMap''s rules and exits 0' {
        Start-PodContainer -Spec $Spec -ContainerName 'install' -Volumes $Volumes -Name $Init -Image $Image -SeccompProfile $SeccompFile
        $code = Wait-PodContainerExit $Init -Timeout ([TimeSpan]::FromMinutes(10))
        $log = @(Get-PodContainerLog $Init)
        $code | Should -Be 0 -Because ($log | ConvertTo-Json -Depth 5 -Compress)
        Get-KernelRules | Should -Be $Watches
    }

    It 'the main container starts its loop and the node''s kernel lists exactly the ConfigMap''s rules' {
        # This machine has no systemd: the auditd the init container started (chroot /node service auditd start)
        # ran in the init container's cgroup and ended with it. On a node, `service` hands the start to systemd,
        # which keeps auditd running in its own cgroup; here the test stands in for the node's service manager.
        if (-not (& pidof auditd)) { & service auditd start *> $null }
        Wait-Until { [bool](& pidof auditd) } -Timeout ([TimeSpan]::FromMinutes(1)) | Should -Not -BeNullOrEmpty -Because 'auditd must run on the node'
        Start-PodContainer -Spec $Spec -ContainerName 'aks-auditd' -Volumes $Volumes -Name $Main -Image $Image -SeccompProfile $SeccompFile
        $heartbeat = { Test-Path -LiteralPath "/proc/$(Get-PodContainerPid $Main)/root/run/aks-auditd/heartbeat" }
        $started = Wait-Until $heartbeat -Timeout ([TimeSpan]::FromMinutes(5))
        $started | Should -Not -BeNullOrEmpty -Because "the loop never wrote its heartbeat: $(@(Get-PodContainerLog $Main) | ConvertTo-Json -Depth 5 -Compress)"
        # The first pass verifies the node; every later one must leave the kernel as it is.
        Wait-Until { $null -ne (Get-PodContainerLog $Main | Where-Object { $_ -isnot [string] -and $_.msg -match 'Restart-Auditd|First sync|verified|pass' }) } -Timeout ([TimeSpan]::FromMinutes(3)) | Out-Null
        Get-KernelRules | Should -Be $Watches
        Get-PodContainerLog $Main | Where-Object { $_ -isnot [string] -and $_.level -in 'error', 'fatal' } | ForEach-Object msg | Should -BeNullOrEmpty
    }

    It 'a ConfigMap update reaches the kernel within two poll intervals' {
        $script:Updated = $Watches + '-w /etc/hosts -p wa -k e2e_hosts'
        Write-ConfigMapVolume $Volumes['auditd-rules'].Path (Get-E2EConfigMaps -Watches $Updated)['auditd-rules']
        # Two poll intervals, plus room for a machine shared with other builds: the outcome is checked, not the time.
        $reached = Wait-Until { (Get-KernelRules) -join "`n" -eq ($Updated -join "`n") } -Timeout ([TimeSpan]::FromSeconds(2 * $PollSeconds + 120))
        $reached | Should -Not -BeNullOrEmpty -Because "the kernel lists: $((Get-KernelRules) -join '; ')"
    }

    It 'a rule the validator refuses changes nothing' {
        $filesBefore = Get-NodeRulesFiles
        $bad = '-w /etc/passwd -p rwxz -k e2e_refused'
        Write-ConfigMapVolume $Volumes['auditd-rules'].Path (Get-E2EConfigMaps -Watches $Updated -Extra @{ '60-e2e-refused.rules' = "$bad`n" })['auditd-rules']
        $refused = Wait-Until { $null -ne (Get-PodContainerLog $Main | Where-Object { $_ -isnot [string] -and $_.level -in 'error', 'warn' -and "$($_ | ConvertTo-Json -Compress -Depth 5)" -match '60-e2e-refused' }) } -Timeout ([TimeSpan]::FromMinutes(2))
        $refused | Should -Not -BeNullOrEmpty -Because 'the loop must log the refused file'
        Get-KernelRules | Should -Be $Updated
        (Get-NodeRulesFiles) | ConvertTo-Json | Should -Be ($filesBefore | ConvertTo-Json)
    }

    It 'a rule set the kernel rejects is rolled back' {
        $filesBefore = Get-NodeRulesFiles
        # Well formed, so the validator passes it; the kernel refuses it (no such directory) when it is loaded.
        $rejected = '-a always,exit -F arch=b64 -S openat -F dir=/nonexistent/aks-auditd-e2e -F key=e2e_rejected'
        Write-ConfigMapVolume $Volumes['auditd-rules'].Path (Get-E2EConfigMaps -Watches $Updated -Extra @{ '60-e2e-rejected.rules' = "$rejected`n" })['auditd-rules']
        $rolledBack = Wait-Until { $null -ne (Get-PodContainerLog $Main | Where-Object { $_ -isnot [string] -and "$($_.msg)" -match 'e2e_rejected|aks-auditd-e2e' }) } -Timeout ([TimeSpan]::FromMinutes(2))
        $rolledBack | Should -Not -BeNullOrEmpty -Because 'the loop must log the rejected rule'
        Wait-Until { ((Get-NodeRulesFiles) | ConvertTo-Json) -eq ($filesBefore | ConvertTo-Json) } -Timeout ([TimeSpan]::FromMinutes(1)) | Out-Null
        Get-KernelRules | Should -Be $Updated
        (Get-NodeRulesFiles) | ConvertTo-Json | Should -Be ($filesBefore | ConvertTo-Json)
        # Back to the good set for the scenarios that follow.
        Write-ConfigMapVolume $Volumes['auditd-rules'].Path (Get-E2EConfigMaps -Watches $Updated)['auditd-rules']
    }

    It 'the loop''s process has the agent''s runtime settings and a pwsh started by hand in the container does not' {
        # The ENTRYPOINT hands the settings tuned for the idle loop to its own process (env execs pwsh, which is the
        # container's PID 1); `kubectl exec ... pwsh` gets the image's ENV only: concurrent GC, a 16 MB gen0 budget.
        $agent = (Get-Content -Raw "/proc/$(Get-PodContainerPid $Main)/environ") -split "`0"
        $agent | Should -Contain 'DOTNET_gcConcurrent=0'
        $agent | Should -Contain 'DOTNET_GCgen0size=0x200000'
        (Get-Content -Raw "/proc/$(Get-PodContainerPid $Main)/cmdline") -split "`0" | Should -Contain '/app/entrypoint.ps1'
        $byHand = Invoke-Podman @('exec', $Main, '/usr/local/bin/pwsh', '-NoProfile', '-NonInteractive', '-Command',
            '"gcConcurrent=[$env:DOTNET_gcConcurrent] gen0size=[$env:DOTNET_GCgen0size] invariant=[$env:DOTNET_SYSTEM_GLOBALIZATION_INVARIANT]"')
        $byHand | Should -Be 'gcConcurrent=[] gen0size=[0x1000000] invariant=[1]'
    }

    It 'the liveness probe passes while the loop runs and fails while it is frozen' {
        $probe = $MainSpec['livenessProbe']
        $probe | Should -Not -BeNullOrEmpty -Because 'kubernetes/daemonset.yaml declares a liveness probe'
        Wait-Until { Invoke-PodProbe $Main $probe $MainSpec } -Timeout ([TimeSpan]::FromMinutes(1)) | Should -Not -BeNullOrEmpty
        $process = Get-PodContainerPid $Main
        & kill -STOP $process
        try {
            # A frozen loop stops touching the heartbeat; instead of waiting out the probe's window, the heartbeat
            # is made as old as a frozen loop's would be by then (the loop cannot touch it while stopped).
            $heartbeat = "/proc/$process/root/run/aks-auditd/heartbeat"
            if (Test-Path -LiteralPath $heartbeat) { & touch -d '-1 hour' $heartbeat }
            Invoke-PodProbe $Main $probe $MainSpec | Should -BeFalse
        }
        finally {
            & kill -CONT $process
        }
        Wait-Until { Invoke-PodProbe $Main $probe $MainSpec } -Timeout ([TimeSpan]::FromMinutes(2)) | Should -Not -BeNullOrEmpty -Because 'the loop touches the heartbeat again once it runs'
    }

    It 'the container stays under its memory limit' {
        $limit = ConvertTo-Bytes (Get-Field $MainSpec resources limits memory)
        $memory = Get-PodContainerMemory $Main
        $memory.OOMKilled | Should -BeFalse
        $memory.MaxUsage | Should -BeLessThan $limit
        $memory.Limit | Should -Be $limit
    }

    It 'SIGTERM ends it with exit 0 within terminationGracePeriodSeconds' {
        $grace = [int]($Spec['terminationGracePeriodSeconds'] ?? 30)
        # podman stop sends SIGTERM and, after the grace period, SIGKILL (exit 137): exit 0 means it ended in time.
        Invoke-Podman @('stop', '--time', "$grace", $Main) | Out-Null
        Wait-PodContainerExit $Main -Timeout ([TimeSpan]::FromMinutes(2)) | Should -Be 0
        Get-PodContainerLog $Main | Where-Object { $_ -isnot [string] -and $_.level -eq 'fatal' } | Should -BeNullOrEmpty
    }

    It 'without AUDIT_WRITE: <WithoutAuditWrite>' {
        # The same main container minus AUDIT_WRITE: the containers/common profile refuses the audit socket (and the
        # error names why), containerd's lets it through. This is why the manifest adds AUDIT_WRITE.
        $name = "aks-auditd-e2e-noaw-$Run"
        $arguments = @(Get-PodmanRunArguments -Spec $Spec -Container $MainSpec -Volumes $Volumes -Name $name -SeccompProfile $SeccompFile |
            Where-Object { $_ -ne '--cap-add=AUDIT_WRITE' })
        try {
            Invoke-Podman (@('run', '--detach', '--entrypoint', '/usr/local/bin/pwsh') + $arguments + @($Image, '-NoProfile', '-NonInteractive', '-Command',
                'Import-Module AksAuditd; try { Get-AuditdStatus -HostRoot /node -ErrorAction Stop | Out-Null; ''audit socket: opened'' } catch { ''audit socket: '' + $_.Exception.Message }')) | Out-Null
            Wait-PodContainerExit $name -Timeout ([TimeSpan]::FromMinutes(3)) | Should -Not -BeNullOrEmpty
            $output = (Invoke-Podman @('logs', $name)) -join "`n"
            if ($RefusedWithoutAuditWrite) {
                $output | Should -Match '(?s)audit socket: .*Cannot open netlink audit socket'
                $output | Should -Match 'seccomp profile'
                $output | Should -Match 'AUDIT_WRITE'
            }
            else {
                $output | Should -Match 'audit socket: opened'
            }
        }
        finally {
            Remove-PodContainer $name
        }
    }

    It 'wrote nothing outside its declared writable mounts' {
        # podman diff lists what changed in the container's own file system; the mounts are not part of it, but
        # the folders created for them are.
        $mountPaths = @($MainSpec['volumeMounts'] | ForEach-Object { $_['mountPath'] })
        $allowed = [System.Collections.Generic.HashSet[string]]::new()
        foreach ($path in $mountPaths) {
            for ($p = $path; $p -and $p -ne '/'; $p = Split-Path $p) { [void]$allowed.Add($p) }
        }
        $changes = @(Invoke-Podman @('diff', $Main) | ForEach-Object { ("$_" -split '\s+', 2)[1] } | Where-Object { $_ -and -not $allowed.Contains($_) })
        $changes | Should -BeNullOrEmpty
    }
}

Describe 'The DaemonSet pod with the fleet-status component, against an API server over TLS' {
    # What a cluster that applies the component runs (kubectl kustomize of the base with it), under containerd's
    # RuntimeDefault (AKS), in a network namespace where an API server stand-in (tests/AksAuditd.ApiStandIn: the
    # wire-level FakeApiServer behind HTTPS) listens on 127.0.0.1:6443. The kubelet's part is played as the kubelet
    # plays it: the service-account folder (token, ca.crt, namespace) mounted at
    # /var/run/secrets/kubernetes.io/serviceaccount, KUBERNETES_SERVICE_HOST and _PORT set, the token rotated in place.
    BeforeAll {
        $script:FleetRun = [guid]::NewGuid().ToString('n').Substring(0, 8)
        $script:FleetRoot = Join-Path ([System.IO.Path]::GetTempPath()) "aks-auditd-e2e-fleet-$FleetRun"
        $script:FleetInit = "aks-auditd-e2e-fleet-init-$FleetRun"
        $script:FleetMain = "aks-auditd-e2e-fleet-main-$FleetRun"
        $script:Netns = "aks-auditd-e2e-$FleetRun"
        $script:FleetSeccomp = Join-Path $PSScriptRoot 'seccomp/containerd-runtime-default.json'
        New-Item -ItemType Directory -Force $FleetRoot | Out-Null

        # kustomize takes relative paths only.
        $overlay = New-Item -ItemType Directory -Force (Join-Path $SandboxRepoRoot "out/e2e-fleet-overlay-$FleetRun")
        $relative = [System.IO.Path]::GetRelativePath($overlay.FullName, (Join-Path $SandboxRepoRoot 'kubernetes'))
        Set-Content -LiteralPath (Join-Path $overlay 'kustomization.yaml') -Value @(
            'apiVersion: kustomize.config.k8s.io/v1beta1', 'kind: Kustomization', 'resources:', "  - $relative", 'components:', "  - $relative/components/fleet-status")
        $rendered = Join-Path $FleetRoot 'rendered.yaml'
        & kubectl kustomize $overlay.FullName > $rendered
        if ($LASTEXITCODE -ne 0) { throw "kubectl kustomize $overlay failed" }
        Remove-Item -LiteralPath $overlay -Recurse -Force
        $script:FleetSpec = Get-PodTemplate -Path $rendered
        $script:FleetMainSpec = Get-PodContainer $FleetSpec 'aks-auditd'

        $script:ServiceAccountPath = New-Item -ItemType Directory -Force (Join-Path $FleetRoot 'serviceaccount')
        Set-Content -LiteralPath (Join-Path $ServiceAccountPath 'token') -Value 'e2e-token-1' -NoNewline
        Set-Content -LiteralPath (Join-Path $ServiceAccountPath 'namespace') -Value 'kube-system' -NoNewline
        $script:ServiceAccount = @{ Path = $ServiceAccountPath.FullName; Host = '127.0.0.1'; Port = 6443 }

        & ip netns add $Netns
        if ($LASTEXITCODE -ne 0) { throw "ip netns add $Netns failed" }
        & ip netns exec $Netns ip link set lo up

        $project = Join-Path $SandboxRepoRoot 'tests/AksAuditd.ApiStandIn'
        & dotnet build $project -c Release --nologo -v quiet | Out-Null
        if ($LASTEXITCODE -ne 0) { throw "dotnet build $project failed" }
        $script:StatePath = Join-Path $FleetRoot 'api-state.json'
        $start = [System.Diagnostics.ProcessStartInfo]::new('ip')
        foreach ($argument in 'netns', 'exec', $Netns, (Get-Command dotnet).Source, (Join-Path $project 'bin/Release/net10.0/AksAuditd.ApiStandIn.dll'),
            'e2e-node', '6443', $ServiceAccountPath.FullName, $StatePath) { $start.ArgumentList.Add($argument) }
        # Its stdin is this test's: the stand-in stops when it closes, so it cannot outlive the run.
        $start.RedirectStandardInput = $true
        $start.RedirectStandardOutput = $true
        $script:StandIn = [System.Diagnostics.Process]::Start($start)
        $ready = $StandIn.StandardOutput.ReadLineAsync()
        if (-not $ready.Wait([TimeSpan]::FromMinutes(2)) -or "$($ready.Result)" -notmatch '^ready https://') { throw "The API stand-in did not start: $($ready.Result)" }

        function Get-ApiState { if (Test-Path -LiteralPath $StatePath) { Get-Content -Raw -LiteralPath $StatePath | ConvertFrom-Json -Depth 64 } }
        function Get-NodeCondition([string] $Type) { (Get-ApiState).node.status.conditions | Where-Object type -eq $Type }

        Reset-E2ENode
        $script:FleetVolumes = New-PodVolumes -Spec $FleetSpec -Root (Join-Path $FleetRoot 'volumes') -ConfigMapData (Get-E2EConfigMaps -Watches $Watches)
    }

    AfterAll {
        foreach ($name in $FleetInit, $FleetMain) { if ($name) { Remove-PodContainer $name } }
        if ($StandIn) {
            $StandIn.StandardInput.Close()
            if (-not $StandIn.WaitForExit(10000)) { $StandIn.Kill($true) }
        }
        if ($Netns) { & ip netns delete $Netns 2>$null }
        if ($FleetRoot -and (Test-Path -LiteralPath $FleetRoot)) { Remove-Item -LiteralPath $FleetRoot -Recurse -Force }
    }

    It 'renders a pod that mounts its token, and the runner refuses to start it without one' {
        $FleetSpec['automountServiceAccountToken'] | Should -Be 'true'
        $FleetSpec['serviceAccountName'] | Should -Be 'aks-auditd'
        { Get-PodmanRunArguments -Spec $FleetSpec -Container $FleetMainSpec -Volumes $FleetVolumes -Name 'x' -SeccompProfile $FleetSeccomp } |
            Should -Throw '*automountServiceAccountToken*'
    }

    It 'writes the three conditions on its Node over TLS, with the mounted token' {
        Start-PodContainer -Spec $FleetSpec -ContainerName 'install' -Volumes $FleetVolumes -Name $FleetInit -Image $Image -SeccompProfile $FleetSeccomp `
            -NetworkNamespace "/run/netns/$Netns" -ServiceAccount $ServiceAccount
        $code = Wait-PodContainerExit $FleetInit -Timeout ([TimeSpan]::FromMinutes(10))
        $code | Should -Be 0 -Because (@(Get-PodContainerLog $FleetInit) | ConvertTo-Json -Depth 5 -Compress)
        # No systemd on this machine: the test starts auditd as the node's service manager would keep it running.
        if (-not (& pidof auditd)) { & service auditd start *> $null }
        Wait-Until { [bool](& pidof auditd) } -Timeout ([TimeSpan]::FromMinutes(1)) | Should -Not -BeNullOrEmpty -Because 'auditd must run on the node'

        Start-PodContainer -Spec $FleetSpec -ContainerName 'aks-auditd' -Volumes $FleetVolumes -Name $FleetMain -Image $Image -SeccompProfile $FleetSeccomp `
            -NetworkNamespace "/run/netns/$Netns" -ServiceAccount $ServiceAccount
        # The init container loaded the rules, so the main container's first pass applies nothing: conditions, no Event.
        $written = Wait-Until { @('AuditdProblem', 'AuditRulesDrift', 'AuditEventsLost' | Where-Object { Get-NodeCondition $_ }).Count -eq 3 } -Timeout ([TimeSpan]::FromMinutes(5))
        # The first write waits for the first pass's kernel reading, so no condition is ever written Unknown.
        @((Get-ApiState).requests | Where-Object { $_.method -eq 'PATCH' } | ForEach-Object { $_.body.status.conditions.status }) | Should -Not -Contain 'Unknown'
        $written | Should -Not -BeNullOrEmpty -Because "the agent never wrote its Node's status: $(@(Get-PodContainerLog $FleetMain) | ConvertTo-Json -Depth 5 -Compress)"

        $state = Get-ApiState
        $state.violations | Should -BeNullOrEmpty
        $state.requests.authorization | Sort-Object -Unique | Should -Be 'Bearer e2e-token-1'
        ($state.requests | Where-Object { $_.method -eq 'PATCH' -and $_.path -eq '/api/v1/nodes/e2e-node/status' }).contentType | Sort-Object -Unique |
            Should -Be 'application/strategic-merge-patch+json'
        (Get-NodeCondition 'AuditdProblem').status | Should -Be 'False'
        (Get-NodeCondition 'AuditRulesDrift').status | Should -Be 'False'
        (Get-NodeCondition 'AuditEventsLost').status | Should -Be 'False'
        (Get-NodeCondition 'Ready').status | Should -Be 'True' -Because 'the kubelet''s own condition stays as it was'
        Get-PodContainerLog $FleetMain | Where-Object { $_ -isnot [string] -and $_.level -in 'error', 'fatal', 'warn' } | ForEach-Object msg | Should -BeNullOrEmpty
    }

    It 'reads its token again once the kubelet rotates it, and records the next change as an Event with the new one' {
        # The kubelet replaces a projected token before it expires; the API server refuses the old one from then on.
        $token = Join-Path $ServiceAccountPath 'token'
        Set-Content -LiteralPath "$token.new" -Value 'e2e-token-2' -NoNewline
        Move-Item -LiteralPath "$token.new" -Destination $token -Force
        $before = @((Get-ApiState).requests).Count
        # A change the agent reports: the ConfigMap gains a rule, so the Node's conditions and Events are written again.
        Write-ConfigMapVolume $FleetVolumes['auditd-rules'].Path (Get-E2EConfigMaps -Watches ($Watches + '-w /etc/hosts -p wa -k e2e_hosts'))['auditd-rules']
        # KubernetesClient re-reads the token file a minute after its last read; the publisher's backoff adds to that.
        $created = { @((Get-ApiState).requests | Select-Object -Skip $before | Where-Object { $_.method -eq 'POST' -and $_.authorization -eq 'Bearer e2e-token-2' }).Count -ge 1 }
        $rotated = Wait-Until $created -Timeout ([TimeSpan]::FromMinutes(5))
        $rotated | Should -Not -BeNullOrEmpty -Because "no Event was created with the rotated token: $(@(Get-PodContainerLog $FleetMain) | Select-Object -Last 10 | ConvertTo-Json -Depth 5 -Compress)"
        $state = Get-ApiState
        $state.violations | Should -BeNullOrEmpty
        $applied = @($state.events | Where-Object reason -eq 'RulesApplied')
        $applied.Count | Should -Be 1
        $applied[0].regarding.name | Should -Be 'e2e-node'
        $applied[0].type | Should -Be 'Normal'
        Get-KernelRules | Should -Contain '-w /etc/hosts -p wa -k e2e_hosts'
    }

    It 'the readiness probe passes once the pass is verified, and the container stays under its memory limit with TLS loaded' {
        Wait-Until { Invoke-PodProbe $FleetMain $FleetMainSpec['readinessProbe'] $FleetMainSpec } -Timeout ([TimeSpan]::FromMinutes(2)) |
            Should -Not -BeNullOrEmpty
        $limit = ConvertTo-Bytes (Get-Field $FleetMainSpec resources limits memory)
        $memory = Get-PodContainerMemory $FleetMain
        $memory.OOMKilled | Should -BeFalse
        $memory.MaxUsage | Should -BeLessThan $limit
        $memory.Limit | Should -Be $limit
        # TLS means OpenSSL in the agent's process (the sync alone never loads it).
        (Get-Content -Raw "/proc/$(Get-PodContainerPid $FleetMain)/maps") | Should -Match 'libssl\.so\.3'
    }
}
