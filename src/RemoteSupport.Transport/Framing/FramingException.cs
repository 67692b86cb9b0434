using RemoteSupport.Transport.Transports;

namespace RemoteSupport.Transport.Framing;

/// <summary>The peer violated the framing protocol or was too slow; the connection is closed.</summary>
public sealed class FramingException : IOException
{
    /// <summary>Creates the exception.</summary>
    public FramingException(FramingError error, ConnectionCloseReason closeReason, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Error = error;
        CloseReason = closeReason;
    }

    /// <summary>Gets the protocol error (also the GoAway code sent to the peer).</summary>
    public FramingError Error { get; }

    /// <summary>Gets the reason recorded on the connection.</summary>
    public ConnectionCloseReason CloseReason { get; }
}
