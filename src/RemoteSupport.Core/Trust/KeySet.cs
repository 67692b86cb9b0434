using RemoteSupport.Identities;

namespace RemoteSupport.Trust;

/// <summary>The keys that speak for one party in one role, and how many of them must sign.</summary>
public sealed class KeySet
{
    internal KeySet(string partyId, PartyRole role, int threshold, long sequence, IReadOnlyList<TrustedKey> keys)
    {
        PartyId = partyId;
        Role = role;
        Threshold = threshold;
        Sequence = sequence;
        Keys = keys;
    }

    /// <summary>Gets the party.</summary>
    public string PartyId { get; }

    /// <summary>Gets the role.</summary>
    public PartyRole Role { get; }

    /// <summary>Gets how many distinct keys of the set must sign (k of n).</summary>
    public int Threshold { get; }

    /// <summary>Gets the rotation sequence number: 1 for the first set, one more for each accepted rotation.</summary>
    public long Sequence { get; }

    /// <summary>Gets the keys of the set.</summary>
    public IReadOnlyList<TrustedKey> Keys { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{PartyId}/{Role.ToText()} {Threshold} of {Keys.Count} (sequence {Sequence})";
}
