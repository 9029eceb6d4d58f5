<#
.SYNOPSIS
    Builds the container image localhost/aks-auditd:dev with podman from local roots only (no registry).
.DESCRIPTION
    image/Dockerfile needs mcr.microsoft.com, which a CI or air-gapped machine cannot reach. This builds the
    same image from what the machine has:
      - a Debian 12 root (tools/prepare-node-root.sh; copied, never changed) instead of the Azure Linux runtime
        image: it has sh, bash, find and chroot, which the probe and the cmdlets use; with OpenSSL added
        (tools/prepare-image-packages.sh), which the runtime image has and .NET's TLS loads;
      - the .NET runtime of the machine's SDK, at /usr/share/dotnet with /usr/bin/dotnet, as the runtime image
        has it;
      - the file tree of the Dockerfile's final stage (build.ps1 image-layout -ReadyToRun).
    ARG, LABEL, ENV and ENTRYPOINT are the Dockerfile's final-stage lines themselves, read from the Dockerfile,
    so the two images run the entrypoint with the same settings.
    podman reads the project's image/podman/containers.conf through CONTAINERS_CONF.
    build.ps1 calls it: dotnet pwsh ./build.ps1 container
.EXAMPLE
    ./image/Build-LocalImage.ps1 -Layout out/container/layout
.EXAMPLE
    ./image/Build-LocalImage.ps1 -Layout out/container/layout -Tag localhost/aks-auditd:test -WorkDirectory /tmp/ctx
