using System.Buffers;
using System.Net.Sockets;

namespace RemoteSupport.Transport.Transports;

/// <summary>
/// Adapts any duplex <see cref="Stream"/> (a named pipe, a serial port, a WebSocket stream, an
/// <c>SslStream</c>) to a <see cref="TransportConnection"/>. The connection owns the stream.
/// </summary>
public static class StreamTransport
{
    /// <summary>Wraps <paramref name="stream"/> as a connection and starts moving bytes.</summary>
    /// <param name="stream">A readable and writable stream; disposed with the connection.</param>
    /// <param name="remoteEndPoint">A description of the peer, for logs.</param>
    /// <param name="options">Buffering settings; defaults when null.</param>
    public static TransportConnection Connect(Stream stream, string remoteEndPoint, TransportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanRead || !stream.CanWrite)
        {
            Error.Argument(nameof(stream), "The stream must be readable and writable.");
        }

        options ??= new TransportOptions();
        options.Validate();
        var connection = new StreamConnection(stream, remoteEndPoint, options);
        connection.Begin();
        return connection;
    }

    private sealed class StreamConnection(Stream stream, string remoteEndPoint, TransportOptions options)
        : PumpedConnection(remoteEndPoint, options)
    {
        public void Begin() => Start();

        protected override ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
            stream.ReadAsync(buffer, cancellationToken);

        protected override async ValueTask SendAsync(ReadOnlySequence<byte> data, CancellationToken cancellationToken)
        {
            foreach (ReadOnlyMemory<byte> segment in data)
            {
                await stream.WriteAsync(segment, cancellationToken).ConfigureAwait(false);
            }
        }

        protected override ValueTask AfterSendBatchAsync(CancellationToken cancellationToken) =>
            new(stream.FlushAsync(cancellationToken));

        protected override void ShutdownSend()
        {
            // Half-close where the stream can express it; other streams close with the connection.
            if (stream is NetworkStream network)
            {
                try
                {
                    network.Socket.Shutdown(SocketShutdown.Send);
                }
                catch (SocketException)
                {
                }
            }
        }

        protected override void CloseTransport() => stream.Dispose();
    }
}
