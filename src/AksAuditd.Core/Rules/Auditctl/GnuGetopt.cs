namespace AksAuditd.Core.Rules.Auditctl;

/// <summary>
/// GNU getopt_long as auditctl calls it: option string "hicslDvtC:e:f:r:b:a:A:d:S:F:m:R:w:W:k:p:q:", opterr = 0,
/// argument permutation (non-options are moved behind the options), combined short options (-ic), attached
/// values (-w/etc/passwd), and long options matched by unique prefix (--backlog_wait for --backlog_wait_time).
/// </summary>
internal sealed class GnuGetopt
{
    public const string ShortOptions = "hicslDvtC:e:f:r:b:a:A:d:S:F:m:R:w:W:k:p:q:";

    /// <summary>auditctl's long options: name, whether it takes a value, and the code getopt returns.</summary>
    public static readonly (string Name, bool HasArg, int Code)[] LongOptions =
    [
        ("loginuid-immutable", false, 1),
        ("backlog_wait_time", true, 2),
        ("reset-lost", false, 3),
        ("reset_backlog_wait_time_actual", false, 4),
        ("signal", true, 5),
    ];

    private readonly RuleToken[] _argv;
    private readonly int _argc;
    private int _firstNonopt = 1;
    private int _lastNonopt = 1;
    private string? _nextchar;
    private int _nextcharIndex;
    private RuleToken _nextcharToken;

    /// <param name="argv">argv[0] is the program name, as auditctl passes it.</param>
    public GnuGetopt(RuleToken[] argv)
    {
        _argv = argv;
        _argc = argv.Length;
    }

    public int Optind { get; private set; } = 1;

    public string? Optarg { get; private set; }

    /// <summary>The token the value came from and the offset of the value inside it (for -kvalue).</summary>
    public RuleToken? OptargToken { get; private set; }

    public int OptargOffset { get; private set; }

    /// <summary>The token of the option just returned.</summary>
    public RuleToken OptionToken { get; private set; }

    /// <summary>The option text just returned (-k, --backlog_wait_time), or the offending text for '?'.</summary>
    public string OptionText { get; private set; } = string.Empty;

    /// <summary>Why '?' was returned: unknown, missing value, ambiguous, unexpected value.</summary>
    public string? ErrorReason { get; private set; }

    /// <summary>argv as permuted so far (auditctl indexes it after parsing, e.g. for -D -k key).</summary>
    public RuleToken Arg(int index) => _argv[index];

    /// <summary>Returns the option character (or long option code), '?' on error, or -1 at the end.</summary>
    public int Next()
    {
        Optarg = null;
        OptargToken = null;
        OptargOffset = 0;
        ErrorReason = null;

        if (_nextchar is null || _nextcharIndex >= _nextchar.Length)
        {
            if (_lastNonopt > Optind) _lastNonopt = Optind;
            if (_firstNonopt > Optind) _firstNonopt = Optind;

            if (_firstNonopt != _lastNonopt && _lastNonopt != Optind)
            {
                Exchange();
            }
            else if (_lastNonopt != Optind)
            {
                _firstNonopt = Optind;
            }
            while (Optind < _argc && IsNonOption(_argv[Optind].Text))
            {
                Optind++;
            }
            _lastNonopt = Optind;

            if (Optind != _argc && _argv[Optind].Text == "--")
            {
                Optind++;
                if (_firstNonopt != _lastNonopt && _lastNonopt != Optind)
                {
                    Exchange();
                }
                else if (_firstNonopt == _lastNonopt)
                {
                    _firstNonopt = Optind;
                }
                _lastNonopt = _argc;
                Optind = _argc;
            }

            if (Optind == _argc)
            {
                if (_firstNonopt != _lastNonopt)
                {
                    Optind = _firstNonopt;
                }
                return -1;
            }

            var word = _argv[Optind];
            if (word.Text.Length > 1 && word.Text[1] == '-')
            {
                return LongOption(word);
            }
            _nextchar = word.Text;
            _nextcharIndex = 1;
            _nextcharToken = word;
        }

        var c = _nextchar[_nextcharIndex++];
        OptionToken = _nextcharToken;
        OptionText = "-" + c;
        var spec = ShortOptions.IndexOf(c);
        if (_nextcharIndex >= _nextchar.Length)
        {
            Optind++;
        }
        if (spec < 0 || c == ':' || c == ';')
        {
            ErrorReason = "unknown";
            return '?';
        }
        if (spec + 1 < ShortOptions.Length && ShortOptions[spec + 1] == ':')
        {
            if (_nextcharIndex < _nextchar.Length)
            {
                Optarg = _nextchar[_nextcharIndex..];
                OptargToken = _nextcharToken;
                OptargOffset = _nextcharIndex;
                Optind++;
            }
            else if (Optind == _argc)
            {
                _nextchar = null;
                ErrorReason = "missing value";
                return '?';
            }
            else
            {
                OptargToken = _argv[Optind];
                Optarg = _argv[Optind++].Text;
            }
            _nextchar = null;
        }
        return c;
    }

    private int LongOption(RuleToken word)
    {
        var text = word.Text[2..];
        var eq = text.IndexOf('=');
        var name = eq >= 0 ? text[..eq] : text;
        OptionToken = word;
        OptionText = word.Text;
        _nextchar = null;

        (string Name, bool HasArg, int Code)? found = null;
        var exact = LongOptions.Where(o => o.Name == name).ToList();
        if (exact.Count == 1)
        {
            found = exact[0];
        }
        else
        {
            var prefixed = LongOptions.Where(o => o.Name.StartsWith(name, StringComparison.Ordinal)).ToList();
            if (prefixed.Count > 1 && prefixed.Any(o => o.HasArg != prefixed[0].HasArg || o.Code != prefixed[0].Code))
            {
                Optind++;
                ErrorReason = "ambiguous";
                return '?';
            }
            if (prefixed.Count > 0)
            {
                found = prefixed[0];
            }
        }

        if (found is null)
        {
            Optind++;
            ErrorReason = "unknown";
            return '?';
        }

        Optind++;
        OptionText = "--" + found.Value.Name;
        if (eq >= 0)
        {
            if (!found.Value.HasArg)
            {
                ErrorReason = "unexpected value";
                return '?';
            }
            Optarg = text[(eq + 1)..];
            OptargToken = word;
            OptargOffset = 2 + eq + 1;
        }
        else if (found.Value.HasArg)
        {
            if (Optind < _argc)
            {
                OptargToken = _argv[Optind];
                Optarg = _argv[Optind++].Text;
            }
            else
            {
                ErrorReason = "missing value";
                return '?';
            }
        }
        return found.Value.Code;
    }

    private static bool IsNonOption(string word) => word.Length < 2 || word[0] != '-';

    /// <summary>Moves the skipped non-options [firstNonopt, lastNonopt) behind the options [lastNonopt, optind).</summary>
    private void Exchange()
    {
        var nonopts = _argv[_firstNonopt.._lastNonopt];
        var opts = _argv[_lastNonopt..Optind];
        opts.CopyTo(_argv, _firstNonopt);
        nonopts.CopyTo(_argv, _firstNonopt + opts.Length);
        _firstNonopt += Optind - _lastNonopt;
        _lastNonopt = Optind;
    }
}
