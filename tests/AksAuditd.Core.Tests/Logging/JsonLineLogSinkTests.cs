using System.Text.Json;
using AksAuditd.Core.Logging;
using Xunit;

namespace AksAuditd.Core.Tests.Logging;

public sealed class JsonLineLogSinkTests
{
    [Fact]
    public void EachLineIsOneJsonObjectWithTimeLevelMessageAndFields()
    {
        var output = new StringWriter();
        using var sink = new JsonLineLogSink(output, LogLevel.Info);

        sink.Info("rules synced", new LogField("file", "10-base.rules"), new LogField("line", 3), new LogField("durationMs", 12.5));
        sink.Error("auditctl failed", new LogField("command", "auditctl -R /etc/audit/audit.rules"), new LogField("exitCode", 1));

        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        using var first = JsonDocument.Parse(lines[0]);
        var root = first.RootElement;
        Assert.Equal("info", root.GetProperty("level").GetString());
        Assert.Equal("rules synced", root.GetProperty("msg").GetString());
        Assert.Equal("10-base.rules", root.GetProperty("file").GetString());
        Assert.Equal(3, root.GetProperty("line").GetInt32());
        Assert.Equal(12.5, root.GetProperty("durationMs").GetDouble());
        var time = root.GetProperty("time").GetString()!;
        Assert.EndsWith("Z", time);
        Assert.True(DateTimeOffset.TryParse(time, out var parsed));
        Assert.True(Math.Abs((DateTimeOffset.UtcNow - parsed).TotalMinutes) < 5);
        using var second = JsonDocument.Parse(lines[1]);
        Assert.Equal("error", second.RootElement.GetProperty("level").GetString());
        Assert.Equal(1, second.RootElement.GetProperty("exitCode").GetInt32());
    }

    [Fact]
    public void LinesBelowTheConfiguredLevelAreDropped()
    {
        var output = new StringWriter();
        using var sink = new JsonLineLogSink(output, LogLevel.Warn);

        sink.Info("not shown");
        sink.Debug("not shown either");
        sink.Warn("shown");

        var line = Assert.Single(output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("\"shown\"", line);
    }

    [Theory]
    [InlineData("brace {x} and {{y}}")]
    [InlineData("quote \" backslash \\ tab \t newline \n end")]
    [InlineData("-w /etc/audit/ -p wa -k \"audit-config\"")]
    [InlineData("unicode é ✓ and control \u0001")]
    public void MessagesAreEscapedNotInterpreted(string message)
    {
        var output = new StringWriter();
        using var sink = new JsonLineLogSink(output, LogLevel.Trace);

        sink.Trace(message, new LogField("rule", message));

        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        using var document = JsonDocument.Parse(Assert.Single(lines));
        Assert.Equal(message, document.RootElement.GetProperty("msg").GetString());
        Assert.Equal(message, document.RootElement.GetProperty("rule").GetString());
    }

    [Fact]
    public void FieldsCannotOverwriteTheFixedNames()
    {
        var output = new StringWriter();
        using var sink = new JsonLineLogSink(output, LogLevel.Info);

        sink.Info("real message", new LogField("msg", "forged"), new LogField("level", "panic"));

        using var document = JsonDocument.Parse(output.ToString());
        Assert.Equal("real message", document.RootElement.GetProperty("msg").GetString());
        Assert.Equal("info", document.RootElement.GetProperty("level").GetString());
    }

    [Fact]
    public void FieldValuesKeepTheirJsonTypes()
    {
        var output = new StringWriter();
        using var sink = new JsonLineLogSink(output, LogLevel.Info);

        sink.Info("typed",
            new LogField("none", null),
            new LogField("ok", true),
            new LogField("files", new[] { "a.rules", "b.rules" }),
            new LogField("lost", 4294967296L),
            new LogField("ratio", double.NaN),
            new LogField("mode", DayOfWeek.Monday),
            new LogField("took", TimeSpan.FromSeconds(90)),
            new LogField("counts", new Dictionary<string, int> { ["errors"] = 2 }),
            new LogField("where", new Uri("file:///etc/audit/rules.d")));

        using var document = JsonDocument.Parse(output.ToString());
        var root = document.RootElement;
        Assert.Equal(JsonValueKind.Null, root.GetProperty("none").ValueKind);
        Assert.True(root.GetProperty("ok").GetBoolean());
        Assert.Equal(new[] { "a.rules", "b.rules" }, root.GetProperty("files").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(4294967296L, root.GetProperty("lost").GetInt64());
        Assert.Equal("NaN", root.GetProperty("ratio").GetString());
        Assert.Equal("Monday", root.GetProperty("mode").GetString());
        Assert.Equal("00:01:30", root.GetProperty("took").GetString());
        Assert.Equal(2, root.GetProperty("counts").GetProperty("errors").GetInt32());
        Assert.Equal("file:///etc/audit/rules.d", root.GetProperty("where").GetString());
    }

    [Fact]
    public void ARepeatedFieldNameIsWrittenOnceSoEveryParserReadsTheSameLine()
    {
        var output = new StringWriter();
        using var sink = new JsonLineLogSink(output, LogLevel.Info);

        sink.Info("twice", new LogField("file", "first.rules"), new LogField("file", "second.rules"));

        var line = output.ToString();
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(line, "\"file\""));
        using var document = JsonDocument.Parse(line);
        Assert.Equal("first.rules", document.RootElement.GetProperty("file").GetString());

        var nested = new StringWriter();
        using var nestedSink = new JsonLineLogSink(nested, LogLevel.Info);
        nestedSink.Info("keys", new LogField("counts", new System.Collections.Hashtable { [1] = 1, ["1"] = 2 }));
        using var keys = JsonDocument.Parse(nested.ToString());
        Assert.Equal("1", Assert.Single(keys.RootElement.GetProperty("counts").EnumerateObject()).Name);
    }

    [Fact]
    public void ALineThatCannotBeWrittenIsDroppedWithoutFailingTheCaller()
    {
        var output = new StringWriter();
        using var sink = new JsonLineLogSink(output, LogLevel.Info);

        sink.Info("broken field", new LogField("files", ThrowingItems()));
        sink.Info("next line");

        var line = Assert.Single(output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        using var document = JsonDocument.Parse(line);
        Assert.Equal("next line", document.RootElement.GetProperty("msg").GetString());

        using var broken = new JsonLineLogSink(new FailingWriter(), LogLevel.Info);
        broken.Error("disk full behind stdout");
    }

    private static IEnumerable<string> ThrowingItems()
    {
        yield return "a.rules";
        throw new InvalidOperationException("the collection changed");
    }

    private sealed class FailingWriter : TextWriter
    {
        public override System.Text.Encoding Encoding => System.Text.Encoding.UTF8;

        public override void Write(char value) => throw new IOException("No space left on device");

        public override void Write(string? value) => throw new IOException("No space left on device");
    }
}
