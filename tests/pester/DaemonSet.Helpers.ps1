# Helpers for DaemonSet.Tests.ps1 on top of image/Sandbox.ps1 (the sandbox node, the ConfigMap volume, the
# Dockerfile as data, the entrypoint as a process). Dot-sourced by the tests; not a *.Tests.ps1 file.

$script:RepoRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
. (Join-Path $RepoRoot 'image/Sandbox.ps1')

function Get-DockerfileCopy {
    # The final stage's COPY lines: (From, Source, Destination).
    foreach ($copy in Read-Dockerfile | Where-Object { $_.IsFinalStage -and $_.Keyword -eq 'COPY' }) {
        $words = $copy.Arguments -split '\s+'
        $from = ($words | Where-Object { $_ -like '--from=*' }) -replace '^--from=', ''
        $paths = @($words | Where-Object { $_ -notlike '--*' })
        if ($paths.Count -ne 2) { throw "COPY with other than one source and one destination: $($copy.Arguments)" }
        [pscustomobject]@{ From = $from; Source = $paths[0]; Destination = $paths[1] }
    }
}

function New-TestImageLayout {
    # The tree `build.ps1 image-layout` writes, in a temporary folder (PowerShell linked, not copied).
    $root = Join-Path ([System.IO.Path]::GetTempPath()) "aks-auditd-layout-$([guid]::NewGuid().ToString('n'))"
    $null = & (Join-Path $RepoRoot 'image/New-ImageLayout.ps1') -ModulePath $env:AKSAUDITD_MODULE -Destination $root -LinkPowerShell
    return $root
}

function Remove-TestImageLayout {
    param([string] $Root)
    $linked = Join-Path $Root 'opt/microsoft/powershell/7'
    if ((Test-Path -LiteralPath $linked) -and (Get-Item -LiteralPath $linked -Force).LinkType) { [System.IO.File]::Delete($linked) }
    Remove-Item -LiteralPath $Root -Recurse -Force -ErrorAction SilentlyContinue
}

function Get-FileTree {
    # Relative path => SHA-256 of every file under a folder (links followed), for comparing trees.
    param([string] $Path)
    $tree = @{}
    $item = Get-Item -LiteralPath $Path -Force
    if (-not $item.PSIsContainer) {
        $tree[''] = (Get-FileHash -LiteralPath $Path -Algorithm SHA256).Hash
        return $tree
    }
    $base = $item.FullName.TrimEnd('/') + '/'
    foreach ($file in [System.IO.Directory]::EnumerateFiles($item.FullName, '*', [System.IO.SearchOption]::AllDirectories)) {
        $tree[$file.Substring($base.Length)] = (Get-FileHash -LiteralPath $file -Algorithm SHA256).Hash
    }
    return $tree
}

