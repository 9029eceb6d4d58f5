namespace AksAuditd.Core.Configuration;

/// <summary>An invalid configuration: names the setting, the value and where it came from.</summary>
public sealed class ConfigurationException : Exception
{
    public ConfigurationException(string message, string? setting = null, string? value = null, string? origin = null, Exception? inner = null)
        : base(message, inner)
    {
        Setting = setting;
        Value = value;
        Origin = origin;
    }

    /// <summary>The setting at fault, when one is (PollInterval, LogLevel...).</summary>
    public string? Setting { get; }

    public string? Value { get; }

    /// <summary>An environment variable name, or "file:line:column".</summary>
    public string? Origin { get; }
}
