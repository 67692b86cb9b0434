using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using RemoteSupport.Identities;

namespace RemoteSupport.Documents;

/// <summary>
/// A signed document in the DSSE v1 envelope: a payload type, the payload bytes and Ed25519 signatures
/// over the pre-authentication encoding <c>"DSSEv1" SP len(type) SP type SP len(body) SP body</c>.
/// Immutable: <see cref="Sign"/> returns a new envelope with one more signature.
/// </summary>
/// <remarks>The JSON form and limits are in docs/formats/envelope.md. Verify with
/// <see cref="Trust.TrustStore.Verify"/>; an envelope itself proves nothing until verified.</remarks>
public sealed class SignedEnvelope
{
    /// <summary>The largest envelope accepted by <see cref="Parse(ReadOnlySpan{byte})"/>, in bytes of JSON.</summary>
    public const int MaxEnvelopeBytes = 1024 * 1024;

    /// <summary>The most signatures one envelope may carry.</summary>
    public const int MaxSignatures = 32;

    /// <summary>The longest payload type accepted, in characters.</summary>
    public const int MaxPayloadTypeLength = 256;

    /// <summary>The longest key id accepted, in characters.</summary>
    public const int MaxKeyIdLength = 128;

    private readonly byte[] _payload;
    private readonly EnvelopeSignature[] _signatures;

    private SignedEnvelope(string payloadType, byte[] payload, EnvelopeSignature[] signatures)
    {
        PayloadType = payloadType;
        _payload = payload;
        _signatures = signatures;
    }

    /// <summary>Gets the payload type, for example <c>application/vnd.remotesupport.ground-rules+json; version=1</c>.</summary>
    public string PayloadType { get; }

    /// <summary>Gets the payload bytes exactly as signed.</summary>
    public ReadOnlyMemory<byte> Payload => _payload;

    /// <summary>Gets the signatures, in the order they were added.</summary>
    public IReadOnlyList<EnvelopeSignature> Signatures => _signatures;

    /// <summary>Creates an envelope, not yet signed, for a payload of the given document type.</summary>
    public static SignedEnvelope Create(DocumentType type, ReadOnlySpan<byte> payload)
    {
        ArgumentNullException.ThrowIfNull(type);
        return Create(type.PayloadType, payload);
    }

    /// <summary>Creates an envelope, not yet signed, for a payload of any payload type.</summary>
    public static SignedEnvelope Create(string payloadType, ReadOnlySpan<byte> payload)
    {
        ArgumentException.ThrowIfNullOrEmpty(payloadType);
        if (payloadType.Length > MaxPayloadTypeLength)
        {
            Error.Argument(nameof(payloadType), $"A payload type is at most {MaxPayloadTypeLength} characters.");
        }

        return new SignedEnvelope(payloadType, payload.ToArray(), []);
    }

    /// <summary>Returns a new envelope with <paramref name="signer"/>'s signature added; a key that already signed is not added twice.</summary>
    public SignedEnvelope Sign(PartyIdentity signer)
    {
        ArgumentNullException.ThrowIfNull(signer);
        string keyId = signer.PublicKey.KeyId;
        if (_signatures.Any(s => s.KeyId == keyId && signer.PublicKey.Verify(PreAuthenticationEncoding(), s.Signature.Span)))
        {
            return this;
        }

        if (_signatures.Length >= MaxSignatures)
        {
            throw new InvalidOperationException($"An envelope carries at most {MaxSignatures} signatures.");
        }

        byte[] signature = signer.Sign(PreAuthenticationEncoding());
        return new SignedEnvelope(PayloadType, _payload, [.. _signatures, new EnvelopeSignature(keyId, signature)]);
    }

    /// <summary>Returns a new envelope with an externally made signature added (for example by a hardware key).</summary>
    public SignedEnvelope AddSignature(EnvelopeSignature signature)
    {
        ArgumentNullException.ThrowIfNull(signature);
        if (_signatures.Length >= MaxSignatures)
        {
            throw new InvalidOperationException($"An envelope carries at most {MaxSignatures} signatures.");
        }

        return new SignedEnvelope(PayloadType, _payload, [.. _signatures, signature]);
    }

    /// <summary>Returns the bytes every signature covers: the DSSE v1 pre-authentication encoding.</summary>
    public byte[] PreAuthenticationEncoding() => ComputePreAuthenticationEncoding(PayloadType, _payload);

