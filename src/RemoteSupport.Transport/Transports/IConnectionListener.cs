namespace RemoteSupport.Transport.Transports;

/// <summary>Dials one kind of transport to one configured endpoint.</summary>
public interface IConnectionDialer
{
    /// <summary>Connects to the endpoint.</summary>
    /// <exception cref="IOException">The endpoint could not be reached.</exception>
    ValueTask<TransportConnection> DialAsync(CancellationToken cancellationToken = default);
}

/// <summary>Accepts connections of one kind of transport.</summary>
public interface IConnectionListener : IAsyncDisposable
{
    /// <summary>Gets a description of where the listener accepts connections.</summary>
    string LocalEndPoint { get; }

    /// <summary>Waits for the next connection.</summary>
    /// <returns>The connection, or <see langword="null"/> once the listener is stopped.</returns>
    ValueTask<TransportConnection?> AcceptAsync(CancellationToken cancellationToken = default);
}
