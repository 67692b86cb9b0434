namespace RemoteSupport.Transport.Channels;

/// <summary>A channel was reset or refused, or the multiplexed connection beneath it ended.</summary>
public sealed class ChannelException : IOException
{
    /// <summary>Initializes a new instance of the <see cref="ChannelException"/> class.</summary>
    /// <param name="error">The reason code.</param>
    /// <param name="channelId">The channel, or 0 for the whole connection.</param>
    /// <param name="byPeer">Whether the peer reset the channel or closed the connection.</param>
    /// <param name="message">A sentence naming the problem.</param>
    public ChannelException(ChannelError error, ushort channelId, bool byPeer, string message)
        : base(message)
    {
        Error = error;
        ChannelId = channelId;
        ByPeer = byPeer;
    }

    /// <summary>Gets the reason code.</summary>
    public ChannelError Error { get; }

    /// <summary>Gets the channel, or 0 when the whole connection ended.</summary>
    public ushort ChannelId { get; }

    /// <summary>Gets a value indicating whether the peer, rather than this side, reset the channel or closed the connection.</summary>
    public bool ByPeer { get; }
}
