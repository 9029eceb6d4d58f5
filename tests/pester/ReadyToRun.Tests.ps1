# The image's ahead-of-time code (image/Invoke-ReadyToRun.ps1, run by the Dockerfile's build stage): the tree
# `build.ps1 image-layout -ReadyToRun` writes is what the image holds, and pwsh runs the module from it.
BeforeAll {
    . (Join-Path $PSScriptRoot 'DaemonSet.Helpers.ps1')

    function Test-ReadyToRunAssembly {
        # True when the file carries ReadyToRun code (a managed native header), as the runtime sees it.
        param([string] $Path)
        $stream = [System.IO.File]::OpenRead($Path)
        try {
            $reader = [System.Reflection.PortableExecutable.PEReader]::new($stream)
            try { return $reader.HasMetadata -and $reader.PEHeaders.CorHeader.ManagedNativeHeaderDirectory.Size -gt 0 }
            finally { $reader.Dispose() }
        }
        finally { $stream.Dispose() }
    }

    $script:Compiled = Join-Path ([System.IO.Path]::GetTempPath()) "aks-auditd-r2r-$([guid]::NewGuid().ToString('n'))"
    $null = & (Join-Path $RepoRoot 'image/New-ImageLayout.ps1') -ModulePath $env:AKSAUDITD_MODULE -Destination $Compiled -ReadyToRun
    $script:CompiledPowerShell = Join-Path $Compiled 'opt/microsoft/powershell/7'
    $script:CompiledModule = Join-Path $Compiled 'usr/local/share/powershell/Modules/AksAuditd'
}

AfterAll {
    if ($Compiled -and $Compiled.StartsWith([System.IO.Path]::GetTempPath()) -and (Split-Path $Compiled -Leaf) -like 'aks-auditd-r2r-*') {
        Remove-Item -LiteralPath $Compiled -Recurse -Force -ErrorAction SilentlyContinue
    }
}

