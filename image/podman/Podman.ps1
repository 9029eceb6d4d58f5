# podman as the project runs it (dot-source this file): the project's containers.conf through CONTAINERS_CONF,
# never /etc/containers, and every failure named with the command and its stderr.

$script:PodmanConfig = Join-Path $PSScriptRoot 'containers.conf'

function Invoke-Checked {
    # A native command that must succeed; its stdout lines are returned.
    param([Parameter(Mandatory)] [string] $FilePath, [string[]] $ArgumentList = @())
    $output = & $FilePath @ArgumentList
    if ($LASTEXITCODE -ne 0) { throw "'$FilePath $($ArgumentList -join ' ')' failed with exit code $LASTEXITCODE" }
    $output
}

function Invoke-Podman {
    # podman with the project's containers.conf. stdout lines are returned; on failure the error names the
    # command and its stderr, unless -AllowFailure (then $LASTEXITCODE tells).
    param([Parameter(Mandatory)] [string[]] $ArgumentList, [switch] $AllowFailure)
    $saved = $env:CONTAINERS_CONF
    $errors = [System.IO.Path]::GetTempFileName()
    try {
        $env:CONTAINERS_CONF = $script:PodmanConfig
        $output = & podman @ArgumentList 2> $errors
        $code = $LASTEXITCODE
    }
    finally {
        $env:CONTAINERS_CONF = $saved
        $stderr = (Get-Content -Raw -LiteralPath $errors -ErrorAction SilentlyContinue) ?? ''
        Remove-Item -LiteralPath $errors -Force -ErrorAction SilentlyContinue
    }
    if ($code -ne 0 -and -not $AllowFailure) {
        throw "'podman $($ArgumentList -join ' ')' failed with exit code ${code}: $($stderr.Trim())"
    }
    $global:LASTEXITCODE = $code
    $output
}
