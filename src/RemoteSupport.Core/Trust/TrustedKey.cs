using RemoteSupport.Identities;

namespace RemoteSupport.Trust;

/// <summary>A public key the trust store accepts for one party and role, from when until when.</summary>
public sealed class TrustedKey
{
    internal TrustedKey(PartyKey key, string partyId, PartyRole role, DateTimeOffset? notBefore, DateTimeOffset? notAfter)
    {
        Key = key;
        PartyId = partyId;
        Role = role;
        NotBefore = notBefore;
        NotAfter = notAfter;
    }

    /// <summary>Gets the public key.</summary>
    public PartyKey Key { get; }

    /// <summary>Gets the party the key speaks for.</summary>
    public string PartyId { get; }

    /// <summary>Gets the role the key speaks in.</summary>
    public PartyRole Role { get; }

    /// <summary>Gets the instant from which the key is valid, or <see langword="null"/> for always.</summary>
    public DateTimeOffset? NotBefore { get; }

    /// <summary>Gets the instant from which the key is no longer valid (exclusive end), or <see langword="null"/> for never.</summary>
    public DateTimeOffset? NotAfter { get; internal set; }

    /// <summary>Gets the instant the key was revoked, or <see langword="null"/>.</summary>
    public DateTimeOffset? RevokedAt { get; internal set; }

    /// <summary>Gets the reason given when the key was revoked.</summary>
    public string? RevocationReason { get; internal set; }

    internal SignatureProblem CheckValidAt(DateTimeOffset now)
    {
        if (RevokedAt is { } revoked && revoked <= now)
        {
            return SignatureProblem.RevokedKey;
        }

        if (NotAfter is { } notAfter && now >= notAfter)
        {
            return SignatureProblem.ExpiredKey;
        }

        if (NotBefore is { } notBefore && now < notBefore)
        {
            return SignatureProblem.KeyNotYetValid;
        }

        return SignatureProblem.None;
    }

    /// <inheritdoc/>
    public override string ToString() => $"{PartyId}/{Role.ToText()} {Key.KeyId}";
}