    internal static byte[] ComputePreAuthenticationEncoding(string payloadType, ReadOnlySpan<byte> payload)
    {
        int typeLength = Encoding.UTF8.GetByteCount(payloadType);
        string header = string.Create(CultureInfo.InvariantCulture, $"DSSEv1 {typeLength} ");
        string middle = string.Create(CultureInfo.InvariantCulture, $" {payload.Length} ");
        byte[] result = new byte[header.Length + typeLength + middle.Length + payload.Length];
        int offset = Encoding.ASCII.GetBytes(header, result);
        offset += Encoding.UTF8.GetBytes(payloadType, result.AsSpan(offset));
        offset += Encoding.ASCII.GetBytes(middle, result.AsSpan(offset));
        payload.CopyTo(result.AsSpan(offset));
        return result;
    }

    /// <summary>Writes the JSON form (standard base64 fields) into <paramref name="output"/>.</summary>
    public void WriteJson(IBufferWriter<byte> output, bool indented = false)
    {
        ArgumentNullException.ThrowIfNull(output);
        // Relaxed escaping keeps '+' in payload types readable; the output is never embedded in HTML.
        using var json = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = indented, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        json.WriteStartObject();
        json.WriteString("payloadType", PayloadType);
        json.WriteBase64String("payload", _payload);
        json.WriteStartArray("signatures");
        foreach (EnvelopeSignature signature in _signatures)
        {
            json.WriteStartObject();
            json.WriteString("keyid", signature.KeyId);
            json.WriteBase64String("sig", signature.Signature.Span);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    /// <summary>Returns the JSON form as UTF-8 bytes.</summary>
    public byte[] ToUtf8Json(bool indented = false)
    {
        var buffer = new ArrayBufferWriter<byte>(_payload.Length * 4 / 3 + 256);
        WriteJson(buffer, indented);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Returns the JSON form as a string.</summary>
    public string ToJson(bool indented = false) => Encoding.UTF8.GetString(ToUtf8Json(indented));

    /// <summary>Parses the JSON form.</summary>
    /// <exception cref="EnvelopeFormatException">The text is not an envelope; the message names what is wrong.</exception>
    public static SignedEnvelope Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        if (json.Length > MaxEnvelopeBytes)
        {
            throw new EnvelopeFormatException($"The envelope is longer than the limit of {MaxEnvelopeBytes} bytes.");
        }

        return Parse(Encoding.UTF8.GetBytes(json));
    }

    /// <summary>Parses the JSON form from UTF-8 bytes.</summary>
    /// <exception cref="EnvelopeFormatException">The bytes are not an envelope; the message names what is wrong.</exception>
    public static SignedEnvelope Parse(ReadOnlySpan<byte> utf8Json)
    {
        if (!TryParse(utf8Json, out SignedEnvelope? envelope, out string? error))
        {
            throw new EnvelopeFormatException(error);
        }

        return envelope;
    }

    /// <summary>Parses the JSON form; on failure returns <see langword="false"/> and a sentence saying what is wrong.</summary>
    public static bool TryParse(
        ReadOnlySpan<byte> utf8Json,
        [NotNullWhen(true)] out SignedEnvelope? envelope,
        [NotNullWhen(false)] out string? error)
    {
        envelope = null;
        if (utf8Json.Length > MaxEnvelopeBytes)
        {
            error = $"The envelope is {utf8Json.Length} bytes, more than the limit of {MaxEnvelopeBytes}.";
            return false;
        }

        // The JSON reader checks a string's UTF-8 only when the string is read, by throwing an
        // InvalidOperationException (found by fuzzing): the whole text is checked first.
        if (!System.Text.Unicode.Utf8.IsValid(utf8Json))
        {
            error = "The envelope is not valid JSON: a string in it is not valid UTF-8.";
            return false;
        }

        try
        {
            var reader = new Utf8JsonReader(utf8Json, new JsonReaderOptions { MaxDepth = 4 });
            error = ReadEnvelope(ref reader, out envelope);
            return error is null;
        }
        catch (JsonException ex)
        {
            error = $"The envelope is not valid JSON: {ex.Message}";
            return false;
        }
    }

    private static string? ReadEnvelope(ref Utf8JsonReader reader, out SignedEnvelope? envelope)
    {
        envelope = null;
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return "The envelope is not a JSON object.";
        }

        string? payloadType = null;
        byte[]? payload = null;
        List<EnvelopeSignature>? signatures = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            string name = reader.GetString()!;
            reader.Read();
            switch (name)
            {
                case "payloadType" when payloadType is null:
                    if (reader.TokenType != JsonTokenType.String)
                    {
                        return "'payloadType' is not a string.";
                    }

                    payloadType = reader.GetString()!;
                    if (payloadType.Length is 0 or > MaxPayloadTypeLength)
                    {
                        return $"'payloadType' must be 1 to {MaxPayloadTypeLength} characters.";
                    }

                    break;
                case "payload" when payload is null:
                    payload = ReadBase64(ref reader, "payload", out string? payloadError);
                    if (payloadError is not null)
                    {
                        return payloadError;
                    }

                    break;
                case "signatures" when signatures is null:
                    string? signaturesError = ReadSignatures(ref reader, out signatures);
                    if (signaturesError is not null)
                    {
                        return signaturesError;
                    }

                    break;
                case "payloadType" or "payload" or "signatures":
                    return $"'{name}' appears more than once.";
                default:
                    return $"Unknown property '{Shorten(name)}'.";
            }
        }

        if (reader.TokenType != JsonTokenType.EndObject)
        {
            return "The envelope object is not closed.";
        }

        if (reader.Read())
        {
            return "Data follows the envelope object.";
        }

        if (payloadType is null || payload is null || signatures is null)
        {
            return $"The envelope lacks '{(payloadType is null ? "payloadType" : payload is null ? "payload" : "signatures")}'.";
        }

        envelope = new SignedEnvelope(payloadType, payload, [.. signatures]);
        return null;
    }

