namespace AksAuditd.Core.Host;

/// <summary>What starts and stops services on the node.</summary>
public enum InitSystem
{
    Systemd,

    /// <summary>No systemd running (a container, this test machine): the distribution's <c>service</c> command and init script.</summary>
    SysV,
}

/// <summary>
/// The commands that control auditd on one node. They differ by init system and distribution family:
/// <list type="bullet">
/// <item>Rules: <c>augenrules --load</c> everywhere. It merges rules.d into /etc/audit/audit.rules and runs
/// <c>auditctl -R</c> on it; no daemon restart, no lost events. (Debian 12's unit runs it as
/// <c>ExecStartPost=-/sbin/augenrules --load</c>; from audit 4.0 upstream runs it in audit-rules.service.)</item>
/// <item>Reload: SIGHUP to auditd's main process, which rereads auditd.conf and its plugins (auditd.c hup_handler,
/// auditd-dispatch.c reconfigure_dispatcher), never the rules. Debian 12's unit has no ExecReload, so
/// <c>systemctl reload</c> would fail; <c>systemctl kill --kill-who=main</c> signals the daemon and not its
/// plugin children. (--kill-who is the spelling every supported systemd accepts; 252 added --kill-whom.)</item>
/// <item>Restart: upstream's unit sets <c>RefuseManualStop=yes</c>, which RHEL keeps, so <c>systemctl restart auditd</c>
/// is refused there and <c>service auditd restart</c> (the legacy action that stops auditd itself, then
/// <c>systemctl start</c>) is the supported way. Debian/Ubuntu units have no RefuseManualStop, and Azure Linux
/// turns it off in its spec (<c>sed s/RefuseManualStop=yes/RefuseManualStop=no/</c>), so systemctl works there.
/// A unit that refuses a manual stop anyway (upstream's unit installed by hand, or a drop-in) is restarted the way
/// upstream's legacy action does it: auditd is asked to stop by a signal to its main process, which systemd does not
/// refuse, and started again once systemd saw it exit.</item>
/// </list>
/// </summary>
public sealed class AuditdService
{
    private const string Unit = "auditd";

    // systemctl ignores start/stop/kill when it detects a chroot ("Running in chroot, ignoring request"); the
    // node's /run is in the host root, so with this variable it talks to the node's systemd as intended.
    private static readonly IReadOnlyDictionary<string, string> ChrootSystemctl = new Dictionary<string, string> { ["SYSTEMD_IGNORE_CHROOT"] = "1" };
    private static readonly IReadOnlyDictionary<string, string> None = new Dictionary<string, string>();

    public AuditdService(DistributionFamily family, InitSystem init, HostAccessMode mode)
    {
        Family = family;
        Init = init;
        Mode = mode;
    }

    public DistributionFamily Family { get; }

    public InitSystem Init { get; }

    public HostAccessMode Mode { get; }

    /// <summary>systemd is the init system when <c>/run/systemd/system</c> exists (sd_booted(3)).</summary>
    public static InitSystem DetectInit(string hostRoot) =>
        Directory.Exists(Configuration.HostPath.Join(hostRoot, "/run/systemd/system")) ? InitSystem.Systemd : InitSystem.SysV;

    /// <summary>Exit 0: running. systemctl is-active exits 3 (inactive) or 4 (no such unit); LSB status 1 to 4.</summary>
    public HostCommand IsActive() => Init == InitSystem.Systemd
        ? Systemctl("is-active", "--quiet", Unit) with { AcceptedExitCodes = new[] { 1, 2, 3, 4 } }
        : new HostCommand("service", Unit, "status") { AcceptedExitCodes = new[] { 1, 2, 3, 4 } };

    /// <summary>Exit 0: enabled (or static); 1: disabled. Null under SysV, where the package's postinst enables it.</summary>
    public HostCommand? IsEnabled() => Init == InitSystem.Systemd
        ? Systemctl("is-enabled", "--quiet", Unit) with { AcceptedExitCodes = new[] { 1 } }
        : null;

    public HostCommand? Enable() => Init == InitSystem.Systemd ? Systemctl("enable", Unit) : null;

    public HostCommand Start() => Init == InitSystem.Systemd ? Systemctl("start", Unit) : new HostCommand("service", Unit, "start");

    public HostCommand LoadRules() => new("augenrules", "--load") { Timeout = TimeSpan.FromSeconds(120) };

    public HostCommand Reload() => Init == InitSystem.Systemd
        ? Systemctl("kill", "--kill-who=main", "--signal=SIGHUP", Unit + ".service")
        : new HostCommand("service", Unit, "reload");

    /// <summary>Prints <c>yes</c> when the unit refuses <c>systemctl stop</c> and <c>restart</c> (RefuseManualStop=yes).</summary>
    public HostCommand ShowRefuseManualStop() => Systemctl("show", "--property=RefuseManualStop", "--value", Unit + ".service");

    /// <summary>SIGTERM to auditd's main process: auditd stops itself, which a unit with RefuseManualStop=yes allows.</summary>
    public HostCommand StopBySignal() => Systemctl("kill", "--kill-who=main", "--signal=SIGTERM", Unit + ".service");

    /// <summary>
    /// Restart through the init system: <c>service auditd restart</c> on RHEL (its legacy action) and without systemd,
    /// <c>systemctl restart auditd</c> elsewhere. Null when the unit refuses a manual stop and that command would be
    /// refused: the caller stops auditd with <see cref="StopBySignal"/> and starts it again.
    /// </summary>
    public HostCommand? Restart(bool unitRefusesManualStop) =>
        Init == InitSystem.Systemd && Family != DistributionFamily.RedHat && unitRefusesManualStop ? null : Restart();

    public HostCommand Restart() => Family == DistributionFamily.RedHat || Init == InitSystem.SysV
        ? new HostCommand("service", Unit, "restart") { Timeout = TimeSpan.FromSeconds(120) }
        : Systemctl("restart", Unit) with { Timeout = TimeSpan.FromSeconds(120) };

    private HostCommand Systemctl(params string[] arguments) =>
        new("systemctl", arguments) { Environment = Mode == HostAccessMode.Chroot ? ChrootSystemctl : None };
}
