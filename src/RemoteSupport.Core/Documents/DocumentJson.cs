using System.Text.Json;
using System.Text.Json.Serialization;

namespace RemoteSupport.Documents;

/// <summary>The JSON settings every RemoteSupport document payload is written and read with.</summary>
internal static class DocumentJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower, allowIntegerValues: false) },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        MaxDepth = 16,
        WriteIndented = false,
    };

    /// <summary>The same options, indented (files people read: a bundle's trust snapshot).</summary>
    public static JsonSerializerOptions Indented { get; } = new(Options) { WriteIndented = true };

    public static byte[] Serialize<T>(T document) => JsonSerializer.SerializeToUtf8Bytes(document, Options);

    /// <summary>An enum value as documents, audit details, CSV and wire codes spell it: kebab case (<c>ViewData</c> is <c>view-data</c>).</summary>
    public static string Kebab<TEnum>(TEnum value)
        where TEnum : struct, Enum => JsonNamingPolicy.KebabCaseLower.ConvertName(value.ToString());

    /// <summary>Reads a payload of the expected document type, or throws <see cref="EnvelopeFormatException"/> naming the problem.</summary>
    public static T Deserialize<T>(SignedEnvelope envelope, DocumentType type)
    {
        if (envelope.PayloadType != type.PayloadType)
        {
            throw new EnvelopeFormatException($"The envelope holds a '{envelope.PayloadType}', not a '{type.PayloadType}'.");
        }

        try
        {
            return JsonSerializer.Deserialize<T>(envelope.Payload.Span, Options)
                ?? throw new EnvelopeFormatException($"The {type.Kind} payload is empty.");
        }
        catch (JsonException ex)
        {
            throw new EnvelopeFormatException($"The {type.Kind} payload is not valid: {ex.Message}", ex);
        }
    }

    /// <summary>The lowercase hex SHA-256 of a payload: how documents name each other.</summary>
    public static string Hash(ReadOnlySpan<byte> payload) => Sha256Hex.Of(payload);
}
