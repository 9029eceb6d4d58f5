<#
.SYNOPSIS
    Runs the DaemonSet's containers under podman as kubernetes/daemonset.yaml declares them (dot-source this file).
.DESCRIPTION
    Everything about a container comes from the manifest: securityContext (privileged, runAsUser, capabilities,
    readOnlyRootFilesystem, allowPrivilegeEscalation, seccompProfile), hostPID, args, env, volume mounts with
    their readOnly flags, the memory limit, the probes, terminationGracePeriodSeconds and the service account's
    token mount (automountServiceAccountToken). A change to the
    manifest changes what runs here; a field this runner does not know fails loudly instead of being ignored.
    What a kubelet would supply is supplied the kubelet's way: hostPath volumes are the machine's paths,
    ConfigMap volumes are folders in the kubelet's atomic-writer layout, emptyDirs are scratch folders (medium
    Memory: a tmpfs), spec.nodeName is the NodeName given, and a mounted token is the ServiceAccount folder given,
    at /var/run/secrets/kubernetes.io/serviceaccount, with KUBERNETES_SERVICE_HOST and _PORT naming its API server.
#>

. (Join-Path $PSScriptRoot '../../image/Sandbox.ps1')
. (Join-Path $PSScriptRoot '../../image/podman/Podman.ps1')

$script:KnownSecurityContext = 'privileged', 'allowPrivilegeEscalation', 'runAsUser', 'runAsNonRoot', 'capabilities',
    'readOnlyRootFilesystem', 'seccompProfile'

function Get-Field {
    # A nested field of a manifest object, or $null when any step is missing: Get-Field $container resources limits memory.
    param($Object, [Parameter(ValueFromRemainingArguments)] [string[]] $Path)
    foreach ($key in $Path) {
        if ($null -eq $Object -or $Object -isnot [System.Collections.IDictionary] -or -not $Object.Contains($key)) { return $null }
        $Object = $Object[$key]
    }
    return $Object
}

function Get-PodTemplate {
    # The DaemonSet's pod template spec as nested dictionaries (YamlDotNet through Read-KubernetesManifest).
    param([string] $Path = (Join-Path $SandboxRepoRoot 'kubernetes/daemonset.yaml'))
    $daemonSet = Read-KubernetesManifest $Path | Where-Object { $_['kind'] -eq 'DaemonSet' } | Select-Object -First 1
    if (-not $daemonSet) { throw "$Path holds no DaemonSet" }
    return $daemonSet['spec']['template']['spec']
}

function Get-PodContainer {
    param([Parameter(Mandatory)] $Spec, [Parameter(Mandatory)] [string] $Name)
    $all = @(@($Spec['initContainers']) + @($Spec['containers']) | Where-Object { $_ -and $_['name'] -eq $Name })
    if (-not $all) { throw "kubernetes/daemonset.yaml has no container named $Name" }
    return $all[0]
}

function ConvertTo-Bytes {
    # A Kubernetes quantity (256Mi, 1Gi, 500M, 1024) in bytes.
    param([Parameter(Mandatory)] [string] $Quantity)
    if ($Quantity -notmatch '^(?<n>\d+)(?<unit>Ki|Mi|Gi|K|M|G)?$') { throw "Unsupported resource quantity '$Quantity'" }
    $factor = @{ '' = 1; Ki = 1KB; Mi = 1MB; Gi = 1GB; K = 1000; M = 1000000; G = 1000000000 }[[string]$Matches.unit]
    return [long]$Matches.n * $factor
}

