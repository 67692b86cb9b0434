using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using NodaTime;
using RemoteSupport.Documents;

namespace RemoteSupport.Ledger;

/// <summary>One line of a monthly statement.</summary>
public sealed record StatementLine
{
    /// <summary>Gets the local date (customer's time zone) the charge was incurred, <c>yyyy-MM-dd</c>.</summary>
    public required string Date { get; init; }

    /// <summary>Gets the session.</summary>
    public required string SessionId { get; init; }

    /// <summary>Gets the unit.</summary>
    public required string UnitId { get; init; }

    /// <summary>Gets the kind.</summary>
    public required ChargeKind Kind { get; init; }

    /// <summary>Gets the description.</summary>
    public required string Description { get; init; }

    /// <summary>Gets the quantity and its unit.</summary>
    public required decimal Quantity { get; init; }

    /// <summary>Gets the quantity's unit.</summary>
    public required string QuantityUnit { get; init; }

    /// <summary>Gets the rate in minor units per quantity unit.</summary>
    public required decimal Rate { get; init; }

    /// <summary>Gets the amount in minor units.</summary>
    public required long AmountMinor { get; init; }

    /// <summary>Gets the currency.</summary>
    public required string Currency { get; init; }

    /// <summary>Gets the ledger entry.</summary>
    public required string EntryId { get; init; }

    /// <summary>Gets a value indicating whether the charge belongs to an earlier, already issued month (a prior-period adjustment).</summary>
    public bool PriorPeriod { get; init; }
}

/// <summary>
/// A customer's monthly statement (schema version 1): the calendar month in the customer's IANA
/// time zone, half-open [start, end); itemized due lines, subtotals per kind and totals per
/// currency computed from the lines, held lines shown apart; issued as a signed document embedding
/// the ledger journal's checkpoint (docs/formats/ledger.md).
/// </summary>
public sealed record MonthlyStatement
{
    private static readonly JsonSerializerOptions IndentedJson = new(DocumentJson.Options) { WriteIndented = true };

    /// <summary>The document type of an issued statement.</summary>
    public static DocumentType DocumentType { get; } = new("monthly-statement", 1);

    /// <summary>Gets the schema version.</summary>
    public int SchemaVersion { get; init; } = 1;

    /// <summary>Gets the statement number, sequential per customer from 1.</summary>
    public required long Number { get; init; }

    /// <summary>Gets the customer.</summary>
    public required string CustomerId { get; init; }

    /// <summary>Gets the month, <c>yyyy-MM</c>.</summary>
    public required string Month { get; init; }

    /// <summary>Gets the customer's IANA time zone.</summary>
    public required string TimeZone { get; init; }

    /// <summary>Gets the first instant of the month (inclusive).</summary>
    public required DateTimeOffset PeriodStart { get; init; }

    /// <summary>Gets the first instant after the month (exclusive).</summary>
    public required DateTimeOffset PeriodEnd { get; init; }

    /// <summary>Gets the due lines, this month's and prior-period adjustments.</summary>
    public required IReadOnlyList<StatementLine> Lines { get; init; }

    /// <summary>Gets the held lines: shown, not due.</summary>
    public required IReadOnlyList<StatementLine> HeldLines { get; init; }

    /// <summary>Gets the disputed lines: shown, not due until resolved.</summary>
    public IReadOnlyList<StatementLine> DisputedLines { get; init; } = [];

    /// <summary>Gets the subtotal per kind and currency (<c>kind/currency</c>) in minor units.</summary>
    public required IReadOnlyDictionary<string, long> Subtotals { get; init; }

    /// <summary>Gets the total per currency in minor units, the sum of the due lines.</summary>
    public required IReadOnlyDictionary<string, long> Totals { get; init; }

    /// <summary>Gets the number of ledger journal records when the statement was issued: what it could bill.</summary>
    public required long LedgerSize { get; init; }

    /// <summary>Gets the number of lines (due, held and disputed).</summary>
    public required long LineCount { get; init; }

    /// <summary>Gets the SHA-256 (lowercase hex) of the CSV rendering of all lines, inline or in the lines file.</summary>
    public required string LinesSha256 { get; init; }

    /// <summary>Gets a value indicating whether the lines are in this document; a large statement carries them in a CSV file bound by <see cref="LinesSha256"/>.</summary>
    public required bool LinesInline { get; init; }

    /// <summary>Gets the signed checkpoint of the ledger journal when the statement was issued.</summary>
    public required string LedgerCheckpoint { get; init; }

