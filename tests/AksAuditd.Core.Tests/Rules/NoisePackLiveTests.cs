using System.Diagnostics;
using AksAuditd.Core.Events;
using AksAuditd.Tests.Shared;
using Xunit;

namespace AksAuditd.Core.Tests.Rules;

/// <summary>
/// The Kubernetes noise pack in this machine's real kernel, with the machine's real auditd: runc started by a
/// system service (auid unset) is excluded, the same runc started from a login session (auid set) is still audited.
/// </summary>
public sealed class NoisePackLiveTests
{
    private const string Runc = "/usr/sbin/runc";

    [Fact]
    public void TheNoisePackNeverHidesALoginSession()
    {
        Assert.True(File.Exists(Runc), $"{Runc} is missing: .ci/run installs the runc package");
        var pack = Path.Combine(RepositoryRoot(), "rules", "kubernetes-noise", "10-kubernetes-noise.rules");
        var marker = "aks-noise-" + Guid.NewGuid().ToString("N")[..12];
        using var machine = new MachineAudit();
        var work = machine.Scratch();
        machine.StartAuditd();
        machine.Auditctl("-D");

        // Without the pack the probe rule sees a service's runc: the rule works, so its silence later means something.
        var probe = $"-a always,exit -F arch=b64 -S execve -F exe={Runc} -k {marker}";
        var probeFile = Path.Combine(work, "probe.rules");
        File.WriteAllText(probeFile, probe + "\n");
        machine.Auditctl("-R", probeFile);
        RunRunc(work, marker + "-service-before", loginUid: null);

        // The pack first, as augenrules puts 10-kubernetes-noise.rules before the other files.
        machine.Auditctl("-D");
        var loaded = Path.Combine(work, "loaded.rules");
        File.WriteAllText(loaded, File.ReadAllText(pack) + probe + "\n");
        machine.Auditctl("-R", loaded);
        RunRunc(work, marker + "-service-after", loginUid: null);
        RunRunc(work, marker + "-person", loginUid: 1000);

        var titles = WaitForEvents(marker, expected: 2);
        Assert.Contains(titles, t => t.Contains(marker + "-service-before", StringComparison.Ordinal));
        Assert.Contains(titles, t => t.Contains(marker + "-person", StringComparison.Ordinal));
        Assert.DoesNotContain(titles, t => t.Contains(marker + "-service-after", StringComparison.Ordinal));
    }

    /// <summary>runc --root DIR --version: the directory name marks the run in the EXECVE record and proctitle.</summary>
    private static void RunRunc(string work, string mark, int? loginUid)
    {
        var root = Path.Combine(work, mark);

        // A service has no login uid (4294967295); a login session's is set once, by PAM, and kept by its children.
        var uid = loginUid?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "4294967295";
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add($"echo {uid} > /proc/self/loginuid && exec {Runc} --root {root} --version");
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"runc as {mark} failed: {output}");
    }

    /// <summary>The EXECVE records' lines (argv): the proctitle record is cut at 128 bytes, the arguments are whole.</summary>
    private static string ExecveText(AuditEvent auditEvent) =>
        string.Join('\n', auditEvent.Records.Where(r => r.Type == "EXECVE").Select(r => r.Text));

    /// <summary>Arguments of the events with the key in the machine's log, once at least <paramref name="expected"/> are there.</summary>
    private static List<string> WaitForEvents(string key, int expected)
    {
        var titles = new List<string>();
        for (var i = 0; i < 50; i++)
        {
            titles = new AuditEventReader(new Events.TestLog())
                .Read(new AuditEventQuery { Paths = [MachineAudit.AuditLog], Keys = [key] })
                .Select(ExecveText)
                .ToList();
            if (titles.Count >= expected)
            {
                // auditd may still be writing a third, unexpected event: give it one more moment.
                Thread.Sleep(300);
                return new AuditEventReader(new Events.TestLog())
                    .Read(new AuditEventQuery { Paths = [MachineAudit.AuditLog], Keys = [key] })
                    .Select(ExecveText)
                    .ToList();
            }

            Thread.Sleep(200);
        }

        return titles;
    }

    private static string RepositoryRoot() => AksAuditd.Tests.Shared.RepositoryCheckout.Root;
}