function New-PodVolumes {
    # Host folders for the pod's volumes, as the kubelet would prepare them. ConfigMaps get their data from
    # $ConfigMapData (name => key => text); hostPath volumes are the machine's own paths.
    param([Parameter(Mandatory)] $Spec, [Parameter(Mandatory)] [string] $Root, [hashtable] $ConfigMapData = @{})
    $volumes = @{}
    foreach ($volume in $Spec['volumes']) {
        $name = $volume['name']
        if ($volume.Contains('hostPath')) {
            $path = $volume['hostPath']['path']
            $type = $volume['hostPath']['type']
            if ($type -eq 'DirectoryOrCreate') { New-Item -ItemType Directory -Force $path | Out-Null }
            elseif ($type -eq 'Directory' -and -not (Test-Path -LiteralPath $path -PathType Container)) { throw "hostPath $path of volume $name is not a directory" }
            $volumes[$name] = [pscustomobject]@{ Kind = 'hostPath'; Path = $path }
        }
        elseif ($volume.Contains('configMap')) {
            $mapName = $volume['configMap']['name']
            if (-not $ConfigMapData.Contains($mapName)) { throw "No data given for ConfigMap $mapName (volume $name)" }
            $path = Join-Path $Root "configmap-$name"
            Write-ConfigMapVolume $path $ConfigMapData[$mapName]
            $volumes[$name] = [pscustomobject]@{ Kind = 'configMap'; Path = $path; ConfigMap = $mapName }
        }
        elseif ($volume.Contains('emptyDir')) {
            $emptyDir = $volume['emptyDir']
            $medium = if ($emptyDir -and $emptyDir.Contains('medium')) { $emptyDir['medium'] } else { '' }
            $size = if ($emptyDir -and $emptyDir.Contains('sizeLimit')) { ConvertTo-Bytes $emptyDir['sizeLimit'] } else { 0 }
            $path = Join-Path $Root "emptydir-$name"
            New-Item -ItemType Directory -Force $path | Out-Null
            $volumes[$name] = [pscustomobject]@{ Kind = 'emptyDir'; Path = $path; Memory = ($medium -eq 'Memory'); Size = $size }
        }
        else {
            throw "Volume $name has a type this runner does not know: $(@($volume.Keys) -join ', ')"
        }
    }
    return $volumes
}

