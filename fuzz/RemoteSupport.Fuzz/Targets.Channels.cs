using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using RemoteSupport.Identities;
using RemoteSupport.Transport.Channels;
using RemoteSupport.Transport.Framing;
using RemoteSupport.Transport.Security;
using RemoteSupport.Transport.Transports;
using RemoteSupport.Trust;

namespace RemoteSupport.Fuzz;

/// <summary>The targets past the handshake: sealed records of an established secure channel, and the multiplexer's frames.</summary>
internal static partial class Targets
{
    /// <summary>
    /// Pipes that run a reader's continuation on the writer's thread: the two sides take turns on one thread instead of
    /// racing on the thread pool, so that one input takes the same path each time it runs (AFL++'s stability).
    /// </summary>
    /// <remarks>Made per input, not in a static initializer: instrumented code may run only once AFL's coverage map is mapped.</remarks>
    private static TransportOptions InlinePipes() => new()
    {
        InputPipeOptions = new PipeOptions(readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline, useSynchronizationContext: false),
        OutputPipeOptions = new PipeOptions(readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline, useSynchronizationContext: false),
    };

    /// <summary>The size of one record's header in a <c>sealed-records</c> input: kind, type, flags, channel id (2), payload length (2).</summary>
    internal const int RecordHeader = 7;

    /// <summary>
    /// An established secure channel's responder fed records. The first byte chooses how: 0, the rest of the input goes
    /// on the wire as it is (frames the peer never sealed); 1, the rest is records (<see cref="RecordHeader"/> bytes, then
    /// the payload) sealed by the real initiator, read by <see cref="SecureConnection.ReceiveAsync"/>; 2, the same records
    /// read by a multiplexer over the secure channel, which accepts every channel and echoes its messages.
    /// </summary>
    private static void SealedRecords(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }

        int mode = input[0] % 3;
        var unitTrust = new TrustStore();
        unitTrust.Trust("contoso", PartyRole.Technician, Fixed.Technician.PublicKey);
        var unit = new SecureChannelOptions { Identity = Fixed.Unit, TrustStore = unitTrust, StaticKey = Fixed.EndpointStatic, HandshakeTimeout = TimeSpan.FromSeconds(2) };
        unit.AcceptedPeers.Add(new ExpectedPeer("contoso", PartyRole.Technician));
        var consoleTrust = new TrustStore();
        consoleTrust.Trust("fabrikam", PartyRole.Unit, Fixed.Unit.PublicKey);
        var console = new SecureChannelOptions { Identity = Fixed.Technician, TrustStore = consoleTrust, HandshakeTimeout = TimeSpan.FromSeconds(2) };
        console.AcceptedPeers.Add(new ExpectedPeer("fabrikam", PartyRole.Unit));

