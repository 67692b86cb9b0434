namespace RemoteSupport.Transport.Transports;

/// <summary>Why a connection closed; recorded once, by whatever closed it first.</summary>
public enum ConnectionCloseReason
{
    /// <summary>The connection is open.</summary>
    None = 0,

    /// <summary>This side closed it (disposed or closed gracefully).</summary>
    LocalClose = 1,

    /// <summary>The peer closed it (end of stream, or a graceful GoAway).</summary>
    RemoteClose = 2,

    /// <summary>The peer violated the protocol; the detail names how.</summary>
    ProtocolError = 3,

    /// <summary>Nothing arrived within the idle timeout.</summary>
    IdleTimeout = 4,

    /// <summary>A frame arrived slower than the minimum data rate (a slow-drip peer).</summary>
    MinDataRate = 5,

    /// <summary>The peer's preface or handshake did not arrive in time.</summary>
    HandshakeTimeout = 6,

    /// <summary>The transport failed (connection reset, broken pipe, socket error).</summary>
    TransportError = 7,

    /// <summary>The connection was aborted by this side, for a reason in the detail.</summary>
    Aborted = 8,

    /// <summary>The secure channel failed: a rejected identity, a tampered, replayed or reordered message, a downgrade.</summary>
    SecurityFailure = 9,
}
