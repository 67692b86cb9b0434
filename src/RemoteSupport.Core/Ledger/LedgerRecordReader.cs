using System.Text;
using System.Text.Json;
using RemoteSupport.Documents;

namespace RemoteSupport.Ledger;

/// <summary>The fields of one ledger entry record a statement needs, as UTF-8 (valid until the next record is read).</summary>
internal ref struct ChargeRecordView
{
    public ReadOnlySpan<byte> EntryId;
    public ReadOnlySpan<byte> CustomerId;
    public ReadOnlySpan<byte> UnitId;
    public ReadOnlySpan<byte> SessionId;
    public ReadOnlySpan<byte> Description;
    public ReadOnlySpan<byte> QuantityUnit;
    public ReadOnlySpan<byte> Currency;
    public ReadOnlySpan<byte> Reverses; // empty when the entry reverses none
    public ChargeKind Kind;
    public ChargeStatus Status;
    public decimal Quantity;
    public decimal Rate;
    public long AmountMinor;
    public DateTimeOffset IncurredAt;
}

/// <summary>
/// Reads ledger journal records (docs/formats/ledger.md) without building objects: the fields of an entry
/// straight from its UTF-8 JSON, unescaped into a buffer of its own. A record in any other shape (an
/// annotation, or an entry this reader does not recognise field by field) is read with the serializer, so
/// every record the ledger accepts is read alike and a malformed one fails the same way.
/// </summary>
internal sealed class LedgerRecordReader
{
    private const int Present = (1 << 13) - 1; // every required field below
    private byte[] _text = new byte[4096];
    private int _used;

    /// <summary>Gets the number of records read with the serializer (anything not written as the ledger writes an entry).</summary>
    internal long SerializerReads { get; private set; }

    /// <summary>Reads <paramref name="record"/>: an entry into <paramref name="entry"/>, or an annotation.</summary>
    /// <returns>The annotation, or null for an entry.</returns>
    /// <exception cref="JsonException">The record is neither (the serializer's message).</exception>
    public ChargeAnnotation? Read(ReadOnlySpan<byte> record, out ChargeRecordView entry)
    {
        if (_text.Length < record.Length)
        {
            _text = new byte[Math.Max(record.Length, _text.Length * 2)];
        }

        _used = 0;
        entry = default;
        if (TryReadEntry(record, ref entry))
        {
            return null;
        }

        SerializerReads++;
        using (JsonDocument shape = JsonDocument.Parse(record.ToArray()))
        {
            if (shape.RootElement.ValueKind == JsonValueKind.Object && shape.RootElement.TryGetProperty("annotation", out _))
            {
                return JsonSerializer.Deserialize<ChargeAnnotation>(record, DocumentJson.Options)
                    ?? throw new JsonException("The ledger record is an empty annotation.");
            }
        }

        ChargeEntry slow = JsonSerializer.Deserialize<ChargeEntry>(record, DocumentJson.Options) ?? throw new JsonException("The ledger record is empty.");
        _used = 0;
        if (_text.Length < Encoding.UTF8.GetMaxByteCount(record.Length))
        {
            _text = new byte[Encoding.UTF8.GetMaxByteCount(record.Length)]; // the fields as UTF-8 again, whatever escapes they had
        }

        entry = new ChargeRecordView
        {
            EntryId = Keep(slow.EntryId),
            CustomerId = Keep(slow.Charge.CustomerId),
            UnitId = Keep(slow.Charge.UnitId),
            SessionId = Keep(slow.Charge.SessionId),
            Description = Keep(slow.Charge.Description),
            QuantityUnit = Keep(slow.Charge.QuantityUnit),
            Currency = Keep(slow.Charge.Currency),
            Reverses = Keep(slow.Charge.Reverses ?? string.Empty),
            Kind = slow.Charge.Kind,
            Status = slow.Status,
            Quantity = slow.Charge.Quantity,
            Rate = slow.Charge.Rate,
            AmountMinor = slow.Charge.AmountMinor,
            IncurredAt = slow.Charge.IncurredAt,
        };
        return null;
    }

