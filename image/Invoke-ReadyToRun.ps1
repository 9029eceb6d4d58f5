<#
.SYNOPSIS
    Compiles the image's PowerShell engine and the AksAuditd module ahead of time (ReadyToRun), in place.
.DESCRIPTION
    The PowerShell package the image copies (the dotnet tool pinned in .config/dotnet-tools.json) ships IL only,
    so every process JIT-compiles the engine it uses: on the DaemonSet's idle loop that is seconds of CPU at each
    start and megabytes of compiled code and compiler memory on every node, for the life of the pod. ReadyToRun
    code is mapped from the file instead (README, "Resource use and runtime settings").

    Compiled: the engine assemblies any pwsh session loads (pwsh, System.Management.Automation, the
    Microsoft.PowerShell.* command assemblies, Newtonsoft.Json, Microsoft.ApplicationInsights) and every
    assembly of the module but KubernetesClient. The other assemblies of the package (CodeAnalysis, WCF,
    Windows-only libraries) stay IL: compiling them would double their size in the image for code the loop never
    runs. KubernetesClient stays IL too: ReadyToRun makes its 12 MB file 28 MB, of which 13.6 MB is resident
    when the fleet-status component is on, against 6.8 MB of the IL file, for code that runs once every few
    minutes (a status patch) and costs a few hundred JIT compilations once (measured, README "Fleet view"; the
    same holds for KubernetesClient.Aot: 15.1 against 7.1 MB).

    The compiler is the SDK's own crossgen2 (tools/restore/crossgen2/Crossgen2.Restore.csproj), and the code binds
    to the runtime pack of the runtime that SDK bundles, as `dotnet publish -p:PublishReadyToRun=true` does. It
    targets this machine's architecture, or -TargetArchitecture: the Dockerfile's build stage runs on the build
    machine ($BUILDPLATFORM, never under emulation) and compiles for each platform of a multi-platform build. An assembly that is already ReadyToRun is left as it is, so a second run
    changes nothing.

    Called by the Dockerfile's build stage and by `build.ps1 image-layout -ReadyToRun`.
.EXAMPLE
    ./image/Invoke-ReadyToRun.ps1 -PowerShellHome /opt/microsoft/powershell/7 -ModulePath /src/out/AksAuditd
