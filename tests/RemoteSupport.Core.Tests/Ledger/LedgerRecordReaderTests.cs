using System.Globalization;
using System.Text;
using System.Text.Json;
using RemoteSupport.Documents;
using RemoteSupport.Ledger;

namespace RemoteSupport.Tests.Ledger;

/// <summary>
/// The statement's record reader against the serializer, record by record: an entry as the ledger writes it is read
/// without the serializer, every other shape with it, and either way the fields are the serializer's (or the record
/// fails as the serializer fails).
/// </summary>
public sealed class LedgerRecordReaderTests
{
    private static readonly ChargeEntry Written = new()
    {
        EntryId = "charge-0123456789abcdef",
        Charge = new ChargeRequest
        {
            IdempotencyKey = "session-7/connect-time",
            CustomerId = "fabrikam",
            UnitId = "unit-42",
            SessionId = "session-7",
            Kind = ChargeKind.ConnectTime,
            Quantity = 120.50m,
            QuantityUnit = "second",
            Rate = 2.0m,
            AmountMinor = 241,
            Currency = "EUR",
            IncurredAt = new DateTimeOffset(2026, 11, 3, 9, 0, 0, TimeSpan.FromHours(1)),
            Description = "Connect time 120 s (billed 120 s)",
            EvidenceReference = "evidence-1",
            AuditRecord = 17,
            Reverses = "charge-00",
        },
        RecordedAt = new DateTimeOffset(2026, 11, 3, 9, 1, 0, TimeSpan.Zero),
        Status = ChargeStatus.Held,
        HeldBecause = "241 is above the approval threshold of 200.",
    };

    private static string WrittenJson => Encoding.UTF8.GetString(DocumentJson.Serialize(Written));

    public static TheoryData<string, string> FastShapes() => new()
    {
        { "as the ledger writes it", WrittenJson },
        { "without the optional fields", Encoding.UTF8.GetString(DocumentJson.Serialize(Written with
            { HeldBecause = null, Status = ChargeStatus.Due, Charge = Written.Charge with { EvidenceReference = null, AuditRecord = null, Reverses = null } })) },
        { "each status", Edit("\"status\":\"held\"", "\"status\":\"disputed\"") },
        { "the due status", Edit("\"status\":\"held\"", "\"status\":\"due\"") },
        { "the call-setup kind", Edit("connect-time\",\"quantity", "call-setup\",\"quantity") },
        { "the data-volume kind", Edit("connect-time\",\"quantity", "data-volume\",\"quantity") },
        { "the other kind", Edit("connect-time\",\"quantity", "other\",\"quantity") },
        { "fields in another order", Reordered() },
        { "a description escaped", Edit("Connect time 120 s", "Nacht \\u2013 \\\"x\\\"") },
        { "a description not ASCII", Edit("Connect time 120 s", "Nacht – größer") },
        { "null optional fields", Edit("\"heldBecause\":\"241 is above the approval threshold of 200.\"", "\"heldBecause\":null") },
    };