function Get-PodmanRunArguments {
    # podman run arguments for one container of the pod spec (without the image and its arguments).
    param(
        [Parameter(Mandatory)] $Spec,
        [Parameter(Mandatory)] $Container,
        [Parameter(Mandatory)] [hashtable] $Volumes,
        [Parameter(Mandatory)] [string] $Name,
        [Parameter(Mandatory)] [string] $SeccompProfile,
        [string] $NodeName = 'e2e-node',
        # The pod's network namespace (a path under /run/netns), where its API server is reachable; without it the
        # pod gets one of its own with only loopback.
        [string] $NetworkNamespace,
        # What the kubelet mounts and sets for a pod whose token is mounted: @{ Path = <folder with token, ca.crt
        # and namespace>; Host = <API server address>; Port = <port> }.
        [hashtable] $ServiceAccount
    )
    $arguments = [System.Collections.Generic.List[string]]::new()
    $arguments.AddRange([string[]]@('--name', $Name, '--pull=never'))
    if ($Spec['hostNetwork'] -eq 'true') { $arguments.Add('--network=host') }
    elseif ($NetworkNamespace) { $arguments.Add("--network=ns:$NetworkNamespace") }
    else {
        # A network namespace of its own, as a pod has; with only loopback, since without a service account
        # neither container talks to anything and a CNI setup is not what this test is about.
        $arguments.Add('--network=none')
    }

    # Kubernetes mounts the service account's token unless the pod says not to.
    if ($Spec['automountServiceAccountToken'] -ne 'false') {
        if (-not $ServiceAccount) { throw 'The pod mounts its service account''s token (automountServiceAccountToken), but the e2e runner was given no -ServiceAccount' }
        $arguments.Add("--mount=type=bind,source=$($ServiceAccount.Path),destination=/var/run/secrets/kubernetes.io/serviceaccount,ro=true")
        # The kubelet gives every container the API server's address (the kubernetes Service), enableServiceLinks or not.
        $arguments.Add("--env=KUBERNETES_SERVICE_HOST=$($ServiceAccount.Host)")
        $arguments.Add("--env=KUBERNETES_SERVICE_PORT=$($ServiceAccount.Port)")
    }
    if ($Spec['hostPID'] -eq 'true') { $arguments.Add('--pid=host') }

    $context = $Container['securityContext'] ?? @{}
    foreach ($key in $context.Keys) {
        if ($key -notin $KnownSecurityContext) { throw "securityContext.$key of container $($Container['name']) is not handled by the e2e runner" }
    }
    $privileged = $context['privileged'] -eq 'true'
    if ($privileged) {
        # Kubernetes runs a privileged container unconfined (no seccomp), with every capability.
        $arguments.Add('--privileged')
    }
    else {
        $seccomp = (Get-Field $context seccompProfile type) ?? (Get-Field $Spec securityContext seccompProfile type)
        switch ($seccomp) {
            'RuntimeDefault' { $arguments.Add("--security-opt=seccomp=$SeccompProfile") }
            'Unconfined' { $arguments.Add('--security-opt=seccomp=unconfined') }
            $null { $arguments.Add('--security-opt=seccomp=unconfined') } # the kubelet's default without a profile
            default { throw "seccompProfile type $seccomp is not handled by the e2e runner" }
        }
    }
    if ($context.Contains('runAsUser')) { $arguments.Add("--user=$($context['runAsUser'])") }
    if ($context['allowPrivilegeEscalation'] -eq 'false') { $arguments.Add('--security-opt=no-new-privileges') }
    if ($context.Contains('capabilities')) {
        foreach ($cap in @(Get-Field $context capabilities drop)) { if ($cap) { $arguments.Add("--cap-drop=$cap") } }
        foreach ($cap in @(Get-Field $context capabilities add)) { if ($cap) { $arguments.Add("--cap-add=$cap") } }
    }
    if ($context['readOnlyRootFilesystem'] -eq 'true') {
        # Only the root is read-only: podman would otherwise add tmpfs at /tmp, /run and /var/tmp, which a pod lacks.
        $arguments.AddRange([string[]]@('--read-only', '--read-only-tmpfs=false'))
    }

    $memory = Get-Field $Container resources limits memory
    if ($memory) {
        $bytes = ConvertTo-Bytes $memory
        # No swap on a Kubernetes node: the limit is the memory the container may use.
        $arguments.AddRange([string[]]@("--memory=$bytes", "--memory-swap=$bytes"))
    }

    foreach ($variable in $Container['env'] ?? @()) {
        if ($variable.Contains('value')) { $value = $variable['value'] }
        elseif ((Get-Field $variable valueFrom fieldRef fieldPath) -eq 'spec.nodeName') { $value = $NodeName }
        else { throw "env $($variable['name']): only value and fieldRef spec.nodeName are handled by the e2e runner" }
        $arguments.Add("--env=$($variable['name'])=$value")
    }

    foreach ($mount in $Container['volumeMounts'] ?? @()) {
        $volume = $Volumes[$mount['name']]
        if (-not $volume) { throw "volumeMount $($mount['name']) names no volume of the pod" }
        $readOnly = $mount['readOnly'] -eq 'true'
        $destination = $mount['mountPath']
        if ($volume.Kind -eq 'emptyDir' -and $volume.Memory) {
            # tmpfs straight from podman; notmpcopyup: nothing of the image is copied in (and the copy fails under a bind mount).
            $options = "type=tmpfs,destination=$destination,notmpcopyup"
            if ($volume.Size) { $options += ",tmpfs-size=$($volume.Size)" }
            if ($readOnly) { $options += ',ro=true' }
            $arguments.Add("--mount=$options")
        }
        else {
            # The kubelet binds hostPath and ConfigMap folders recursively, with private propagation.
            $options = "type=bind,source=$($volume.Path),destination=$destination,bind-propagation=rprivate"
            if ($readOnly) { $options += ',ro=true' }
            $arguments.Add("--mount=$options")
        }
    }
    if ($Container.Contains('workingDir') -or $Container.Contains('command')) {
        throw "command and workingDir of container $($Container['name']) are not handled by the e2e runner"
    }
    return $arguments
}

