using System.Buffers;
using System.Text;
using RemoteSupport.GroundRules;
using RemoteSupport.Ledger;
using RemoteSupport.Tests.Consent;

namespace RemoteSupport.Tests.Ledger;

/// <summary>
/// The statement's renderings and formats field by field: currencies' exponents, rates in major units, the text for
/// people, the CSV's dates, statuses and quoting; the rate card's bounds; the spool's guards.
/// </summary>
public sealed class StatementRenderingTests
{
    [Theory]
    [InlineData("JPY", 0)]
    [InlineData("KRW", 0)]
    [InlineData("ISK", 0)]
    [InlineData("CLP", 0)]
    [InlineData("VND", 0)]
    [InlineData("XOF", 0)]
    [InlineData("XAF", 0)]
    [InlineData("UGX", 0)]
    [InlineData("PYG", 0)]
    [InlineData("RWF", 0)]
    [InlineData("BHD", 3)]
    [InlineData("KWD", 3)]
    [InlineData("OMR", 3)]
    [InlineData("JOD", 3)]
    [InlineData("TND", 3)]
    [InlineData("IQD", 3)]
    [InlineData("LYD", 3)]
    [InlineData("EUR", 2)]
    [InlineData("USD", 2)]
    [InlineData("CHF", 2)]
    public void EachCurrency_HasItsIso4217Exponent(string currency, int exponent)
    {
        Money.Exponent(currency).Should().Be(exponent);
        Money.Format(1, currency).Should().Be(exponent == 0 ? "1" : "0." + new string('0', exponent - 1) + "1");
    }

    [Theory]
    [InlineData("2", "EUR", "0.02")]
    [InlineData("2.5", "EUR", "0.025")]
    [InlineData("2.50", "EUR", "0.025")] // trailing zeros of the minor rate are not kept
    [InlineData("50", "EUR", "0.50")] // at least the currency's decimals
    [InlineData("1200", "EUR", "12.00")]
    [InlineData("0", "EUR", "0.00")]
    [InlineData("-150", "EUR", "-1.50")]
    [InlineData("5", "JPY", "5")]
    [InlineData("2.5", "JPY", "2.5")]
    [InlineData("1", "KWD", "0.001")]
    [InlineData("1000", "KWD", "1.000")]
    [InlineData("0.0001", "KWD", "0.0000001")]
    public void ARate_IsInMajorUnits_Exactly_WithAtLeastTheCurrencysDecimals(string minor, string currency, string expected)
    {
        Money.FormatRate(decimal.Parse(minor, System.Globalization.CultureInfo.InvariantCulture), currency).Should().Be(expected);
    }

    [Fact]
    public void TheText_HasTheHeaderPeriodLinesSubtotalsTotals_AndTheHeldAndDisputedSectionsOnlyWhenThereAreSome()
    {
        MonthlyStatement statement = Statement() with
        {
            HeldLines = [Line("held one", 15_000, "EUR")],
            DisputedLines = [Line("disputed one", 900, "EUR")],
        };

        string[] text = statement.ToText().Split('\n');
        string[] plain = (Statement() with { TzdbVersion = null }).ToText().Split('\n');

        text[0].Should().Be("Statement 3 for fabrikam, 2026-11 (Europe/Berlin, TZDB 2025b)");
        text[1].Should().Be("Period 2026-10-31 23:00Z to 2026-11-30 23:00Z (end exclusive)");
        text[2].Should().BeEmpty();
        text[3].Should().Be("2026-11-03  session-1    unit-1     Call setup                            1 call            5.00 EUR");
        text[4].Should().Be("2026-11-03  session-1    unit-1     Connect time                          1 call            1200 JPY  (prior period)");
        text[5].Should().BeEmpty();
        text[6].Should().Be("Subtotal call-setup/EUR                   5.00 EUR");
        text[7].Should().Be("Subtotal connect-time/JPY                 1200 JPY");
        text[8].Should().Be("TOTAL DUE                                 5.00 EUR");
        text[9].Should().Be("TOTAL DUE                                 1200 JPY");
        text[10].Should().BeEmpty();
        text[11].Should().Be("Held, not due until the customer approves:");
        text[12].Should().Be("2026-11-03  held one                             150.00 EUR");
        text[13].Should().BeEmpty();
        text[14].Should().Be("Disputed by the customer, not due until resolved:");
        text[15].Should().Be("2026-11-03  disputed one                           9.00 EUR");
        plain[0].Should().Be("Statement 3 for fabrikam, 2026-11 (Europe/Berlin)");
        plain[3].Should().NotContain("prior period");
        plain.Should().NotContain(l => l.StartsWith("Held", StringComparison.Ordinal) || l.StartsWith("Disputed", StringComparison.Ordinal));
        plain.Should().HaveCount(11, "the lines, subtotals and totals end with a line break and nothing follows");
    }

