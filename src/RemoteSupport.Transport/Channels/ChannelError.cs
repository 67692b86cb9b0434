namespace RemoteSupport.Transport.Channels;

/// <summary>
/// Why a channel was reset or a multiplexed connection ended (docs/protocol/channels.md). Sent as the
/// code of a <c>ChannelReset</c> or <c>GoAway</c> frame; numbered after the framing (0–9) and secure
/// channel (16–24) codes.
/// </summary>
public enum ChannelError
{
    /// <summary>No error: a graceful close.</summary>
    None = 0,

    /// <summary>The peer broke the channel protocol (an unknown channel, an id out of order, a frame that makes no sense); the connection is closed.</summary>
    ProtocolError = 32,

    /// <summary>The peer sent beyond its window, or a window update overflowed.</summary>
    FlowControlError = 33,

    /// <summary>The channel was refused: too many channels are open, or the connection is shutting down.</summary>
    Refused = 34,

    /// <summary>Data arrived after the peer had ended its side of the channel.</summary>
    StreamClosed = 35,

    /// <summary>The application reset or disposed of the channel before it finished.</summary>
    Canceled = 36,

    /// <summary>The peer did not answer keepalive pings in time; the connection is closed.</summary>
    KeepAliveTimeout = 37,

    /// <summary>A message on the channel exceeded the size limit.</summary>
    MessageTooLarge = 38,

    /// <summary>The application aborted the connection, or it ended while the channel was open.</summary>
    ConnectionClosed = 39,
}
