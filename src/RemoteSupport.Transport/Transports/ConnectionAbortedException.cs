namespace RemoteSupport.Transport.Transports;

/// <summary>The connection was aborted while an operation used it; its <see cref="TransportConnection.CloseReason"/> says why.</summary>
public sealed class ConnectionAbortedException : IOException
{
    /// <summary>Creates the exception.</summary>
    public ConnectionAbortedException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}