#>
[CmdletBinding(SupportsShouldProcess)]
param(
    # PowerShell's folder as the image has it (a copy: its engine assemblies are replaced).
    [Parameter(Mandatory)]
    [string] $PowerShellHome,

    # The staged module (build.ps1 build writes out/AksAuditd).
    [Parameter(Mandatory)]
    [string] $ModulePath,

    # The architecture the image runs on: x64 or arm64 (amd64, Docker's name for x64, is taken too). Empty means
    # this machine's, as the SDK sees it.
    [AllowEmptyString()]
    [ValidateSet('', 'x64', 'amd64', 'arm64')]
    [string] $TargetArchitecture = ''
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

# The engine assemblies a pwsh session loads, by file name in $PSHOME.
$engineAssemblies = @(
    'pwsh.dll', 'System.Management.Automation.dll', 'Microsoft.PowerShell.*.dll',
    'Newtonsoft.Json.dll', 'Microsoft.ApplicationInsights.dll'
)

# Module dependencies left IL (see the description): compiled, they would cost more memory than they save.
$keptIL = @('KubernetesClient.dll')

function Get-ReadyToRunToolset {
    # Where the SDK keeps its crossgen2 and the target's runtime pack: restore the helper project, then ask
    # MSBuild, which resolves both exactly as `dotnet publish -r linux-<arch> -p:PublishReadyToRun=true` would.
    param([string] $Architecture)
    $project = Join-Path (Split-Path $PSScriptRoot) 'tools/restore/crossgen2/Crossgen2.Restore.csproj'
    $properties = @(if ($Architecture) { "-p:TargetArchitecture=$Architecture" })
    $restore = & dotnet restore $project --nologo -v q @properties 2>&1
    if ($LASTEXITCODE -ne 0) { throw "Cannot restore crossgen2 ($project): $($restore -join [Environment]::NewLine)" }
    $answer = & dotnet msbuild $project -nologo @properties -t:ResolveFrameworkReferences,ResolveReadyToRunCompilers `
        -getItem:Crossgen2Tool -getItem:ResolvedRuntimePack 2>&1
    if ($LASTEXITCODE -ne 0) { throw "MSBuild cannot resolve crossgen2 ($project): $($answer -join [Environment]::NewLine)" }
    $items = ($answer -join "`n" | ConvertFrom-Json).Items
    $tool = @($items.Crossgen2Tool)
    if ($tool.Count -ne 1 -or -not (Test-Path -LiteralPath $tool[0].Identity)) {
        throw "MSBuild named no crossgen2 for $project"
    }
    $pack = @($items.ResolvedRuntimePack | Where-Object FrameworkName -eq 'Microsoft.NETCore.App')
    # The pack holds one framework folder (runtimes/<rid>/lib/net10.0) with the target's assemblies.
    $runtime = if ($pack.Count -eq 1) {
        $lib = Join-Path $pack[0].PackageDirectory "runtimes/$($pack[0].RuntimeIdentifier)/lib"
        @(Get-ChildItem -LiteralPath $lib -Directory -ErrorAction Ignore |
            Where-Object { Test-Path -LiteralPath (Join-Path $_.FullName 'System.Private.CoreLib.dll') }) |
            Select-Object -First 1 -ExpandProperty FullName
    }
    if (-not $runtime) {
        throw "MSBuild named no Microsoft.NETCore.App runtime pack with System.Private.CoreLib.dll for $project"
    }
    return [pscustomobject]@{ Crossgen2 = $tool[0].Identity; TargetArch = $tool[0].TargetArch; RuntimeDirectory = $runtime }
}

function Test-ReadyToRunCandidate {
    # True for an IL-only managed assembly: not native, not a reference assembly, not compiled already.
    param([string] $Path)
    $stream = [System.IO.File]::OpenRead($Path)
    try {
        $reader = [System.Reflection.PortableExecutable.PEReader]::new($stream)
        try {
            if (-not $reader.HasMetadata) { return $false }
            if ($reader.PEHeaders.CorHeader.ManagedNativeHeaderDirectory.Size -gt 0) { return $false }
            $metadata = [System.Reflection.Metadata.PEReaderExtensions]::GetMetadataReader($reader)
            foreach ($handle in $metadata.GetAssemblyDefinition().GetCustomAttributes()) {
                $attribute = $metadata.GetCustomAttribute($handle)
                if ($attribute.Constructor.Kind -ne [System.Reflection.Metadata.HandleKind]::MemberReference) { continue }
                $parent = $metadata.GetMemberReference([System.Reflection.Metadata.MemberReferenceHandle]$attribute.Constructor).Parent
                if ($parent.Kind -ne [System.Reflection.Metadata.HandleKind]::TypeReference) { continue }
                $type = $metadata.GetTypeReference([System.Reflection.Metadata.TypeReferenceHandle]$parent)
                if ($metadata.GetString($type.Name) -eq 'ReferenceAssemblyAttribute') { return $false }
            }
            return $true
        }
        finally { $reader.Dispose() }
    }
    catch [System.BadImageFormatException] {
        return $false
    }
    finally { $stream.Dispose() }
}

$powerShellHome = $PSCmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath($PowerShellHome)
$modulePath = $PSCmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath($ModulePath)
if (-not (Test-Path -LiteralPath (Join-Path $powerShellHome 'System.Management.Automation.dll'))) {
    throw "No PowerShell at $powerShellHome (System.Management.Automation.dll is missing)"
}
if (-not (Test-Path -LiteralPath (Join-Path $modulePath 'AksAuditd.psd1'))) {
    throw "No staged module at $modulePath (run: dotnet pwsh ./build.ps1 build)"
}
if ((Get-Item -LiteralPath $powerShellHome).LinkType) {
    throw "$powerShellHome is a link: compiling in place would change the PowerShell it points to. Copy it first."
}

$targets = @(
    foreach ($pattern in $engineAssemblies) { Get-ChildItem -LiteralPath $powerShellHome -Filter $pattern -File }
    Get-ChildItem -LiteralPath $modulePath -Filter '*.dll' -File -Recurse | Where-Object Name -notin $keptIL
) | Sort-Object FullName -Unique | Where-Object { Test-ReadyToRunCandidate $_.FullName }
if (-not $targets) {
    Write-Verbose 'Every assembly is ReadyToRun already'
    return
}

# The architecture as MSBuild resolved it for crossgen2 (the SDK's own unless asked): the code must match the
# runtime that loads it (a wrong one is a BadImageFormatException, not a fallback to the JIT), and the kernel's
# can differ from the SDK's.
$toolset = Get-ReadyToRunToolset $(if ($TargetArchitecture -eq 'amd64') { 'x64' } else { $TargetArchitecture })
$architecture = $toolset.TargetArch
if ($architecture -notin 'x64', 'arm64') {
    throw "crossgen2 targets '$architecture'; the image is built for x64 and arm64 only"
}
$runtimeDirectory = $toolset.RuntimeDirectory
# What the compiled code may bind to: the runtime, PowerShell, and the module with its Dependencies folder.
# Named file by file: crossgen2 refuses a reference with the simple name of the assembly it compiles.
$references = @(
    foreach ($folder in $runtimeDirectory, $powerShellHome, $modulePath, (Join-Path $modulePath 'Dependencies')) {
        if (Test-Path -LiteralPath $folder) { Get-ChildItem -LiteralPath $folder -Filter '*.dll' -File }
    }
) | Where-Object { $_.Extension -eq '.dll' }
Write-Verbose "crossgen2 $($toolset.Crossgen2) for linux-$architecture, binding to $runtimeDirectory"

foreach ($assembly in $targets) {
    if (-not $PSCmdlet.ShouldProcess($assembly.FullName, 'Compile ReadyToRun')) { continue }
    $compiled = "$($assembly.FullName).r2r.tmp"
    # A response file: the references are a few hundred paths.
    $responseFile = "$($assembly.FullName).r2r.rsp"
    try {
        $arguments = @($assembly.FullName, '-o', $compiled, '--targetos', 'linux', '--targetarch', $architecture, '-O')
        $arguments += foreach ($reference in $references | Where-Object { $_.BaseName -ne $assembly.BaseName }) { '-r', $reference.FullName }
        [System.IO.File]::WriteAllLines($responseFile, [string[]]$arguments)
        $output = & $toolset.Crossgen2 "@$responseFile" 2>&1
        if ($LASTEXITCODE -ne 0) {
            throw "crossgen2 failed on $($assembly.FullName) (exit code $LASTEXITCODE): $($output -join [Environment]::NewLine)"
        }
        # The file's mode (an executable bit) is kept: the compiled assembly takes the original's place.
        $mode = $assembly.UnixFileMode
        Move-Item -LiteralPath $compiled -Destination $assembly.FullName -Force
        [System.IO.File]::SetUnixFileMode($assembly.FullName, $mode)
    }
    finally {
        # Whatever failed, nothing of ours is left beside the assembly (the layout is copied as it is).
        foreach ($leftover in $responseFile, $compiled) { Remove-Item -LiteralPath $leftover -Force -ErrorAction Ignore }
    }
    Write-Verbose "Compiled $($assembly.FullName)"
}
