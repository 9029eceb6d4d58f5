# The package a user installs: publish the staged module to a local file repository with PSResourceGet,
# install it as a user would, and use it. A child pwsh with its own HOME keeps the user's repositories
# and module folders untouched.
BeforeAll {
    $script:PackageHome = Join-Path ([IO.Path]::GetTempPath()) "aks-auditd-package-$([guid]::NewGuid().ToString('N'))"
    New-Item -ItemType Directory -Path $PackageHome | Out-Null
    $script:Pwsh = Join-Path $PSHOME 'pwsh'
}

AfterAll {
    # Delete only the folder this file created under the temp directory, never a path that failed to be set.
    if ($PackageHome -and $PackageHome.StartsWith([IO.Path]::GetTempPath()) -and $PackageHome -match 'aks-auditd-package-[0-9a-f]{32}$') {
        Remove-Item -Recurse -Force -LiteralPath $PackageHome -ErrorAction SilentlyContinue
    }
}

Describe 'Install-PSResource from a local repository' {
    It 'installs the published module and its cmdlets work' {
        $script = @'
$ErrorActionPreference = 'Stop'
$repo = Join-Path $env:HOME 'repo'
New-Item -ItemType Directory -Path $repo | Out-Null
Register-PSResourceRepository -Name AksAuditdTest -Uri $repo -Trusted
Publish-PSResource -Path $env:AKSAUDITD_MODULE -Repository AksAuditdTest
$package = Get-ChildItem $repo -Filter 'AksAuditd.*.nupkg'
Install-PSResource AksAuditd -Repository AksAuditdTest -Scope CurrentUser -TrustRepository
$installed = Get-InstalledPSResource AksAuditd
Import-Module AksAuditd
$env:AA_POLL_INTERVAL = '2m'
$env:AA_CONFIG_FILE = Join-Path $env:HOME 'absent.yaml'
[pscustomobject]@{
    Package = $package.Name
    Installed = $installed.InstalledLocation
    ModuleBase = (Get-Module AksAuditd).ModuleBase
    PollInterval = (Get-AksAuditdConfiguration).PollInterval.ToString()
} | ConvertTo-Json -Compress
'@
        $env:HOME, $oldHome = $PackageHome, $env:HOME
        try {
            $output = & $Pwsh -NoProfile -NonInteractive -Command $script 2>&1
        }
        finally {
            $env:HOME = $oldHome
        }
        $LASTEXITCODE | Should -Be 0 -Because ($output -join "`n")
        $result = ($output | Select-Object -Last 1) | ConvertFrom-Json
        $result.Package | Should -Match '^AksAuditd\.\d+\.\d+\.\d+\.nupkg$'
        $result.ModuleBase | Should -BeLike "$PackageHome*"
        $result.PollInterval | Should -Be '00:02:00'
    }
}
