using System.Buffers;
using System.Globalization;
using System.Text;
using NodaTime;
using NodaTime.Text;
using RemoteSupport.Documents;

namespace RemoteSupport.Ledger;

/// <summary>
/// The statement's CSV rendering in UTF-8 (docs/formats/ledger.md, "Renderings"): one writer serves the
/// inline lines of <see cref="MonthlyStatement.ToCsv"/> and the lines streamed from a ledger journal, so
/// both hash to the same <see cref="MonthlyStatement.LinesSha256"/>.
/// </summary>
internal static class StatementCsv
{
    /// <summary>Gets the header line (RFC 4180, CRLF).</summary>
    public static ReadOnlySpan<byte> Header => "date,session,unit,kind,description,quantity,unit_of_quantity,rate,amount,currency,status,entry\r\n"u8;

    /// <summary>The longest formatted decimal: 29 digits, a sign, a point and an exponent of decimals.</summary>
    internal const int NumberLength = 64;

    /// <summary>Writes a line's fields from its date through its currency (<see cref="WriteTrailing"/> adds the status and the entry); the rate comes formatted (<see cref="Money.FormatRate(decimal, string, Span{byte})"/>).</summary>
    public static void WriteLeading(
        IBufferWriter<byte> output, LocalDate date, ReadOnlySpan<byte> session, ReadOnlySpan<byte> unit, ChargeKind kind,
        ReadOnlySpan<byte> description, decimal quantity, ReadOnlySpan<byte> quantityUnit, ReadOnlySpan<byte> rate, long amountMinor, string currency)
    {
        WriteDate(output, date);
        Field(output, session);
        Field(output, unit);
        Field(output, KindText(kind));
        Field(output, description);
        Span<byte> number = stackalloc byte[NumberLength];
        quantity.TryFormat(number, out int written, default, CultureInfo.InvariantCulture);
        Field(output, number[..written]);
        Field(output, quantityUnit);
        Field(output, rate);
        Field(output, number[..Money.Format(amountMinor, currency, number)]);
        Span<byte> code = stackalloc byte[Encoding.UTF8.GetMaxByteCount(currency.Length)];
        Field(output, code[..Encoding.UTF8.GetBytes(currency, code)]);
    }

    /// <summary>Writes the status, the entry id and the line's end.</summary>
    public static void WriteTrailing(IBufferWriter<byte> output, ReadOnlySpan<byte> status, ReadOnlySpan<byte> entryId)
    {
        Field(output, status);
        Field(output, entryId);
        Put(output, "\r\n"u8);
    }

    /// <summary>Writes one inline line (its fields as strings) with its status.</summary>
    public static void WriteLine(IBufferWriter<byte> output, StatementLine line, string status)
    {
        Span<byte> rate = stackalloc byte[NumberLength];
        WriteLeading(output, LocalDatePattern.Iso.Parse(line.Date).Value, Utf8(line.SessionId), Utf8(line.UnitId), line.Kind,
            Utf8(line.Description), line.Quantity, Utf8(line.QuantityUnit), rate[..Money.FormatRate(line.Rate, line.Currency, rate)], line.AmountMinor, line.Currency);
        WriteTrailing(output, Utf8(status), Utf8(line.EntryId));
    }

    /// <summary>Gets the CSV status of a due line: <c>prior-period</c> or <c>due</c>.</summary>
    public static ReadOnlySpan<byte> DueStatus(bool priorPeriod) => priorPeriod ? "prior-period"u8 : "due"u8;

    /// <summary>Gets the CSV status of a line shown apart: <c>held</c> or <c>disputed</c>.</summary>
    public static ReadOnlySpan<byte> ApartStatus(ChargeStatus status) => status == ChargeStatus.Held ? "held"u8 : "disputed"u8;

    /// <summary>Gets <paramref name="kind"/> in kebab case, as the CSV and the JSON spell it.</summary>
    public static ReadOnlySpan<byte> KindText(ChargeKind kind) => kind switch
    {
        ChargeKind.CallSetup => "call-setup"u8,
        ChargeKind.ConnectTime => "connect-time"u8,
        ChargeKind.DataVolume => "data-volume"u8,
        ChargeKind.Other => "other"u8,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Not a charge kind."),
    };

    private static void WriteDate(IBufferWriter<byte> output, LocalDate date)
    {
        Span<byte> text = output.GetSpan(10);
        Digits(text[..4], date.Year);
        text[4] = (byte)'-';
        Digits(text.Slice(5, 2), date.Month);
        text[7] = (byte)'-';
        Digits(text.Slice(8, 2), date.Day);
        output.Advance(10);
    }

    private static void Digits(Span<byte> destination, int value)
    {
        for (int i = destination.Length - 1; i >= 0; i--, value /= 10)
        {
            destination[i] = (byte)('0' + (value % 10));
        }
    }

    private static void Field(IBufferWriter<byte> output, ReadOnlySpan<byte> value)
    {
        Put(output, ","u8);
        Quoted(output, value);
    }

    /// <summary>Writes a field as RFC 4180 wants it: in quotes, each quote doubled, when it holds a comma, a quote, CR or LF.</summary>
    private static void Quoted(IBufferWriter<byte> output, ReadOnlySpan<byte> value)
    {
        if (value.IndexOfAny(",\"\r\n"u8) < 0)
        {
            Put(output, value);
            return;
        }

        Put(output, "\""u8);
        for (int quote; (quote = value.IndexOf((byte)'"')) >= 0; value = value[(quote + 1)..])
        {
            Put(output, value[..(quote + 1)]);
            Put(output, "\""u8);
        }

        Put(output, value);
        Put(output, "\""u8);
    }

    private static void Put(IBufferWriter<byte> output, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(output.GetSpan(bytes.Length));
        output.Advance(bytes.Length);
    }

    private static byte[] Utf8(string value) => Encoding.UTF8.GetBytes(value);
}
