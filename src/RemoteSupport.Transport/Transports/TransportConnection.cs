using System.IO.Pipelines;

namespace RemoteSupport.Transport.Transports;

/// <summary>
/// A connected transport as a duplex pipe: <see cref="Input"/> holds what the peer sent,
/// <see cref="Output"/> takes what to send. Records why it closed.
/// </summary>
/// <remarks>
/// Integrators write a transport by deriving from this class, or by handing any duplex
/// <see cref="Stream"/> to <see cref="StreamTransport.Connect"/>; see docs/guides/custom-transport.md.
/// The owner of the connection reads <see cref="Input"/> and writes <see cref="Output"/>, completes
/// both when done, and disposes the connection.
/// </remarks>
public abstract class TransportConnection : IDuplexPipe, IAsyncDisposable
{
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _gate = new();
    private ConnectionCloseReason _closeReason;
    private string? _closeDetail;
    private Task? _disposing;

    /// <summary>Creates the connection.</summary>
    /// <param name="remoteEndPoint">A description of the peer, for logs (an address, a device, a pipe name).</param>
    protected TransportConnection(string remoteEndPoint)
    {
        ArgumentException.ThrowIfNullOrEmpty(remoteEndPoint);
        RemoteEndPoint = remoteEndPoint;
    }

    /// <summary>Gets the bytes received from the peer.</summary>
    public abstract PipeReader Input { get; }

    /// <summary>Gets the pipe whose bytes are sent to the peer.</summary>
    public abstract PipeWriter Output { get; }

    /// <summary>Gets a description of the peer.</summary>
    public string RemoteEndPoint { get; }

    /// <summary>Gets why the connection closed, or <see cref="ConnectionCloseReason.None"/> while it is open.</summary>
    public ConnectionCloseReason CloseReason
    {
        get
        {
            lock (_gate)
            {
                return _closeReason;
            }
        }
    }

    /// <summary>Gets a sentence about why the connection closed, or <see langword="null"/> while it is open.</summary>
    public string? CloseDetail
    {
        get
        {
            lock (_gate)
            {
                return _closeDetail;
            }
        }
    }

    /// <summary>Gets a task that completes when the connection has closed and released its resources.</summary>
    public Task Closed => _closed.Task;

    /// <summary>
    /// Records why the connection is closing, when no reason is recorded yet.
    /// </summary>
    /// <returns><see langword="true"/> when this call's reason was recorded.</returns>
    public bool RecordCloseReason(ConnectionCloseReason reason, string detail)
    {
        if (reason == ConnectionCloseReason.None)
        {
            Error.ArgumentOutOfRange(nameof(reason), "A close reason is not None.");
        }

        ArgumentNullException.ThrowIfNull(detail);
        lock (_gate)
        {
            if (_closeReason != ConnectionCloseReason.None)
            {
                return false;
            }

            _closeReason = reason;
            _closeDetail = detail;
            return true;
        }
    }

    /// <summary>Closes the connection at once, without draining unsent data; records the reason if none is recorded yet.</summary>
    public void Abort(ConnectionCloseReason reason, string detail)
    {
        RecordCloseReason(reason, detail);
        AbortCore();
    }

    /// <summary>
    /// Closes gracefully: unsent data drains (bounded by a timeout), then resources are released.
    /// Safe to call more than once; later calls wait for the first.
    /// </summary>
    public ValueTask DisposeAsync()
    {
        RecordCloseReason(ConnectionCloseReason.LocalClose, "The connection was disposed.");
        Task disposing;
        lock (_gate)
        {
            disposing = _disposing ??= DisposeOnceAsync();
        }

        GC.SuppressFinalize(this);
        return new ValueTask(disposing);
    }

    private async Task DisposeOnceAsync()
    {
        await DisposeCoreAsync().ConfigureAwait(false);
        _closed.TrySetResult();
    }

    /// <summary>Stops all I/O at once; the pipes' other ends see an error or the end.</summary>
    protected abstract void AbortCore();

    /// <summary>Drains unsent data, bounded by a timeout, then releases the transport.</summary>
    protected abstract ValueTask DisposeCoreAsync();

    /// <summary>Marks the connection closed; called by derived classes once their resources are released.</summary>
    protected void SignalClosed() => _closed.TrySetResult();

    /// <inheritdoc/>
    public override string ToString()
    {
        ConnectionCloseReason reason = CloseReason;
        return reason == ConnectionCloseReason.None ? $"{RemoteEndPoint} (open)" : $"{RemoteEndPoint} ({reason}: {CloseDetail})";
    }
}
