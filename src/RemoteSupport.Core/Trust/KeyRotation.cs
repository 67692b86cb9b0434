using System.Text.Json;
using RemoteSupport.Documents;
using RemoteSupport.Identities;

namespace RemoteSupport.Trust;

/// <summary>
/// The signed document that replaces a party's key set (format in docs/formats/envelope.md).
/// It is accepted only when signed by the current set's threshold and by the new set's threshold.
/// </summary>
public static class KeyRotation
{
    /// <summary>The document type of a key rotation.</summary>
    public static DocumentType DocumentType { get; } = new("key-rotation", 1);

    /// <summary>Creates the unsigned rotation document; sign it with the current keys and the new keys.</summary>
    /// <param name="partyId">The party whose keys change.</param>
    /// <param name="role">The role whose keys change.</param>
    /// <param name="sequence">The new set's sequence: the current set's <see cref="KeySet.Sequence"/> plus one.</param>
    /// <param name="threshold">How many of the new keys must sign from now on.</param>
    /// <param name="keys">The new keys.</param>
    public static SignedEnvelope Create(string partyId, PartyRole role, long sequence, int threshold, IReadOnlyCollection<PartyKey> keys)
    {
        PartyIdentity.ValidatePartyId(partyId, nameof(partyId));
        PartyIdentity.ValidateRole(role, nameof(role));
        ArgumentNullException.ThrowIfNull(keys);
        TrustStore.ValidateThreshold(threshold, keys, nameof(threshold));
        ArgumentOutOfRangeException.ThrowIfLessThan(sequence, 2);

        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("party", partyId);
            json.WriteString("role", role.ToText());
            json.WriteNumber("sequence", sequence);
            json.WriteNumber("threshold", threshold);
            json.WriteStartArray("keys");
            foreach (PartyKey key in keys)
            {
                json.WriteStringValue(key.ToString());
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return SignedEnvelope.Create(DocumentType, buffer.WrittenSpan);
    }

    internal static bool TryRead(
        ReadOnlySpan<byte> payload, out string partyId, out PartyRole role, out long sequence, out int threshold,
        out List<PartyKey> keys, out string error)
    {
        partyId = string.Empty;
        role = default;
        sequence = 0;
        threshold = 0;
        keys = [];
        error = string.Empty;
        try
        {
            var reader = new Utf8JsonReader(payload, new JsonReaderOptions { MaxDepth = 3 });
            using JsonDocument document = JsonDocument.ParseValue(ref reader);
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("party", out JsonElement party) || party.ValueKind != JsonValueKind.String
                || !root.TryGetProperty("role", out JsonElement roleElement) || !PartyRoleNames.TryParse(roleElement.ValueKind == JsonValueKind.String ? roleElement.GetString() : null, out role)
                || !root.TryGetProperty("sequence", out JsonElement sequenceElement) || !sequenceElement.TryGetInt64(out sequence)
                || !root.TryGetProperty("threshold", out JsonElement thresholdElement) || !thresholdElement.TryGetInt32(out threshold)
                || !root.TryGetProperty("keys", out JsonElement keysElement) || keysElement.ValueKind != JsonValueKind.Array
                || keysElement.GetArrayLength() > TrustStore.MaxKeysPerSet)
            {
                error = "The key rotation document lacks party, role, sequence, threshold or keys (at most "
                    + TrustStore.MaxKeysPerSet + ").";
                return false;
            }

            partyId = party.GetString()!;
            foreach (JsonElement keyElement in keysElement.EnumerateArray())
            {
                if (!PartyKey.TryParse(keyElement.ValueKind == JsonValueKind.String ? keyElement.GetString() : null, out PartyKey? key))
                {
                    error = "The key rotation document lists a value that is not a public key.";
                    return false;
                }

                if (keys.Contains(key))
                {
                    error = "The key rotation document lists the same key twice.";
                    return false;
                }

                keys.Add(key);
            }

            if (threshold < 1 || threshold > keys.Count)
            {
                error = $"The key rotation document's threshold {threshold} is not within [1, {keys.Count}].";
                return false;
            }

            return true;
        }
        catch (JsonException ex)
        {
            error = "The key rotation document is not valid JSON: " + ex.Message;
            return false;
        }
        catch (InvalidOperationException ex)
        {
            error = "The key rotation document has a field of the wrong type: " + ex.Message;
            return false;
        }
    }
}

/// <summary>The outcome of <see cref="TrustStore.Rotate"/>.</summary>
public sealed class KeyRotationResult
{
    internal KeyRotationResult(DocumentRefusal reason, string sentence, KeySet? keySet)
    {
        Reason = reason;
        Sentence = sentence;
        KeySet = keySet;
    }

    /// <summary>Gets a value indicating whether the new key set replaced the current one.</summary>
    public bool IsAccepted => Reason == DocumentRefusal.None;

    /// <summary>Gets why the rotation was refused, or <see cref="DocumentRefusal.None"/>.</summary>
    public DocumentRefusal Reason { get; }

    /// <summary>Gets a sentence saying what happened or why the rotation was refused.</summary>
    public string Sentence { get; }

    /// <summary>Gets the key set in force after the call.</summary>
    public KeySet? KeySet { get; }
}
