using System.Net.Sockets;
using RemoteSupport.Transport.Transports;

namespace RemoteSupport.Samples.UnixSocketTransport;

/// <summary>Dials a Unix domain socket: a local endpoint, for an agent and a helper on one unit.</summary>
public sealed class UnixSocketDialer(string path, TransportOptions? options = null) : IConnectionDialer
{
    public async ValueTask<TransportConnection> DialAsync(CancellationToken cancellationToken = default)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw new IOException($"Could not connect to unix:{path}: {ex.Message}", ex);
        }

        // Any duplex Stream becomes a connection; the connection owns the stream from here on.
        return StreamTransport.Connect(new NetworkStream(socket, ownsSocket: true), "unix:" + path, options);
    }
}

/// <summary>Accepts connections on a Unix domain socket.</summary>
public sealed class UnixSocketListener : IConnectionListener
{
    private readonly Socket _socket;
    private readonly string _path;
    private readonly TransportOptions? _options;

    private UnixSocketListener(Socket socket, string path, TransportOptions? options)
    {
        _socket = socket;
        _path = path;
        _options = options;
    }

    public string LocalEndPoint => "unix:" + _path;

    public static UnixSocketListener Listen(string path, TransportOptions? options = null)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(path));
            socket.Listen(64);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new UnixSocketListener(socket, path, options);
    }

    public async ValueTask<TransportConnection?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        Socket accepted;
        try
        {
            accepted = await _socket.AcceptAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ObjectDisposedException or SocketException { SocketErrorCode: SocketError.OperationAborted })
        {
            return null; // the listener was stopped
        }

        return StreamTransport.Connect(new NetworkStream(accepted, ownsSocket: true), "unix:" + _path + "#peer", _options);
    }

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        File.Delete(_path);
        return ValueTask.CompletedTask;
    }
}