    /// <summary>Reads an entry written as the ledger writes it (camel-case names, no unknown field); false for anything else.</summary>
    private bool TryReadEntry(ReadOnlySpan<byte> record, ref ChargeRecordView entry)
    {
        var json = new Utf8JsonReader(record, new JsonReaderOptions { MaxDepth = 16 });
        int seen = 0;
        try
        {
            if (!json.Read() || json.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            int hint = 0;
            while (json.Read() && json.TokenType == JsonTokenType.PropertyName)
            {
                switch (Find(ref json, EntryFields, ref hint))
                {
                    case 0 or 3 or 5: // schemaVersion, recordedAt, heldBecause: a statement needs none of them
                        if (!Scalar(ref json))
                        {
                            return false; // a value of the wrong shape is the serializer's to name
                        }

                        break;
                    case 1:
                        entry.EntryId = String(ref json, ref seen, 1 << 0);
                        break;
                    case 2:
                        if (!json.Read() || json.TokenType != JsonTokenType.StartObject || !TryReadCharge(ref json, ref entry, ref seen))
                        {
                            return false;
                        }

                        break;
                    case 4:
                        entry.Status = String(ref json, ref seen, 1 << 1) switch
                        {
                            var s when s.SequenceEqual("due"u8) => ChargeStatus.Due,
                            var s when s.SequenceEqual("held"u8) => ChargeStatus.Held,
                            var s when s.SequenceEqual("disputed"u8) => ChargeStatus.Disputed,
                            _ => 0,
                        };
                        break;
                    default:
                        return false;
                }
            }

            return json.TokenType == JsonTokenType.EndObject && !json.Read() && seen == Present && entry.Status != 0 && entry.Kind != 0;
        }
        catch (JsonException)
        {
            return false; // the serializer reads it again and names the problem
        }
        catch (InvalidOperationException)
        {
            return false; // a value of another type than the field's
        }
        catch (FormatException)
        {
            return false;
        }
    }

    private bool TryReadCharge(ref Utf8JsonReader json, ref ChargeRecordView entry, ref int seen)
    {
        int hint = 0;
        while (json.Read() && json.TokenType == JsonTokenType.PropertyName)
        {
            switch (Find(ref json, ChargeFields, ref hint))
            {
                case 0 or 12 or 13: // idempotencyKey, evidenceReference, auditRecord
                    if (!Scalar(ref json))
                    {
                        return false;
                    }

                    break;
                case 1:
                    entry.CustomerId = String(ref json, ref seen, 1 << 2);
                    break;
                case 2:
                    entry.UnitId = String(ref json, ref seen, 1 << 3);
                    break;
                case 3:
                    entry.SessionId = String(ref json, ref seen, 1 << 4);
                    break;
                case 4:
                    entry.Kind = String(ref json, ref seen, 1 << 5) switch
                    {
                        var k when k.SequenceEqual("call-setup"u8) => ChargeKind.CallSetup,
                        var k when k.SequenceEqual("connect-time"u8) => ChargeKind.ConnectTime,
                        var k when k.SequenceEqual("data-volume"u8) => ChargeKind.DataVolume,
                        var k when k.SequenceEqual("other"u8) => ChargeKind.Other,
                        _ => 0,
                    };
                    break;
                case 5:
                    entry.Quantity = Value(ref json, ref seen, 1 << 6).GetDecimal();
                    break;
                case 6:
                    entry.QuantityUnit = String(ref json, ref seen, 1 << 7);
                    break;
                case 7:
                    entry.Rate = Value(ref json, ref seen, 1 << 8).GetDecimal();
                    break;
                case 8:
                    entry.AmountMinor = Value(ref json, ref seen, 1 << 9).GetInt64();
                    break;
                case 9:
                    entry.Currency = String(ref json, ref seen, 1 << 10);
                    break;
                case 10:
                    entry.IncurredAt = Value(ref json, ref seen, 1 << 11).GetDateTimeOffset();
                    break;
                case 11:
                    entry.Description = String(ref json, ref seen, 1 << 12);
                    break;
                case 14:
                    entry.Reverses = String(ref json, ref seen, 0);
                    break;
                default:
                    return false;
            }
        }

        return json.TokenType == JsonTokenType.EndObject;
    }

    // The fields in the order the ledger writes them: the next one is looked for first.
    private static readonly byte[][] EntryFields = [.. new[] { "schemaVersion", "entryId", "charge", "recordedAt", "status", "heldBecause" }.Select(Encoding.UTF8.GetBytes)];

    private static readonly byte[][] ChargeFields =
    [
        .. new[]
        {
            "idempotencyKey", "customerId", "unitId", "sessionId", "kind", "quantity", "quantityUnit", "rate", "amountMinor", "currency",
            "incurredAt", "description", "evidenceReference", "auditRecord", "reverses",
        }.Select(Encoding.UTF8.GetBytes),
    ];

    /// <summary>Finds the property name in <paramref name="names"/>, starting where the last one was found.</summary>
    /// <returns>Its index; -1 for a name not there (or escaped: the ledger writes none so).</returns>
    private static int Find(ref Utf8JsonReader json, byte[][] names, ref int hint)
    {
        if (json.ValueIsEscaped)
        {
            return -1;
        }

        ReadOnlySpan<byte> name = json.ValueSpan;
        for (int i = 0; i < names.Length; i++)
        {
            int at = hint + i < names.Length ? hint + i : hint + i - names.Length;
            if (name.SequenceEqual(names[at]))
            {
                hint = at + 1 == names.Length ? 0 : at + 1;
                return at;
            }
        }

        return -1;
    }

    private static bool Scalar(ref Utf8JsonReader json) =>
        json.Read() && json.TokenType is not JsonTokenType.StartObject and not JsonTokenType.StartArray;

    private static ref Utf8JsonReader Value(ref Utf8JsonReader json, ref int seen, int bit)
    {
        json.Read();
        if ((seen & bit) != 0)
        {
            throw new JsonException("A field twice.");
        }

        seen |= bit;
        return ref json;
    }

    /// <summary>Reads a string value, unescaped into this reader's buffer (the record's own bytes are the caller's).</summary>
    private ReadOnlySpan<byte> String(scoped ref Utf8JsonReader json, scoped ref int seen, int bit)
    {
        json.Read();
        if (json.TokenType != JsonTokenType.String || (seen & bit) != 0)
        {
            throw new JsonException("Not a string, or a field twice.");
        }

        seen |= bit;
        int length;
        if (!json.ValueIsEscaped && System.Text.Ascii.IsValid(json.ValueSpan))
        {
            json.ValueSpan.CopyTo(_text.AsSpan(_used)); // ASCII, as the ledger writes every string: nothing to unescape or check
            length = json.ValueSpan.Length;
        }
        else
        {
            length = json.CopyString(_text.AsSpan(_used));
        }

        ReadOnlySpan<byte> value = _text.AsSpan(_used, length);
        _used += length;
        return value;
    }

    private ReadOnlySpan<byte> Keep(string value)
    {
        int length = Encoding.UTF8.GetBytes(value, _text.AsSpan(_used));
        ReadOnlySpan<byte> kept = _text.AsSpan(_used, length);
        _used += length;
        return kept;
    }
}
