using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;
using RemoteSupport.Documents;
using RemoteSupport.Ledger;

namespace RemoteSupport.Tests.Ledger;

/// <summary>The parts a streamed statement is made of: the external sort, the record reader, the money formats.</summary>
public sealed class StatementStreamingPartsTests
{
    [Fact]
    public void TheSpool_SpilledIntoManyRuns_GivesEveryItemBackInKeyThenTieOrder()
    {
        var random = new Random(7);
        var items = new List<(ulong K0, ulong K1, byte[] Tie, byte[] Payload)>();
        for (int i = 0; i < 5_000; i++)
        {
            byte[] tie = Encoding.ASCII.GetBytes(random.Next(4) switch { 0 => "ab", 1 => "abc", 2 => "b", _ => "a" + random.Next(100) });
            items.Add(((ulong)random.Next(3), (ulong)random.Next(3), tie, BitConverter.GetBytes(i)));
        }

        using var spool = new SortedSpool(4096);
        foreach ((ulong k0, ulong k1, byte[] tie, byte[] payload) in items)
        {
            spool.Add(k0, k1, tie, payload);
        }

        var read = new List<(ulong, ulong, string, int)>();
        while (spool.TryRead(out SpoolItem item))
        {
            read.Add((item.Key0, item.Key1, Encoding.ASCII.GetString(item.Tie), BinaryPrimitives.ReadInt32LittleEndian(item.Payload)));
        }

        spool.SpilledRuns.Should().BeGreaterThan(20, "the arena holds a few dozen items");
        spool.Count.Should().Be(items.Count);
        read.Select(r => r.Item4).Order().Should().Equal(Enumerable.Range(0, items.Count), "every item once");
        read.Select(r => (r.Item1, r.Item2, r.Item3)).Should().Equal(
            items.Select(i => (i.K0, i.K1, Encoding.ASCII.GetString(i.Tie))).OrderBy(i => i.K0).ThenBy(i => i.K1).ThenBy(i => i.Item3, StringComparer.Ordinal));
    }

    [Fact]
    public void TheSpool_AnItemLargerThanItsMemory_StillComesBack()
    {
        using var spool = new SortedSpool(64);
        byte[] large = new byte[10_000];
        large.AsSpan().Fill(7);
        spool.Add(2, 0, "z"u8, "small"u8);
        spool.Add(1, 0, "a"u8, large);

        spool.TryRead(out SpoolItem first).Should().BeTrue();
        first.Payload.ToArray().Should().Equal(large);
        spool.TryRead(out SpoolItem second).Should().BeTrue();
        Encoding.ASCII.GetString(second.Payload).Should().Be("small");
        spool.TryRead(out _).Should().BeFalse();
    }

    [Theory]
    [InlineData("{\"schemaVersion\":1,\"entryId\":\"e1\",\"charge\":{\"idempotencyKey\":\"k\",\"customerId\":\"fabrikam\",\"unitId\":\"u\",\"sessionId\":\"s\",\"kind\":\"connect-time\",\"quantity\":60.50,\"quantityUnit\":\"second\",\"rate\":2.0,\"amountMinor\":121,\"currency\":\"EUR\",\"incurredAt\":\"2026-11-03T09:00:00+01:00\",\"description\":\"Nacht \\u2013 \\u0022x\\u0022\",\"reverses\":\"e0\"},\"recordedAt\":\"2026-11-03T09:00:00Z\",\"status\":\"held\",\"heldBecause\":\"cap\"}")]
    [InlineData("{\"EntryId\":\"e1\",\"Charge\":{\"IdempotencyKey\":\"k\",\"CustomerId\":\"fabrikam\",\"UnitId\":\"u\",\"SessionId\":\"s\",\"Kind\":\"call-setup\",\"Quantity\":1,\"QuantityUnit\":\"call\",\"Rate\":500,\"AmountMinor\":500,\"Currency\":\"EUR\",\"IncurredAt\":\"2026-11-03T09:00:00Z\",\"Description\":\"d\"},\"RecordedAt\":\"2026-11-03T09:00:00Z\",\"Status\":\"due\"}")]
    public void TheRecordReader_ReadsAnEntryAsTheSerializerDoes_WrittenAsTheLedgerWritesItOrNot(string json)
    {
        ChargeEntry expected = JsonSerializer.Deserialize<ChargeEntry>(json, DocumentJson.Options)!;

        new LedgerRecordReader().Read(Encoding.UTF8.GetBytes(json), out ChargeRecordView view).Should().BeNull("an entry, not an annotation");

        Encoding.UTF8.GetString(view.EntryId).Should().Be(expected.EntryId);
        Encoding.UTF8.GetString(view.CustomerId).Should().Be(expected.Charge.CustomerId);
        Encoding.UTF8.GetString(view.Description).Should().Be(expected.Charge.Description);
        Encoding.UTF8.GetString(view.Reverses).Should().Be(expected.Charge.Reverses ?? string.Empty);
        view.Kind.Should().Be(expected.Charge.Kind);
        view.Status.Should().Be(expected.Status);
        view.Quantity.ToString(CultureInfo.InvariantCulture).Should().Be(expected.Charge.Quantity.ToString(CultureInfo.InvariantCulture), "the scale too");
        view.Rate.ToString(CultureInfo.InvariantCulture).Should().Be(expected.Charge.Rate.ToString(CultureInfo.InvariantCulture));
        view.AmountMinor.Should().Be(expected.Charge.AmountMinor);
        view.IncurredAt.Should().Be(expected.Charge.IncurredAt);
    }

    [Fact]
    public void TheRecordReader_AnAnnotation_IsReadAsOne_AndARecordThatIsNeither_FailsAsTheSerializerFails()
    {
        var reader = new LedgerRecordReader();
        byte[] annotation = DocumentJson.Serialize(new ChargeAnnotation { Annotation = "approved", EntryIds = ["e1", "e2"], Document = "{}", RecordedAt = DateTimeOffset.UnixEpoch });

        reader.Read(annotation, out _)!.EntryIds.Should().Equal("e1", "e2");
        FluentActions.Invoking(() => reader.Read("{\"entryId\":\"e1\",\"surprise\":1}"u8, out _)).Should().Throw<JsonException>();
        FluentActions.Invoking(() => reader.Read("[1,2]"u8, out _)).Should().Throw<JsonException>();
    }

    [Theory]
    [InlineData(0L, "EUR")]
    [InlineData(5L, "EUR")]
    [InlineData(-5L, "EUR")]
    [InlineData(123_456L, "EUR")]
    [InlineData(-123_456L, "JPY")]
    [InlineData(1_234L, "KWD")]
    [InlineData(-7L, "KWD")]
    [InlineData(long.MaxValue, "EUR")]
    [InlineData(long.MinValue, "EUR")]
    [InlineData(long.MinValue, "JPY")]
    public void Money_FormatsMinorUnits_AsTheDecimalWithTheCurrencysExponent(long minor, string currency)
    {
        int exponent = Money.Exponent(currency);
        decimal major = minor / (decimal)Math.Pow(10, exponent);

        Money.Format(minor, currency).Should().Be(major.ToString("F" + exponent.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture));
    }
}