        (TransportConnection client, TransportConnection server) = InMemoryTransport.CreatePair(InlinePipes());
        try
        {
            var established = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            // Started on this thread, not the pool: with inline pipes each side runs when the other writes.
            Task responding = ((Func<Task>)(async () =>
            {
                await using FramedConnection framed = await FramedConnection.StartAsync(server);
                await using SecureConnection secure = await SecureConnection.AcceptAsync(framed, unit);
                established.SetResult();
                if (mode == 2)
                {
                    await ServeChannelsAsync(MultiplexedConnection.Start(secure));
                    return;
                }

                while (!(await secure.ReceiveAsync()).IsCompleted)
                {
                }
            }))();

            Run(async () =>
            {
                await using FramedConnection framed = await FramedConnection.StartAsync(client);
                await using SecureConnection secure = await SecureConnection.ConnectAsync(framed, console);
                await established.Task.WaitAsync(TimeSpan.FromSeconds(5));
                Task draining = DrainFramesAsync(framed);
                try
                {
                    if (mode == 0)
                    {
                        await client.Output.WriteAsync(input.AsMemory(1));
                    }
                    else
                    {
                        await SealAsync(secure, framed, input.AsMemory(1));
                    }
                }
                catch (Exception e) when (ExpectedFailure(e))
                {
                    // The responder closed the connection on an earlier record.
                }

                await client.Output.CompleteAsync();
                await WaitForAsync(Task.WhenAll(responding, draining), "The responder did not end within 5 s of its input ending.");
            });
        }
        finally
        {
            client.DisposeAsync().AsTask().GetAwaiter().GetResult();
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>
    /// A multiplexer without a secure channel fed frames: a valid preface, then the input as the peer's frames. The
    /// multiplexer accepts every channel the input opens and echoes each message on it.
    /// </summary>
    private static void MultiplexerFrames(byte[] input)
    {
        (TransportConnection client, TransportConnection server) = InMemoryTransport.CreatePair(InlinePipes());
        try
        {
            Task serving = ((Func<Task>)(async () =>
            {
                await using FramedConnection framed = await FramedConnection.StartAsync(server);
                await ServeChannelsAsync(MultiplexedConnection.StartUnencrypted(framed, isInitiator: false));
            }))();

            Run(async () =>
            {
                Task draining = DrainAsync(client.Input);
                var preface = new ArrayBufferWriter<byte>();
                FrameCodec.WritePreface(preface, new FramingOptions().MaxFramePayload);
                await client.Output.WriteAsync(preface.WrittenMemory);
                await client.Output.WriteAsync(input);
                await client.Output.CompleteAsync();
                await WaitForAsync(Task.WhenAll(serving, draining), "The multiplexer did not end within 5 s of its input ending.");
            });
        }
        finally
        {
            client.DisposeAsync().AsTask().GetAwaiter().GetResult();
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private static async Task SealAsync(SecureConnection secure, FramedConnection framed, ReadOnlyMemory<byte> records)
    {
        foreach ((byte kind, FrameType type, FrameFlags flags, ushort channel, ReadOnlyMemory<byte> payload) in Records(records))
        {
            if (kind % 2 == 0 && payload.Length <= secure.MaxSealedFramePayload)
            {
                secure.WriteSealedFrame(type, flags, channel, payload.Span);
                await framed.FlushAsync(CancellationToken.None);
            }
            else
            {
                await secure.SendAsync(payload);
            }
        }
    }

    /// <summary>Splits a <c>sealed-records</c> input into records; a last record shorter than its header is dropped, its payload cut at the input's end.</summary>
    internal static IEnumerable<(byte Kind, FrameType Type, FrameFlags Flags, ushort Channel, ReadOnlyMemory<byte> Payload)> Records(ReadOnlyMemory<byte> input)
    {
        while (input.Length >= RecordHeader)
        {
            ReadOnlySpan<byte> header = input.Span[..RecordHeader];
            int length = Math.Min(BinaryPrimitives.ReadUInt16BigEndian(header[5..]), input.Length - RecordHeader);
            yield return (header[0], (FrameType)header[1], (FrameFlags)header[2], BinaryPrimitives.ReadUInt16BigEndian(header[3..]), input.Slice(RecordHeader, length));
            input = input[(RecordHeader + length)..];
        }
    }

    /// <summary>Accepts every channel and echoes its messages until the connection ends, then waits for it to release everything.</summary>
    private static async Task ServeChannelsAsync(MultiplexedConnection connection)
    {
        await using (connection)
        {
            var echoes = new List<Task>();
            while (await connection.AcceptChannelAsync() is { } channel)
            {
                echoes.Add(EchoAsync(channel));
            }

            await connection.Completion;
            await Task.WhenAll(echoes);
        }

        static async Task EchoAsync(MultiplexedChannel channel)
        {
            await using (channel)
            {
                try
                {
                    while (await channel.ReceiveMessageAsync() is { } message)
                    {
                        await channel.SendMessageAsync(message);
                    }
                }
                catch (IOException)
                {
                    // ChannelException: the channel was reset or the connection ended, as the peer's frames may make it.
                }
            }
        }
    }

    /// <summary>Reads and drops what the side under test sends, so that its writes never wait on a full pipe.</summary>
    private static async Task DrainAsync(PipeReader reader)
    {
        while (true)
        {
            ReadResult result = await reader.ReadAsync();
            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted || result.IsCanceled)
            {
                return;
            }
        }
    }

    private static async Task DrainFramesAsync(FramedConnection framed)
    {
        try
        {
            while ((await framed.ReadFrameAsync(CancellationToken.None)).HasFrame)
            {
            }
        }
        catch (Exception e) when (ExpectedFailure(e))
        {
            // The responder closed the connection with an error: what it is for.
        }
    }

    private static async Task WaitForAsync(Task task, string hang)
    {
        if (await Task.WhenAny(task, Task.Delay(TimeSpan.FromSeconds(5))) != task)
        {
            throw new TimeoutException(hang);
        }

        await task;
    }

    /// <summary>Runs the driver to its end; the refusals a peer's bytes may cause are expected, anything else escapes.</summary>
    private static void Run(Func<Task> driver)
    {
        try
        {
            driver().GetAwaiter().GetResult();
        }
        catch (Exception e) when (ExpectedFailure(e))
        {
        }
    }

    private static bool ExpectedFailure(Exception e) => e is SecureChannelException or FramingException or IOException or OperationCanceledException;
}