Describe 'build.ps1 image-layout -ReadyToRun' {
    It 'compiles <_>, which every pwsh session loads' -ForEach 'pwsh.dll', 'System.Management.Automation.dll', 'Microsoft.PowerShell.ConsoleHost.dll', 'Microsoft.PowerShell.Commands.Utility.dll', 'Microsoft.PowerShell.Commands.Management.dll' {
        Test-ReadyToRunAssembly (Join-Path $PSHOME $_) | Should -BeFalse -Because 'the package ships IL only; otherwise this test proves nothing'
        Test-ReadyToRunAssembly (Join-Path $CompiledPowerShell $_) | Should -BeTrue
    }

    It 'compiles every assembly of the module, Dependencies included, but KubernetesClient' {
        $assemblies = @(Get-ChildItem -LiteralPath $CompiledModule -Filter '*.dll' -Recurse)
        $assemblies.Name | Should -Contain 'AksAuditd.PowerShell.dll'
        $assemblies.Name | Should -Contain 'AksAuditd.Core.dll'
        foreach ($assembly in $assemblies | Where-Object Name -ne 'KubernetesClient.dll') {
            Test-ReadyToRunAssembly $assembly.FullName | Should -BeTrue -Because "$($assembly.Name) runs on every node"
        }
    }

    It 'leaves KubernetesClient IL, byte for byte: compiled, it costs the loop more memory than it saves' {
        $compiled = Join-Path $CompiledModule 'Dependencies/KubernetesClient.dll'
        (Get-FileHash -LiteralPath $compiled).Hash | Should -Be (Get-FileHash -LiteralPath (Join-Path $env:AKSAUDITD_MODULE 'Dependencies/KubernetesClient.dll')).Hash
    }

    It 'leaves the rest of PowerShell byte for byte as the package has it' {
        # CodeAnalysis is large and only Add-Type uses it: compiling it would double its size for nothing.
        foreach ($name in 'Microsoft.CodeAnalysis.dll', 'pwsh.runtimeconfig.json', 'Modules/Microsoft.PowerShell.Utility/Microsoft.PowerShell.Utility.psd1') {
            (Get-FileHash -LiteralPath (Join-Path $CompiledPowerShell $name)).Hash | Should -Be (Get-FileHash -LiteralPath (Join-Path $PSHOME $name)).Hash
        }
    }

    It 'runs the module from the compiled tree with the image''s pwsh' {
        $launcher = Join-Path $Compiled 'usr/local/bin/pwsh'
        $script = 'Import-Module AksAuditd; (Test-AuditRule -Line "-w /etc/passwd -p wa -k identity", "-a always,exit -F arch=b64 -S bogus" -Arch x86_64).Code -join ","'
        $saved = $env:PSModulePath
        try {
            $env:PSModulePath = Join-Path $Compiled 'usr/local/share/powershell/Modules'
            $output = & $launcher -NoLogo -NoProfile -NonInteractive -Command $script 2>&1
        }
        finally { $env:PSModulePath = $saved }
        $LASTEXITCODE | Should -Be 0 -Because ($output -join "`n")
        "$output" | Should -Match 'AR\d{4}' -Because 'the unknown syscall is reported by the compiled rules engine'
    }

    It 'changes nothing when run again on a compiled tree' {
        $before = Get-FileTree $Compiled
        $verbose = & (Join-Path $RepoRoot 'image/Invoke-ReadyToRun.ps1') -PowerShellHome $CompiledPowerShell -ModulePath $CompiledModule -Verbose 4>&1
        "$verbose" | Should -Match 'ReadyToRun already'
        $after = Get-FileTree $Compiled
        foreach ($file in $before.Keys) { $after[$file] | Should -Be $before[$file] -Because "$file was compiled already" }
    }

    It 'compiles for the other platform of a multi-platform image when asked, as the build stage does' {
        # The Dockerfile's build stage runs on the build machine and passes Docker's TARGETARCH (amd64 or arm64).
        $native = "$([System.Runtime.InteropServices.RuntimeInformation]::ProcessArchitecture)".ToLowerInvariant()
        $other, $machine = if ($native -eq 'x64') { 'arm64', 0xD11D } else { 'amd64', 0xFD1D } # Linux R2R: PE machine XOR 0x7B79
        $cross = Join-Path ([System.IO.Path]::GetTempPath()) "aks-auditd-r2r-cross-$([guid]::NewGuid().ToString('n'))"
        try {
            $null = New-Item -ItemType Directory -Path $cross
            Copy-Item -LiteralPath $env:AKSAUDITD_MODULE -Destination (Join-Path $cross 'module') -Recurse
            # Only the engine's core assembly, to keep this quick: the script compiles what it finds of the engine.
            $null = New-Item -ItemType Directory -Path (Join-Path $cross 'powershell')
            foreach ($name in 'System.Management.Automation.dll', 'pwsh.dll') { Copy-Item -LiteralPath (Join-Path $PSHOME $name) -Destination (Join-Path $cross 'powershell') }

            & (Join-Path $RepoRoot 'image/Invoke-ReadyToRun.ps1') -PowerShellHome (Join-Path $cross 'powershell') -ModulePath (Join-Path $cross 'module') -TargetArchitecture $other

            foreach ($assembly in (Join-Path $cross 'module/Dependencies/AksAuditd.Core.dll'), (Join-Path $cross 'powershell/System.Management.Automation.dll')) {
                Test-ReadyToRunAssembly $assembly | Should -BeTrue
                $stream = [System.IO.File]::OpenRead($assembly)
                try {
                    $reader = [System.Reflection.PortableExecutable.PEReader]::new($stream)
                    [int]$reader.PEHeaders.CoffHeader.Machine | Should -Be $machine -Because "$assembly must carry $other code"
                    $reader.Dispose()
                }
                finally { $stream.Dispose() }
            }
        }
        finally {
            if ((Split-Path $cross -Leaf) -like 'aks-auditd-r2r-cross-*') { Remove-Item -LiteralPath $cross -Recurse -Force -ErrorAction SilentlyContinue }
        }
    }

    It 'refuses to compile a linked PowerShell, which would change the PowerShell it points to' {
        $linked = Join-Path ([System.IO.Path]::GetTempPath()) "aks-auditd-r2r-link-$([guid]::NewGuid().ToString('n'))"
        try {
            $null = New-Item -ItemType SymbolicLink -Path $linked -Target $PSHOME
            { & (Join-Path $RepoRoot 'image/Invoke-ReadyToRun.ps1') -PowerShellHome $linked -ModulePath $CompiledModule } |
                Should -Throw "*$linked is a link*"
        }
        finally { [System.IO.File]::Delete($linked) }
        (Test-ReadyToRunAssembly (Join-Path $PSHOME 'System.Management.Automation.dll')) | Should -BeFalse
    }

    It 'refuses -ReadyToRun with -LinkPowerShell, naming both' {
        { & (Join-Path $RepoRoot 'image/New-ImageLayout.ps1') -ModulePath $env:AKSAUDITD_MODULE -Destination (Join-Path $Compiled 'never') -ReadyToRun -LinkPowerShell } |
            Should -Throw '*-ReadyToRun*-LinkPowerShell*'
        Test-Path -LiteralPath (Join-Path $Compiled 'never') | Should -BeFalse
    }
}
