# Test-AuditRule and Get-AuditRule as a user meets them in a fresh pwsh: CI checks, ConfigMaps, errors, views.
BeforeAll {
    Import-Module (Join-Path $env:AKSAUDITD_MODULE 'AksAuditd.psd1') -Force
    # The audit-rules corpus copied into the repository, with its sources and licences.
    $script:Corpus = Join-Path (Split-Path $PSScriptRoot) 'fixtures/corpora/audit-rules'
    if (-not (Test-Path $Corpus)) { throw "the audit-rules corpus is missing from the repository: $Corpus" }
}

Describe 'Test-AuditRule' {
    BeforeEach {
        $script:dir = Join-Path ([IO.Path]::GetTempPath()) ('aks-auditd-rules-' + [Guid]::NewGuid().ToString('N').Substring(0, 8))
        New-Item -ItemType Directory -Force $dir | Out-Null
    }
    AfterEach { Remove-Item -Recurse -Force $dir }

    It 'reports a typo with its file, line, column, code and severity' {
        Set-Content (Join-Path $dir 'audit.rules') "-D`n-a always,exit -F arch=b64 -S openat -F auid>=1000 -F auid!=unset -k opens`n-a always,exit -F arch=b64 -S opnat -k typo"
        $finding = Test-AuditRule -Path (Join-Path $dir '*.rules') | Where-Object Severity -eq 'Error'
        $finding.LineNumber | Should -Be 3
        $finding.Column | Should -Be 31
        $finding.Code | Should -Be 'AR1301'
        $finding.Message | Should -Match "'opnat'"
        $finding.ToString() | Should -Match '^.*audit\.rules:3:31: error AR1301: '
    }

    It 'accepts every line the real kernel accepted in the debian examples' {
        Test-AuditRule -Path (Join-Path $Corpus 'debian-auditd/examples/rules/*.rules') -Quiet | Should -BeTrue
    }

    It 'reads the ConfigMaps of a manifest by entry and line' {
        $manifest = Join-Path $dir 'rules.yaml'
        Set-Content $manifest @'
apiVersion: v1
kind: ConfigMap
metadata:
  name: audit-rules
data:
  10-base.rules: |
    -D
    -b 8192
  30-watch.rules: |
    -w /etc/passwd -p wa -k passwd
    -w /etc/shadow -p wa -k shadow -k
'@
        $finding = Test-AuditRule -Path $manifest
        $finding.Path | Should -Be "$manifest[30-watch.rules]"
        $finding.LineNumber | Should -Be 2
        $finding.Code | Should -Be 'AR1002'
        $finding.Message | Should -Match 'rules\.yaml line 11'
    }

    It 'checks the shared AKS ConfigMaps' -ForEach @(
        @{ Name = 'Azure-aks-auditd' }, @{ Name = 'KiPIDesTAN-aks-auditd' }
    ) {
        $findings = Test-AuditRule -Path (Join-Path $Corpus $Name 'kubernetes/configmap/auditd-rules.yaml')
        $findings | Where-Object Severity -eq 'Error' | Should -BeNullOrEmpty
        $findings | ForEach-Object { $_.Path | Should -BeLike '*auditd-rules.yaml`[*.rules`]' }
    }

    It 'writes RulesFileNotFound for a missing file and keeps going' {
        Set-Content (Join-Path $dir 'ok.rules') '-w etc/passwd'
        $found = Test-AuditRule -LiteralPath (Join-Path $dir 'missing.rules'), (Join-Path $dir 'ok.rules') -ErrorVariable problems -ErrorAction SilentlyContinue
        $problems.Count | Should -Be 1
        $problems[0].FullyQualifiedErrorId | Should -Be 'RulesFileNotFound,AksAuditd.PowerShell.Commands.TestAuditRuleCommand'
        $problems[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $found.Code | Should -Be 'AR1401'
    }

    It 'stops a script on a missing file with -ErrorAction Stop' {
        { Test-AuditRule -Path (Join-Path $dir 'nothing-*.rules') -ErrorAction Stop } | Should -Throw -ErrorId 'RulesFileNotFound,AksAuditd.PowerShell.Commands.TestAuditRuleCommand'
    }

    It 'refuses an arch it does not know' {
        { Test-AuditRule -Line '-D' -Arch sparc -ErrorAction Stop } | Should -Throw -ErrorId 'ParameterArgumentValidationError,AksAuditd.PowerShell.Commands.TestAuditRuleCommand'
    }

    It 'formats findings like a compiler, grouped by file' {
        $text = Test-AuditRule -Line '-w etc/passwd -p wa' | Out-String -Width 160
        $text | Should -Match 'Rules: \(lines\)'
        $text | Should -Match '1:4\s+Error\s+AR1401'
    }
}

Describe 'The Pester snippet in Test-AuditRule help' {
    BeforeAll {
        $example = (Get-Help Test-AuditRule -Examples).examples.example | Where-Object title -Match 'Pester'
        $script:Snippet = $example.code
        $script:Pester = (Get-Module Pester).Path

        # Runs the snippet as a CI job would: a separate pwsh, the module found on PSModulePath, Invoke-Pester ./ci.
        function Invoke-Snippet {
            $moduleParent = Split-Path $env:AKSAUDITD_MODULE
            $script = "`$env:PSModulePath = '$moduleParent' + [IO.Path]::PathSeparator + `$env:PSModulePath
    Import-Module '$Pester'
    `$run = Invoke-Pester -Path '$repo/ci' -PassThru -Output None
    '{0} {1}' -f `$run.PassedCount, `$run.FailedCount"
            & (Join-Path $PSHOME 'pwsh') -NoProfile -NonInteractive -Command $script
        }
    }

    BeforeEach {
        $script:repo = Join-Path ([IO.Path]::GetTempPath()) ('aks-auditd-ci-' + [Guid]::NewGuid().ToString('N').Substring(0, 8))
        New-Item -ItemType Directory -Force (Join-Path $repo 'ci'), (Join-Path $repo 'kubernetes') | Out-Null
        Set-Content (Join-Path $repo 'ci/AuditRules.Tests.ps1') $Snippet
        Copy-Item (Join-Path $Corpus 'Azure-aks-auditd/kubernetes/configmap/auditd-rules.yaml') (Join-Path $repo 'kubernetes/azure.yaml')
        Set-Content (Join-Path $repo 'kubernetes/base.rules') "-D`n-b 8192`n-w /etc/passwd -p wa -k passwd"
    }
    AfterEach { Remove-Item -Recurse -Force $repo }

    It 'is a Pester test file' {
        $Snippet | Should -Match 'Describe'
        $Snippet | Should -Match 'Test-AuditRule'
    }

    It 'passes on good rules, one test per file' {
        @(Invoke-Snippet)[-1] | Should -Be '2 0'
    }

    It 'fails the build on a bad line' {
        Add-Content (Join-Path $repo 'kubernetes/base.rules') '-a always,exit -F arch=b64 -S nosuchcall -k broken'
        $output = @(Invoke-Snippet)
        $output[-1] | Should -Be '1 1'
        $output | Should -Contain "$repo/kubernetes/base.rules:4:31: error AR1301: 'nosuchcall' is not in auditctl 3.0.9's x86_64 syscall table [auditctl: Syscall name unknown: nosuchcall]"
    }
}

Describe 'Get-AuditRule' {
    It 'returns the line auditctl -l prints for each rule' {
        $rules = Get-AuditRule -Line '-a exit,always -F arch=b64 -S execve -k procmon', '-w /etc/sudoers.d/ -p wa -k sudoers', '-b 8192'
        $rules.Canonical | Should -Be @('-a always,exit -F arch=b64 -S execve -F key=procmon', '-w /etc/sudoers.d -p wa -k sudoers', '')
        $rules[0].Keys | Should -Be @('procmon')
        $rules[1].Permissions | Should -Be 'wa'
        $rules[2].ControlOption | Should -Be '-b'
    }

    It 'merges a rules.d directory like augenrules' {
        $merged = Get-AuditRule -Merged (Join-Path $Corpus 'debian-auditd/examples/rules') -Raw
        $merged | Should -BeLike '## This file is automatically generated from /etc/audit/rules.d*'
        (Get-AuditRule -Merged (Join-Path $Corpus 'debian-auditd/examples/rules') -ExcludeControl).Count | Should -BeGreaterThan 100
    }

    It 'is a terminating RulesDirectoryNotFound for a missing directory' {
        { Get-AuditRule -Merged /nonexistent/rules.d } | Should -Throw -ErrorId 'RulesDirectoryNotFound,AksAuditd.PowerShell.Commands.GetAuditRuleCommand'
    }

    It 'shows rules like auditctl -l' {
        $text = Get-AuditRule -Line '-a exit,always -F arch=b64 -S execve -k procmon' | Out-String -Width 160
        $text | Should -Match 'Rule \(as auditctl -l lists it\)'
        $text | Should -Match '1 Syscall\s+-a always,exit -F arch=b64 -S execve -F key=procmon'
    }
}
