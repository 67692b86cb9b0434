using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using RemoteSupport.Transport.Framing;
using RemoteSupport.Transport.Transports;

namespace RemoteSupport.Benchmarks.Framing;

/// <summary>
/// Framing throughput over TCP loopback: 4 MiB of payload per operation, sender and receiver
/// running concurrently. <c>HandRolledNetworkStream</c> (baseline) is a buffered
/// <see cref="NetworkStream"/> with a <see cref="BinaryPrimitives"/> length prefix, <c>ReadExactly</c>
/// into a pooled buffer; <c>RemoteSupport</c> is <see cref="FramedConnection"/> over <see cref="TcpDialer"/>.
/// </summary>
[MemoryDiagnoser]
public class FramingTcpBenchmarks
{
    private const int BytesPerOperation = 4 * 1024 * 1024;
    private const int BytesPerBatch = 64 * 1024;
    private byte[] _payload = null!;
    private int _frames;
    private int _batch;
    private FramedConnection _client = null!;
    private FramedConnection _server = null!;
    private Socket _socketA = null!;
    private Socket _socketB = null!;
    private BufferedStream _streamWriter = null!;
    private BufferedStream _streamReader = null!;

    [Params(64, 65536)]
    public int PayloadSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _payload = new byte[PayloadSize];
        _frames = BytesPerOperation / PayloadSize;
        _batch = Math.Max(1, BytesPerBatch / PayloadSize);

        TcpConnectionListener listener = TcpConnectionListener.Listen(new IPEndPoint(IPAddress.Loopback, 0));
        ValueTask<TransportConnection?> accepting = listener.AcceptAsync();
        TransportConnection clientTransport = new TcpDialer(listener.BoundEndPoint).DialAsync().AsTask().GetAwaiter().GetResult();
        TransportConnection serverTransport = accepting.AsTask().GetAwaiter().GetResult()!;
        listener.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Task<FramedConnection> client = FramedConnection.StartAsync(clientTransport).AsTask();
        _server = FramedConnection.StartAsync(serverTransport).AsTask().GetAwaiter().GetResult();
        _client = client.GetAwaiter().GetResult();

        using var raw = new Socket(SocketType.Stream, ProtocolType.Tcp);
        raw.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        raw.Listen(1);
        _socketA = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        _socketA.Connect(raw.LocalEndPoint!);
        _socketB = raw.Accept();
        _socketB.NoDelay = true;
        _streamWriter = new BufferedStream(new NetworkStream(_socketA), 64 * 1024);
        _streamReader = new BufferedStream(new NetworkStream(_socketB), 64 * 1024);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _client.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _socketA.Dispose();
        _socketB.Dispose();
    }

    [Benchmark(Baseline = true)]
    public async Task<long> HandRolledNetworkStream()
    {
        Task sending = Task.Run(async () =>
        {
            byte[] header = new byte[4];
            for (int sent = 0; sent < _frames; sent += _batch)
            {
                for (int i = 0; i < _batch; i++)
                {
                    BinaryPrimitives.WriteInt32BigEndian(header, _payload.Length);
                    await _streamWriter.WriteAsync(header);
                    await _streamWriter.WriteAsync(_payload);
                }

                await _streamWriter.FlushAsync();
            }
        });

        long received = 0;
        byte[] lengthBuffer = new byte[4];
        for (int i = 0; i < _frames; i++)
        {
            await _streamReader.ReadExactlyAsync(lengthBuffer);
            int length = BinaryPrimitives.ReadInt32BigEndian(lengthBuffer);
            byte[] buffer = ArrayPool<byte>.Shared.Rent(length);
            await _streamReader.ReadExactlyAsync(buffer.AsMemory(0, length));
            received += length;
            ArrayPool<byte>.Shared.Return(buffer);
        }

        await sending;
        return received;
    }

    [Benchmark]
    public async Task<long> RemoteSupport()
    {
        Task sending = Task.Run(async () =>
        {
            for (int sent = 0; sent < _frames; sent += _batch)
            {
                for (int i = 0; i < _batch; i++)
                {
                    _client.WriteFrame(FrameType.Data, FrameFlags.None, 1, _payload);
                }

                await _client.FlushAsync();
            }
        });

        long received = 0;
        for (int i = 0; i < _frames; i++)
        {
            FrameReadResult result = await _server.ReadFrameAsync();
            received += result.Frame.Payload.Length;
        }

        await sending;
        return received;
    }
}
