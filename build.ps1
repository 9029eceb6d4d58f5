#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Builds, tests, benchmarks and packages the AksAuditd module.
.DESCRIPTION
    Every task runs on a fresh machine that has only the .NET SDK:
        dotnet tool restore && dotnet pwsh ./build.ps1 <task>
    build         stage an importable module at out/AksAuditd/
    test          build, then run every xUnit and Pester test (the systemd node's included) and the pod e2e; the
                  last line is "N passed, N failed"
    vm            build, then boot a real systemd node (Debian 12 under qemu, cached disk from
                  tools/prepare-systemd-node.sh) and run its scenarios alone: tests/pester/SystemdNode.Tests.ps1
    bench         build, then run the benchmarks (ratios against baselines measured in the same run)
    package       build, then publish out/AksAuditd.<version>.nupkg to a local PSResourceGet repository (out/repo)
    demo          the README's main job: the entrypoint against a sandbox node
    image-layout  write the file tree the container image has, under out/image (or -ImageRoot); with
                  -ReadyToRun, compiled ahead of time as the image's build stage compiles it
    container     build the image localhost/aks-auditd:dev with podman from local roots only (a Debian 12 root,
                  the machine's .NET runtime, the image-layout -ReadyToRun tree; image/Build-LocalImage.ps1)
    e2e           build the container, then run the DaemonSet's init and main containers under podman as
                  kubernetes/daemonset.yaml declares them, against the real kernel (tests/e2e); test runs it too
    generate      regenerate the tables generated from libaudit and the audit tools, from the installed
                  auditd (libaudit, ausyscall, ausearch); needs a Debian host with auditd
    clean         delete out/
    Each task is declared below with the tasks it depends on (the model of InvokeBuild and psake): a task runs
    after its dependencies, and each task runs at most once per invocation. `build.ps1 -ListTasks` prints them.
.EXAMPLE
    dotnet pwsh ./build.ps1 test
.EXAMPLE
    dotnet pwsh ./build.ps1 vm
.EXAMPLE
    dotnet pwsh ./build.ps1 bench -BenchFilter rules
#>
[CmdletBinding()]
param(
    [Parameter(Position = 0)]
    [ValidateSet('build', 'test', 'vm', 'bench', 'package', 'demo', 'image-layout', 'container', 'e2e', 'generate', 'clean')]
    [string] $Task = 'build',

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',

    # Runs only the xUnit tests whose names match (dotnet test --filter syntax) and skips Pester.
    [string] $TestFilter,

    # Runs only the Pester files whose names match this wildcard, and skips xUnit.
    [string] $PesterFilter,

    # Runs only the benchmarks whose names match this wildcard.
    [string] $BenchFilter = '*',

    # Extra switches handed to the demo (for example -LoadKernel).
    [switch] $LoadKernel,

    [string] $ImageRoot,

    # image-layout: compile PowerShell's engine and the module ahead of time, as the image does.
    [switch] $ReadyToRun,

    # Prints each task, what it depends on and what it does, and runs nothing.
    [switch] $ListTasks
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

$RepoRoot = $PSScriptRoot
$OutDir = Join-Path $RepoRoot 'out'
$ModuleOut = Join-Path $OutDir 'AksAuditd'
$PesterVersion = '5.7.1'
$ContainerImage = 'localhost/aks-auditd:dev'

function Invoke-Native {
    # Runs a native command and stops the build when it fails, naming the command.
    param([Parameter(Mandatory)] [string] $FilePath, [string[]] $ArgumentList = @())
    & $FilePath @ArgumentList
    if ($LASTEXITCODE -ne 0) {
        throw "'$FilePath $($ArgumentList -join ' ')' failed with exit code $LASTEXITCODE"
    }
}

function Get-ModuleVersion {
    $props = [xml](Get-Content -Raw (Join-Path $RepoRoot 'Directory.Build.props'))
    return ($props.Project.PropertyGroup | Where-Object { $_['VersionPrefix'] } | Select-Object -First 1).VersionPrefix
}

function Merge-FormatFiles {
    # Each area keeps its own views in src/AksAuditd.PowerShell/Formats/*.Format.ps1xml; the module ships one file.
    param([string] $Destination)
    $merged = [xml]'<?xml version="1.0" encoding="utf-8"?><Configuration><ViewDefinitions/></Configuration>'
    $target = $merged.Configuration.SelectSingleNode('ViewDefinitions')
    foreach ($file in Get-ChildItem (Join-Path $RepoRoot 'src/AksAuditd.PowerShell/Formats') -Filter '*.Format.ps1xml' | Sort-Object Name) {
        $doc = [xml](Get-Content -Raw $file.FullName)
        foreach ($view in $doc.Configuration.ViewDefinitions.ChildNodes) {
            if ($view.NodeType -eq 'Element') { [void]$target.AppendChild($merged.ImportNode($view, $true)) }
        }
    }
    $merged.Save($Destination)
}

function Merge-HelpFiles {
    # One MAML fragment per cmdlet (Help/<Verb-Noun>.xml, a <command:command> element); PowerShell wants one file.
    param([string] $Destination)
    $header = '<?xml version="1.0" encoding="utf-8"?>' + "`n" +
        '<helpItems schema="maml" xmlns="http://msh" xmlns:maml="http://schemas.microsoft.com/maml/2004/10" ' +
        'xmlns:command="http://schemas.microsoft.com/maml/dev/command/2004/10" ' +
        'xmlns:dev="http://schemas.microsoft.com/maml/dev/2004/10">'
    $builder = [System.Text.StringBuilder]::new($header)
    foreach ($file in Get-ChildItem (Join-Path $RepoRoot 'src/AksAuditd.PowerShell/Help') -Filter '*.xml' | Sort-Object Name) {
        $fragment = Get-Content -Raw $file.FullName
        # Validate each fragment on its own so a broken one is named, not reported as a broken merged file.
        try {
            [void][xml]($header + $fragment + '</helpItems>')
        }
        catch {
            throw "Help fragment $($file.Name) is not valid XML: $($_.Exception.Message)"
        }
        [void]$builder.AppendLine($fragment)
    }
    [void]$builder.Append('</helpItems>')
    New-Item -ItemType Directory -Force (Split-Path $Destination) | Out-Null
    [System.IO.File]::WriteAllText($Destination, $builder.ToString())
}

function Build-StagedModule {
    # Named Build-StagedModule, not Invoke-Build: that is the InvokeBuild tool's own command.
    $version = Get-ModuleVersion
    Invoke-Native dotnet @('build', (Join-Path $RepoRoot 'src/AksAuditd.PowerShell/AksAuditd.PowerShell.csproj'),
        '-c', $Configuration, '--nologo', '-v', 'q', '-clp:NoSummary')
    $binDir = Join-Path $RepoRoot "src/AksAuditd.PowerShell/bin/$Configuration/net10.0"

    if (Test-Path $ModuleOut) { Remove-Item -Recurse -Force $ModuleOut }
    $dependencies = New-Item -ItemType Directory -Force (Join-Path $ModuleOut 'Dependencies')

    Copy-Item (Join-Path $binDir 'AksAuditd.PowerShell.dll'), (Join-Path $binDir 'AksAuditd.PowerShell.pdb') $ModuleOut
    # Everything else the cmdlets need loads from Dependencies/ through DependencyLoadContext.
    # System.Management.Automation is supplied by pwsh itself and must never ship with the module.
    Get-ChildItem $binDir -File | Where-Object {
        $_.Name -notlike 'AksAuditd.PowerShell.*' -and $_.Name -notlike 'System.Management.Automation*' -and
        $_.Extension -in '.dll', '.pdb', '.json' -and $_.Name -notlike '*.deps.json' -and $_.Name -notlike '*.runtimeconfig.json'
    } | Copy-Item -Destination $dependencies

    $manifest = Get-Content -Raw (Join-Path $RepoRoot 'AksAuditd.psd1')
    $manifest = $manifest -replace "ModuleVersion\s*=\s*'[^']*'", "ModuleVersion = '$version'"
    Set-Content -Path (Join-Path $ModuleOut 'AksAuditd.psd1') -Value $manifest -NoNewline
    Merge-FormatFiles (Join-Path $ModuleOut 'AksAuditd.Format.ps1xml')
    Merge-HelpFiles (Join-Path $ModuleOut 'en-US/AksAuditd.PowerShell.dll-Help.xml')
    foreach ($extra in 'README.md', 'LICENSE') {
        if (Test-Path (Join-Path $RepoRoot $extra)) { Copy-Item (Join-Path $RepoRoot $extra) $ModuleOut }
    }

    # What must be there, checked by name: a missing piece fails the build, not a user's import.
    $required = @(
        'AksAuditd.psd1', 'AksAuditd.PowerShell.dll', 'AksAuditd.Format.ps1xml',
        'en-US/AksAuditd.PowerShell.dll-Help.xml',
        'Dependencies/AksAuditd.Core.dll', 'Dependencies/YamlDotNet.dll', 'Dependencies/System.IO.Hashing.dll',
        # The metrics endpoint and the Node status publisher; loaded only when they are turned on.
        'Dependencies/Prometheus.NetStandard.dll', 'Dependencies/KubernetesClient.dll', 'Dependencies/Fractions.dll'
    )
    foreach ($path in $required) {
        if (-not (Test-Path (Join-Path $ModuleOut $path))) { throw "Staged module is missing $path" }
    }
    if (Test-Path (Join-Path $ModuleOut 'AksAuditd.Core.dll')) {
        throw 'AksAuditd.Core.dll must only be in Dependencies/, or it bypasses the dependency load context'
    }
    Write-Host "Module $version staged at $ModuleOut"
}

function Get-PesterModulePath {
    $cache = if ($env:NUGET_PACKAGES) { $env:NUGET_PACKAGES } else { Join-Path ([Environment]::GetFolderPath('UserProfile')) '.nuget/packages' }
    $psd1 = Join-Path $cache "pester/$PesterVersion/tools/Pester.psd1"
    if (-not (Test-Path $psd1)) {
        Invoke-Native dotnet @('restore', (Join-Path $RepoRoot 'tools/restore/Pester.Restore.csproj'), '--nologo', '-v', 'q')
    }
    if (-not (Test-Path $psd1)) { throw "Pester $PesterVersion was restored but $psd1 is missing" }
    return $psd1
}

function Read-TrxCounts {
    param([string] $Directory)
    $totals = @{ Passed = 0; Failed = 0; Skipped = 0 }
    foreach ($trx in Get-ChildItem $Directory -Filter '*.trx' -ErrorAction SilentlyContinue) {
        $doc = [xml](Get-Content -Raw $trx.FullName)
        $counters = $doc.TestRun.ResultSummary.Counters
        $totals.Passed += [int]$counters.passed
        $totals.Failed += [int]$counters.failed + [int]$counters.error + [int]$counters.timeout + [int]$counters.aborted
        $totals.Skipped += [int]$counters.notExecuted
        foreach ($result in $doc.SelectNodes("//*[local-name()='UnitTestResult'][@outcome='Failed']")) {
            Write-Host "FAILED (xUnit) $($result.testName)" -ForegroundColor Red
        }
    }
    return $totals
}

function Invoke-Test {
    $results = Join-Path $OutDir 'TestResults'
    if (Test-Path $results) { Remove-Item -Recurse -Force $results }
    $passed = 0; $failed = 0; $skipped = 0; $broken = @()

    if (-not $PesterFilter) {
        foreach ($project in 'tests/AksAuditd.Core.Tests', 'tests/AksAuditd.PowerShell.Tests') {
            $name = Split-Path $project -Leaf
            $testArgs = @('test', (Join-Path $RepoRoot $project), '-c', $Configuration, '--nologo',
                '--logger', "trx;LogFileName=$name.trx", '--results-directory', $results,
                '--logger', 'console;verbosity=minimal')
            if ($TestFilter) { $testArgs += @('--filter', $TestFilter) }
            & dotnet @testArgs
            $code = $LASTEXITCODE
            if ($code -ne 0 -and -not (Test-Path (Join-Path $results "$name.trx"))) {
                # A build failure or a crashed test host: no results to count, so count the project as failed.
                $broken += "$name (dotnet test exit code $code, no results)"
            }
        }
        $counts = Read-TrxCounts $results
        $passed += $counts.Passed; $failed += $counts.Failed; $skipped += $counts.Skipped
    }

    if (-not $TestFilter) {
        $pester = Get-PesterModulePath
        $pesterJson = Join-Path $results 'pester.json'
        New-Item -ItemType Directory -Force $results | Out-Null
        $filter = if ($PesterFilter) { $PesterFilter } else { '*' }
        # A child pwsh: the module and Pester load into a clean session, as a user's would.
        $script = @"
`$ErrorActionPreference = 'Stop'
Import-Module '$pester' -MinimumVersion $PesterVersion
`$config = New-PesterConfiguration
`$config.Run.Path = @(Get-ChildItem '$RepoRoot/tests/pester' -Filter '$filter.Tests.ps1' | ForEach-Object FullName)
`$config.Run.PassThru = `$true
`$config.Output.Verbosity = 'Normal'
`$config.TestResult.Enabled = `$true
`$config.TestResult.OutputPath = '$results/pester.xml'
`$env:AKSAUDITD_MODULE = '$ModuleOut'
`$run = Invoke-Pester -Configuration `$config
@{ Passed = `$run.PassedCount; Failed = `$run.FailedCount + `$run.FailedBlocksCount + `$run.FailedContainersCount; Skipped = `$run.SkippedCount } |
    ConvertTo-Json | Set-Content '$pesterJson'
"@
        # $PSHOME/pwsh is the real executable, also under `dotnet pwsh` (whose process is dotnet itself).
        $pwsh = Join-Path $PSHOME 'pwsh'
        & $pwsh -NoProfile -NonInteractive -Command $script
        if (Test-Path $pesterJson) {
            $counts = Get-Content -Raw $pesterJson | ConvertFrom-Json
            $passed += $counts.Passed; $failed += $counts.Failed; $skipped += $counts.Skipped
        }
        else {
            $broken += 'Pester (no results)'
        }
    }

    if (-not $TestFilter -and -not $PesterFilter) {
        # The e2e is part of the README's test command, so CI runs it; a failure to build the image counts.
        try {
            $counts = Invoke-E2E
            if ($counts) { $passed += $counts.Passed; $failed += $counts.Failed; $skipped += $counts.Skipped }
            else { $broken += 'e2e (no results)' }
        }
        catch {
            $broken += "e2e ($($_.Exception.Message))"
        }
    }

    foreach ($item in $broken) { Write-Host "BROKEN $item" -ForegroundColor Red; $failed++ }
    $line = "$passed passed, $failed failed"
    if ($skipped -gt 0) { $line += ", $skipped skipped" }
    Write-Host $line
    if ($failed -gt 0) { exit 1 }
}

function Invoke-Bench {
    $project = Join-Path $RepoRoot 'tests/AksAuditd.Benchmarks/AksAuditd.Benchmarks.csproj'
    Invoke-Native dotnet @('run', '--project', $project, '-c', 'Release', '--', '--filter', $BenchFilter,
        '--module', $ModuleOut, '--repo', $RepoRoot)
}

function Invoke-Package {
    $repoDir = Join-Path $OutDir 'repo'
    New-Item -ItemType Directory -Force $repoDir | Out-Null
    $repoName = 'AksAuditdLocal'
    if (Get-PSResourceRepository -Name $repoName -ErrorAction SilentlyContinue) {
        Unregister-PSResourceRepository -Name $repoName
    }
    Register-PSResourceRepository -Name $repoName -Uri $repoDir -Trusted
    # The registration lives in the user's PSResourceGet store, outside the repository: it is undone whatever
    # happens, so a build never leaves a repository behind in the user's configuration.
    try {
        Get-ChildItem $repoDir -Filter 'AksAuditd.*.nupkg' | Remove-Item -Force
        Publish-PSResource -Path $ModuleOut -Repository $repoName
    }
    finally {
        Unregister-PSResourceRepository -Name $repoName
    }
    $package = Get-ChildItem $repoDir -Filter 'AksAuditd.*.nupkg' | Select-Object -First 1
    if (-not $package) { throw "Publish-PSResource wrote no package to $repoDir" }
    Copy-Item $package.FullName $OutDir -Force
    Write-Host "Packaged $(Join-Path $OutDir $package.Name); install with:"
    Write-Host "    Register-PSResourceRepository -Name $repoName -Uri '$repoDir' -Trusted; Install-PSResource AksAuditd -Repository $repoName"
}

function Invoke-ImageLayout {
    $root = if ($ImageRoot) { $ImageRoot } else { Join-Path $OutDir 'image' }
    & (Join-Path $RepoRoot 'image/New-ImageLayout.ps1') -ModulePath $ModuleOut -Destination $root -ReadyToRun:$ReadyToRun
}

function Invoke-Container {
    $layout = Join-Path $OutDir 'container/layout'
    & (Join-Path $RepoRoot 'image/New-ImageLayout.ps1') -ModulePath $ModuleOut -Destination $layout -ReadyToRun | Out-Null
    & (Join-Path $RepoRoot 'image/Build-LocalImage.ps1') -Layout $layout -Tag $ContainerImage
}

function Invoke-PesterFiles {
    # Runs Pester files in a child pwsh (the module and Pester load into a clean session, as a user's would) and
    # returns the counts, or $null when Pester produced none.
    param([string[]] $Path, [string] $Name, [hashtable] $Environment = @{})
    $pester = Get-PesterModulePath
    $results = Join-Path $OutDir 'TestResults'
    New-Item -ItemType Directory -Force $results | Out-Null
    $pesterJson = Join-Path $results "$Name.json"
    Remove-Item -Force -ErrorAction SilentlyContinue $pesterJson
    $Environment['AKSAUDITD_MODULE'] = $ModuleOut
    $setEnvironment = ($Environment.GetEnumerator() | ForEach-Object { "`$env:$($_.Key) = '$($_.Value)'" }) -join "`n"
    $script = @"
`$ErrorActionPreference = 'Stop'
Import-Module '$pester' -MinimumVersion $PesterVersion
`$config = New-PesterConfiguration
`$config.Run.Path = @('$($Path -join "','")')
`$config.Run.PassThru = `$true
`$config.Output.Verbosity = 'Normal'
`$config.TestResult.Enabled = `$true
`$config.TestResult.OutputPath = '$results/$Name.xml'
$setEnvironment
`$run = Invoke-Pester -Configuration `$config
@{ Passed = `$run.PassedCount; Failed = `$run.FailedCount + `$run.FailedBlocksCount + `$run.FailedContainersCount; Skipped = `$run.SkippedCount } |
    ConvertTo-Json | Set-Content '$pesterJson'
"@
    # Out-Host: Pester's report is for the console, not part of what this function returns.
    & (Join-Path $PSHOME 'pwsh') -NoProfile -NonInteractive -Command $script | Out-Host
    if (Test-Path $pesterJson) { return Get-Content -Raw $pesterJson | ConvertFrom-Json }
    return $null
}

function Invoke-E2E {
    # The pod under podman against the real kernel (tests/e2e/Pod.Tests.ps1); returns the counts.
    Invoke-Container
    try {
        return Invoke-PesterFiles -Path (Join-Path $RepoRoot 'tests/e2e/Pod.Tests.ps1') -Name 'e2e' -Environment @{ AKSAUDITD_IMAGE = $ContainerImage }
    }
    finally {
        # The e2e leaves nothing behind: its containers are removed by the tests, the image here.
        . (Join-Path $RepoRoot 'image/podman/Podman.ps1')
        Invoke-Podman @('rmi', '--force', $ContainerImage) -AllowFailure | Out-Null
    }
}

function Invoke-Demo {
    $demo = Join-Path $RepoRoot 'image/Start-Demo.ps1'
    if (-not (Test-Path $demo)) { throw "The demo is not written yet: $demo is missing" }
    & $demo -ModulePath $ModuleOut -LoadKernel:$LoadKernel
    if (-not $?) { exit 1 }
}

function Invoke-Generate {
    # One entry for every table generated from libaudit and the audit tools.
    Invoke-Native sh @((Join-Path $RepoRoot 'tools/generate-libaudit-tables.sh'))
    & (Join-Path $RepoRoot 'tools/generate-auparse-tables.ps1')
    if (-not $?) { throw 'tools/generate-auparse-tables.ps1 failed' }
}

# The task graph: name, the tasks that must run first, and the action. Invoke-BuildTask runs dependencies
# first, each task once, and names a cycle or an unknown task instead of recursing forever.
$BuildTasks = [ordered]@{}
function Add-BuildTask {
    param(
        [Parameter(Mandatory)] [string] $Name,
        [string[]] $DependsOn = @(),
        [Parameter(Mandatory)] [scriptblock] $Action,
        [Parameter(Mandatory)] [string] $Description
    )
    if ($BuildTasks.Contains($Name)) { throw "Build task '$Name' is declared twice" }
    $BuildTasks[$Name] = [pscustomobject]@{ Name = $Name; DependsOn = $DependsOn; Action = $Action; Description = $Description }
}

function Invoke-BuildTask {
    param(
        [Parameter(Mandatory)] [string] $Name,
        [Parameter(Mandatory)] [AllowEmptyCollection()] [System.Collections.Generic.HashSet[string]] $Done,
        [string[]] $Path = @()
    )
    if ($Done.Contains($Name)) { return }
    if ($Path -contains $Name) { throw "Build tasks depend on each other in a cycle: $(($Path + $Name) -join ' -> ')" }
    $declared = $BuildTasks[$Name]
    if (-not $declared) { throw "Build task '$Name' is not declared (needed by '$($Path[-1])')" }
    foreach ($dependency in $declared.DependsOn) { Invoke-BuildTask $dependency $Done ($Path + $Name) }
    & $declared.Action
    [void]$Done.Add($Name)
}

Add-BuildTask build -Action { Build-StagedModule } -Description 'stage an importable module at out/AksAuditd/'
Add-BuildTask test -DependsOn build -Action { Invoke-Test } -Description 'every xUnit and Pester test (-TestFilter, -PesterFilter)'
# The systemd node's Pester file alone (no xUnit), as `test` runs it among the others.
Add-BuildTask vm -DependsOn build -Action { $script:TestFilter = $null; $script:PesterFilter = 'SystemdNode'; Invoke-Test } -Description 'boot a real systemd node (Debian 12 under qemu) and run its scenarios (tests/pester/SystemdNode.Tests.ps1)'
Add-BuildTask bench -DependsOn build -Action { Invoke-Bench } -Description 'benchmarks, ratios against baselines of the same run (-BenchFilter)'
Add-BuildTask package -DependsOn build -Action { Invoke-Package } -Description 'out/AksAuditd.<version>.nupkg through a local PSResourceGet repository'
Add-BuildTask image-layout -DependsOn build -Action { Invoke-ImageLayout } -Description "the container image's file tree under out/image (-ImageRoot, -ReadyToRun)"
Add-BuildTask container -DependsOn build -Action { Invoke-Container } -Description 'the image localhost/aks-auditd:dev, built with podman from local roots only (image/Build-LocalImage.ps1)'
Add-BuildTask e2e -DependsOn build -Action {
    $counts = Invoke-E2E
    if (-not $counts) { Write-Host 'BROKEN e2e (no results)' -ForegroundColor Red; exit 1 }
    Write-Host "$($counts.Passed) passed, $($counts.Failed) failed"
    if ($counts.Failed -gt 0) { exit 1 }
} -Description 'the DaemonSet pod under podman against the real kernel (tests/e2e; builds the image first, removes it after)'
Add-BuildTask demo -DependsOn build -Action { Invoke-Demo } -Description "the README's main job against a sandbox node (-LoadKernel)"
Add-BuildTask generate -Action { Invoke-Generate } -Description 'the tables generated from libaudit and the audit tools (tools/generate-*), from the installed auditd'
Add-BuildTask clean -Action { if (Test-Path $OutDir) { Remove-Item -Recurse -Force $OutDir } } -Description 'delete out/'

if ($ListTasks) {
    $BuildTasks.Values | ForEach-Object {
        [pscustomobject]@{ Task = $_.Name; DependsOn = $_.DependsOn -join ', '; Description = $_.Description }
    } | Format-Table -AutoSize | Out-String -Width 200 | Write-Host
    return
}
Invoke-BuildTask $Task ([System.Collections.Generic.HashSet[string]]::new())
