#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Regenerates src/AksAuditd.Core/Audit/Generated/InterpretationTables.g.cs from the real ausearch.
.DESCRIPTION
    Get-AuditEvent interprets values the way `ausearch -i` does. The names ausearch prints for errno values
    (with glibc's message), signals, capabilities, socket families and types, open(2) flags, access(2) modes,
    rule lists and file types come from tables compiled into libauparse and glibc. Rather than copying them,
    this script writes one synthetic record per value, asks the installed ausearch to interpret them, and
    records its answers. Errno names and messages, rule lists and file types are libaudit's own tables, written
    once by tools/generate-libaudit-tables.sh (LibauditTables.g.cs); this script only checks that ausearch
    prints exactly those, so each fact keeps one home. Run it from the repository root on a machine with
    auditd installed, after the libaudit tables:
        dotnet pwsh ./build.ps1 generate
#>
[CmdletBinding()]
param([string] $Destination = (Join-Path $PSScriptRoot '../src/AksAuditd.Core/Audit/Generated/InterpretationTables.g.cs'))

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

$serial = 0
$probes = [System.Collections.Generic.List[object]]::new()
$lines = [System.Text.StringBuilder]::new()
function Add-Probe([string] $Table, [long] $Value, [string] $Record, [string] $Field) {
    $script:serial++
    # Each probe is its own event, 10 s apart, so ausearch never groups two probes together.
    $time = 1700000000 + 10 * $script:serial
    [void]$lines.Append(($Record -f "msg=audit($time.000:$($script:serial))") + "`n")
    $probes.Add([pscustomobject]@{ Table = $Table; Value = $Value; Serial = $script:serial; Field = $Field })
}

$syscall = 'type=SYSCALL {0}: arch=c000003e syscall={1} success=no exit={2} a0={3} a1={4} a2={5} a3=0 items=0 ppid=1 pid=2 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm="probe" exe="/probe" key=(null)'
foreach ($n in 1..300) { Add-Probe 'Errno' $n ($syscall -f '{0}', 2, -$n, 0, 0, 0) 'exit' }
foreach ($n in 0..64) { Add-Probe 'Signal' $n "type=ANOM_ABEND {0}: auid=0 uid=0 gid=0 ses=1 pid=2 comm=`"probe`" exe=`"/probe`" sig=$n res=1" 'sig' }
foreach ($n in 0..63) {
    $hex = ([uint64]1 -shl $n).ToString('x')
    Add-Probe 'Capability' $n "type=BPRM_FCAPS {0}: fver=0 fp=$hex fi=0 fe=0" 'fp'
}
foreach ($n in 0..63) {
    # A sockaddr of the family with enough zero bytes for any length check ausearch makes.
    $hex = ('{0:X2}{1:X2}' -f ($n -band 0xff), ($n -shr 8)) + ('00' * 126)
    Add-Probe 'Family' $n "type=SOCKADDR {0}: saddr=$hex" 'saddr'
}
foreach ($n in 0..15) { Add-Probe 'SocketType' $n ($syscall -f '{0}', 41, 3, 2, $n.ToString('x'), 0) 'a1' }
foreach ($bit in 0..31) { Add-Probe 'OpenFlag' ([long]1 -shl $bit) ($syscall -f '{0}', 257, 3, 'ffffff9c', 0, ([uint32]1 -shl $bit).ToString('x')) 'a2' }
Add-Probe 'OpenFlagOrder' 0 ($syscall -f '{0}', 257, 3, 'ffffff9c', 0, 'ffffffff') 'a2'
foreach ($bit in 8..31) { Add-Probe 'CloneFlag' ([long]1 -shl $bit) ($syscall -f '{0}', 56, 0, 0, 0, ([uint32]1 -shl $bit).ToString('x')) 'a2' }
Add-Probe 'CloneFlagOrder' 0 ($syscall -f '{0}', 56, 0, 0, 0, 'ffffff00') 'a2'
foreach ($bit in 0..31) { Add-Probe 'MmapFlag' ([long]1 -shl $bit) "type=MMAP {0}: fd=3 flags=$(([uint32]1 -shl $bit).ToString('x'))" 'flags' }
Add-Probe 'MmapFlagOrder' 0 "type=MMAP {0}: fd=3 flags=ffffffff" 'flags'
# PROT_READ rides along: a value without any of the low three bits prints as PROT_NONE.
foreach ($bit in 0..3) { Add-Probe 'Prot' ([long]1 -shl $bit) ($syscall -f '{0}', 9, 0, 0, 0, (([uint32]1 -shl $bit) -bor 1).ToString('x')) 'a2' }
foreach ($code in 0, 0x30000, 0x50000, 0x7fc00000, 0x7ff00000, 0x7ffc0000, 0x7fff0000) {
    Add-Probe 'Seccomp' $code "type=SECCOMP {0}: auid=0 uid=0 gid=0 ses=1 pid=2 comm=`"probe`" exe=`"/probe`" sig=0 arch=c000003e syscall=2 compat=0 ip=0x0 code=0x$($code.ToString('x'))" 'code'
}
foreach ($n in @(0..63) + @(1024..1063)) { Add-Probe 'FcntlCommand' $n ($syscall -f '{0}', 72, 0, 3, $n.ToString('x'), 0) 'a1' }
foreach ($n in 0..7) { Add-Probe 'EpollOperation' $n ($syscall -f '{0}', 233, 0, 3, $n.ToString('x'), 0) 'a1' }
foreach ($n in 0..6) { Add-Probe 'ClockId' $n ($syscall -f '{0}', 227, 0, $n.ToString('x'), 0, 0) 'a0' }
foreach ($n in 0..7) { Add-Probe 'Access' $n ($syscall -f '{0}', 21, 0, 0, $n.ToString('x'), 0) 'a1' }
foreach ($n in 0..15) { Add-Probe 'List' $n "type=CONFIG_CHANGE {0}: auid=0 ses=1 op=add_rule key=(null) list=$n res=1" 'list' }
foreach ($n in 0..15) { Add-Probe 'FileType' ($n -shl 12) ("type=PATH {0}: item=0 name=`"/probe`" inode=1 dev=00:00 mode={1} ouid=0 ogid=0 rdev=00:00 nametype=NORMAL" -f '{0}', [Convert]::ToString(($n -shl 12) -bor 0x1a4, 8)) 'mode' }

$work = Join-Path ([IO.Path]::GetTempPath()) "aksauditd-probe-$PID"
New-Item -ItemType Directory -Force $work | Out-Null
try {
    $log = Join-Path $work 'probe.log'
    [IO.File]::WriteAllText($log, $lines.ToString())
    $env:TZ = 'UTC'; $env:LC_ALL = 'C'
    $output = & ausearch -i -if $log 2>$null
    $version = (& ausearch -v 2>&1 | Select-Object -First 1).ToString().Trim()
}
finally {
    Remove-Item -Recurse -Force $work
}

# ausearch prints each event as "----" then its records; the serial is in msg=audit(date time.milli:serial).
$bySerial = @{}
foreach ($line in $output) {
    if ($line -match 'msg=audit\([^)]*:(\d+)\) : (.*)$') { $bySerial[[int]$Matches[1]] = $Matches[2] }
}
function Get-Answer($probe) {
    $text = $bySerial[$probe.Serial]
    if ($null -eq $text) { throw "ausearch printed nothing for probe $($probe.Table) $($probe.Value)" }
    $field = [regex]::Escape($probe.Field)
    if ($probe.Field -eq 'saddr') {
        if ($text -match 'saddr=\{ saddr_fam=(\S+)') { return $Matches[1] }
        if ($text -match 'saddr=unknown-family') { return $null }
        throw "unexpected saddr answer: $text"
    }
    if ($text -notmatch "(?:^| )$field=(.*?)(?: [a-z0-9_]+=|\s*$)") { throw "no $($probe.Field) in: $text" }
    return $Matches[1]
}

function Format-String([string] $s) { '"' + $s.Replace('\', '\\').Replace('"', '\"') + '"' }

$sb = [System.Text.StringBuilder]::new()
[void]$sb.AppendLine('// <auto-generated>')
[void]$sb.AppendLine("// Generated by tools/generate-auparse-tables.ps1 from the answers of the installed ausearch ($version) to")
[void]$sb.AppendLine('// synthetic records. DO NOT EDIT; run `dotnet pwsh ./build.ps1 generate` from the repository root to regenerate.')
[void]$sb.AppendLine('// </auto-generated>')
[void]$sb.AppendLine('namespace AksAuditd.Core.Audit;')
[void]$sb.AppendLine('')
[void]$sb.AppendLine('/// <summary>What ausearch -i prints for numeric values whose names come from libauparse and glibc tables.</summary>')
[void]$sb.AppendLine('internal static class InterpretationTables')
[void]$sb.AppendLine('{')

# Errno names and messages, lists and file types live in LibauditTables.g.cs; ausearch must print exactly those.
$libaudit = Get-Content -Raw (Join-Path (Split-Path $Destination) 'LibauditTables.g.cs')
function Get-LibauditRows([string] $Table) {
    $body = [regex]::Match($libaudit, "(?s) $Table =\s*\[(.*?)\];").Groups[1].Value
    if (-not $body) { throw "LibauditTables.g.cs has no table ${Table}: run tools/generate-libaudit-tables.sh first" }
    return @([regex]::Matches($body, '\((\d+), "([^"]*)"(?:, "([^"]*)")?\)') | ForEach-Object {
        if ($_.Groups[3].Success) { '{0} {1}({2})' -f $_.Groups[1].Value, $_.Groups[2].Value, $_.Groups[3].Value }
        else { '{0} {1}' -f $_.Groups[1].Value, $_.Groups[2].Value }
    })
}
function Assert-SameAsLibaudit([string] $Table, [string] $ProbeTable, [scriptblock] $Accept, [scriptblock] $Select) {
    $printed = @(foreach ($p in $probes | Where-Object Table -eq $ProbeTable) {
        $answer = Get-Answer $p
        if ($null -ne $answer -and (& $Accept $answer)) { '{0} {1}' -f $p.Value, (& $Select $answer) }
    })
    $expected = Get-LibauditRows $Table
    $difference = Compare-Object $expected $printed
    if ($difference) { throw "ausearch prints $Table other than libaudit's table: $($difference | Out-String)" }
}
$unknownErrno = ($probes | Where-Object Table -eq 'Errno' | ForEach-Object { Get-Answer $_ } | Where-Object { $_.StartsWith('(null)(') } | Select-Object -First 1)
if ($unknownErrno -notmatch '^\(null\)\(Unknown error \d+\)$') { throw "unexpected answer for an unknown errno: $unknownErrno" }
Assert-SameAsLibaudit 'Errnos' 'Errno' { param($a) -not $a.StartsWith('(null)(') } { param($a) $a }
Assert-SameAsLibaudit 'Lists' 'List' { param($a) $a -notlike 'unknown-list*' } { param($a) $a }
Assert-SameAsLibaudit 'FileTypes' 'FileType' { param($a) $a -notmatch '^\d{3},' } { param($a) $a -replace ',644$', '' }

function Write-NameTable([string] $Name, [string] $Doc, [string] $Table, [scriptblock] $Accept, [scriptblock] $Select = { param($a) $a }) {
    [void]$sb.AppendLine('')
    [void]$sb.AppendLine("    /// <summary>$Doc</summary>")
    [void]$sb.AppendLine("    public static readonly (long Value, string Name)[] $Name =")
    [void]$sb.AppendLine('    [')
    foreach ($p in $probes | Where-Object Table -eq $Table) {
        $answer = Get-Answer $p
        if ($null -ne $answer -and (& $Accept $answer $p)) {
            [void]$sb.AppendLine("        ($($p.Value), $(Format-String (& $Select $answer $p))),")
        }
    }
    [void]$sb.AppendLine('    ];')
}

Write-NameTable 'Signals' 'Signal numbers (sig=, kill a1, tgkill a2).' 'Signal' { param($a) $a -notlike 'unknown-signal*' }
Write-NameTable 'Capabilities' 'Capability bit numbers (cap_* bitmaps, capability=).' 'Capability' { param($a) $a -ne '' -and $a -ne 'none' }
Write-NameTable 'Families' 'Socket address families (saddr, socket a0).' 'Family' { param($a) $true }
Write-NameTable 'SocketTypes' 'Socket types (socket a1, low byte).' 'SocketType' { param($a) $a -notlike 'unknown-type*' }
# A lone flag bit prints as O_RDONLY|<flag> because no access mode bit is set; keep the flag.
Write-NameTable 'OpenFlags' 'open(2) flag bits; ausearch joins them in the order of OpenFlagOrder.' 'OpenFlag' { param($a, $p) $a -ne ('0x' + $p.Value.ToString('x')) -and $a -ne 'O_RDONLY' } { param($a) $a -replace '^O_RDONLY\|', '' }
Write-NameTable 'CloneFlags' 'clone(2) flag bits above the signal byte; joined in the order of CloneFlagOrder.' 'CloneFlag' { param($a) $a -notlike '0x*' }
# A lone flag bit prints as MAP_FILE|<flag> because no sharing bit is set; keep the flag.
Write-NameTable 'MmapFlags' 'mmap(2) flag bits; joined in the order of MmapFlagOrder.' 'MmapFlag' { param($a) $a -ne 'MAP_FILE' -and $a -notlike '0x*' } { param($a) $a -replace '^MAP_FILE\|', '' }
Write-NameTable 'ProtFlags' 'mmap(2) and mprotect(2) protection bits (the last only for mmap).' 'Prot' { param($a) $a -notlike '0x*' } { param($a, $p) if ($p.Value -eq 1) { $a } else { $a -replace '^PROT_READ\|', '' } }
Write-NameTable 'SeccompActions' 'Seccomp return actions (code= masked with 0x7fff0000).' 'Seccomp' { param($a) $a -notlike 'unknown-seccomp-code*' }
Write-NameTable 'FcntlCommands' 'fcntl(2) commands (fcntl a1).' 'FcntlCommand' { param($a) $a -notlike 'unknown-*' }
Write-NameTable 'EpollOperations' 'epoll_ctl(2) operations (epoll_ctl a1).' 'EpollOperation' { param($a) $a -notlike 'unknown-*' }
Write-NameTable 'ClockIds' 'Clock ids (clock_settime a0).' 'ClockId' { param($a) $a -notlike 'unknown-*' }
Write-NameTable 'AccessModes' 'access(2) modes, whole values 0-7.' 'Access' { param($a) $true }

foreach ($table in 'OpenFlag', 'CloneFlag', 'MmapFlag') {
    $order = Get-Answer ($probes | Where-Object Table -eq "${table}Order" | Select-Object -First 1)
    [void]$sb.AppendLine('')
    [void]$sb.AppendLine("    /// <summary>The order ausearch joins ${table}s names in.</summary>")
    [void]$sb.AppendLine("    public static readonly string[] ${table}Order = [$((($order -split '\|') | ForEach-Object { Format-String $_ }) -join ', ')];")
}
[void]$sb.AppendLine('}')

$text = ($sb.ToString() -replace "`r`n", "`n") -replace "\{`n`n", "{`n"
[IO.File]::WriteAllText([IO.Path]::GetFullPath($Destination), $text)
Write-Host "Wrote $Destination"
