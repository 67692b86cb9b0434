using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using RemoteSupport.Transport.Framing;
using RemoteSupport.Transport.Transports;

namespace RemoteSupport.Benchmarks.Framing;

/// <summary>
/// Framing throughput over an in-memory pipe: 1 MiB of payload per operation, written in batches of
/// 64 KiB (many frames per flush) and read back after each flush.
/// <list type="bullet">
/// <item><c>RawPipe</c> (baseline, the ceiling): the same payload bytes through a <see cref="Pipe"/>, no framing.</item>
/// <item><c>RemoteSupport</c>: <see cref="FramedConnection"/> write and parse over the in-memory transport.</item>
/// <item><c>HandRolledStream</c>: what most users write: <see cref="Stream"/> + <see cref="BinaryPrimitives"/>
/// length prefix, <c>ReadExactly</c> into a pooled buffer, over the same kind of pipe.</item>
/// </list>
/// </summary>
[MemoryDiagnoser]
public class FramingBenchmarks
{
    private const int BytesPerOperation = 1024 * 1024;
    private const int BytesPerBatch = 64 * 1024;
    private static readonly PipeOptions Unbounded = new(
        readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline,
        pauseWriterThreshold: 0, resumeWriterThreshold: 0, useSynchronizationContext: false);

    private byte[] _payload = null!;
    private int _frames;
    private int _batch;
    private Pipe _rawPipe = null!;
    private FramedConnection _client = null!;
    private FramedConnection _server = null!;
    private Stream _streamWriter = null!;
    private Stream _streamReader = null!;

    [Params(64, 1024, 65536)]
    public int PayloadSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _payload = new byte[PayloadSize];
        new Random(1).NextBytes(_payload);
        _frames = BytesPerOperation / PayloadSize;
        _batch = Math.Max(1, BytesPerBatch / PayloadSize);
        _rawPipe = new Pipe(Unbounded);

        var options = new TransportOptions { InputPipeOptions = Unbounded, OutputPipeOptions = Unbounded };
        (TransportConnection a, TransportConnection b) = InMemoryTransport.CreatePair(options);
        var framing = new FramingOptions { MaxFramePayload = 65536 };
        Task<FramedConnection> client = FramedConnection.StartAsync(a, framing).AsTask();
        _server = FramedConnection.StartAsync(b, framing).AsTask().GetAwaiter().GetResult();
        _client = client.GetAwaiter().GetResult();

        var streamPipe = new Pipe(Unbounded);
        _streamWriter = streamPipe.Writer.AsStream();
        _streamReader = streamPipe.Reader.AsStream();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _client.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true)]
    public async ValueTask<long> RawPipe()
    {
        long received = 0;
        for (int sent = 0; sent < _frames; sent += _batch)
        {
            for (int i = 0; i < _batch; i++)
            {
                // One contiguous block per payload, as the framing writes each frame.
                Span<byte> span = _rawPipe.Writer.GetSpan(_payload.Length);
                _payload.CopyTo(span);
                _rawPipe.Writer.Advance(_payload.Length);
            }

            await _rawPipe.Writer.FlushAsync();
            ReadResult result = await _rawPipe.Reader.ReadAsync();
            received += result.Buffer.Length;
            _rawPipe.Reader.AdvanceTo(result.Buffer.End);
        }

        return received;
    }

    [Benchmark]
    public async ValueTask<long> RemoteSupport()
    {
        long received = 0;
        for (int sent = 0; sent < _frames; sent += _batch)
        {
            for (int i = 0; i < _batch; i++)
            {
                _client.WriteFrame(FrameType.Data, FrameFlags.None, 1, _payload);
            }

            await _client.FlushAsync();
            for (int i = 0; i < _batch; i++)
            {
                FrameReadResult result = await _server.ReadFrameAsync();
                received += result.Frame.Payload.Length;
            }
        }

        return received;
    }

    [Benchmark]
    public async ValueTask<long> HandRolledStream()
    {
        long received = 0;
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
            for (int i = 0; i < _batch; i++)
            {
                await _streamReader.ReadExactlyAsync(header);
                int length = BinaryPrimitives.ReadInt32BigEndian(header);
                byte[] buffer = ArrayPool<byte>.Shared.Rent(length);
                await _streamReader.ReadExactlyAsync(buffer.AsMemory(0, length));
                received += length;
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        return received;
    }
}