    public static TheoryData<string, string> SerializerShapes() => new()
    {
        { "an escaped field name", Edit("\"entryId\"", "\"entry\\u0049d\"") },
        { "an unknown entry field", Edit("\"status\":", "\"extra\":1,\"status\":") },
        { "an unknown charge field", Edit("\"unitId\":", "\"extra\":1,\"unitId\":") },
        { "Pascal-case names", Encoding.UTF8.GetString(JsonSerializer.SerializeToUtf8Bytes(Written, new JsonSerializerOptions(DocumentJson.Options) { PropertyNamingPolicy = null })) },
        { "the entry id twice", Edit("\"charge\":{", "\"entryId\":\"charge-other\",\"charge\":{") },
        { "the status twice", Edit("\"status\":\"held\"", "\"status\":\"due\",\"status\":\"held\"") },
        { "the customer twice", Edit("\"unitId\":", "\"customerId\":\"contoso\",\"unitId\":") },
        { "the unit twice", Edit("\"sessionId\":", "\"unitId\":\"unit-43\",\"sessionId\":") },
        { "the session twice", Edit("\"kind\":", "\"sessionId\":\"session-8\",\"kind\":") },
        { "the kind twice", Edit("\"quantity\":", "\"kind\":\"other\",\"quantity\":") },
        { "the quantity twice", Edit("\"quantityUnit\":", "\"quantity\":3,\"quantityUnit\":") },
        { "the quantity unit twice", Edit("\"rate\":", "\"quantityUnit\":\"minute\",\"rate\":") },
        { "the rate twice", Edit("\"amountMinor\":", "\"rate\":3,\"amountMinor\":") },
        { "the amount twice", Edit("\"currency\":", "\"amountMinor\":9,\"currency\":") },
        { "the currency twice", Edit("\"incurredAt\":", "\"currency\":\"USD\",\"incurredAt\":") },
        { "the time incurred twice", Edit("\"description\":", "\"incurredAt\":\"2026-11-04T09:00:00Z\",\"description\":") },
        { "the description twice", Edit("\"evidenceReference\":", "\"description\":\"other\",\"evidenceReference\":") },
        { "an object where a scalar is", Edit("\"heldBecause\":\"241 is above the approval threshold of 200.\"", "\"heldBecause\":{\"a\":1}") },
        { "an array where a scalar is", Edit("\"evidenceReference\":\"evidence-1\"", "\"evidenceReference\":[1]") },
        { "the charge an array", WrittenJson[..WrittenJson.IndexOf("\"charge\":", StringComparison.Ordinal)] + "\"charge\":[]}" },
        { "a number where a string is", Edit("\"currency\":\"EUR\"", "\"currency\":5") },
        { "a string where a number is", Edit("\"amountMinor\":241", "\"amountMinor\":\"241\"") },
        { "a time that is none", Edit("\"incurredAt\":\"2026-11-03T09:00:00+01:00\"", "\"incurredAt\":\"soon\"") },
        { "an unknown status", Edit("\"status\":\"held\"", "\"status\":\"paid\"") },
        { "an unknown kind", Edit("connect-time\",\"quantity", "toll\",\"quantity") },
        { "no description", Edit("\"description\":\"Connect time 120 s (billed 120 s)\",", string.Empty) },
        { "no entry id", Edit("\"entryId\":\"charge-0123456789abcdef\",", string.Empty) },
        { "no status", Edit(",\"status\":\"held\"", string.Empty) },
        { "data after the entry", WrittenJson + " {}" },
        { "an array", "[1,2]" },
        { "a string", "\"entry\"" },
        { "an empty object", "{}" },
    };

    [Theory]
    [MemberData(nameof(FastShapes))]
    public void AnEntryAsTheLedgerWritesIt_IsReadWithoutTheSerializer_AsTheSerializerReadsIt(string shape, string json)
    {
        var reader = new LedgerRecordReader();

        string read = ReadFields(reader, json);

        read.Should().Be(SerializerFields(json), shape);
        reader.SerializerReads.Should().Be(0, shape);
    }

    [Theory]
    [MemberData(nameof(SerializerShapes))]
    public void AnyOtherShape_IsReadWithTheSerializer_ToTheSameFieldsOrTheSameFailure(string shape, string json)
    {
        var reader = new LedgerRecordReader();
        string? expected = null;
        try
        {
            expected = SerializerFields(json);
        }
        catch (JsonException)
        {
            // the record is not an entry: the reader fails as the serializer does (below)
        }

        if (expected is null)
        {
            FluentActions.Invoking(() => ReadFields(reader, json)).Should().Throw<JsonException>(shape);
        }
        else
        {
            ReadFields(reader, json).Should().Be(expected, shape);
        }

        reader.SerializerReads.Should().Be(1, shape);
    }

