using System.Globalization;

namespace RemoteSupport.Documents;

/// <summary>One sentence for a document outside its validity window, the same for every kind of document.</summary>
internal static class ValidityWindow
{
    /// <summary>
    /// Says why <paramref name="now"/> is outside [<paramref name="from"/>, <paramref name="until"/>):
    /// "Authorization auth-1 expired 2 d 3 h ago (valid until …; now …)." or "… is not valid yet: it starts in 5 min (…)."
    /// </summary>
    public static string Outside(string document, DateTimeOffset from, DateTimeOffset until, DateTimeOffset now) =>
        now >= until
            ? string.Create(CultureInfo.InvariantCulture, $"{document} expired {Span(now - until)} ago (valid until {until:O}; now {now:O}).")
            : string.Create(CultureInfo.InvariantCulture, $"{document} is not valid yet: it starts in {Span(from - now)} (valid from {from:O}; now {now:O}).");

    /// <summary>A duration as a person reads it: the two largest units (<c>2 d 3 h</c>, <c>45 min</c>, <c>12 s</c>).</summary>
    public static string Span(TimeSpan span)
    {
        if (span < TimeSpan.FromSeconds(1))
        {
            return "less than 1 s";
        }

        (long Amount, string Unit)[] parts =
        [
            ((long)span.TotalDays, "d"),
            (span.Hours, "h"),
            (span.Minutes, "min"),
            (span.Seconds, "s"),
        ];
        return string.Join(' ', parts.SkipWhile(p => p.Amount == 0).Take(2).Where(p => p.Amount > 0).Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Amount} {p.Unit}")));
    }
}
