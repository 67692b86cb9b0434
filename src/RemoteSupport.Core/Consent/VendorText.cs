using System.Globalization;
using System.Text;

namespace RemoteSupport.Consent;

/// <summary>
/// The fields of a request that come from the vendor (reason, ticket, diagnostic name, root, owner):
/// checked before anything is decided and rendered quoted, on one line, so the vendor cannot write
/// lines or reorder characters in the text an approver signs (docs/formats/approvals.md).
/// </summary>
internal static class VendorText
{
    /// <summary>The longest reason accepted, in characters.</summary>
    public const int MaxReasonLength = 280;

    /// <summary>The longest ticket, root, owner or diagnostic name accepted, in characters.</summary>
    public const int MaxNameLength = 64;

    /// <summary>Checks one field: 1 to <paramref name="maxLength"/> characters, none of category Cc, Cf, Zl or Zp.</summary>
    /// <returns>Null when accepted, otherwise the sentence naming the problem.</returns>
    public static string? Check(string field, string? value, int maxLength, bool required = true)
    {
        if (value is null)
        {
            return required ? $"The request has no {field}." : null;
        }

        if (value.Length == 0 || value.Length > maxLength)
        {
            return string.Create(CultureInfo.InvariantCulture, $"The {field} is 1 to {maxLength} characters; this one has {value.Length}.");
        }

        for (int i = 0; i < value.Length;)
        {
            if (Rune.DecodeFromUtf16(value.AsSpan(i), out Rune rune, out int used) != System.Buffers.OperationStatus.Done)
            {
                return string.Create(CultureInfo.InvariantCulture, $"The {field} holds a lone surrogate at position {i}.");
            }

            if (Rune.GetUnicodeCategory(rune) is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator)
            {
                return string.Create(CultureInfo.InvariantCulture,
                    $"The {field} holds U+{rune.Value:X4} at position {i}: control, format and line or paragraph separator characters are refused.");
            }

            i += used;
        }

        return null;
    }

    /// <summary>Checks a diagnostic's name: 1 to 64 of <c>A-Z a-z 0-9 . _ -</c>.</summary>
    public static string? CheckDiagnosticName(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > MaxNameLength || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
        {
            return $"A diagnostic is named by 1 to {MaxNameLength} of A-Z, a-z, 0-9, '.', '_' and '-'.";
        }

        return null;
    }

    /// <summary>Checks every vendor field of a consent request or an approval request: reason, ticket, root, owner and diagnostic name.</summary>
    public static string? CheckFields(GroundRules.SupportOperation operation, string? reason, string? ticket, string? root, string? owner, string? diagnostic) =>
        Check("reason", reason, MaxReasonLength)
        ?? Check("ticket", ticket, MaxNameLength, required: false)
        ?? Check("data root", root, MaxNameLength, required: false)
        ?? Check("owner", owner, MaxNameLength, required: false)
        ?? (operation == GroundRules.SupportOperation.RunDiagnostic
            ? CheckDiagnosticName(diagnostic)
            : diagnostic is null ? null : "Only a run-diagnostic request names a diagnostic.");

    /// <summary>Quotes a vendor's words for the approval text: in double quotes, with <c>\</c> and <c>"</c> escaped.</summary>
    public static string Quote(string value)
    {
        var quoted = new StringBuilder(value.Length + 2);
        quoted.Append('"');
        foreach (char c in value)
        {
            if (c is '"' or '\\')
            {
                quoted.Append('\\');
            }

            quoted.Append(c);
        }

        return quoted.Append('"').ToString();
    }
}
