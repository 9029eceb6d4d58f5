# The module as a user meets it: manifest, exported cmdlets, help, and the node-changing contract.
BeforeAll {
    $script:ModuleDir = $env:AKSAUDITD_MODULE
    Import-Module (Join-Path $ModuleDir 'AksAuditd.psd1') -Force
    $script:Commands = Get-Command -Module AksAuditd
}

Describe 'AksAuditd module manifest' {
    It 'passes Test-ModuleManifest' {
        { Test-ModuleManifest (Join-Path $ModuleDir 'AksAuditd.psd1') -ErrorAction Stop } | Should -Not -Throw
    }

    It 'targets PowerShell 7.6 Core with a stamped version' {
        $manifest = Import-PowerShellDataFile (Join-Path $ModuleDir 'AksAuditd.psd1')
        $manifest.PowerShellVersion | Should -Be '7.6'
        $manifest.CompatiblePSEditions | Should -Be @('Core')
        $manifest.ModuleVersion | Should -Not -Be '0.0.0'
        $manifest.PrivateData.PSData.Tags | Should -Contain 'auditd'
        $manifest.PrivateData.PSData.ProjectUri | Should -Not -BeNullOrEmpty
        $manifest.PrivateData.PSData.LicenseUri | Should -Not -BeNullOrEmpty
    }

    It 'exports exactly the cmdlets its manifest lists' {
        $manifest = Import-PowerShellDataFile (Join-Path $ModuleDir 'AksAuditd.psd1')
        ($Commands.Name | Sort-Object) | Should -Be ($manifest.CmdletsToExport | Sort-Object)
    }
}

Describe 'Help for <_>' -ForEach @((Import-PowerShellDataFile (Join-Path $env:AKSAUDITD_MODULE 'AksAuditd.psd1')).CmdletsToExport) {
    It 'has a synopsis, a description and at least two examples' {
        $help = Get-Help $_ -Full
        $help.Synopsis | Should -Not -BeNullOrEmpty
        $help.Synopsis | Should -Not -Match '^\s*\S+\s+\[' # not the auto-generated syntax stub
        $help.description.Text | Should -Not -BeNullOrEmpty
        @($help.examples.example).Count | Should -BeGreaterOrEqual 2
    }

    It 'documents every parameter it declares' {
        $command = Get-Command $_
        $common = [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters
        $help = Get-Help $_ -Full
        foreach ($name in $command.Parameters.Keys | Where-Object { $_ -notin $common }) {
            $documented = @($help.parameters.parameter | Where-Object name -eq $name)
            $documented.Count | Should -Be 1 -Because "parameter -$name needs help"
            ($documented[0].description.Text -join '') | Should -Not -BeNullOrEmpty -Because "parameter -$name needs a description"
        }
    }

    It 'declares an output type' {
        (Get-Command $_).OutputType.Count | Should -BeGreaterThan 0
    }
}

Describe 'Cmdlets that change a node' {
    It '<_> supports -WhatIf and -Confirm' -ForEach @(
        (Import-PowerShellDataFile (Join-Path $env:AKSAUDITD_MODULE 'AksAuditd.psd1')).CmdletsToExport |
            Where-Object { $_ -match '^(Sync|Install|Restart|Set|Remove|New|Clear|Start|Stop)-' }
    ) {
        $parameters = (Get-Command $_).Parameters
        $parameters.Keys | Should -Contain 'WhatIf'
        $parameters.Keys | Should -Contain 'Confirm'
    }
}

Describe 'Write-AksAuditdLog in the container (AA_LOG_FORMAT=json)' {
    It 'writes one JSON line on stdout whose fields keep their JSON types' {
        # A child pwsh: in JSON mode the line goes to the process's stdout, which is what Container Insights reads.
        $script = @"
Import-Module '$(Join-Path $ModuleDir 'AksAuditd.psd1')'
`$names = 'b.rules', 'a.rules' | Sort-Object
Write-AksAuditdLog 'synced' -Level warn -Field @{ files = `$names; count = @(`$names).Count; nested = @{ ok = `$true }; took = [timespan]'00:00:02' }
Write-AksAuditdLog 'not shown' -Level debug
"@
        $saved = $env:AA_LOG_FORMAT, $env:AA_LOG_LEVEL
        try {
            $env:AA_LOG_FORMAT = 'json'
            $env:AA_LOG_LEVEL = 'info'
            $output = @(& (Join-Path $PSHOME 'pwsh') -NoProfile -NonInteractive -Command $script)
        }
        finally { $env:AA_LOG_FORMAT, $env:AA_LOG_LEVEL = $saved }

        $LASTEXITCODE | Should -Be 0
        $output.Count | Should -Be 1 -Because "stdout carries only the lines at or above the level: $output"
        $entry = $output[0] | ConvertFrom-Json -AsHashtable
        $entry.level | Should -Be 'warn'
        $entry.msg | Should -Be 'synced'
        $entry.time | Should -BeOfType [datetime] -Because 'an RFC 3339 time, which ConvertFrom-Json reads as a date'
        $entry.time.Kind | Should -Be 'Utc'
        $entry.files | Should -Be @('a.rules', 'b.rules')
        $entry.count | Should -BeOfType [long]
        $entry.count | Should -Be 2
        $entry.nested.ok | Should -BeTrue
        $entry.took | Should -Be '00:00:02'
    }
}