function Start-PodContainer {
    # podman run -d (or, with -Wait, run to the end); returns the container name.
    param(
        [Parameter(Mandatory)] $Spec,
        [Parameter(Mandatory)] [string] $ContainerName,
        [Parameter(Mandatory)] [hashtable] $Volumes,
        [Parameter(Mandatory)] [string] $Name,
        [Parameter(Mandatory)] [string] $Image,
        [Parameter(Mandatory)] [string] $SeccompProfile,
        [string] $NetworkNamespace,
        [hashtable] $ServiceAccount
    )
    $container = Get-PodContainer $Spec $ContainerName
    $arguments = @('run', '--detach') + (Get-PodmanRunArguments -Spec $Spec -Container $container -Volumes $Volumes -Name $Name -SeccompProfile $SeccompProfile `
            -NetworkNamespace $NetworkNamespace -ServiceAccount $ServiceAccount) +
        @($Image) + @($container['args'] ?? @())
    Invoke-Podman $arguments | Out-Null
    return $Name
}

function Wait-PodContainerExit {
    # The exit code, or $null when the container still runs after the timeout.
    param([Parameter(Mandatory)] [string] $Name, [TimeSpan] $Timeout = [TimeSpan]::FromMinutes(5))
    $deadline = [DateTime]::UtcNow + $Timeout
    while ([DateTime]::UtcNow -lt $deadline) {
        # While a container exits, podman inspect can fail for a moment ("read /proc/PID/cgroup: no such
        # process"): measured here; the next reading is good.
        $state = Invoke-Podman @('inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', $Name) -AllowFailure
        if ($LASTEXITCODE -eq 0) {
            $status, $code = "$state" -split ' '
            if ($status -in 'exited', 'stopped') { return [int]$code }
        }
        Start-Sleep -Milliseconds 500
    }
    return $null
}

function Get-PodContainerPid {
    param([Parameter(Mandatory)] [string] $Name)
    return [int](Invoke-Podman @('inspect', '--format', '{{.State.Pid}}', $Name))
}

function Get-PodContainerLog {
    # The container's stdout as JSON objects (lines that are not JSON are returned as text).
    param([Parameter(Mandatory)] [string] $Name)
    foreach ($line in Invoke-Podman @('logs', $Name)) {
        if ("$line".StartsWith('{')) { try { "$line" | ConvertFrom-Json; continue } catch { } }
        "$line"
    }
}

function Invoke-PodProbe {
    # Runs a probe of the manifest (exec or httpGet) once against the running container; $true when it passes.
    param([Parameter(Mandatory)] [string] $Name, [Parameter(Mandatory)] $Probe, $Container)
    $timeout = [int]($Probe['timeoutSeconds'] ?? 1)
    if ($Probe.Contains('exec')) {
        $command = @($Probe['exec']['command'])
        & timeout "${timeout}s" podman exec $Name @command *> $null
        return $LASTEXITCODE -eq 0
    }
    if ($Probe.Contains('httpGet')) {
        # The kubelet connects from the node to the pod's IP; the pod is not hostNetwork, so the GET runs in the
        # container's network namespace, against its loopback (a named port is looked up in the container's ports).
        $get = $Probe['httpGet']
        $port = $get['port']
        if ($port -notmatch '^\d+$') {
            $named = @($Container['ports'] ?? @()) | Where-Object { $_['name'] -eq $port } | Select-Object -First 1
            if (-not $named) { throw "httpGet probe names port '$port', which the container does not declare" }
            $port = $named['containerPort']
        }
        $scheme = ($get['scheme'] ?? 'HTTP').ToLowerInvariant()
        $path = $get['path'] ?? '/'
        $target = Get-PodContainerPid $Name
        $status = & nsenter "--net=/proc/$target/ns/net" curl -sk -o /dev/null -w '%{http_code}' -m $timeout "${scheme}://127.0.0.1:$port$path" 2>$null
        # The kubelet's rule: a status from 200 to 399 passes.
        return ([int]("$status" -replace '\D', '0')) -ge 200 -and [int]"$status" -lt 400
    }
    throw "Probe kind not handled by the e2e runner: $(@($Probe.Keys) -join ', ')"
}

function Get-PodContainerMemory {
    # The container's memory cgroup (v1): the most it has used, its limit, and whether the OOM killer ended it.
    param([Parameter(Mandatory)] [string] $Name)
    $id = Invoke-Podman @('inspect', '--format', '{{.Id}}', $Name)
    $usage = Get-ChildItem /sys/fs/cgroup/memory -Recurse -Directory -Filter "*$id*" -ErrorAction SilentlyContinue |
        ForEach-Object { Join-Path $_.FullName 'memory.max_usage_in_bytes' } | Where-Object { Test-Path $_ } | Select-Object -First 1
    if (-not $usage) { throw "The memory cgroup of container $Name ($id) was not found under /sys/fs/cgroup/memory" }
    [pscustomobject]@{
        MaxUsage = [long](Get-Content $usage)
        Limit = [long](Get-Content (Join-Path (Split-Path $usage) 'memory.limit_in_bytes'))
        OOMKilled = (Invoke-Podman @('inspect', '--format', '{{.State.OOMKilled}}', $Name)) -eq 'true'
    }
}

function Remove-PodContainer {
    param([Parameter(Mandatory)] [string] $Name)
    Invoke-Podman @('rm', '--force', '--time', '0', $Name) -AllowFailure | Out-Null
}
