using AksAuditd.Core.Audit;

namespace AksAuditd.Core.Rules.Auditctl;

/// <summary>
/// libaudit's audit_rule_interfield_comp_data: -C left=right (or !=) between two uid fields or two gid fields,
/// which the kernel knows as one AUDIT_COMPARE_* value.
/// </summary>
internal sealed class FieldComparisonBuilder(KernelRule rule, LineFindings report, List<AuditRuleField> fields)
{
    /// <summary>Adds the comparison to the rule; false after reporting why auditctl refuses it.</summary>
    public bool Add(string pair, RuleToken token, AuditFilterList flags)
    {
        var column = token.Column;
        if (rule.Fields.Count >= AuditConstants.MaxFields - 1)
        {
            return Refuse(RuleDiagnosticCodes.TooManyFields, column, $"a rule holds at most {AuditConstants.MaxFields - 1} fields", $"Too many fields in rule: {pair}");
        }
        uint op;
        int at;
        int opLength;
        if ((at = pair.IndexOf("!=", StringComparison.Ordinal)) >= 0)
        {
            op = AuditConstants.OpNotEqual;
            opLength = 2;
        }
        else if ((at = pair.IndexOf('=')) >= 0)
        {
            op = AuditConstants.OpEqual;
            opLength = 1;
        }
        else
        {
            return Refuse(RuleDiagnosticCodes.OperatorNotAllowed, column, $"-C {pair}: a comparison takes = or !=", $"{pair} only takes = or != operators");
        }
        var left = pair[..at];
        var right = pair[(at + opLength)..];
        if (left.Length == 0)
        {
            return Refuse(RuleDiagnosticCodes.BadComparison, column, $"-C {pair}: missing field name before the operator", "-C missing field name before operator for ");
        }
        if (right.Length == 0)
        {
            return Refuse(RuleDiagnosticCodes.BadComparison, column + at + opLength, $"-C {pair}: missing field name after the operator",
                $"-C missing value after operation for  {left}");
        }
        var f1 = AuditLookups.FieldNumber(left);
        if (f1 < 0)
        {
            return Refuse(RuleDiagnosticCodes.BadComparison, column, $"-C {pair}: '{left}' is not a field", $"-C unknown field: {left}");
        }
        var f2 = AuditLookups.FieldNumber(right);
        if (f2 < 0)
        {
            return Refuse(RuleDiagnosticCodes.BadComparison, column + at + opLength, $"-C {pair}: '{right}' is not a field",
                $"-C unknown right hand value for comparison with: {left}");
        }
        if (flags != AuditFilterList.Exit)
        {
            return Refuse(RuleDiagnosticCodes.FieldNotAllowedOnList, column, "-C comparisons only work on the exit list (-a always,exit)",
                $"{left} can only be used with exit filter list");
        }
        var value = KernelRule.ComparisonFor((AuditField)f1, (AuditField)f2);
        if (value == 0)
        {
            return Refuse(RuleDiagnosticCodes.BadComparison, column,
                $"-C {pair}: the kernel can only compare two different uid fields (uid, euid, suid, fsuid, auid, obj_uid) or two different gid fields (gid, egid, sgid, fsgid, obj_gid)",
                $"-C incompatible comparison {left}");
        }
        rule.Fields.Add(new KernelField { Type = AuditField.FieldCompare, Op = op, Value = value });
        fields.Add(new AuditRuleField("field_compare", left, op == AuditConstants.OpEqual ? "=" : "!=", right, true, token));
        return true;
    }

    private bool Refuse(string code, int column, string message, string auditctl)
    {
        report.Fail(code, column, message, auditctl);
        return false;
    }
}
