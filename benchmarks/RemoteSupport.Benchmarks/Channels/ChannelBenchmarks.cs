using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using Nerdbank.Streams;
using RemoteSupport.Transport.Channels;
using RemoteSupport.Transport.Framing;
using RemoteSupport.Transport.Transports;

namespace RemoteSupport.Benchmarks.Channels;

/// <summary>
/// Multiplexed channels over the in-memory transport, beside <see cref="MultiplexingStream"/>
/// (Nerdbank.Streams, protocol 3 with flow control) over the same transport as a stream.
/// <list type="bullet">
/// <item><c>Bulk*</c>: 4 MiB per operation split over <see cref="Channels"/> channels, written in 64 KiB
/// writes and read on the other side.</item>
/// </list>
/// Both run without encryption: the secure channel's cost is measured by SecureChannelBenchmarks.
/// </summary>
[MemoryDiagnoser]
public class ChannelBenchmarks
{
    private const int BytesPerOperation = 4 * 1024 * 1024;
    private const int WriteSize = 64 * 1024;
    private readonly byte[] _chunk = new byte[WriteSize];
    private ChannelPairs _pairs = null!;

    [Params(1, 4)]
    public int Channels { get; set; }

    [GlobalSetup]
    public void Setup() => _pairs = ChannelPairs.CreateAsync(Channels).GetAwaiter().GetResult();

    [GlobalCleanup]
    public void Cleanup() => _pairs.DisposeAsync().AsTask().GetAwaiter().GetResult();

    [Benchmark(Baseline = true)]
    public Task BulkMultiplexingStream() => TransferAsync(_pairs.NerdbankSenders, _pairs.NerdbankReceivers);

    [Benchmark]
    public Task BulkRemoteSupport() => TransferAsync(_pairs.OurSenders, _pairs.OurReceivers);

    private Task TransferAsync(IDuplexPipe[] senders, IDuplexPipe[] receivers)
    {
        int share = BytesPerOperation / senders.Length;
        var work = new Task[senders.Length * 2];
        for (int i = 0; i < senders.Length; i++)
        {
            work[2 * i] = WriteAsync(senders[i].Output, share);
            work[(2 * i) + 1] = ReadAsync(receivers[i].Input, share);
        }

        return Task.WhenAll(work);
    }

    private async Task WriteAsync(PipeWriter output, int bytes)
    {
        for (int sent = 0; sent < bytes; sent += WriteSize)
        {
            await output.WriteAsync(_chunk).ConfigureAwait(false);
        }
    }

    private static async Task ReadAsync(PipeReader input, long bytes)
    {
        while (bytes > 0)
        {
            ReadResult result = await input.ReadAsync().ConfigureAwait(false);
            long take = Math.Min(bytes, result.Buffer.Length);
            bytes -= take;
            input.AdvanceTo(result.Buffer.GetPosition(take));
        }
    }
}

/// <summary>
/// Round trip on a control channel: 8 bytes echoed by the other side, idle and while another channel
/// is saturated by a bulk transfer in the background (<see cref="Loaded"/>).
/// <c>PingRemoteSupport</c> uses the protocol's own Ping frame, which goes ahead of data.
/// </summary>
/// <remarks>
/// Each invocation awaits <see cref="RoundTrips"/> round trips one after another, as an application
/// awaits them: the mean is one round trip. (With one round trip per invocation, BenchmarkDotNet's
/// thread blocks on every one, and under load its wake-up on two busy cores would be measured too.)
/// </remarks>
public class ChannelPingBenchmarks
{
    private const int RoundTrips = 100;
    private readonly byte[] _ping = new byte[8];
    private ChannelPairs _pairs = null!;
    private CancellationTokenSource _load = null!;
    private Task[] _loadTasks = [];

    [Params(false, true)]
    public bool Loaded { get; set; }

    [GlobalSetup(Target = nameof(EchoMultiplexingStream))]
    public void SetupMultiplexingStream() => Setup(ours: false);

    [GlobalSetup(Targets = [nameof(EchoRemoteSupport), nameof(PingRemoteSupport)])]
    public void SetupRemoteSupport() => Setup(ours: true);