#>
[CmdletBinding()]
param(
    # The image's file tree (build.ps1 image-layout -ReadyToRun -ImageRoot <Layout>).
    [Parameter(Mandatory)]
    [string] $Layout,

    [string] $Tag = 'localhost/aks-auditd:dev',

    # The Debian 12 root tools/prepare-node-root.sh caches; read only.
    [string] $BaseRoot = '/var/cache/aks-auditd-tests/debootstrap-bookworm',

    # OpenSSL for the root, as the runtime base image has it (tools/prepare-image-packages.sh).
    [string] $PackageCache = '/var/cache/aks-auditd-tests/image-debs-bookworm',

    # Where the machine's .NET lives (the SDK's shared runtimes).
    [string] $DotnetRoot = '/usr/share/dotnet',

    # The build context; deleted afterwards.
    [string] $WorkDirectory = (Join-Path ([System.IO.Path]::GetTempPath()) "aks-auditd-image-$([guid]::NewGuid().ToString('n'))")
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0
. (Join-Path $PSScriptRoot 'Sandbox.ps1')
. (Join-Path $PSScriptRoot 'podman/Podman.ps1')

$layoutPath = $PSCmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath($Layout)
foreach ($required in 'app/entrypoint.ps1', 'usr/local/bin/pwsh', 'opt/microsoft/powershell/7/pwsh.dll') {
    if (-not (Test-Path -LiteralPath (Join-Path $layoutPath $required))) {
        throw "The image layout at $layoutPath has no $required (run: dotnet pwsh ./build.ps1 image-layout -ReadyToRun -ImageRoot $Layout)"
    }
}
if (-not (Test-Path -LiteralPath (Join-Path $BaseRoot 'usr/bin/find'))) {
    throw "No Debian root at $BaseRoot (run: bash tools/prepare-node-root.sh)"
}
foreach ($tool in 'bin/sh', 'bin/bash', 'usr/bin/find', 'usr/sbin/chroot', 'usr/lib/x86_64-linux-gnu/libstdc++.so.6') {
    # What the probe, the cmdlets and the .NET runtime need from the base; a root without them builds an image
    # that fails only when the pod runs.
    if (-not (Test-Path -LiteralPath (Join-Path $BaseRoot $tool))) { throw "The base root $BaseRoot has no /$tool" }
}

# The runtime pwsh asks for (pwsh.runtimeconfig.json), from the machine's SDK.
$runtimeConfig = Get-Content -Raw (Join-Path $layoutPath 'opt/microsoft/powershell/7/pwsh.runtimeconfig.json') | ConvertFrom-Json
$frameworks = @($runtimeConfig.runtimeOptions.PSObject.Properties['framework'] ? $runtimeConfig.runtimeOptions.framework : $runtimeConfig.runtimeOptions.frameworks)
$wanted = [version]($frameworks | Where-Object name -eq 'Microsoft.NETCore.App').version
$runtime = Get-ChildItem (Join-Path $DotnetRoot 'shared/Microsoft.NETCore.App') -Directory |
    Where-Object { $v = [version]$_.Name; $v.Major -eq $wanted.Major -and $v.Minor -eq $wanted.Minor -and $v -ge $wanted } |
    Sort-Object { [version]$_.Name } -Descending | Select-Object -First 1
if (-not $runtime) { throw "No Microsoft.NETCore.App $($wanted.Major).$($wanted.Minor) (>= $wanted) under $DotnetRoot/shared" }
$hostFxr = Get-ChildItem (Join-Path $DotnetRoot 'host/fxr') -Directory | Sort-Object { [version]$_.Name } -Descending | Select-Object -First 1

# The final stage's settings, as written in the Dockerfile: everything but FROM, RUN and COPY, which the local
# root replaces.
$settings = @(Read-Dockerfile | Where-Object { $_.IsFinalStage -and $_.Keyword -notin 'FROM', 'RUN', 'COPY' })
if (-not ($settings | Where-Object Keyword -eq 'ENTRYPOINT') -or -not ($settings | Where-Object Keyword -eq 'ENV')) {
    throw 'image/Dockerfile has no ENTRYPOINT or ENV in its final stage'
}

try {
    $rootfs = Join-Path $WorkDirectory 'rootfs'
    New-Item -ItemType Directory -Force $rootfs | Out-Null
    Invoke-Checked cp @('-a', "$BaseRoot/.", $rootfs)
    # Left behind by tools/prepare-node-root.sh; not part of an image.
    Remove-Item -Force -ErrorAction SilentlyContinue (Join-Path $rootfs '.aks-auditd-root-complete')
    # What the .NET runtime base image has beside the runtime: OpenSSL, which .NET's TLS loads (the fleet-status
    # component's client speaks HTTPS to the API server). Installed by the root's own dpkg, so its database knows it.
    $packages = @(Get-ChildItem -LiteralPath $PackageCache -Filter '*.deb' -ErrorAction SilentlyContinue)
    if (-not $packages) { throw "No packages in $PackageCache for the image's OpenSSL: run tools/prepare-image-packages.sh" }
    $staged = Join-Path $rootfs 'tmp/aks-auditd-image-debs'
    New-Item -ItemType Directory -Force $staged | Out-Null
    Copy-Item -LiteralPath $packages.FullName -Destination $staged
    Invoke-Checked chroot (@($rootfs, 'dpkg', '--install', '--force-confold') + @($packages | ForEach-Object { "/tmp/aks-auditd-image-debs/$($_.Name)" })) | Out-Null
    Remove-Item -LiteralPath $staged -Recurse -Force
    $dotnet = Join-Path $rootfs 'usr/share/dotnet'
    New-Item -ItemType Directory -Force (Join-Path $dotnet 'shared/Microsoft.NETCore.App'), (Join-Path $dotnet 'host/fxr') | Out-Null
    Invoke-Checked cp @('-a', (Join-Path $DotnetRoot 'dotnet'), $dotnet)
    Invoke-Checked cp @('-a', $runtime.FullName, (Join-Path $dotnet 'shared/Microsoft.NETCore.App/'))
    Invoke-Checked cp @('-a', $hostFxr.FullName, (Join-Path $dotnet 'host/fxr/'))
    Invoke-Checked ln @('-sf', '../share/dotnet/dotnet', (Join-Path $rootfs 'usr/bin/dotnet'))
    Invoke-Checked cp @('-a', "$layoutPath/.", $rootfs)

    $containerfile = [System.Collections.Generic.List[string]]::new()
    $containerfile.Add('# Generated by image/Build-LocalImage.ps1 from image/Dockerfile''s final stage; do not edit.')
    $containerfile.Add('FROM scratch')
    $containerfile.Add('COPY rootfs/ /')
    # What the .NET runtime base image sets for every process (it is not in our Dockerfile, but in its FROM).
    $containerfile.Add("ENV DOTNET_RUNNING_IN_CONTAINER=true DOTNET_VERSION=$($runtime.Name)")
    foreach ($instruction in $settings) { $containerfile.Add("$($instruction.Keyword) $($instruction.Arguments)") }
    [System.IO.File]::WriteAllLines((Join-Path $WorkDirectory 'Containerfile'), $containerfile)

    $previous = Invoke-Podman @('images', '--quiet', '--no-trunc', $Tag)
    Invoke-Podman @('build', '--quiet', '--pull=never', '--network=none', '-f', (Join-Path $WorkDirectory 'Containerfile'), '-t', $Tag, $WorkDirectory) | Out-Null
    # A rebuild leaves the previous image untagged: remove it (it fails harmlessly while a container uses it).
    $current = Invoke-Podman @('images', '--quiet', '--no-trunc', $Tag)
    foreach ($id in @($previous) | Where-Object { $_ -and $_ -notin @($current) }) {
        Invoke-Podman @('rmi', $id) -AllowFailure | Out-Null
    }
    Write-Host "Built $Tag (Debian 12 root, .NET $($runtime.Name), layout $layoutPath)"
}
finally {
    if (Test-Path -LiteralPath $WorkDirectory) { Invoke-Checked rm @('-rf', '--', $WorkDirectory) }
}
