using AksAuditd.Core.Configuration;
using AksAuditd.Core.Audit;

namespace AksAuditd.Core.Events;

/// <summary>Names for the Rule grouping.</summary>
internal static class AuditVolumeNames
{
    /// <summary>"syscall=execve" by the event's own arch, or the number when the table has no name for it.</summary>
    public static string Syscall(uint auditArch, int number) =>
        SyscallTable.TryGetArchName(auditArch, out var arch) && SyscallTable.TryGetName(arch, number, out var name)
            ? "syscall=" + name
            : "syscall=" + number.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>Turns a finished tally into groups with rates, ingestion estimates and exclusion suggestions.</summary>
internal sealed class AuditVolumeReportBuilder(AuditVolumeQuery query, AuditVolumeTally tally)
{
    /// <summary>Where container runtimes keep image layers and rootfs mounts on a node.</summary>
    private static readonly string[] ContainerStoragePrefixes =
    [
        "/var/lib/containerd/", "/run/containerd/", "/var/lib/containers/", "/run/containers/", "/var/lib/docker/",
        "/var/lib/kubelet/pods/",
    ];

    public AuditVolumeReport Build(IReadOnlyList<string> files)
    {
        var span = tally.Events == 0
            ? TimeSpan.Zero
            : TimeSpan.FromMilliseconds(tally.LastMilliseconds - tally.FirstMilliseconds);

        // A log shorter than a second still covers at least that second.
        var days = Math.Max(span.TotalDays, TimeSpan.FromSeconds(1).TotalDays);
        var counters = query.GroupBy == AuditVolumeGrouping.RecordType
            ? tally.ByType()
            : tally.Groups.Select(p => (Name: p.Key, Counter: p.Value));
        var groups = counters
            .Where(g => g.Counter.Events > 0)
            .Select(g => ToGroup(g.Name, g.Counter, span, days))
            .OrderByDescending(g => g.Bytes)
            .ThenBy(g => g.Name, StringComparer.Ordinal)
            .ToList();
        return new AuditVolumeReport
        {
            Groups = groups,
            Files = files,
            Events = tally.Events,
            Records = tally.Records,
            Bytes = tally.Bytes,
            MeasuredSpan = span,
            MalformedLines = tally.MalformedLines,
        };
    }

    private AuditVolumeGroup ToGroup(string name, VolumeCounter counter, TimeSpan span, double days)
    {
        string? topExecutable = null;
        long topEvents = 0;
        if (query.GroupBy == AuditVolumeGrouping.Executable)
        {
            topExecutable = name == AuditVolumeTally.NoneName ? null : name;
            topEvents = topExecutable is null ? 0 : counter.Events;
        }
        else if (counter.Executables is { Count: > 0 } executables)
        {
            (topExecutable, topEvents) = executables.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal)
                .Select(p => (p.Key, p.Value)).First();
            if (topExecutable == AuditVolumeTally.NoneName)
            {
                topExecutable = null;
            }
        }

        var (exclusion, note) = topExecutable is null
            ? (null, "The events name no executable: exclude them by key, record type or another field.")
            : Exclusion(topExecutable);
        var lineBytes = counter.Bytes - counter.Records; // without newlines: what syslog carries
        return new AuditVolumeGroup
        {
            GroupBy = query.GroupBy,
            Name = name,
            Events = counter.Events,
            Records = counter.Records,
            Bytes = counter.Bytes,
            First = DateTime.UnixEpoch.AddMilliseconds(counter.FirstMilliseconds),
            Last = DateTime.UnixEpoch.AddMilliseconds(counter.LastMilliseconds),
            MeasuredSpan = span,
            EventsPerDay = counter.Events / days,
            BytesPerDay = counter.Bytes / days,
            IngestionBytesPerDay = (lineBytes + (double)counter.Records * query.Ingestion.RowOverheadBytes) / days,
            EventShare = tally.Events == 0 ? 0 : (double)counter.Events / tally.Events,
            TopExecutable = topExecutable,
            TopExecutableEvents = topEvents,
            SuggestedExclusion = exclusion,
            ExclusionNote = note,
        };
    }

    /// <summary>
    /// The kernel resolves exe= when the rule loads, to the file at that path in the host's mount namespace, and
    /// then compares that file with each process's executable. So the rule matches only the host's own file.
    /// </summary>
    private (string? Rule, string? Note) Exclusion(string executable)
    {
        if (!executable.StartsWith('/'))
        {
            return (null, $"exe={executable} is not an absolute path; exe= needs one.");
        }

        if (executable.EndsWith(" (deleted)", StringComparison.Ordinal))
        {
            return (null, "The binary was deleted or replaced while it ran; exe= matches the file at the path when the rule loads, not this one.");
        }

        if (Directory.Exists(HostPath.Join(query.HostRoot, executable)))
        {
            // runc runs a sealed copy of itself from a memfd, which has no path: the kernel logs exe="/".
            return (null, $"exe={executable} names a directory: the process ran a file with no path (such as runc's memfd copy of itself), which exe= cannot name.");
        }

        // auid=unset keeps every process of a login session audited, whatever it runs.
        var rule = $"-a never,exit -F exe={executable} -F auid=unset";
        if (ContainerStoragePrefixes.Any(p => executable.StartsWith(p, StringComparison.Ordinal)))
        {
            return (rule, "This is the host path of a container's binary (an image layer or rootfs mount): exe= matches only that one file, "
                + "and the next image or snapshot has another path. Prefer excluding by the runtime that starts it.");
        }

        if (!File.Exists(HostPath.Join(query.HostRoot, executable)))
        {
            return (null, $"{executable} is not on the host (under {query.HostRoot}): it is most likely a container's binary, logged by its path "
                + "inside the container. exe= is resolved on the host when the rule loads, so it cannot match a container's file.");
        }

        return (rule, null);
    }
}