    [GlobalCleanup]
    public void Cleanup()
    {
        _load.Cancel();
        _pairs.DisposeAsync().AsTask().GetAwaiter().GetResult();
        try
        {
            Task.WaitAll(_loadTasks, TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // The pumps end with the connections.
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = RoundTrips)]
    public Task EchoMultiplexingStream() => EchoRoundTripsAsync(_pairs.NerdbankSenders[0]);

    [Benchmark(OperationsPerInvoke = RoundTrips)]
    public Task EchoRemoteSupport() => EchoRoundTripsAsync(_pairs.OurSenders[0]);

    [Benchmark(OperationsPerInvoke = RoundTrips)]
    public async Task PingRemoteSupport()
    {
        for (int i = 0; i < RoundTrips; i++)
        {
            await _pairs.OurInitiator.PingAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Channel 0 of each pair is the control channel (echoed), channel 1 the bulk one; only the measured multiplexer carries load.</summary>
    private void Setup(bool ours)
    {
        _pairs = ChannelPairs.CreateAsync(2).GetAwaiter().GetResult();
        _load = new CancellationTokenSource();
        IDuplexPipe[] senders = ours ? _pairs.OurSenders : _pairs.NerdbankSenders;
        IDuplexPipe[] receivers = ours ? _pairs.OurReceivers : _pairs.NerdbankReceivers;
        Task echo = EchoAsync(receivers[0], _load.Token);
        _loadTasks = Loaded ? [echo, Saturate(senders[1], receivers[1], _load.Token)] : [echo];
    }

    private async Task EchoRoundTripsAsync(IDuplexPipe control)
    {
        for (int i = 0; i < RoundTrips; i++)
        {
            await control.Output.WriteAsync(_ping).ConfigureAwait(false);
            long left = _ping.Length;
            while (left > 0)
            {
                ReadResult result = await control.Input.ReadAsync().ConfigureAwait(false);
                long take = Math.Min(left, result.Buffer.Length);
                left -= take;
                control.Input.AdvanceTo(result.Buffer.GetPosition(take));
            }
        }
    }

    private static async Task EchoAsync(IDuplexPipe pipe, CancellationToken stop)
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                ReadResult result = await pipe.Input.ReadAsync(stop).ConfigureAwait(false);
                foreach (ReadOnlyMemory<byte> segment in result.Buffer)
                {
                    await pipe.Output.WriteAsync(segment, stop).ConfigureAwait(false);
                }

                pipe.Input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or InvalidOperationException or ObjectDisposedException)
        {
        }
    }

    private static Task Saturate(IDuplexPipe sender, IDuplexPipe receiver, CancellationToken stop)
    {
        byte[] chunk = new byte[64 * 1024];
        return Task.WhenAll(Task.Run(WriteForever, CancellationToken.None), Task.Run(ReadForever, CancellationToken.None));

        async Task WriteForever()
        {
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    await sender.Output.WriteAsync(chunk, stop).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or InvalidOperationException or ObjectDisposedException)
            {
            }
        }

        async Task ReadForever()
        {
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    ReadResult result = await receiver.Input.ReadAsync(stop).ConfigureAwait(false);
                    receiver.Input.AdvanceTo(result.Buffer.End);
                    if (result.IsCompleted)
                    {
                        return;
                    }
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or InvalidOperationException or ObjectDisposedException)
            {
            }
        }
    }
}

/// <summary><paramref name="count"/> open channel pairs over each multiplexer, each over its own in-memory transport.</summary>
internal sealed class ChannelPairs : IAsyncDisposable
{
    public required MultiplexedConnection OurInitiator { get; init; }

    public required MultiplexedConnection OurResponder { get; init; }

    public required MultiplexingStream NerdbankInitiator { get; init; }

    public required MultiplexingStream NerdbankResponder { get; init; }

    public required IDuplexPipe[] OurSenders { get; init; }

    public required IDuplexPipe[] OurReceivers { get; init; }

    public required IDuplexPipe[] NerdbankSenders { get; init; }

    public required IDuplexPipe[] NerdbankReceivers { get; init; }

    public static async Task<ChannelPairs> CreateAsync(int count)
    {
        (TransportConnection a, TransportConnection b) = InMemoryTransport.CreatePair();
        Task<FramedConnection> first = FramedConnection.StartAsync(a).AsTask();
        FramedConnection second = await FramedConnection.StartAsync(b);
        MultiplexedConnection ours = MultiplexedConnection.StartUnencrypted(await first, isInitiator: true);
        MultiplexedConnection theirs = MultiplexedConnection.StartUnencrypted(second, isInitiator: false);

        (TransportConnection c, TransportConnection d) = InMemoryTransport.CreatePair();
        var options = new MultiplexingStream.Options { ProtocolMajorVersion = 3 };
        Task<MultiplexingStream> nerdbankFirst = MultiplexingStream.CreateAsync(c.AsStream(), options);
        MultiplexingStream nerdbankSecond = await MultiplexingStream.CreateAsync(d.AsStream(), options);
        MultiplexingStream nerdbankInitiator = await nerdbankFirst;

        var ourSenders = new IDuplexPipe[count];
        var ourReceivers = new IDuplexPipe[count];
        var nerdbankSenders = new IDuplexPipe[count];
        var nerdbankReceivers = new IDuplexPipe[count];
        for (int i = 0; i < count; i++)
        {
            string name = "channel" + i;
            Task<MultiplexedChannel> opening = ours.OpenChannelAsync(name).AsTask();
            ourReceivers[i] = (await theirs.AcceptChannelAsync())!;
            ourSenders[i] = await opening;

            Task<MultiplexingStream.Channel> offering = nerdbankInitiator.OfferChannelAsync(name);
            nerdbankReceivers[i] = await nerdbankSecond.AcceptChannelAsync(name);
            nerdbankSenders[i] = await offering;
        }

        return new ChannelPairs
        {
            OurInitiator = ours,
            OurResponder = theirs,
            NerdbankInitiator = nerdbankInitiator,
            NerdbankResponder = nerdbankSecond,
            OurSenders = ourSenders,
            OurReceivers = ourReceivers,
            NerdbankSenders = nerdbankSenders,
            NerdbankReceivers = nerdbankReceivers,
        };
    }

    public async ValueTask DisposeAsync()
    {
        await OurInitiator.DisposeAsync();
        await OurResponder.DisposeAsync();
        await NerdbankInitiator.DisposeAsync();
        await NerdbankResponder.DisposeAsync();
    }
}
