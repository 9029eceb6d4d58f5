using AksAuditd.Core.Configuration;
using Xunit;

namespace AksAuditd.Core.Tests.Configuration;

/// <summary>
/// AA_POLL_INTERVAL keeps Go's meaning: every case in go-durations.tsv was parsed by the real Go
/// time.ParseDuration (tools/generate-go-duration-golden.sh), and ours must give the same nanoseconds or the same error.
/// </summary>
public sealed class GoDurationTests
{
    public static TheoryData<string, string, string> GoCases()
    {
        var data = new TheoryData<string, string, string>();
        var path = Path.Combine(AppContext.BaseDirectory, "Configuration", "go-durations.tsv");
        foreach (var line in File.ReadLines(path).Where(l => !l.StartsWith('#')))
        {
            var columns = line.Split('\t');
            data.Add(columns[0], columns[1], columns[2]);
        }

        return data;
    }

    [Fact]
    public void TheGoldenTableHasTheEdgeCasesTheIssueNames()
    {
        var inputs = GoCases().Select(row => (string)row[0]).ToHashSet();
        Assert.True(inputs.Count >= 25, $"only {inputs.Count} cases");
        Assert.Superset(new HashSet<string> { "300ms", "1.5h", "2h45m", ".5s", "30", "1d", "2562048h", "0", "-1.5h", "9223372036854775808ns" }, inputs);
    }

    [Theory]
    [MemberData(nameof(GoCases))]
    public void MatchesGoParseDuration(string input, string goNanoseconds, string goError)
    {
        var parsed = GoDuration.TryParseNanoseconds(input, out var nanoseconds, out var error);

        if (goError.Length > 0)
        {
            Assert.False(parsed, $"Go rejects {input} but we parsed {nanoseconds}ns");
            Assert.Equal(goError, error);
        }
        else
        {
            Assert.True(parsed, $"Go accepts {input} but we said: {error}");
            Assert.Equal(long.Parse(goNanoseconds), nanoseconds);
        }
    }

    [Theory]
    [InlineData("1h30m", "01:30:00")]
    [InlineData("300ms", "00:00:00.3000000")]
    [InlineData("1.5us", "00:00:00.0000015")]
    [InlineData("150ns", "00:00:00.0000001")] // finer than a tick truncates, as Go's Duration to TimeSpan must
    public void ConvertsToTimeSpan(string input, string expected)
    {
        Assert.True(GoDuration.TryParse(input, out var duration, out _));
        Assert.Equal(TimeSpan.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), duration);
    }

    [Theory]
    [InlineData("00:00:30", "30s")]
    [InlineData("01:30:00", "1h30m0s")]
    [InlineData("00:00:00.3", "300ms")]
    [InlineData("00:02:05.5", "2m5.5s")]
    public void FormatsLikeGo(string timeSpan, string expected)
    {
        Assert.Equal(expected, GoDuration.Format(TimeSpan.Parse(timeSpan, System.Globalization.CultureInfo.InvariantCulture)));
    }
}