    /// <summary>Gets when it was issued.</summary>
    public required DateTimeOffset IssuedAt { get; init; }

    /// <summary>Gets the version of the IANA time zone database the period was computed with (for example <c>2025b</c>), so an auditor recomputes the same bounds.</summary>
    public string? TzdbVersion { get; init; }

    /// <summary>Computes the month's half-open bounds in <paramref name="zone"/>, correct across DST changes and skipped days.</summary>
    public static (DateTimeOffset Start, DateTimeOffset End) MonthBounds(YearMonth month, DateTimeZone zone)
    {
        ArgumentNullException.ThrowIfNull(zone);
        Instant start = zone.AtStartOfDay(month.OnDayOfMonth(1)).ToInstant();
        Instant end = zone.AtStartOfDay(month.PlusMonths(1).OnDayOfMonth(1)).ToInstant();
        return (start.ToDateTimeOffset(), end.ToDateTimeOffset());
    }

    /// <summary>Creates the unsigned envelope the vendor signs when issuing the statement.</summary>
    public SignedEnvelope ToEnvelope() => SignedEnvelope.Create(DocumentType, DocumentJson.Serialize(this));

    /// <summary>Reads a statement from an envelope.</summary>
    public static MonthlyStatement FromEnvelope(SignedEnvelope envelope)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        return DocumentJson.Deserialize<MonthlyStatement>(envelope, DocumentType);
    }

    /// <summary>Renders the statement as JSON (the signed payload's form).</summary>
    public string ToJson() => Encoding.UTF8.GetString(JsonSerializer.SerializeToUtf8Bytes(this, IndentedJson));

    /// <summary>Renders the inline lines as CSV (RFC 4180: CRLF, quoted fields where needed), held and disputed lines marked.</summary>
    public string ToCsv()
    {
        var csv = new ArrayBufferWriter<byte>();
        csv.Write(StatementCsv.Header);
        foreach ((StatementLine line, string status) in AllLines(Lines, HeldLines, DisputedLines))
        {
            StatementCsv.WriteLine(csv, line, status);
        }

        return Encoding.UTF8.GetString(csv.WrittenSpan);
    }

    private static IEnumerable<(StatementLine Line, string Status)> AllLines(
        IEnumerable<StatementLine> due, IEnumerable<StatementLine> held, IEnumerable<StatementLine> disputed) =>
        due.Select(l => (l, l.PriorPeriod ? "prior-period" : "due"))
            .Concat(held.Select(l => (l, "held")))
            .Concat(disputed.Select(l => (l, "disputed")));

    /// <summary>Renders the statement as plain text for people.</summary>
    public string ToText()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"Statement {Number} for {CustomerId}, {Month} ({TimeZone}{(TzdbVersion is null ? string.Empty : ", TZDB " + TzdbVersion)})\n");
        text.Append(CultureInfo.InvariantCulture, $"Period {PeriodStart:yyyy-MM-dd HH:mm}Z to {PeriodEnd:yyyy-MM-dd HH:mm}Z (end exclusive)\n\n");
        foreach (StatementLine line in Lines)
        {
            text.Append(CultureInfo.InvariantCulture,
                $"{line.Date}  {line.SessionId,-12} {line.UnitId,-10} {line.Description,-30} {line.Quantity,8} {line.QuantityUnit,-7} {Money.Format(line.AmountMinor, line.Currency),12} {line.Currency}{(line.PriorPeriod ? "  (prior period)" : string.Empty)}\n");
        }

        text.Append('\n');
        foreach ((string key, long amount) in Subtotals.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            string currency = key[(key.IndexOf('/', StringComparison.Ordinal) + 1)..];
            text.Append(CultureInfo.InvariantCulture, $"Subtotal {key,-24} {Money.Format(amount, currency),12} {currency}\n");
        }

        foreach ((string currency, long amount) in Totals.OrderBy(t => t.Key, StringComparer.Ordinal))
        {
            text.Append(CultureInfo.InvariantCulture, $"TOTAL DUE {"",-23} {Money.Format(amount, currency),12} {currency}\n");
        }

        if (HeldLines.Count > 0)
        {
            text.Append("\nHeld, not due until the customer approves:\n");
            foreach (StatementLine line in HeldLines)
            {
                text.Append(CultureInfo.InvariantCulture, $"{line.Date}  {line.Description,-30} {Money.Format(line.AmountMinor, line.Currency),12} {line.Currency}\n");
            }
        }

        if (DisputedLines.Count > 0)
        {
            text.Append("\nDisputed by the customer, not due until resolved:\n");
            foreach (StatementLine line in DisputedLines)
            {
                text.Append(CultureInfo.InvariantCulture, $"{line.Date}  {line.Description,-30} {Money.Format(line.AmountMinor, line.Currency),12} {line.Currency}\n");
            }
        }

        return text.ToString();
    }

}