    [Fact]
    public void TheCsvLine_HasTheDateInFull_EachStatus_AndQuotesEveryFieldThatNeedsIt()
    {
        StatementLine line = Line("\"quoted\" at the start, a comma", 5, "EUR") with { Date = "0987-03-04", SessionId = ",first", UnitId = "a\"b", QuantityUnit = "line\nbreak" };

        string csv = Write(w => StatementCsv.WriteLine(w, line, "due"));

        csv.Should().Be("0987-03-04,\",first\",\"a\"\"b\",call-setup,\"\"\"quoted\"\" at the start, a comma\",1,\"line\nbreak\",0.05,0.05,EUR,due," + line.EntryId + "\r\n");
        Encoding.ASCII.GetString(StatementCsv.ApartStatus(ChargeStatus.Held)).Should().Be("held");
        Encoding.ASCII.GetString(StatementCsv.ApartStatus(ChargeStatus.Disputed)).Should().Be("disputed");
        Encoding.ASCII.GetString(StatementCsv.DueStatus(priorPeriod: true)).Should().Be("prior-period");
        Encoding.ASCII.GetString(StatementCsv.DueStatus(priorPeriod: false)).Should().Be("due");
        FluentActions.Invoking(() => StatementCsv.KindText((ChargeKind)99).ToArray()).Should().Throw<ArgumentOutOfRangeException>()
            .Which.ParamName.Should().Be("kind");
    }

    [Fact]
    public void TheRateCard_RefusesABillingIncrementUnderOneSecond_AndBillsNothingForNoTime()
    {
        using var f = new ConsentFixture();
        TollChargePolicy policy = f.Rules.TollCharges;

        FluentActions.Invoking(() => new RateCard(policy with { BillingIncrementSeconds = 0 })).Should().Throw<ArgumentOutOfRangeException>()
            .Which.Should().Match<ArgumentOutOfRangeException>(e => e.ParamName == "policy" && e.Message.StartsWith("The billing increment is at least one second.", StringComparison.Ordinal));
        FluentActions.Invoking(() => new RateCard(null!)).Should().Throw<ArgumentNullException>().Which.ParamName.Should().Be("policy");
        var card = new RateCard(policy with { BillingIncrementSeconds = 1 });
        card.BilledSeconds(TimeSpan.FromSeconds(1)).Should().Be(1, "an increment of one second is allowed");
        card.BilledSeconds(TimeSpan.FromSeconds(-1_000)).Should().Be(0, "a negative connect time bills nothing");
        card.BilledSeconds(TimeSpan.Zero).Should().Be(0);
        new RateCard(policy).BilledSeconds(TimeSpan.FromSeconds(-1_000)).Should().Be(0);
        new RateCard(policy).ConnectTimeMinor(TimeSpan.Zero).Should().Be(policy.MinimumMinor, "the minimum still applies");
    }

    [Fact]
    public void AnIdempotencyConflict_SaysWhichKeyAndFields()
    {
        var conflict = new IdempotencyConflictException("session-1/call-setup", ["AmountMinor", "Description"]);

        conflict.Message.Should().Be("Idempotency key 'session-1/call-setup' was recorded with different content: AmountMinor, Description differ.");
        conflict.IdempotencyKey.Should().Be("session-1/call-setup");
    }

    [Fact]
    public void TheSpool_RefusesAnAddOnceRead_AndHoldsMoreItemsThanItsFirstSlots()
    {
        using var spool = new SortedSpool(64 * 1024); // 1,024 slots at first; 24-byte items: 2,730 fit without a spill
        for (int i = 2_000; i > 0; i--)
        {
            spool.Add((ulong)i, 0, default, default);
        }

        var keys = new List<ulong>();
        while (spool.TryRead(out SpoolItem item))
        {
            keys.Add(item.Key0);
        }

        spool.SpilledRuns.Should().Be(0);
        keys.Should().Equal(Enumerable.Range(1, 2_000).Select(i => (ulong)i));
        FluentActions.Invoking(() => spool.Add(1, 0, default, default)).Should().Throw<InvalidOperationException>()
            .WithMessage("The spool is being read; nothing can be added.");
    }

    private static MonthlyStatement Statement() => new()
    {
        Number = 3,
        CustomerId = "fabrikam",
        Month = "2026-11",
        TimeZone = "Europe/Berlin",
        PeriodStart = new DateTimeOffset(2026, 10, 31, 23, 0, 0, TimeSpan.Zero),
        PeriodEnd = new DateTimeOffset(2026, 11, 30, 23, 0, 0, TimeSpan.Zero),
        Lines = [Line("Call setup", 500, "EUR"), Line("Connect time", 1200, "JPY") with { Kind = ChargeKind.ConnectTime, PriorPeriod = true }],
        HeldLines = [],
        Subtotals = new Dictionary<string, long> { ["connect-time/JPY"] = 1200, ["call-setup/EUR"] = 500 },
        Totals = new Dictionary<string, long> { ["JPY"] = 1200, ["EUR"] = 500 },
        LedgerSize = 2,
        LineCount = 2,
        LinesSha256 = new string('0', 64),
        LinesInline = true,
        LedgerCheckpoint = "checkpoint",
        IssuedAt = new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero),
        TzdbVersion = "2025b",
    };

    private static StatementLine Line(string description, long amount, string currency) => new()
    {
        Date = "2026-11-03",
        SessionId = "session-1",
        UnitId = "unit-1",
        Kind = ChargeKind.CallSetup,
        Description = description,
        Quantity = 1,
        QuantityUnit = "call",
        Rate = amount,
        AmountMinor = amount,
        Currency = currency,
        EntryId = "charge-" + description.Length,
    };

    private static string Write(Action<ArrayBufferWriter<byte>> write)
    {
        var output = new ArrayBufferWriter<byte>();
        write(output);
        return Encoding.UTF8.GetString(output.WrittenSpan);
    }
}
