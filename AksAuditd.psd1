@{
    RootModule           = 'AksAuditd.PowerShell.dll'
    # Stamped from Directory.Build.props by build.ps1; edit the version there.
    ModuleVersion        = '0.0.0'
    GUID                 = '6f1d3c2e-8a4b-4f7e-9c1a-2b5d7e9f0a13'
    Author               = 'AksAuditd contributors'
    CompanyName          = 'AksAuditd'
    Copyright            = '(c) AksAuditd contributors. MIT License.'
    Description          = 'Keeps Linux auditd installed, configured and loaded with your rules on every AKS node, and lets you check rules, drift and audit events from PowerShell.'
    PowerShellVersion    = '7.6'
    CompatiblePSEditions = @('Core')
    FormatsToProcess     = @('AksAuditd.Format.ps1xml')
    CmdletsToExport      = @(
        'Get-AksAuditdConfiguration'
        'Get-AuditEvent'
        'Measure-AuditEvent'
        'Write-AksAuditdLog'
        'Get-AuditRuleDrift'
        'Sync-AuditRules'
        'Sync-AuditPlugins'
        'Sync-AuditNode'
        'Install-Auditd'
        'Restart-Auditd'
        'Get-AuditdStatus'
        'Test-AuditRule'
        'Get-AuditRule'
        'Start-AksAuditdReporter'
        'Get-AuditFleetStatus'
    )
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('auditd', 'audit', 'AKS', 'Kubernetes', 'Linux', 'CIS', 'PCI-DSS', 'STIG', 'security', 'compliance')
            ProjectUri   = 'https://github.com/aks-auditd/AksAuditd'
            LicenseUri   = 'https://github.com/aks-auditd/AksAuditd/blob/main/LICENSE'
            ReleaseNotes = 'See README.md.'
        }
    }
}
