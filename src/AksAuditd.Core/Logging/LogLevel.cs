namespace AksAuditd.Core.Logging;

/// <summary>
/// The seven levels of the Go tool we replace (logrus), most severe first, so that
/// "level L is enabled" is simply <c>level &lt;= configured</c>.
/// </summary>
public enum LogLevel
{
    Panic = 0,
    Fatal = 1,
    Error = 2,
    Warn = 3,
    Info = 4,
    Debug = 5,
    Trace = 6,
}
