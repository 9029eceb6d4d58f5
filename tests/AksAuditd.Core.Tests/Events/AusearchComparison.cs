using System.Diagnostics;
using System.Globalization;
using System.Text;
using AksAuditd.Core.Events;

namespace AksAuditd.Core.Tests.Events;

/// <summary>One event as the real <c>ausearch -i</c> printed it.</summary>
internal sealed record AusearchEvent(long Serial, string? Node, DateTime Timestamp, IReadOnlyList<AusearchRecord> Records);

/// <summary>One printed record: its type and the text after "msg=audit(...) : ".</summary>
internal sealed record AusearchRecord(string Type, string Fields, string Line);

/// <summary>Runs the real ausearch and reads its interpreted output; compares it with what the reader made of the same files.</summary>
internal static class AusearchComparison
{
    public static string Run(string input)
    {
        var start = new ProcessStartInfo("ausearch") { RedirectStandardOutput = true, RedirectStandardError = true, StandardOutputEncoding = Encoding.UTF8 };
        foreach (var argument in new[] { "-i", "-if", input })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["TZ"] = "UTC";
        start.Environment["LC_ALL"] = "C";
        using var process = Process.Start(start)!;
        var errors = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        _ = errors.Result;
        return output;
    }

    public static List<AusearchEvent> Parse(string output)
    {
        var events = new List<AusearchEvent>();
        List<AusearchRecord>? records = null;
        long serial = 0;
        string? node = null;
        var timestamp = default(DateTime);
        foreach (var line in output.Split('\n'))
        {
            if (line == "----")
            {
                Close();
                records = new List<AusearchRecord>();
                continue;
            }

            if (line.Length == 0 || records is null)
            {
                continue;
            }

            var rest = line;
            string? lineNode = null;
            if (rest.StartsWith("node=", StringComparison.Ordinal))
            {
                var space = rest.IndexOf(' ');
                lineNode = rest[5..space];
                rest = rest[(space + 1)..];
            }

            var type = rest[5..rest.IndexOf(' ')];
            var open = rest.IndexOf("msg=audit(", StringComparison.Ordinal) + 10;
            var close = rest.IndexOf(") : ", open, StringComparison.Ordinal);
            var stamp = rest[open..close];
            var colon = stamp.LastIndexOf(':');
            serial = long.Parse(stamp[(colon + 1)..], CultureInfo.InvariantCulture);
            timestamp = DateTime.ParseExact(stamp[..colon], "MM/dd/yy HH:mm:ss.fff", CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);
            node = lineNode;
            // ausearch ends every value with one space; a value's own trailing spaces stay.
            var fields = rest[(close + 4)..];
            records.Add(new AusearchRecord(type, fields.EndsWith(' ') ? fields[..^1] : fields, line));
        }

        Close();
        return events;

        void Close()
        {
            if (records is { Count: > 0 })
            {
                events.Add(new AusearchEvent(serial, node, timestamp, records));
            }
        }
    }

