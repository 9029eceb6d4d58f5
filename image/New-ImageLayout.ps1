<#
.SYNOPSIS
    Writes the file tree of the AksAuditd container image into a folder, without Docker.
.DESCRIPTION
    The same paths, with the same content, as the COPY lines of image/Dockerfile's final stage: PowerShell,
    the pwsh launcher, the module, the default config.yaml and the entrypoint. The base image (.NET runtime,
    sh, find, chroot) is not part of it: on this machine those come from the machine.
    Tests run the entrypoint from this tree as the image would, with <Destination> standing for /; a test
    parses the Dockerfile and fails when the two disagree.
    build.ps1 calls it: dotnet pwsh ./build.ps1 image-layout
.EXAMPLE
    ./image/New-ImageLayout.ps1 -ModulePath out/AksAuditd -Destination out/image
    With -ReadyToRun the layout is what the image holds after its build stage compiled PowerShell's engine and
    the module ahead of time (image/Invoke-ReadyToRun.ps1): the tree to measure memory and CPU on.
.EXAMPLE
    ./image/New-ImageLayout.ps1 -ModulePath out/AksAuditd -Destination /tmp/layout -LinkPowerShell
.EXAMPLE
    ./image/New-ImageLayout.ps1 -ModulePath out/AksAuditd -Destination out/image -ReadyToRun
#>
[CmdletBinding()]
param(
    # The staged module (build.ps1 build writes out/AksAuditd).
    [Parameter(Mandatory)]
    [string] $ModulePath,

    # The folder that stands for the image's /. Emptied first.
    [Parameter(Mandatory)]
    [string] $Destination,

    # The PowerShell the image runs. The default is the one running this script: under `dotnet pwsh` that is
    # the package pinned in .config/dotnet-tools.json, which is also what the Dockerfile copies.
    [string] $PowerShellHome = $PSHOME,

    # Link PowerShell's folder instead of copying its 60 MB; for tests that write many layouts.
    [switch] $LinkPowerShell,

    # Compile PowerShell's engine and the module ahead of time, as the Dockerfile's build stage does.
    [switch] $ReadyToRun
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

$imageDir = $PSScriptRoot
$modulePath = $PSCmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath($ModulePath)
$root = $PSCmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath($Destination)
if (-not (Test-Path -LiteralPath (Join-Path $modulePath 'AksAuditd.psd1'))) {
    throw "No staged module at $modulePath (run: dotnet pwsh ./build.ps1 build)"
}
if ($ReadyToRun -and $LinkPowerShell) {
    throw '-ReadyToRun compiles the layout''s PowerShell in place, so it cannot be linked: leave out -LinkPowerShell'
}

# Image path => what is copied there; one entry per COPY line of the Dockerfile's final stage.
$layout = [ordered]@{
    '/opt/microsoft/powershell/7'                    = $PowerShellHome
    '/usr/local/bin/pwsh'                            = Join-Path $imageDir 'pwsh'
    '/usr/local/share/powershell/Modules/AksAuditd'  = $modulePath
    '/etc/aks-auditd/config.yaml'                    = Join-Path $imageDir 'config.yaml'
    '/app/entrypoint.ps1'                            = Join-Path $imageDir 'entrypoint.ps1'
}

if (Test-Path -LiteralPath $root) {
    # A linked PowerShell folder is removed as a link first, so emptying the layout never reaches into $PSHOME.
    $linked = Join-Path $root 'opt/microsoft/powershell/7'
    if ((Test-Path -LiteralPath $linked) -and (Get-Item -LiteralPath $linked -Force).LinkType) {
        [System.IO.File]::Delete($linked)
    }
    Remove-Item -LiteralPath $root -Recurse -Force
}

foreach ($entry in $layout.GetEnumerator()) {
    $target = Join-Path $root $entry.Key.TrimStart('/')
    New-Item -ItemType Directory -Force -Path (Split-Path $target) | Out-Null
    if ($entry.Key -eq '/opt/microsoft/powershell/7' -and $LinkPowerShell) {
        New-Item -ItemType SymbolicLink -Path $target -Target $entry.Value | Out-Null
    }
    elseif (Test-Path -LiteralPath $entry.Value -PathType Container) {
        # Like COPY <dir> <dest>: the folder's content lands in <dest>.
        Copy-Item -LiteralPath $entry.Value -Destination $target -Recurse
    }
    else {
        Copy-Item -LiteralPath $entry.Value -Destination $target
    }
}

if ($ReadyToRun) {
    & (Join-Path $imageDir 'Invoke-ReadyToRun.ps1') -PowerShellHome (Join-Path $root 'opt/microsoft/powershell/7') `
        -ModulePath (Join-Path $root 'usr/local/share/powershell/Modules/AksAuditd')
}

Write-Verbose "Image layout written to $root"
Get-Item -LiteralPath $root
