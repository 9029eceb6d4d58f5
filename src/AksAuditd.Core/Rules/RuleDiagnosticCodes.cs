namespace AksAuditd.Core.Rules;

/// <summary>
/// The stable codes of <see cref="RuleDiagnostic"/>. CI pipelines allow or deny findings by code, so a code never
/// changes meaning; new findings get new codes.
/// </summary>
public static class RuleDiagnosticCodes
{
    // AR10xx: the words and options of a line.
    public const string UnknownOption = "AR1001";
    public const string MissingValue = "AR1002";
    public const string StrayWord = "AR1003";
    public const string OptionConflict = "AR1004";
    public const string NotARule = "AR1005";
    public const string LineTooLong = "AR1006";
    public const string LiteralQuotes = "AR1007";
    public const string IgnoredByAuditctl = "AR1008";
    public const string PartialNumber = "AR1009";

    // AR11xx: lists and actions.
    public const string BadListOrAction = "AR1101";
    public const string DeprecatedAction = "AR1102";

    // AR12xx: -F fields and -C comparisons.
    public const string UnknownField = "AR1201";
    public const string OperatorNotAllowed = "AR1202";
    public const string MalformedField = "AR1203";
    public const string NotANumber = "AR1204";
    public const string UnknownUserOrGroup = "AR1205";
    public const string NameResolvedOnNode = "AR1206";
    public const string InvalidId = "AR1207";
    public const string UnknownErrno = "AR1208";
    public const string UnknownMessageType = "AR1209";
    public const string UnknownArch = "AR1210";
    public const string ArchAfterSyscall = "AR1211";
    public const string BadPermission = "AR1212";
    public const string UnknownFileType = "AR1213";
    public const string UnknownFileSystemType = "AR1214";
    public const string FieldNotAllowedOnList = "AR1215";
    public const string ValueOutOfRange = "AR1216";
    public const string ValueTooLong = "AR1217";
    public const string TooManyFields = "AR1218";
    public const string ConflictingFields = "AR1219";
    public const string BadComparison = "AR1220";

    // AR13xx: -S syscalls.
    public const string UnknownSyscall = "AR1301";
    public const string SyscallOnWrongList = "AR1302";
    public const string MissingArch = "AR1303";
    public const string NoSyscallTable = "AR1304";
    public const string NoList = "AR1305";

    // AR14xx: watches and paths.
    public const string RelativePath = "AR1401";
    public const string PathTooLong = "AR1402";
    public const string PathMissingOnNode = "AR1403";
    public const string PathNotation = "AR1404";
    public const string TrailingSlash = "AR1405";
    public const string PermissionsWithoutWatch = "AR1406";

    // AR15xx: keys.
    public const string KeyTooLong = "AR1501";
    public const string KeyWithoutRule = "AR1502";
    public const string KeyCharacter = "AR1503";

    // AR16xx: control lines.
    public const string BadControlValue = "AR1601";
    public const string EnableLocked = "AR1602";
    public const string PanicOnFailure = "AR1603";
    public const string LoginuidImmutable = "AR1604";
    public const string SideEffectAtLoad = "AR1605";

    // AR17xx: the whole file.
    public const string DuplicateRule = "AR1701";
    public const string AfterLock = "AR1702";
    public const string DeleteOfUnknownRule = "AR1703";
    public const string LoadStopsHere = "AR1704";
    public const string YamlEntry = "AR1705";
}
