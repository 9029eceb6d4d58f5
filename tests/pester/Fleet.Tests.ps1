# The fleet view for real: the entrypoint from the image layout on a sandbox node (-NoRestart, as the demo)
# serves /metrics, /healthz and /readyz; promtool checks the exposition; a real Prometheus server (Debian's
# prometheus package, on 127.0.0.1, in a temporary folder, for a bounded time) scrapes it and evaluates
# kubernetes/monitoring/aksauditd.rules.yml.
BeforeAll {
    . (Join-Path $PSScriptRoot 'DaemonSet.Helpers.ps1')
    Import-Module (Join-Path $env:AKSAUDITD_MODULE 'AksAuditd.psd1') -Force
    $script:Layout = New-TestImageLayout

    function Get-Http {
        param([string] $Url)
        try { $response = Invoke-WebRequest -Uri $Url -SkipHttpErrorCheck -TimeoutSec 10 }
        catch { return [pscustomobject]@{ Status = 0; Text = $_.Exception.Message; ContentType = '' } }
        return [pscustomobject]@{ Status = [int]$response.StatusCode; Text = "$($response.Content)"; ContentType = "$($response.Headers['Content-Type'])" }
    }

    function Get-Sample {
        # The value of one sample in exposition text; $null when absent.
        param([string] $Text, [string] $Series)
        foreach ($line in $Text -split "`n") {
            if ($line.StartsWith("$Series ")) { return [double]($line.Substring($Series.Length + 1)) }
        }
        return $null
    }

    function Invoke-PromQuery {
        param([string] $Prometheus, [string] $Query)
        $answer = Invoke-RestMethod -Uri "$Prometheus/api/v1/query?query=$([uri]::EscapeDataString($Query))" -TimeoutSec 10
        return @($answer.data.result)
    }
}

AfterAll {
    Remove-TestImageLayout $Layout
}

