using System.Text.Json;
using System.Text.Json.Serialization;
using RemoteSupport.Identities;
using RemoteSupport.Trust;

namespace RemoteSupport.Cli;

/// <summary>
/// The keys a party trusts, as a file (docs/formats/trust-file.md, format version 1): key sets of a party in a
/// role, each with its threshold and keys.
/// </summary>
internal sealed record TrustFile(
    [property: JsonPropertyName("format")] string Format,
    [property: JsonPropertyName("version")] int Version,
    [property: JsonPropertyName("keySets")] IReadOnlyList<TrustFileKeySet> KeySets)
{
    public const string FormatName = "remotesupport.trust";
    public const int FormatVersion = 1;
    public const int MaxKeySets = 1024;

    private static readonly JsonSerializerOptions Options = new() { WriteIndented = true, RespectNullableAnnotations = true, RespectRequiredConstructorParameters = true };

    public static TrustFile Empty => new(FormatName, FormatVersion, []);

    public static async Task<TrustFile> ReadAsync(string path, CancellationToken cancellationToken)
    {
        byte[] content = await Files.ReadDocumentAsync(path, cancellationToken).ConfigureAwait(false);
        TrustFile? file;
        try
        {
            file = JsonSerializer.Deserialize<TrustFile>(content, Options);
        }
        catch (JsonException e)
        {
            throw new CliException(ExitCode.IO, $"{path}: not a trust file ({CliConsole.Sentence(e.Message).TrimEnd('.')}).", e);
        }

        if (file is null || file.Format != FormatName || file.Version != FormatVersion)
        {
            throw new CliException(ExitCode.IO, $"{path}: not a trust file (format '{FormatName}', version {FormatVersion}).");
        }

        if (file.KeySets.Count > MaxKeySets)
        {
            throw new CliException(ExitCode.IO, $"{path}: {file.KeySets.Count} key sets; a trust file holds at most {MaxKeySets}.");
        }

        foreach (TrustFileKeySet set in file.KeySets)
        {
            string name = $"{set.PartyId}/{set.Role}";
            Roles.Parse(set.Role, path);
            if (set.Keys.Count is 0 or > TrustStore.MaxKeysPerSet || set.Threshold < 1 || set.Threshold > set.Keys.Count)
            {
                throw new CliException(ExitCode.IO, $"{path}: key set {name} has {set.Keys.Count} keys and threshold {set.Threshold} (1 to {TrustStore.MaxKeysPerSet} keys, a threshold from 1 to their number).");
            }

            foreach (string key in set.Keys)
            {
                if (!PartyKey.TryParse(key, out _))
                {
                    throw new CliException(ExitCode.IO, $"{path}: key set {name} holds '{key}', which is not an ed25519 key.");
                }
            }

            if (file.KeySets.Count(s => s.PartyId == set.PartyId && s.Role == set.Role) > 1)
            {
                throw new CliException(ExitCode.IO, $"{path}: key set {name} is listed twice.");
            }
        }

        return file;
    }

    public static async Task<TrustStore> LoadAsync(string path, TimeProvider? time, CancellationToken cancellationToken)
    {
        TrustFile file = await ReadAsync(path, cancellationToken).ConfigureAwait(false);
        var store = new TrustStore(time);
        foreach (TrustFileKeySet set in file.KeySets)
        {
            store.Trust(set.PartyId, Roles.Parse(set.Role), set.Threshold, [.. set.Keys.Select(PartyKey.Parse)]);
        }

        return store;
    }

    public Task WriteAsync(string path, CancellationToken cancellationToken) =>
        Files.WriteAsync(path, JsonSerializer.SerializeToUtf8Bytes(this, Options), cancellationToken);

    /// <summary>This file with the key added to its party's set in the role (created with threshold 1 when new).</summary>
    public TrustFile With(string partyId, PartyRole role, PartyKey key, int? threshold)
    {
        string roleName = Roles.Name(role);
        TrustFileKeySet? existing = KeySets.FirstOrDefault(s => s.PartyId == partyId && s.Role == roleName);
        List<string> keys = [.. existing?.Keys ?? []];
        if (!keys.Contains(key.ToString()))
        {
            keys.Add(key.ToString());
        }

        var set = new TrustFileKeySet(partyId, roleName, threshold ?? existing?.Threshold ?? 1, keys);
        return this with { KeySets = [.. KeySets.Where(s => s != existing), set] };
    }

    /// <summary>The party and role of a key id this file trusts, or null.</summary>
    public (string PartyId, string Role)? Find(string keyId)
    {
        foreach (TrustFileKeySet set in KeySets)
        {
            if (set.Keys.Any(k => PartyKey.Parse(k).KeyId == keyId))
            {
                return (set.PartyId, set.Role);
            }
        }

        return null;
    }
}

/// <summary>One party's keys in one role and how many of them must sign.</summary>
internal sealed record TrustFileKeySet(
    [property: JsonPropertyName("partyId")] string PartyId,
    [property: JsonPropertyName("role")] string Role,
    [property: JsonPropertyName("threshold")] int Threshold,
    [property: JsonPropertyName("keys")] IReadOnlyList<string> Keys);
