namespace RemoteSupport.Transport.Security;

/// <summary>Why a secure channel failed; the numbers are the GoAway codes sent to the peer (docs/protocol/secure-channel.md).</summary>
public enum SecureChannelError
{
    /// <summary>A handshake message was malformed or failed authentication (tampered, truncated, or not Noise).</summary>
    HandshakeFailed = 16,

    /// <summary>The peer's identity is unknown, revoked, expired, of another party or role, or its proof does not verify.</summary>
    IdentityRejected = 17,

    /// <summary>The peer asked for a protocol this side does not allow (a downgrade, or an unknown suite).</summary>
    ProtocolNotAllowed = 18,

    /// <summary>A transport message failed authentication: tampered, replayed, reordered or truncated.</summary>
    DecryptionFailed = 19,

    /// <summary>A frame arrived that the secure channel does not allow at that point (for example data before the handshake completed).</summary>
    UnexpectedFrame = 20,

    /// <summary>The 64-bit nonce counter is exhausted; the channel must close.</summary>
    NonceExhausted = 21,

    /// <summary>The handshake did not complete in time.</summary>
    Timeout = 22,

    /// <summary>A message is larger than the receiver accepts.</summary>
    MessageTooLarge = 23,

    /// <summary>The peer closed the connection, with the reason it gave.</summary>
    PeerClosed = 24,
}

/// <summary>The secure channel failed and the connection is closed; <see cref="Error"/> says why, for both sides' logs.</summary>
public sealed class SecureChannelException : IOException
{
    /// <summary>Creates the exception.</summary>
    public SecureChannelException(SecureChannelError error, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Error = error;
    }

    /// <summary>Gets why the channel failed.</summary>
    public SecureChannelError Error { get; }
}
