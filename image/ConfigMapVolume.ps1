<#
.SYNOPSIS
    A ConfigMap volume as the kubelet writes it, for the demo and the tests (dot-source this file).
.DESCRIPTION
    The kubelet's atomic writer keeps each version of the data in its own folder and swaps one link:
        <volume>/..2026_11_29_08_00_00.123456789/<key>    the files of one version
        <volume>/..data -> ..2026_11_29_08_00_00.123456789
        <volume>/<key>  -> ..data/<key>                    what a container sees
    An update writes a new timestamped folder, points a temporary link at it and renames that link over
    ..data (rename(2) is atomic: a reader sees the old set or the new one, never a mix), then adds and
    removes the visible links and deletes the old folder. The entrypoint must cope with exactly this.
#>

function Read-ConfigMapData {
    # The data of a ConfigMap manifest as key => text. Only the shapes our manifests use: keys under a
    # top-level "data:" whose values are literal blocks (|, |-, |+) or single-line scalars; anything else
    # fails loudly rather than being misread.
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Path)
    $lines = [System.IO.File]::ReadAllLines($Path)
    $data = [ordered]@{}
    $start = [Array]::IndexOf($lines, 'data:')
    if ($start -lt 0) { throw "$Path has no top-level 'data:' mapping" }
    $i = $start + 1
    while ($i -lt $lines.Count) {
        $line = $lines[$i]
        if ($line -match '^\S') { break }
        if ($line -match '^\s*(#.*)?$') { $i++; continue }
        if ($line -notmatch '^  (?<key>[A-Za-z0-9._-]+):\s*(?<value>.*)$') { throw "${Path}:$($i + 1): unexpected line in data: '$line'" }
        $key = $Matches.key
        $value = $Matches.value
        $i++
        if ($value -match '^\|(?<chomp>[-+]?)$') {
            $chomp = $Matches.chomp
            $block = [System.Collections.Generic.List[string]]::new()
            while ($i -lt $lines.Count -and ($lines[$i] -match '^    ' -or $lines[$i] -match '^\s*$')) {
                $block.Add($(if ($lines[$i].Length -ge 4) { $lines[$i].Substring(4) } else { '' }))
                $i++
            }
            $text = ($block -join "`n")
            switch ($chomp) {
                '-' { $text = $text.TrimEnd("`n") }
                '+' { $text = $text + "`n" }
                default { $text = $text.TrimEnd("`n") + "`n" }
            }
            $data[$key] = $text
        }
        elseif ($value -match '^(?<q>["'']?)(?<text>.*)\k<q>$' -and $value -notmatch '^[>&*!%@`{\[]') {
            $data[$key] = $Matches.text
        }
        else {
            throw "${Path}:$($i): unsupported value for ${key}: '$value'"
        }
    }
    return $data
}

function Write-ConfigMapVolume {
    # Creates the volume, or updates it to exactly $Data the way the kubelet does.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [string] $Path,
        [Parameter(Mandatory)] [System.Collections.IDictionary] $Data
    )
    New-Item -ItemType Directory -Force -Path $Path | Out-Null
    $dataLink = Join-Path $Path '..data'
    $previous = [System.IO.FileInfo]::new($dataLink).LinkTarget

    # The kubelet names versions by time with nanoseconds; a counter suffix keeps two writes in one tick apart.
    $now = [DateTime]::UtcNow
    $version = '..' + $now.ToString('yyyy_MM_dd_HH_mm_ss.') + ($now.Ticks % 10000000).ToString('0000000') + '00'
    while (Test-Path -LiteralPath (Join-Path $Path $version)) { $version += '1' }
    $versionDir = New-Item -ItemType Directory -Path (Join-Path $Path $version)
    foreach ($key in $Data.Keys) {
        [System.IO.File]::WriteAllText((Join-Path $versionDir.FullName $key), [string]$Data[$key])
    }

    $temporary = Join-Path $Path '..data_tmp'
    if ([System.IO.FileInfo]::new($temporary).LinkTarget) { [System.IO.File]::Delete($temporary) }
    [System.IO.File]::CreateSymbolicLink($temporary, $version) | Out-Null
    # rename(2) over the old link; .NET's File.Move refuses a link to a folder, mv -T does exactly the rename.
    & mv -Tf $temporary $dataLink
    if ($LASTEXITCODE -ne 0) { throw "mv -T $temporary $dataLink failed with exit code $LASTEXITCODE" }

    foreach ($key in $Data.Keys) {
        $visible = Join-Path $Path $key
        if (-not [System.IO.FileInfo]::new($visible).LinkTarget) {
            [System.IO.File]::CreateSymbolicLink($visible, "..data/$key") | Out-Null
        }
    }
    foreach ($entry in [System.IO.Directory]::GetFileSystemEntries($Path)) {
        $name = [System.IO.Path]::GetFileName($entry)
        if (-not $name.StartsWith('..') -and -not $Data.Contains($name)) { [System.IO.File]::Delete($entry) }
    }
    if ($previous) { Remove-Item -LiteralPath (Join-Path $Path $previous) -Recurse -Force }
}