    private static string? ReadSignatures(ref Utf8JsonReader reader, out List<EnvelopeSignature>? signatures)
    {
        signatures = null;
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            return "'signatures' is not an array.";
        }

        var list = new List<EnvelopeSignature>();
        while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
        {
            if (list.Count == MaxSignatures)
            {
                return $"The envelope carries more than {MaxSignatures} signatures.";
            }

            string? keyId = null;
            byte[]? sig = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                string name = reader.GetString()!;
                reader.Read();
                if (name == "keyid" && keyId is null)
                {
                    if (reader.TokenType != JsonTokenType.String || (keyId = reader.GetString()!).Length > MaxKeyIdLength)
                    {
                        return $"A signature's 'keyid' must be a string of at most {MaxKeyIdLength} characters.";
                    }
                }
                else if (name == "sig" && sig is null)
                {
                    sig = ReadBase64(ref reader, "sig", out string? sigError);
                    if (sigError is not null)
                    {
                        return sigError;
                    }
                }
                else
                {
                    return $"A signature has an unknown or repeated property '{Shorten(name)}'.";
                }
            }

            if (sig is null)
            {
                return $"Signature {list.Count} lacks 'sig'.";
            }

            list.Add(new EnvelopeSignature(keyId ?? string.Empty, sig));
        }

        if (reader.TokenType != JsonTokenType.EndArray)
        {
            return "'signatures' must hold only signature objects.";
        }

        signatures = list;
        return null;
    }

    private static byte[]? ReadBase64(ref Utf8JsonReader reader, string name, out string? error)
    {
        error = null;
        if (reader.TokenType != JsonTokenType.String)
        {
            error = $"'{name}' is not a base64 string.";
            return null;
        }

        // DSSE allows standard or URL-safe base64.
        ReadOnlySpan<byte> text = reader.HasValueSequence ? reader.ValueSequence.ToArray() : reader.ValueSpan;
        if (reader.ValueIsEscaped)
        {
            error = $"'{name}' contains escape sequences; base64 never needs them.";
            return null;
        }

        byte[] decoded = new byte[text.Length]; // decoding never grows; bounded by the envelope limit
        if (Base64.DecodeFromUtf8(text, decoded, out int consumed, out int written) == OperationStatus.Done && consumed == text.Length)
        {
            return decoded.AsSpan(0, written).ToArray();
        }

        if (Base64Url.DecodeFromUtf8(text, decoded, out consumed, out written) == OperationStatus.Done && consumed == text.Length)
        {
            return decoded.AsSpan(0, written).ToArray();
        }

        error = $"'{name}' is not valid base64.";
        return null;
    }

    private static string Shorten(string text) => text.Length <= 40 ? text : string.Concat(text.AsSpan(0, 40), "…");
}
