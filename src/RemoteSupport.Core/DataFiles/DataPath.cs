using System.Globalization;
using System.Text;

namespace RemoteSupport.DataFiles;

/// <summary>
/// Canonical data file paths: relative to a data root, <c>/</c>-separated, NFC-normalized. Refuses
/// <c>..</c> and <c>.</c> segments, absolute and drive paths, backslashes, <c>*</c> (the patterns'
/// wildcard), percent-encoded separators and dots, control characters, and Unicode look-alikes of
/// separators and dots.
/// </summary>
public static class DataPath
{
    /// <summary>The longest path accepted, in characters.</summary>
    public const int MaxLength = 1024;

    // Characters that look like, or normalize (NFKC) to, a separator or a dot.
    private static readonly System.Buffers.SearchValues<char> LookAlikes = System.Buffers.SearchValues.Create(
        "\u2215\u2044\uFF0F\u29F8\u2216\uFF3C\uFE68\u29F5\u29F9\uFF0E\u2024\u2025\u2026\uFE52\u3002\uFF61\u0701\u0702");

    /// <summary>Canonicalizes <paramref name="path"/>, or says why it is refused.</summary>
    public static bool TryCanonicalize(string? path, out string canonical, out string error)
    {
        canonical = string.Empty;
        if (string.IsNullOrEmpty(path) || path.Length > MaxLength)
        {
            error = $"A data path is 1 to {MaxLength} characters.";
            return false;
        }

        if (path.Any(c => char.IsControl(c) || char.GetUnicodeCategory(c) == UnicodeCategory.Format))
        {
            error = "A data path must not contain control or format characters.";
            return false;
        }

        if (path.Contains('*', StringComparison.Ordinal))
        {
            error = "A data path must not contain '*': a requested path is literal, and '*' is a wildcard in scope and approval patterns.";
            return false;
        }

        if (path.Contains('\\', StringComparison.Ordinal))
        {
            error = "A data path uses '/' as its separator; '\\' is refused.";
            return false;
        }

        if (path.StartsWith('/') || (path.Length >= 2 && path[1] == ':'))
        {
            error = "A data path is relative to its data root; absolute paths are refused.";
            return false;
        }

        if (path.Contains("%2f", StringComparison.OrdinalIgnoreCase) || path.Contains("%5c", StringComparison.OrdinalIgnoreCase)
            || path.Contains("%2e", StringComparison.OrdinalIgnoreCase) || path.Contains("%00", StringComparison.Ordinal))
        {
            error = "A data path must not contain percent-encoded separators, dots or NUL.";
            return false;
        }

        if (path.AsSpan().IndexOfAny(LookAlikes) >= 0)
        {
            error = "A data path must not contain characters that look like '/', '\\' or '.'.";
            return false;
        }

        string compatibility = path.Normalize(NormalizationForm.FormKC);
        if (compatibility.Count(c => c == '/') != path.Count(c => c == '/') || compatibility.Contains('\\', StringComparison.Ordinal))
        {
            error = "A data path must not contain characters that normalize to a separator.";
            return false;
        }

        string normalized = path.Normalize(NormalizationForm.FormC);
        foreach (string segment in normalized.Split('/'))
        {
            if (segment.Length == 0 || segment == "." || segment == ".." || IsDots(segment.Normalize(NormalizationForm.FormKC)))
            {
                error = $"A data path must not contain empty, '.' or '..' segments ('{normalized}').";
                return false;
            }
        }

        canonical = normalized;
        error = string.Empty;
        return true;
    }

    /// <summary>Matches a canonical path against a pattern: <c>*</c> within a segment, <c>**</c> across segments.</summary>
    public static bool Matches(string pattern, string canonicalPath)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        ArgumentNullException.ThrowIfNull(canonicalPath);
        return MatchSegments(pattern.Split('/'), 0, canonicalPath.Split('/'), 0);
    }

    private static bool IsDots(string segment) => segment.Length > 0 && segment.All(c => c == '.');

    private static bool MatchSegments(string[] pattern, int p, string[] path, int s)
    {
        if (p == pattern.Length)
        {
            return s == path.Length;
        }

        if (pattern[p] == "**")
        {
            for (int skip = s; skip <= path.Length; skip++)
            {
                if (MatchSegments(pattern, p + 1, path, skip))
                {
                    return true;
                }
            }

            return false;
        }

        return s < path.Length && MatchSegment(pattern[p], path[s]) && MatchSegments(pattern, p + 1, path, s + 1);
    }

    private static bool MatchSegment(string pattern, string segment)
    {
        int star = pattern.IndexOf('*', StringComparison.Ordinal);
        if (star < 0)
        {
            return string.Equals(pattern, segment, StringComparison.Ordinal);
        }

        string prefix = pattern[..star];
        string rest = pattern[(star + 1)..];
        if (!segment.StartsWith(prefix, StringComparison.Ordinal))
        {
            return false;
        }

        for (int i = prefix.Length; i <= segment.Length; i++)
        {
            if (MatchSegment(rest, segment[i..]))
            {
                return true;
            }
        }

        return false;
    }
}
