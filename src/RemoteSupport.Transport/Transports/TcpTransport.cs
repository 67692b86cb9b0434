using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace RemoteSupport.Transport.Transports;

/// <summary>Dials a TCP endpoint: a real socket, Nagle off, with graceful half-close.</summary>
public sealed class TcpDialer : IConnectionDialer
{
    private readonly EndPoint _endPoint;
    private readonly TransportOptions _options;

    /// <summary>Creates a dialer for <paramref name="endPoint"/> (an <see cref="IPEndPoint"/> or a <see cref="DnsEndPoint"/>).</summary>
    public TcpDialer(EndPoint endPoint, TransportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        _endPoint = endPoint;
        _options = options ?? new TransportOptions();
        _options.Validate();
    }

    /// <inheritdoc/>
    public async ValueTask<TransportConnection> DialAsync(CancellationToken cancellationToken = default)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(_endPoint, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw new IOException($"Could not connect to {_endPoint}: {ex.Message} ({ex.SocketErrorCode}).", ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return SocketConnection.Start(socket, _options);
    }
}

/// <summary>Accepts TCP connections on a local endpoint.</summary>
public sealed class TcpConnectionListener : IConnectionListener
{
    private readonly Socket _socket;
    private readonly TransportOptions _options;
    private int _stopped;

    private TcpConnectionListener(Socket socket, TransportOptions options)
    {
        _socket = socket;
        _options = options;
        BoundEndPoint = (IPEndPoint)socket.LocalEndPoint!;
    }

    /// <summary>Gets the endpoint the listener is bound to (with the port chosen when 0 was asked).</summary>
    public IPEndPoint BoundEndPoint { get; }

    /// <inheritdoc/>
    public string LocalEndPoint => "tcp://" + BoundEndPoint;

    /// <summary>Binds and starts listening on <paramref name="endPoint"/>; port 0 picks a free port.</summary>
    public static TcpConnectionListener Listen(IPEndPoint endPoint, TransportOptions? options = null, int backlog = 512)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        options ??= new TransportOptions();
        options.Validate();
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(endPoint);
            socket.Listen(backlog);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new TcpConnectionListener(socket, options);
    }

    private static readonly TimeSpan AcceptRetryDelay = TimeSpan.FromMilliseconds(100);

    /// <inheritdoc/>
    public async ValueTask<TransportConnection?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        while (Volatile.Read(ref _stopped) == 0)
        {
            Socket accepted;
            try
            {
                accepted = await _socket.AcceptAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (ObjectDisposedException) when (Volatile.Read(ref _stopped) != 0)
            {
                return null;
            }
            catch (SocketException ex) when (Volatile.Read(ref _stopped) != 0 || ex.SocketErrorCode == SocketError.OperationAborted)
            {
                return null;
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
            {
                continue; // the client gave up before we accepted; serve the next one
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.TooManyOpenSockets or SocketError.NoBufferSpaceAvailable)
            {
                // The process is out of descriptors (or the kernel of buffers): the connection waits in the
                // backlog while this listener pauses and tries again, instead of ending.
                await Task.Delay(AcceptRetryDelay, cancellationToken).ConfigureAwait(false);
                continue;
            }

            try
            {
                accepted.NoDelay = true;
                return SocketConnection.Start(accepted, _options);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                accepted.Dispose(); // the client reset before we could set it up; serve the next one
            }
        }

        return null;
    }

    /// <summary>Stops accepting; connections already accepted are not affected.</summary>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 0)
        {
            _socket.Dispose();
        }

        return ValueTask.CompletedTask;
    }
}

internal sealed class SocketConnection : PumpedConnection
{
    private readonly Socket _socket;
    private readonly List<ArraySegment<byte>> _segments = [];

    private SocketConnection(Socket socket, TransportOptions options)
        : base("tcp://" + socket.RemoteEndPoint, options)
    {
        _socket = socket;
    }

    public static SocketConnection Start(Socket socket, TransportOptions options)
    {
        var connection = new SocketConnection(socket, options);
        connection.Start();
        return connection;
    }

    protected override ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
        _socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))] // an idle connection waits here between messages: reuse the state machine instead of promoting a new one each time
    protected override async ValueTask<int> WaitForBytesAsync(CancellationToken cancellationToken)
    {
        // A zero-byte receive completes when bytes or the end arrive, holding no buffer. On Linux a readiness
        // event left over from bytes a receive already took can complete it at once, so it waits again while
        // nothing is there; at the end nothing ever is, and the receive after the last try reports it.
        for (int attempt = 0; attempt < 3; attempt++)
        {
            await _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            int available = _socket.Available;
            if (available > 0)
            {
                return available;
            }
        }

        return 0;
    }

    protected override async ValueTask SendAsync(ReadOnlySequence<byte> data, CancellationToken cancellationToken)
    {
        while (!data.IsEmpty)
        {
            int sent;
            if (data.IsSingleSegment)
            {
                sent = await _socket.SendAsync(data.First, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                // One gathered send for the whole batch instead of a system call per pipe segment.
                _segments.Clear();
                foreach (ReadOnlyMemory<byte> segment in data)
                {
                    if (!MemoryMarshal.TryGetArray(segment, out ArraySegment<byte> array))
                    {
                        array = new ArraySegment<byte>(segment.ToArray());
                    }

                    _segments.Add(array);
                }

                sent = await _socket.SendAsync(_segments, SocketFlags.None).ConfigureAwait(false);
            }

            data = data.Slice(sent);
        }
    }

    protected override void ShutdownSend()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    protected override void CloseTransport() => _socket.Dispose();
}