Describe 'The entrypoint''s metrics endpoint, scraped by Prometheus' {
    BeforeAll {
        $script:Sandbox = New-SandboxNode
        $script:Run = Start-Entrypoint -Layout $Layout -Sandbox $Sandbox -Arguments '-NoRestart' -Environment @{ AA_POLL_INTERVAL = '1s' }
        $script:Prometheus = $null
        $script:PrometheusDir = Join-Path $Sandbox.Root 'prometheus'
    }

    AfterAll {
        if ($Prometheus -and -not $Prometheus.HasExited) { $Prometheus.Kill(); $Prometheus.WaitForExit(10000) | Out-Null }
        if ($Run -and -not $Run.Process.HasExited) { $null = Stop-Entrypoint $Run }
        Remove-Item -LiteralPath $Sandbox.Root -Recurse -Force -ErrorAction SilentlyContinue
    }

    It 'answers /healthz, and /readyz once the first pass applied the ConfigMaps' {
        # The wait first, the message after: a pipeline binds Should's -Because before Wait-Until runs, when the
        # entrypoint may not have written its log yet.
        $ready = Wait-Until { (Get-Http "$($Run.MetricsUrl)/readyz").Status -eq 200 } -Timeout ([TimeSpan]::FromSeconds(60))
        $ready | Should -Not -BeNullOrEmpty -Because "the entrypoint said: $(Get-Content -Raw -ErrorAction SilentlyContinue $Run.Out)"
        (Get-Http "$($Run.MetricsUrl)/healthz").Status | Should -Be 200
        (Get-Http "$($Run.MetricsUrl)/readyz").Text | Should -Match '^ok'
    }

    It 'exports every name of the issue, with the sandbox''s values, and passes promtool check metrics' {
        # Two more passes, so the unchanged counter has moved.
        Wait-Until { (Get-Sample (Get-Http "$($Run.MetricsUrl)/metrics").Text 'aksauditd_sync_runs_total{kind="rules",result="unchanged"}') -ge 2 } -Timeout ([TimeSpan]::FromSeconds(30)) |
            Should -Not -BeNullOrEmpty
        $metrics = Get-Http "$($Run.MetricsUrl)/metrics"
        $metrics.ContentType | Should -Match '^text/plain; version=0\.0\.4'
        foreach ($name in 'aksauditd_build_info', 'aksauditd_sync_runs_total', 'aksauditd_sync_last_success_timestamp_seconds', 'aksauditd_source_files',
            'aksauditd_drift_files', 'aksauditd_rules_desired', 'aksauditd_rules_loaded', 'aksauditd_kernel_rule_drift', 'aksauditd_auditd_running',
            'aksauditd_audit_enabled', 'aksauditd_kernel_lost_events_total', 'aksauditd_kernel_backlog', 'aksauditd_kernel_backlog_limit',
            'aksauditd_restarts_total', 'aksauditd_source_rejected') {
            $metrics.Text | Should -Match "(?m)^# TYPE $name " -Because "$name is one of the issue's names"
        }

        $rules = Read-ConfigMapData (Join-Path $RepoRoot 'kubernetes/auditd-rules.yaml')
        $plugins = Read-ConfigMapData (Join-Path $RepoRoot 'kubernetes/audisp-plugins.yaml')
        $ruleFiles = @($rules.Keys | Where-Object { $_ -like '*.rules' })
        $desired = @($ruleFiles | ForEach-Object { $rules[$_] -split "`n" } | Where-Object { $_.TrimStart() -match '^-[aAw]' }).Count
        $version = (Import-PowerShellDataFile (Join-Path $env:AKSAUDITD_MODULE 'AksAuditd.psd1')).ModuleVersion
        Get-Sample $metrics.Text "aksauditd_build_info{version=`"$version`"}" | Should -Be 1
        Get-Sample $metrics.Text 'aksauditd_source_files{kind="rules"}' | Should -Be $ruleFiles.Count
        Get-Sample $metrics.Text 'aksauditd_source_files{kind="plugins"}' | Should -Be @($plugins.Keys | Where-Object { $_ -like '*.conf' }).Count
        Get-Sample $metrics.Text 'aksauditd_drift_files{kind="rules"}' | Should -Be 0
        Get-Sample $metrics.Text 'aksauditd_source_rejected{kind="rules"}' | Should -Be 0
        Get-Sample $metrics.Text 'aksauditd_rules_desired' | Should -Be $desired
        Get-Sample $metrics.Text 'aksauditd_sync_runs_total{kind="rules",result="changed"}' | Should -Be 1
        Get-Sample $metrics.Text 'aksauditd_sync_runs_total{kind="plugins",result="failed"}' | Should -Be 0
        (Get-Sample $metrics.Text 'aksauditd_sync_last_success_timestamp_seconds{kind="rules"}') | Should -BeGreaterThan ([DateTimeOffset]::UtcNow.AddMinutes(-2).ToUnixTimeSeconds())
        # -NoRestart never reads the kernel: its figures are declared but have no sample, not a false 0.
        Get-Sample $metrics.Text 'aksauditd_auditd_running' | Should -BeNullOrEmpty

        $checked = $metrics.Text | & promtool check metrics 2>&1
        $LASTEXITCODE | Should -Be 0 -Because "promtool said: $checked"
    }

    It 'is scraped by a real Prometheus that evaluates the alert rules, and a refused source fires the drift alert' {
        $port = Get-FreeTcpPort
        $target = ([uri]$Run.MetricsUrl).Authority
        New-Item -ItemType Directory $PrometheusDir | Out-Null
        $config = Join-Path $PrometheusDir 'prometheus.yml'
        # Labels as the PodMonitor's scrape gives them, so the rules' pod matchers apply.
        [System.IO.File]::WriteAllText($config, @"
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $(Join-Path $RepoRoot 'kubernetes/monitoring/aksauditd.rules.yml')
scrape_configs:
  - job_name: kube-system/aks-auditd
    static_configs:
      - targets: ['$target']
        labels: { namespace: kube-system, pod: aks-auditd-sandbox }
"@)
        $start = [System.Diagnostics.ProcessStartInfo]::new('prometheus')
        foreach ($argument in "--config.file=$config", "--storage.tsdb.path=$(Join-Path $PrometheusDir 'data')", "--web.listen-address=127.0.0.1:$port", '--log.level=warn') {
            $start.ArgumentList.Add($argument)
        }
        $start.RedirectStandardOutput = $true
        $start.RedirectStandardError = $true
        $script:Prometheus = [System.Diagnostics.Process]::Start($start)
        $url = "http://127.0.0.1:$port"

        Wait-Until { try { @(Invoke-PromQuery $url 'aksauditd_source_files{kind="rules"}').Count -eq 1 } catch { $false } } -Timeout ([TimeSpan]::FromSeconds(60)) |
            Should -Not -BeNullOrEmpty
        $groups = (Invoke-RestMethod "$url/api/v1/rules" -TimeoutSec 10).data.groups
        $loaded = @($groups.rules)
        $loaded.Count | Should -Be 8
        Wait-Until { @((Invoke-RestMethod "$url/api/v1/rules" -TimeoutSec 10).data.groups.rules | Where-Object health -ne 'ok').Count -eq 0 } -Timeout ([TimeSpan]::FromSeconds(20)) |
            Should -Not -BeNullOrEmpty -Because 'every rule evaluates without error against the real series'
        (Invoke-PromQuery $url 'up{pod="aks-auditd-sandbox"}')[0].value[1] | Should -Be '1'

        # A rule the kernel would refuse (its watch's parent folder is missing on the node): the sync refuses the
        # source, the node keeps its files, drift_files counts it and the drift alert goes pending.
        $rules = Read-ConfigMapData (Join-Path $RepoRoot 'kubernetes/auditd-rules.yaml')
        $rules['90-broken.rules'] = "-w /no/such/folder/file -p wa -k broken`n"
        Write-ConfigMapVolume $Sandbox.RulesVolume $rules
        Wait-Until { (Get-Http "$($Run.MetricsUrl)/readyz").Status -eq 503 } -Timeout ([TimeSpan]::FromSeconds(30)) | Should -Not -BeNullOrEmpty
        Wait-Until {
            @((Invoke-RestMethod "$url/api/v1/alerts" -TimeoutSec 10).data.alerts | Where-Object { $_.labels.alertname -eq 'AksAuditdRulesDrift' -and $_.state -eq 'pending' }).Count -eq 1
        } -Timeout ([TimeSpan]::FromSeconds(30)) | Should -Not -BeNullOrEmpty
        (Invoke-PromQuery $url 'aksauditd_sync_runs_total{kind="rules",result="refused"} > 0').Count | Should -Be 1

        # The agent stops: Prometheus sees the target down and the agent-down alert goes pending.
        (Stop-Entrypoint $Run).ExitCode | Should -Be 0
        Wait-Until {
            @((Invoke-RestMethod "$url/api/v1/alerts" -TimeoutSec 10).data.alerts | Where-Object { $_.labels.alertname -eq 'AksAuditdAgentDown' }).Count -eq 1
        } -Timeout ([TimeSpan]::FromSeconds(30)) | Should -Not -BeNullOrEmpty
    }
}