    [Fact]
    public void OneReader_RecordsLargerThanItsBuffer_ThenSmallOnes_ReadsEachWhole()
    {
        var reader = new LedgerRecordReader();
        string big = Edit("Connect time 120 s", new string('x', 9_000));
        string bigEscaped = Edit("Connect time 120 s", string.Concat(Enumerable.Repeat("\\u00e9", 6_000)))
            .Replace("\"entryId\"", "\"entry\\u0049d\"", StringComparison.Ordinal); // an escaped name: read with the serializer
        string small = WrittenJson;

        foreach (string json in new[] { big, small, bigEscaped, small, big })
        {
            ReadFields(reader, json).Should().Be(SerializerFields(json));
        }

        reader.SerializerReads.Should().Be(1);
    }

    [Fact]
    public void AnAnnotation_IsReadWithTheSerializer_AndAnEmptyOneFails()
    {
        var reader = new LedgerRecordReader();
        byte[] annotation = DocumentJson.Serialize(new ChargeAnnotation { Annotation = "disputed", EntryIds = ["e1"], Document = "{}", RecordedAt = DateTimeOffset.UnixEpoch });

        ChargeAnnotation? read = reader.Read(annotation, out ChargeRecordView entry);

        read!.Annotation.Should().Be("disputed");
        entry.EntryId.IsEmpty.Should().BeTrue();
        FluentActions.Invoking(() => reader.Read("null"u8, out _)).Should().Throw<JsonException>().WithMessage("The ledger record is empty.");
        reader.SerializerReads.Should().Be(2);
    }

    /// <summary>The entry as the ledger writes it with <paramref name="from"/> (which it must hold) replaced by <paramref name="to"/>.</summary>
    private static string Edit(string from, string to)
    {
        WrittenJson.Should().Contain(from, "the edit must change the record");
        return WrittenJson.Replace(from, to, StringComparison.Ordinal);
    }

    private static string ReadFields(LedgerRecordReader reader, string json)
    {
        reader.Read(Encoding.UTF8.GetBytes(json), out ChargeRecordView view).Should().BeNull("an entry, not an annotation");
        return string.Join(
            "|",
            Encoding.UTF8.GetString(view.EntryId),
            Encoding.UTF8.GetString(view.CustomerId),
            Encoding.UTF8.GetString(view.UnitId),
            Encoding.UTF8.GetString(view.SessionId),
            Encoding.UTF8.GetString(view.Description),
            Encoding.UTF8.GetString(view.QuantityUnit),
            Encoding.UTF8.GetString(view.Currency),
            Encoding.UTF8.GetString(view.Reverses),
            view.Kind,
            view.Status,
            view.Quantity.ToString(CultureInfo.InvariantCulture),
            view.Rate.ToString(CultureInfo.InvariantCulture),
            view.AmountMinor,
            view.IncurredAt.ToString("O", CultureInfo.InvariantCulture));
    }

    private static string SerializerFields(string json)
    {
        ChargeEntry e = JsonSerializer.Deserialize<ChargeEntry>(json, DocumentJson.Options) ?? throw new JsonException("empty");
        ChargeRequest c = e.Charge;
        return string.Join(
            "|", e.EntryId, c.CustomerId, c.UnitId, c.SessionId, c.Description, c.QuantityUnit, c.Currency, c.Reverses ?? string.Empty, c.Kind, e.Status,
            c.Quantity.ToString(CultureInfo.InvariantCulture), c.Rate.ToString(CultureInfo.InvariantCulture), c.AmountMinor,
            c.IncurredAt.ToString("O", CultureInfo.InvariantCulture));
    }

    /// <summary>The entry with its fields, and its charge's, in the reverse of the ledger's order.</summary>
    private static string Reordered()
    {
        using JsonDocument document = JsonDocument.Parse(WrittenJson);
        var text = new StringBuilder("{");
        foreach (JsonProperty field in document.RootElement.EnumerateObject().Reverse())
        {
            text.Append(JsonSerializer.Serialize(field.Name)).Append(':');
            if (field.NameEquals("charge"))
            {
                text.Append('{').AppendJoin(',', field.Value.EnumerateObject().Reverse().Select(f => JsonSerializer.Serialize(f.Name) + ":" + f.Value.GetRawText())).Append('}');
            }
            else
            {
                text.Append(field.Value.GetRawText());
            }

            text.Append(',');
        }

        return text.ToString().TrimEnd(',') + "}";
    }
}
