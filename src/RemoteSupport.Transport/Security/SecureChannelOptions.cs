using RemoteSupport.Identities;
using RemoteSupport.Trust;

namespace RemoteSupport.Transport.Security;

/// <summary>The peer a secure channel accepts: a trusted key of this party (any party when null) in this role.</summary>
/// <param name="PartyId">The party, or <see langword="null"/> for any trusted party in <paramref name="Role"/>.</param>
/// <param name="Role">The role the peer's key must be trusted in.</param>
public sealed record ExpectedPeer(string? PartyId, PartyRole Role);

/// <summary>The cipher of the secure channel.</summary>
public enum SecureChannelCipher
{
    /// <summary>AES-256-GCM where the processor supports it (NSec's Aes256Gcm.IsSupported), ChaCha20-Poly1305 otherwise.</summary>
    Automatic = 0,

    /// <summary>AES-256-GCM.</summary>
    AesGcm = 1,

    /// <summary>ChaCha20-Poly1305.</summary>
    ChaChaPoly = 2,
}

/// <summary>Identity, trust and limits of a <see cref="SecureConnection"/> (docs/protocol/secure-channel.md).</summary>
public sealed class SecureChannelOptions
{
    /// <summary>Gets or sets this side's Ed25519 identity, proven to the peer in the handshake. Required.</summary>
    public PartyIdentity? Identity { get; set; }

    /// <summary>Gets or sets the trust store the peer's identity is checked against. Required.</summary>
    public TrustStore? TrustStore { get; set; }

    /// <summary>Gets the peers this side accepts; at least one. The peer's key must be trusted in one of them.</summary>
    public IList<ExpectedPeer> AcceptedPeers { get; } = [];

    /// <summary>Gets or sets this side's Noise static key.</summary>
    /// <value>The default value is <see langword="null"/>: a fresh key per connection (enough for <c>XX</c>).</value>
    public NoiseStaticKey? StaticKey { get; set; }

    /// <summary>Gets or sets, on the initiator, the responder's Noise static public key from an earlier connection.</summary>
    /// <value>The default value is empty: the initiator uses <c>XX</c>. With 32 bytes it uses <c>IK</c>.</value>
    public ReadOnlyMemory<byte> KnownResponderStaticKey { get; set; }

    /// <summary>Gets or sets the cipher the initiator proposes; a responder accepts both.</summary>
    /// <value>The default value is <see cref="SecureChannelCipher.Automatic"/>.</value>
    public SecureChannelCipher Cipher { get; set; }

    /// <summary>Gets or sets after how many plaintext bytes this side rekeys its sending direction.</summary>
    /// <value>The default value is 1 GiB, within [64 KiB, 2^62].</value>
    public long RekeyAfterBytes { get; set; } = 1L << 30;

    /// <summary>Gets or sets the largest message this side accepts; longer messages close the channel.</summary>
    /// <value>The default value is 16 MiB, within [1 KiB, 1 GiB].</value>
    public int MaxMessageSize { get; set; } = 16 * 1024 * 1024;

    /// <summary>Gets or sets how long the handshake may take.</summary>
    /// <value>The default value is 10 seconds.</value>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Gets or sets the clock for the handshake timeout.</summary>
    /// <value>The default value is <see cref="TimeProvider.System"/>.</value>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>
    /// Gets or sets what a side takes each time a handshake message has arrived and gives back before it waits
    /// for the next one: a console host's bound on handshakes computed at once, which a peer that stalls, or
    /// never sends its first message, does not hold.
    /// </summary>
    internal Func<CancellationToken, ValueTask<IDisposable>>? HandshakeSlot { get; set; }

    internal void Validate()
    {
        if (Identity is null)
        {
            Error.Argument(nameof(Identity), "A secure channel needs this side's identity.");
        }

        if (TrustStore is null)
        {
            Error.Argument(nameof(TrustStore), "A secure channel needs a trust store to check the peer against.");
        }

        if (AcceptedPeers.Count == 0)
        {
            Error.Argument(nameof(AcceptedPeers), "A secure channel must name at least one accepted peer (party and role).");
        }

        if (!KnownResponderStaticKey.IsEmpty && KnownResponderStaticKey.Length != 32)
        {
            Error.Argument(nameof(KnownResponderStaticKey), "A Noise static public key is 32 bytes.");
        }

        if (RekeyAfterBytes is < 64 * 1024 or > 1L << 62)
        {
            Error.ArgumentOutOfRange(nameof(RekeyAfterBytes), "RekeyAfterBytes must be within [65536, 2^62].");
        }

        if (MaxMessageSize is < 1024 or > 1024 * 1024 * 1024)
        {
            Error.ArgumentOutOfRange(nameof(MaxMessageSize), "MaxMessageSize must be within [1024, 1073741824].");
        }

        if (HandshakeTimeout <= TimeSpan.Zero && HandshakeTimeout != Timeout.InfiniteTimeSpan)
        {
            Error.ArgumentOutOfRange(nameof(HandshakeTimeout), "HandshakeTimeout must be positive.");
        }

        ArgumentNullException.ThrowIfNull(TimeProvider);
    }
}
