using NSec.Cryptography;

namespace RemoteSupport.Identities;

/// <summary>
/// A party's signing identity: a name, a role and an Ed25519 private key. Dispose it to erase the key.
/// </summary>
/// <remarks>
/// Create one with <see cref="Create"/>, save it with <see cref="KeyFile.SaveAsync"/> (readable only
/// by its owner, optionally sealed with a passphrase) and load it again with
/// <see cref="KeyFile.LoadAsync"/>. The public half is <see cref="PublicKey"/>.
/// </remarks>
public sealed class PartyIdentity : IDisposable
{
    private readonly Key _key;

    private PartyIdentity(string partyId, PartyRole role, Key key)
    {
        PartyId = partyId;
        Role = role;
        _key = key;
        PublicKey = PartyKey.FromNSec(key.PublicKey);
    }

    /// <summary>Gets the party this identity speaks for (for example <c>contoso</c>).</summary>
    public string PartyId { get; }

    /// <summary>Gets the role this identity speaks in.</summary>
    public PartyRole Role { get; }

    /// <summary>Gets the public key, its key id and fingerprint.</summary>
    public PartyKey PublicKey { get; }

    /// <summary>Creates a new identity with a fresh Ed25519 key.</summary>
    /// <param name="partyId">The party the key speaks for; printable, at most 128 characters.</param>
    /// <param name="role">The role the key speaks in.</param>
    public static PartyIdentity Create(string partyId, PartyRole role)
    {
        ValidatePartyId(partyId, nameof(partyId));
        ValidateRole(role, nameof(role));
        var parameters = new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextArchiving };
        return new PartyIdentity(partyId, role, Key.Create(SignatureAlgorithm.Ed25519, in parameters));
    }

    internal static PartyIdentity FromPrivateKey(string partyId, PartyRole role, ReadOnlySpan<byte> rawPrivateKey)
    {
        var parameters = new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextArchiving };
        Key key = Key.Import(SignatureAlgorithm.Ed25519, rawPrivateKey, KeyBlobFormat.RawPrivateKey, in parameters);
        return new PartyIdentity(partyId, role, key);
    }

    /// <summary>Signs <paramref name="data"/> with Ed25519 and returns the 64-byte signature.</summary>
    public byte[] Sign(ReadOnlySpan<byte> data) => SignatureAlgorithm.Ed25519.Sign(_key, data);

    /// <summary>Signs <paramref name="data"/> into <paramref name="signature"/> (64 bytes).</summary>
    public void Sign(ReadOnlySpan<byte> data, Span<byte> signature) =>
        SignatureAlgorithm.Ed25519.Sign(_key, data, signature);

    internal byte[] ExportPrivateKey() => _key.Export(KeyBlobFormat.RawPrivateKey);

    /// <summary>Erases the private key from memory.</summary>
    public void Dispose() => _key.Dispose();

    /// <inheritdoc/>
    public override string ToString() => $"{PartyId} ({Role.ToText()}) {PublicKey.Fingerprint}";

    internal static void ValidatePartyId(string partyId, string paramName)
    {
        Error.ThrowIfNullOrWhiteSpace(partyId, paramName);
        if (partyId.Length > 128 || partyId.Any(char.IsControl))
        {
            Error.Argument(paramName, "A party id is at most 128 printable characters.");
        }
    }

    internal static void ValidateRole(PartyRole role, string paramName)
    {
        if (!Enum.IsDefined(role))
        {
            Error.ArgumentOutOfRange(paramName, $"'{role}' is not a party role.");
        }
    }
}