/// <summary>Formats integer minor units by the currency's ISO 4217 exponent.</summary>
public static class Money
{
    /// <summary>Gets the number of minor-unit digits of <paramref name="currency"/> (2 unless listed otherwise).</summary>
    public static int Exponent(string currency) => currency switch
    {
        "JPY" or "KRW" or "ISK" or "CLP" or "VND" or "XOF" or "XAF" or "UGX" or "PYG" or "RWF" => 0,
        "BHD" or "KWD" or "OMR" or "JOD" or "TND" or "IQD" or "LYD" => 3,
        _ => 2,
    };

    /// <summary>Formats <paramref name="minor"/> units, for example 1234 EUR as <c>12.34</c>.</summary>
    /// <returns>The amount in major units with exactly the currency's exponent of decimals.</returns>
    /// <param name="minor">The amount in minor units.</param>
    /// <param name="currency">The ISO 4217 currency code.</param>
    public static string Format(long minor, string currency)
    {
        Span<byte> text = stackalloc byte[64];
        return Encoding.UTF8.GetString(text[..Format(minor, currency, text)]);
    }

    /// <summary>Formats <paramref name="minor"/> units into <paramref name="destination"/> in UTF-8, as <see cref="Format(long, string)"/> does.</summary>
    /// <returns>The bytes written.</returns>
    internal static int Format(long minor, string currency, Span<byte> destination)
    {
        int exponent = Exponent(currency);
        int at = 0;
        if (minor < 0)
        {
            destination[at++] = (byte)'-';
        }

        ulong magnitude = minor < 0 ? (ulong)(-(minor + 1)) + 1 : (ulong)minor; // long.MinValue too
        ulong scale = exponent switch { 0 => 1, 2 => 100, _ => 1000 };
        (ulong whole, ulong fraction) = Math.DivRem(magnitude, scale);
        whole.TryFormat(destination[at..], out int written, default, CultureInfo.InvariantCulture);
        at += written;
        if (exponent > 0)
        {
            destination[at++] = (byte)'.';
            for (int digit = exponent - 1; digit >= 0; digit--, fraction /= 10)
            {
                destination[at + digit] = (byte)('0' + (int)(fraction % 10));
            }

            at += exponent;
        }

        return at;
    }

    /// <summary>
    /// Formats a rate given in (possibly fractional) minor units in major units, exactly and with at least
    /// the currency's exponent of decimals: 2 EUR-cents per second as <c>0.02</c>, 2.5 as <c>0.025</c>.
    /// </summary>
    /// <returns>The rate in major units, invariant culture, no exponent notation.</returns>
    /// <param name="minor">The rate in minor units.</param>
    /// <param name="currency">The ISO 4217 currency code.</param>
    public static string FormatRate(decimal minor, string currency)
    {
        Span<byte> text = stackalloc byte[64];
        return Encoding.UTF8.GetString(text[..FormatRate(minor, currency, text)]);
    }

    /// <summary>Formats a rate into <paramref name="destination"/> in UTF-8, as <see cref="FormatRate(decimal, string)"/> does.</summary>
    /// <returns>The bytes written.</returns>
    internal static int FormatRate(decimal minor, string currency, Span<byte> destination)
    {
        int exponent = Exponent(currency);
        decimal value = minor / Scale(exponent);
        value.TryFormat(destination, out int written, "0.############################", CultureInfo.InvariantCulture);
        int point = destination[..written].IndexOf((byte)'.');
        int decimals = point >= 0 ? written - point - 1 : 0;
        if (decimals < exponent)
        {
            value.TryFormat(destination, out written, Fixed(exponent), CultureInfo.InvariantCulture);
        }

        return written;
    }

    private static string Fixed(int exponent) => exponent switch { 0 => "F0", 2 => "F2", 3 => "F3", _ => "F" + exponent.ToString(CultureInfo.InvariantCulture) };

    private static decimal Scale(int exponent) => exponent switch { 0 => 1m, 2 => 100m, 3 => 1000m, _ => (decimal)Math.Pow(10, exponent) };
}
