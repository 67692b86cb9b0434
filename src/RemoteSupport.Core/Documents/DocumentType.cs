using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace RemoteSupport.Documents;

/// <summary>
/// The kind and format version of a signed document, written as the envelope's payload type
/// <c>application/vnd.remotesupport.&lt;kind&gt;+json; version=&lt;n&gt;</c>.
/// </summary>
public sealed record DocumentType
{
    private const string Prefix = "application/vnd.remotesupport.";
    private const string Suffix = "+json; version=";

    /// <summary>Creates a document type.</summary>
    /// <param name="kind">Lowercase letters, digits and hyphens, at most 64 characters (for example <c>ground-rules</c>).</param>
    /// <param name="version">The format version, 1 or more.</param>
    public DocumentType(string kind, int version)
    {
        if (!IsValidKind(kind))
        {
            Error.Argument(nameof(kind), "A document kind is 1 to 64 lowercase letters, digits and hyphens.");
        }

        if (version < 1)
        {
            Error.ArgumentOutOfRange(nameof(version), "A document version is 1 or more.");
        }

        Kind = kind;
        Version = version;
        PayloadType = string.Create(CultureInfo.InvariantCulture, $"{Prefix}{kind}{Suffix}{version}");
    }

    /// <summary>Gets the document kind, for example <c>ground-rules</c>.</summary>
    public string Kind { get; }

    /// <summary>Gets the format version of the document kind.</summary>
    public int Version { get; }

    /// <summary>Gets the envelope payload type this document type is written as.</summary>
    public string PayloadType { get; }

    /// <summary>Parses a payload type written by this library.</summary>
    public static bool TryParse([NotNullWhen(true)] string? payloadType, [NotNullWhen(true)] out DocumentType? type)
    {
        type = null;
        if (payloadType is null || !payloadType.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        int suffix = payloadType.IndexOf(Suffix, Prefix.Length, StringComparison.Ordinal);
        if (suffix < 0)
        {
            return false;
        }

        string kind = payloadType[Prefix.Length..suffix];
        ReadOnlySpan<char> versionText = payloadType.AsSpan(suffix + Suffix.Length);
        if (!IsValidKind(kind) || versionText.Length is 0 or > 9 || versionText[0] == '0'
            || !int.TryParse(versionText, NumberStyles.None, CultureInfo.InvariantCulture, out int version))
        {
            return false;
        }

        type = new DocumentType(kind, version);
        return true;
    }

    /// <inheritdoc/>
    public override string ToString() => PayloadType;

    private static bool IsValidKind(string? kind) =>
        !string.IsNullOrEmpty(kind) && kind.Length <= 64
        && kind.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-');
}