    /// <summary>
    /// Every difference between ausearch's events and ours: missing or extra events (by node and serial), time
    /// stamps, record types in order, and for each field of each record the interpreted value, read from ausearch's
    /// line using our field names as anchors. Empty when they agree.
    /// </summary>
    public static List<string> Compare(IReadOnlyList<AusearchEvent> expected, IReadOnlyList<AuditEvent> actual)
    {
        var problems = new List<string>();

        // A serial can name two events: a single-record type (LOGIN) completes at once, and the SYSCALL
        // records with the same serial that follow make a second event. Match them in order.
        var ours = actual.GroupBy(e => (e.Node, e.Serial)).ToDictionary(g => g.Key, g => new Queue<AuditEvent>(g));
        var theirs = expected.Select(e => (e.Node, e.Serial)).ToHashSet();
        foreach (var extra in ours.Keys.Where(k => !theirs.Contains(k)))
        {
            problems.Add($"event {extra.Serial} (node {extra.Node}) is ours only");
        }

        foreach (var reference in expected)
        {
            if (!ours.TryGetValue((reference.Node, reference.Serial), out var candidates) || !candidates.TryDequeue(out var auditEvent))
            {
                problems.Add($"event {reference.Serial} (node {reference.Node}) is missing from our output");
                continue;
            }

            if (auditEvent.Timestamp != reference.Timestamp)
            {
                problems.Add($"event {reference.Serial}: time {auditEvent.Timestamp:O}, ausearch {reference.Timestamp:O}");
            }

            // ausearch prints an event's records last to first, except auditd's own single-record events.
            var records = auditEvent.Records.Reverse().ToList();
            if (records.Count != reference.Records.Count || !records.Select(r => r.Type).SequenceEqual(reference.Records.Select(r => r.Type)))
            {
                problems.Add($"event {reference.Serial}: types {string.Join(",", records.Select(r => r.Type))}, ausearch {string.Join(",", reference.Records.Select(r => r.Type))}");
                continue;
            }

            for (var i = 0; i < records.Count; i++)
            {
                CompareFields(reference.Serial, records[i], reference.Records[i], problems);
            }
        }

        problems.AddRange(ours.Where(o => o.Value.Count > 0).Select(o => $"event {o.Key.Serial} appears {o.Value.Count} more time(s) in our output"));
        return problems;
    }

    private static void CompareFields(long serial, AuditRecord record, AusearchRecord reference, List<string> problems)
    {
        var text = reference.Fields;
        var fields = record.Fields;
        var position = 0;
        var nested = false;
        for (var i = 0; i < fields.Count; i++)
        {
            // ausearch prints msg= and then the user message's own pairs, which are our fields.
            if (!nested && text.AsSpan(position).StartsWith("msg='") && fields[i].Name != "msg")
            {
                position += 5;
                nested = true;
            }

            // A record continued from the previous one (a long EXECVE argument) starts with a space.
            while (position < text.Length && text[position] == ' ')
            {
                position++;
            }

            var name = fields[i].Name + "=";
            if (string.CompareOrdinal(text, position, name, 0, name.Length) != 0)
            {
                problems.Add($"event {serial} {record.Type}: expected field {fields[i].Name} at '{Excerpt(text, position)}' in: {Shorten(reference.Line)}");
                return;
            }

            var valueStart = position + name.Length;
            int valueEnd;
            if (i + 1 < fields.Count)
            {
                var next = NextAnchor(text, valueStart, fields[i + 1].Name);
                if (next < 0)
                {
                    problems.Add($"event {serial} {record.Type}: field {fields[i + 1].Name} not found after {fields[i].Name} in: {Shorten(reference.Line)}");
                    return;
                }

                valueEnd = next;
                position = next + 1;
            }
            else
            {
                valueEnd = text.Length;
            }

            var value = text[valueStart..valueEnd];
            if (i + 1 == fields.Count && nested && value.EndsWith('\''))
            {
                value = value[..^1];
            }

            if (value != fields[i].Interpreted)
            {
                problems.Add($"event {serial} {record.Type} {fields[i].Name}: ours '{Shorten(fields[i].Interpreted)}' (raw '{Shorten(fields[i].Raw)}'), ausearch '{Shorten(value)}'");
            }
        }
    }

    private static int NextAnchor(string text, int from, string name)
    {
        var plain = text.IndexOf(" " + name + "=", from, StringComparison.Ordinal);
        var inMessage = text.IndexOf(" msg='" + name + "=", from, StringComparison.Ordinal);
        return inMessage >= 0 && (plain < 0 || inMessage < plain) ? inMessage : plain;
    }

    private static string Shorten(string text) => text.Length <= 240 ? text : text[..240] + "...";

    private static string Excerpt(string text, int position) => text.Substring(position, Math.Min(40, text.Length - position));
}
