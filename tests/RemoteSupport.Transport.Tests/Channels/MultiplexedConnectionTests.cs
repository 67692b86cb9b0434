using System.IO.Pipelines;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using RemoteSupport.Transport.Channels;
using RemoteSupport.Transport.Framing;
using static RemoteSupport.Transport.Tests.Channels.ChannelTestKit;

namespace RemoteSupport.Transport.Tests.Channels;

public sealed class MultiplexedConnectionTests : IDisposable
{
    private readonly CancellationTokenSource _stop = new(TimeSpan.FromSeconds(20));

    public void Dispose() => _stop.Dispose();

    private CancellationToken Token => _stop.Token;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Channels_CarryMessagesBothWays_WithNamesAndIdsFromEachSidesSpace(bool secure)
    {
        var (console, agent) = secure ? await SecurePairAsync(Token) : await PlainPairAsync(Token);
        await using (console)
        await using (agent)
        {
            var (control, controlAtAgent) = await OpenPairAsync(console, agent, "control", Token);
            var (diag, diagAtConsole) = await OpenPairAsync(agent, console, "diagnostic", Token);

            control.Id.Should().Be(1);
            controlAtAgent.Id.Should().Be(1);
            controlAtAgent.Name.Should().Be("control");
            controlAtAgent.IsLocal.Should().BeFalse();
            diag.Id.Should().Be(2, "the responder opens even ids");
            diagAtConsole.Name.Should().Be("diagnostic");

            await control.SendMessageAsync("view ledger.db"u8.ToArray(), Token);
            Encoding.UTF8.GetString((await controlAtAgent.ReceiveMessageAsync(Token))!).Should().Be("view ledger.db");
            await diag.SendMessageAsync("disk 93%"u8.ToArray(), Token);
            Encoding.UTF8.GetString((await diagAtConsole.ReceiveMessageAsync(Token))!).Should().Be("disk 93%");
            console.ChannelCount.Should().Be(2);
        }
    }

    [Fact]
    public async Task HalfClose_EachSideEndsItsStream_TheChannelClosesWhenBothHave()
    {
        var (console, agent) = await PlainPairAsync(Token);
        await using var _ = console;
        await using var __ = agent;
        var (opened, accepted) = await OpenPairAsync(console, agent, "view", Token);

        await opened.SendMessageAsync("request"u8.ToArray(), Token);
        await opened.Output.CompleteAsync();
        (await accepted.ReceiveMessageAsync(Token)).Should().Equal("request"u8.ToArray());
        (await accepted.ReceiveMessageAsync(Token)).Should().BeNull("the opener ended its side");

        // The other direction still works after the opener's end.
        await accepted.SendMessageAsync("reply"u8.ToArray(), Token);
        (await opened.ReceiveMessageAsync(Token)).Should().Equal("reply"u8.ToArray());
        await accepted.Output.CompleteAsync();
        (await opened.ReceiveMessageAsync(Token)).Should().BeNull();

        await opened.Closed.WaitAsync(Token);
        await accepted.Closed.WaitAsync(Token);
        console.ChannelCount.Should().Be(0);
        agent.ChannelCount.Should().Be(0);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task BulkTransfer_LargerThanEveryWindow_ArrivesIntact(bool secure)
    {
        var options = new MultiplexerOptions { ChannelWindow = 16 * 1024, ConnectionWindow = 64 * 1024, SendBufferSize = 8 * 1024 };
        var (console, agent) = secure ? await SecurePairAsync(Token, options) : await PlainPairAsync(Token, options, options);
        await using var _ = console;
        await using var __ = agent;
        var (fix, fixAtAgent) = await OpenPairAsync(console, agent, "fix", Token);
        byte[] data = ChannelTestKit.Random(3 * 1024 * 1024 + 17);

        Task writing = WriteAllAsync(fix, data, 50_000, Token);
        byte[] received = await ReadToEndAsync(fixAtAgent, Token);
        await writing;

        SHA256.HashData(received).Should().Equal(SHA256.HashData(data));
    }

    /// <summary>
    /// <c>WriteAsync</c> sends straight from the caller's buffer when nothing is buffered; writes
    /// through <c>GetSpan</c>/<c>FlushAsync</c> go through the channel's buffer. Mixed, on channels
    /// that share the connection and run out of credit, every stream still arrives in order.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task DirectAndBufferedWrites_Interleaved_OnSeveralChannels_ArriveInOrder(bool secure)
    {
        var options = new MultiplexerOptions { ChannelWindow = 8 * 1024, ConnectionWindow = 20 * 1024, SendBufferSize = 4 * 1024 };
        var (console, agent) = secure ? await SecurePairAsync(Token, options) : await PlainPairAsync(Token, options, options);
        await using var _ = console;
        await using var __ = agent;
        var pairs = new List<(MultiplexedChannel Opened, MultiplexedChannel Accepted)>();
        for (int i = 0; i < 3; i++)
        {
            pairs.Add(await OpenPairAsync(console, agent, "stream" + i, Token));
        }

        byte[][] data = [.. pairs.Select((_, i) => ChannelTestKit.Random(400_000 + i))];
        Task[] writers = [.. pairs.Select((pair, i) => WriteMixedAsync(pair.Opened, data[i], seed: i))];
        byte[][] received = await Task.WhenAll(pairs.Select(pair => ReadToEndAsync(pair.Accepted, Token)));
        await Task.WhenAll(writers);

        for (int i = 0; i < pairs.Count; i++)
        {
            received[i].Should().Equal(data[i], "stream {0} must arrive byte for byte in order", i);
        }

        async Task WriteMixedAsync(MultiplexedChannel channel, byte[] bytes, int seed)
        {
            var random = new Random(seed);
            int offset = 0;
            while (offset < bytes.Length)
            {
                int size = Math.Min(bytes.Length - offset, random.Next(1, 20_000));
                if (random.Next(2) == 0)
                {
                    await channel.Output.WriteAsync(bytes.AsMemory(offset, size), Token);
                }
                else
                {
                    bytes.AsSpan(offset, size).CopyTo(channel.Output.GetSpan(size));
                    channel.Output.Advance(size);
                    if (random.Next(3) > 0)
                    {
                        await channel.Output.FlushAsync(Token); // else the next WriteAsync finds unflushed bytes
                    }
                }

                offset += size;
            }

            await channel.Output.CompleteAsync();
        }
    }

    [Fact]
    public async Task WindowUpdates_AreBatched_NotOnePerFrame()
    {
        var options = new MultiplexerOptions { ChannelWindow = 64 * 1024, ConnectionWindow = 256 * 1024 };
        var (peer, mux) = await RawPeer.StartAsync(Token, options);
        await using var _ = peer;
        await using var __ = mux;
        await peer.OpenAsync(1, 1 << 20);
        MultiplexedChannel channel = (await mux.AcceptChannelAsync(Token))!;
        Task<byte[]> reading = ReadToEndAsync(channel, Token);

        // 2 MiB in 1 KiB frames, sent only as the window allows.
        long channelCredit = 64 * 1024, connectionCredit = MultiplexedConnection.InitialConnectionWindow;
        int frames = 0, updates = 0;
        long sent = 0, total = 2L * 1024 * 1024;
        byte[] chunk = new byte[1024];
        while (sent < total)
        {
            while (channelCredit >= chunk.Length && connectionCredit >= chunk.Length && sent < total)
            {
                peer.Framed.WriteFrame(FrameType.Data, sent + chunk.Length == total ? FrameFlags.EndOfStream : FrameFlags.None, 1, chunk);
                channelCredit -= chunk.Length;
                connectionCredit -= chunk.Length;
                sent += chunk.Length;
                frames++;
            }

            await peer.Framed.FlushAsync();
            if (sent == total)
            {
                break;
            }

            RawFrame update = await peer.NextOfTypeAsync(FrameType.WindowUpdate, Token);
            updates++;
            if (update.ChannelId == 0)
            {
                connectionCredit += update.Code;
            }
            else
            {
                channelCredit += update.Code;
            }
        }

        (await reading).Length.Should().Be((int)total);
        frames.Should().Be(2048);
        updates.Should().BeLessThan(frames / 8, "updates are sent per half window consumed, not per frame");
    }

    [Fact]
    public async Task DataBeyondTheChannelWindow_ResetsThatChannel_OthersKeepWorking()
    {
        var options = new MultiplexerOptions { ChannelWindow = 4096 };
        var (peer, mux) = await RawPeer.StartAsync(Token, options);
        await using var _ = peer;
        await using var __ = mux;
        await peer.OpenAsync(1, 65536, "greedy");
        await peer.OpenAsync(3, 65536, "polite");
        MultiplexedChannel greedy = (await mux.AcceptChannelAsync(Token))!;
        MultiplexedChannel polite = (await mux.AcceptChannelAsync(Token))!;

        await peer.SendAsync(FrameType.Data, FrameFlags.None, 1, new byte[5000]);
        RawFrame reset = await peer.NextOfTypeAsync(FrameType.ChannelReset, Token);

        reset.ChannelId.Should().Be(1);
        reset.Code.Should().Be((uint)ChannelError.FlowControlError);
        var failure = await FluentActions.Awaiting(async () => await ReadToEndAsync(greedy, Token)).Should().ThrowAsync<ChannelException>();
        failure.Which.Error.Should().Be(ChannelError.FlowControlError);
        await greedy.Closed.WaitAsync(Token);

        await peer.SendAsync(FrameType.Data, FrameFlags.EndOfStream, 3, "still here"u8.ToArray());
        (await ReadToEndAsync(polite, Token)).Should().Equal("still here"u8.ToArray());
        mux.ChannelCount.Should().Be(1, "the reset channel is released, the polite one is half-closed");
        mux.Failure.Should().BeNull();
    }

    [Theory]
    [InlineData(0xFFFFFFFFu)]
    [InlineData(0x80000000u)]
    [InlineData(12345u)]
    public async Task AResetOrGoAwayWithACodeWeDoNotKnow_IsReadAsAnUnknownError_NeverAnOverflow(uint code)
    {
        // Found by fuzzing (the handshake's GoAway): a code past int.MaxValue cast to an error enum overflowed.
        var (peer, mux) = await RawPeer.StartAsync(Token);
        await using var _ = peer;
        await using var __ = mux;
        await peer.OpenAsync(1, 65536, "reset");
        MultiplexedChannel channel = (await mux.AcceptChannelAsync(Token))!;

        await peer.ResetAsync(1, code, "odd code");
        var reset = await FluentActions.Awaiting(async () => await ReadToEndAsync(channel, Token)).Should().ThrowAsync<ChannelException>();
        byte[] goAway = [.. new byte[4], .. "bye"u8.ToArray()];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(goAway, code);
        await peer.SendAsync(FrameType.GoAway, FrameFlags.None, 0, goAway);
        await mux.Completion.WaitAsync(Token);

        reset.Which.Error.Should().Be(ChannelError.Canceled);
        mux.Failure!.Error.Should().Be(ChannelError.ConnectionClosed);
        mux.Failure.Message.Should().Contain($"code {code}");
    }

    [Fact]
    public async Task DataBeyondTheConnectionWindow_ClosesTheConnection_AndFailsEveryChannel()
    {
        var options = new MultiplexerOptions { ChannelWindow = 1 << 20, ConnectionWindow = 65536 };
        var (peer, mux) = await RawPeer.StartAsync(Token, options);
        await using var _ = peer;
        await using var __ = mux;
        await peer.OpenAsync(1, 65536);
        MultiplexedChannel channel = (await mux.AcceptChannelAsync(Token))!;

        for (int i = 0; i < 3; i++)
        {
            await peer.SendAsync(FrameType.Data, FrameFlags.None, 1, new byte[30_000]);
        }

        RawFrame goAway = await peer.NextOfTypeAsync(FrameType.GoAway, Token);
        goAway.Code.Should().Be((uint)ChannelError.FlowControlError);
        await mux.Completion.WaitAsync(Token);
        mux.Failure!.Error.Should().Be(ChannelError.FlowControlError);
        await FluentActions.Awaiting(async () => await ReadToEndAsync(channel, Token)).Should().ThrowAsync<ChannelException>();
        mux.ChannelCount.Should().Be(0);
    }

    [Theory]
    [InlineData(99, "never opened")]
    [InlineData(2, "own id space")]
    public async Task DataOnAChannelThatWasNeverOpened_IsAProtocolError(ushort channelId, string because)
    {
        var (peer, mux) = await RawPeer.StartAsync(Token);
        await using var _ = peer;
        await using var __ = mux;

        await peer.SendAsync(FrameType.Data, FrameFlags.None, channelId, new byte[10]);

        RawFrame goAway = await peer.NextOfTypeAsync(FrameType.GoAway, Token);
        goAway.Code.Should().Be((uint)ChannelError.ProtocolError, because);
        goAway.Reason.Should().Contain($"channel {channelId}");
        await mux.Completion.WaitAsync(Token);
        mux.Failure!.Error.Should().Be(ChannelError.ProtocolError);
    }

    [Fact]
    public async Task DataOnAChannelClosedHere_IsDropped_AndItsWindowReturned()
    {
        var options = new MultiplexerOptions { ConnectionWindow = 65536, ChannelWindow = 65536 };
        var (peer, mux) = await RawPeer.StartAsync(Token, options);
        await using var _ = peer;
        await using var __ = mux;
        await peer.OpenAsync(1, 65536);
        MultiplexedChannel closed = (await mux.AcceptChannelAsync(Token))!;
        closed.Reset("not interested");
        (await peer.NextOfTypeAsync(FrameType.ChannelReset, Token)).ChannelId.Should().Be(1);

        // Frames in flight when the reset crossed them: dropped, and the connection window comes back.
        await peer.SendAsync(FrameType.Data, FrameFlags.None, 1, new byte[40_000]);
        RawFrame update = await peer.NextOfTypeAsync(FrameType.WindowUpdate, Token);
        update.ChannelId.Should().Be(0);
        update.Code.Should().BeGreaterThanOrEqualTo(32768u);

        await peer.SendAsync(FrameType.Ping, FrameFlags.None, 0, new byte[8]);
        (await peer.NextOfTypeAsync(FrameType.Ping, Token)).Flags.Should().Be(FrameFlags.Ack);
        mux.Failure.Should().BeNull();
    }

    [Fact]
    public async Task DataAfterTheEndOfStream_ResetsTheChannel()
    {
        var (peer, mux) = await RawPeer.StartAsync(Token);
        await using var _ = peer;
        await using var __ = mux;
        await peer.OpenAsync(1, 65536);
        MultiplexedChannel channel = (await mux.AcceptChannelAsync(Token))!;
        await peer.SendAsync(FrameType.Data, FrameFlags.EndOfStream, 1, "end"u8.ToArray());
        await peer.SendAsync(FrameType.Data, FrameFlags.None, 1, "more"u8.ToArray());

        RawFrame reset = await peer.NextOfTypeAsync(FrameType.ChannelReset, Token);
        reset.Code.Should().Be((uint)ChannelError.StreamClosed);
        await channel.Closed.WaitAsync(Token);
        mux.Failure.Should().BeNull();
    }

    [Fact]
    public async Task WindowUpdateOverflow_ResetsTheChannel_OrClosesTheConnectionOnChannelZero()
    {
        var (peer, mux) = await RawPeer.StartAsync(Token);
        await using var _ = peer;
        await using var __ = mux;
        await peer.OpenAsync(1, 65536);
        MultiplexedChannel channel = (await mux.AcceptChannelAsync(Token))!;

        await peer.WindowUpdateAsync(1, int.MaxValue);
        RawFrame reset = await peer.NextOfTypeAsync(FrameType.ChannelReset, Token);
        reset.ChannelId.Should().Be(1);
        reset.Code.Should().Be((uint)ChannelError.FlowControlError);
        await channel.Closed.WaitAsync(Token);
        mux.Failure.Should().BeNull();

        await peer.WindowUpdateAsync(0, int.MaxValue);
        RawFrame goAway = await peer.NextOfTypeAsync(FrameType.GoAway, Token);
        goAway.Code.Should().Be((uint)ChannelError.FlowControlError);
        await mux.Completion.WaitAsync(Token);
        mux.Failure!.Error.Should().Be(ChannelError.FlowControlError);
    }

    [Fact]
    public async Task AFloodOfOpens_BeyondTheLimit_IsRefusedPerChannel_AndUsesNoMoreChannels()
    {
        var options = new MultiplexerOptions { MaxChannels = 8 };
        var (peer, mux) = await RawPeer.StartAsync(Token, options);
        await using var _ = peer;
        await using var __ = mux;

        for (ushort id = 1; id < 2000; id += 2)
        {
            byte[] open = [0, 1, 0, 0, (byte)'x'];
            peer.Framed.WriteFrame(FrameType.ChannelOpen, FrameFlags.None, id, open);
        }

        await peer.Framed.FlushAsync();
        int accepts = 0, refusals = 0;
        while (accepts + refusals < 1000)
        {
            RawFrame frame = (await peer.NextAsync(Token))!;
            if (frame.Type == FrameType.ChannelAccept)
            {
                accepts++;
            }
            else if (frame.Type == FrameType.ChannelReset)
            {
                frame.Code.Should().Be((uint)ChannelError.Refused);
                refusals++;
            }
        }

        accepts.Should().Be(8);
        refusals.Should().Be(992);
        mux.ChannelCount.Should().Be(8);
        mux.Failure.Should().BeNull();

        // An id that goes backwards is a protocol error, not a refusal.
        await peer.OpenAsync(5, 65536);
        (await peer.NextOfTypeAsync(FrameType.GoAway, Token)).Code.Should().Be((uint)ChannelError.ProtocolError);
    }

    [Fact]
    public async Task AResetDuringATransfer_FailsThatChannelsWriter_AndReleasesIt_OthersUnaffected()
    {
        var (console, agent) = await PlainPairAsync(Token);
        await using var _ = console;
        await using var __ = agent;
        var (fix, fixAtAgent) = await OpenPairAsync(console, agent, "fix", Token);
        var (control, controlAtAgent) = await OpenPairAsync(console, agent, "control", Token);

        Task writing = WriteAllAsync(fix, ChannelTestKit.Random(64 * 1024 * 1024), 64 * 1024, Token);
        var first = await fixAtAgent.Input.ReadAsync(Token);
        first.Buffer.Length.Should().BeGreaterThan(0);
        fixAtAgent.Input.AdvanceTo(first.Buffer.End);
        fixAtAgent.Reset("the unit is busy");

        var failure = await FluentActions.Awaiting(() => writing).Should().ThrowAsync<ChannelException>();
        failure.Which.ByPeer.Should().BeTrue();
        failure.Which.Message.Should().Contain("the unit is busy");
        await fix.Closed.WaitAsync(Token);
        console.ChannelCount.Should().Be(1);
        agent.ChannelCount.Should().Be(1);

        await control.SendMessageAsync("status?"u8.ToArray(), Token);
        (await controlAtAgent.ReceiveMessageAsync(Token)).Should().Equal("status?"u8.ToArray());
    }

    [Fact]
    public async Task AStalledReader_BuffersAtMostItsWindow_WhileAnotherChannelKeepsMoving()
    {
        var options = new MultiplexerOptions { ChannelWindow = 64 * 1024, ConnectionWindow = 256 * 1024, SendBufferSize = 64 * 1024 };
        var (console, agent) = await PlainPairAsync(Token, options, options);
        await using var _ = console;
        await using var __ = agent;
        var (stalled, stalledAtAgent) = await OpenPairAsync(console, agent, "stalled", Token);
        var (moving, movingAtAgent) = await OpenPairAsync(console, agent, "moving", Token);

        // Nobody reads the stalled channel: its writer must end up waiting, not buffering without bound.
        Task stalledWriting = WriteAllAsync(stalled, new byte[16 * 1024 * 1024], 64 * 1024, Token);
        byte[] data = ChannelTestKit.Random(8 * 1024 * 1024);
        Task movingWriting = WriteAllAsync(moving, data, 64 * 1024, Token);
        byte[] received = await ReadToEndAsync(movingAtAgent, Token);
        await movingWriting;

        received.Should().Equal(data);
        stalledWriting.IsCompleted.Should().BeFalse("the stalled channel's writer waits for window ({0})", stalledWriting.Exception?.ToString());
        lock (agent.Sync)
        {
            stalledAtAgent.Received.Should().BeLessThanOrEqualTo(64 * 1024, "the peer never sends beyond the window");
        }

        stalled.Reset("giving up");
        await FluentActions.Awaiting(() => stalledWriting).Should().ThrowAsync<ChannelException>();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ChannelsWithDataTakeTurns(bool waitingInTheWritersBuffer)
    {
        var options = new MultiplexerOptions { ChannelWindow = 8 * 1024 * 1024, SendBufferSize = 4 * 1024 * 1024 };
        var (peer, mux) = await RawPeer.StartAsync(Token, options);
        await using var _ = peer;
        await using var __ = mux;
        await peer.OpenAsync(1, 8 << 20, "a");
        await peer.OpenAsync(3, 8 << 20, "b");
        MultiplexedChannel a = (await mux.AcceptChannelAsync(Token))!;
        MultiplexedChannel b = (await mux.AcceptChannelAsync(Token))!;

        // Both channels have megabytes queued while the connection window (64 KiB at the start) holds them back.
        // Either copied into each channel's send buffer, or left in the writer's own buffer (WriteAsync).
        Task flushA = waitingInTheWritersBuffer ? a.Output.WriteAsync(new byte[2 << 20], Token).AsTask() : WriteThenFlush(a);
        Task flushB = waitingInTheWritersBuffer ? b.Output.WriteAsync(new byte[2 << 20], Token).AsTask() : WriteThenFlush(b);
        await WaitUntilAsync(() =>
        {
            lock (mux.Sync)
            {
                return a.SendCredit < 8 << 20 || b.SendCredit < 8 << 20;
            }
        });
        await peer.WindowUpdateAsync(0, 16 << 20);

        var order = new List<ushort>();
        long received = 0;
        while (order.Count < 60)
        {
            RawFrame frame = (await peer.NextAsync(Token))!;
            if (frame.Type == FrameType.Data)
            {
                order.Add(frame.ChannelId);
                received += frame.Payload.Length;
            }
        }

        int longestRun = order.Select((id, i) => order.Skip(i).TakeWhile(x => x == id).Count()).Max();
        order.Should().Contain([(ushort)1, (ushort)3]);
        longestRun.Should().BeLessThanOrEqualTo(2, "each channel sends one quantum, then the other gets a turn: " + string.Join(",", order));
        while (received < 4 << 20)
        {
            RawFrame frame = (await peer.NextAsync(Token))!;
            received += frame.Type == FrameType.Data ? frame.Payload.Length : 0;
        }

        await Task.WhenAll(flushA, flushB);

        Task WriteThenFlush(MultiplexedChannel channel)
        {
            channel.Output.Write(new byte[2 << 20]);
            return channel.Output.FlushAsync(Token).AsTask();
        }
    }

    /// <summary>
    /// A write beyond the window waits in the caller's buffer. Canceled, the caller owns its buffer
    /// again at once: what was not sent is copied and still sent, before anything written later.
    /// </summary>
    [Fact]
    public async Task AWriteWaitingForWindow_Canceled_IsStillSentInOrder_AndTheCallersBufferIsFree()
    {
        var options = new MultiplexerOptions { ChannelWindow = 16 * 1024 };
        var (console, agent) = await PlainPairAsync(Token, options, options);
        await using var _ = console;
        await using var __ = agent;
        var (opened, accepted) = await OpenPairAsync(console, agent, "fix", Token);
        byte[] first = ChannelTestKit.Random(100 * 1024);
        byte[] expected = [.. first, .. "after"u8.ToArray()];

        using var cancel = new CancellationTokenSource();
        Task<FlushResult> writing = opened.Output.WriteAsync(first, cancel.Token).AsTask();
        writing.IsCompleted.Should().BeFalse("only 16 KiB of window was granted and nobody reads yet");
        await cancel.CancelAsync();
        await FluentActions.Awaiting(() => writing).Should().ThrowAsync<OperationCanceledException>();
        Array.Clear(first); // the caller reuses its buffer: what was not sent must not change

        await opened.Output.WriteAsync("after"u8.ToArray(), Token);
        await opened.Output.CompleteAsync();
        (await ReadToEndAsync(accepted, Token)).Should().Equal(expected);
    }

    /// <summary>
    /// The transport is full (the peer does not read), so the writer waits in a flush: an empty
    /// write on another channel completes anyway, and that channel still sends once the peer reads.
    /// </summary>
    [Fact]
    public async Task AnEmptyWrite_CompletesWhileTheWriterWaitsForTheTransport()
    {
        var (peer, mux) = await RawPeer.StartAsync(Token, new MultiplexerOptions { KeepAliveInterval = Timeout.InfiniteTimeSpan });
        await using var _ = peer;
        await using var __ = mux;
        await peer.OpenAsync(1, 64 << 20, "bulk");
        await peer.OpenAsync(3, 64 << 20, "control");
        await peer.WindowUpdateAsync(0, 128 << 20);
        MultiplexedChannel bulk = (await mux.AcceptChannelAsync(Token))!;
        MultiplexedChannel control = (await mux.AcceptChannelAsync(Token))!;

        Task<FlushResult> bulkWriting = bulk.Output.WriteAsync(new byte[8 << 20], Token).AsTask();
        await WaitUntilAsync(() =>
        {
            lock (mux.Sync)
            {
                return bulk.SendCredit <= (64 << 20) - (1 << 20); // a megabyte framed: the transport pauses its writer
            }
        });
        bulkWriting.IsCompleted.Should().BeFalse("the peer reads nothing, so the transport holds the rest back");

        await control.Output.WriteAsync(ReadOnlyMemory<byte>.Empty, Token).AsTask().WaitAsync(TimeSpan.FromSeconds(5), Token);
        Task<FlushResult> controlWriting = control.Output.WriteAsync("status?"u8.ToArray(), Token).AsTask();

        long bulkBytes = 0;
        byte[]? controlBytes = null;
        while (bulkBytes < 8 << 20 || controlBytes is null)
        {
            RawFrame frame = (await peer.NextAsync(Token))!;
            if (frame.Type == FrameType.Data)
            {
                bulkBytes += frame.ChannelId == 1 ? frame.Payload.Length : 0;
                controlBytes = frame.ChannelId == 3 ? frame.Payload : controlBytes;
            }
        }

        controlBytes.Should().Equal("status?"u8.ToArray());
        await Task.WhenAll(bulkWriting, controlWriting);
    }

    /// <summary>A flush canceled before it commits leaves its bytes for the next flush, counted once: the channel returns to sending from the caller's buffer.</summary>
    [Fact]
    public async Task ACanceledFlush_DoesNotCountItsBytesTwice()
    {
        var (console, agent) = await PlainPairAsync(Token);
        await using var _ = console;
        await using var __ = agent;
        var (opened, accepted) = await OpenPairAsync(console, agent, "notes", Token);

        "first"u8.CopyTo(opened.Output.GetSpan(5));
        opened.Output.Advance(5);
        using var canceled = new CancellationTokenSource();
        await canceled.CancelAsync();
        await FluentActions.Awaiting(() => opened.Output.FlushAsync(canceled.Token).AsTask()).Should().ThrowAsync<OperationCanceledException>();
        await opened.Output.FlushAsync(Token);
        await opened.Output.WriteAsync("second"u8.ToArray(), Token);
        await opened.Output.CompleteAsync();

        (await ReadToEndAsync(accepted, Token)).Should().Equal("firstsecond"u8.ToArray());
        Interlocked.Read(ref opened.SendBuffered).Should().Be(0, "every byte flushed into the send buffer was sent, and counted once");
    }

    [Fact]
    public async Task AWriteWaitingForWindow_FailsWithTheReset_WhenThePeerResets()
    {
        var options = new MultiplexerOptions { ChannelWindow = 16 * 1024 };
        var (console, agent) = await PlainPairAsync(Token, options, options);
        await using var _ = console;
        await using var __ = agent;
        var (opened, accepted) = await OpenPairAsync(console, agent, "fix", Token);

        Task<FlushResult> writing = opened.Output.WriteAsync(new byte[100 * 1024], Token).AsTask();
        writing.IsCompleted.Should().BeFalse();
        accepted.Reset("no room on the unit");

        (await FluentActions.Awaiting(() => writing).Should().ThrowAsync<ChannelException>())
            .Which.Message.Should().Contain("no room on the unit");
    }

    [Fact]
    public async Task APeerThatPingsWithoutReading_IsCutOff_BeforeTheAnswersPileUp()
    {
        var small = new System.IO.Pipelines.PipeOptions(pauseWriterThreshold: 1024, resumeWriterThreshold: 512, useSynchronizationContext: false);
        var (peer, mux) = await RawPeer.StartAsync(Token, transport: new RemoteSupport.Transport.Transports.TransportOptions { InputPipeOptions = small, OutputPipeOptions = small });
        await using var _ = peer;
        await using var __ = mux;

        // The peer never reads: the answers can't leave, so they would queue without end.
        Task flooding = Task.Run(async () =>
        {
            for (int i = 0; i < 3 * MultiplexedConnection.MaxPendingControlFrames && !mux.Completion.IsCompleted; i++)
            {
                peer.Framed.WriteFrame(FrameType.Ping, FrameFlags.None, 0, new byte[8]);
                await peer.Framed.FlushAsync(Token);
            }
        });

        await mux.Completion.WaitAsync(Token);
        mux.Failure!.Error.Should().Be(ChannelError.ProtocolError);
        mux.Failure.Message.Should().Contain("pings faster than it reads");
        await FluentActions.Awaiting(() => flooding.WaitAsync(Token)).Should().NotThrowAsync<OperationCanceledException>();
    }

    [Fact]
    public async Task Ping_MeasuresTheRoundTrip()
    {
        var (console, agent) = await SecurePairAsync(Token);
        await using var _ = console;
        await using var __ = agent;

        TimeSpan rtt = await console.PingAsync(Token);

        rtt.Should().BeGreaterThan(TimeSpan.Zero);
        console.LastRoundTripTime.Should().Be(rtt);
    }

    [Fact]
    public async Task KeepAlive_PingsWhenSilent_AndClosesWhenThePeerDoesNotAnswer()
    {
        var time = new FakeTimeProvider();
        var options = new MultiplexerOptions { KeepAliveInterval = TimeSpan.FromSeconds(30), KeepAliveTimeout = TimeSpan.FromSeconds(10), TimeProvider = time };
        var (peer, mux) = await RawPeer.StartAsync(Token, options);
        await using var _ = peer;
        await using var __ = mux;

        time.Advance(TimeSpan.FromSeconds(30));
        RawFrame ping = await peer.NextOfTypeAsync(FrameType.Ping, Token);
        ping.Flags.Should().Be(FrameFlags.None);

        // The peer stays silent: after the timeout the connection closes with the reason.
        time.Advance(TimeSpan.FromSeconds(10));
        RawFrame goAway = await peer.NextOfTypeAsync(FrameType.GoAway, Token);
        goAway.Code.Should().Be((uint)ChannelError.KeepAliveTimeout);
        await mux.Completion.WaitAsync(Token);
        mux.Failure!.Error.Should().Be(ChannelError.KeepAliveTimeout);
    }

    [Fact]
    public async Task KeepAlive_AnAnsweredPing_KeepsTheConnection()
    {
        var time = new FakeTimeProvider();
        var options = new MultiplexerOptions { KeepAliveInterval = TimeSpan.FromSeconds(30), KeepAliveTimeout = TimeSpan.FromSeconds(10), TimeProvider = time };
        var (peer, mux) = await RawPeer.StartAsync(Token, options);
        await using var _ = peer;
        await using var __ = mux;

        for (int i = 0; i < 3; i++)
        {
            // One timer tick at a time (10 s, the shorter of the two), as a real clock would deliver them.
            time.Advance(TimeSpan.FromSeconds(10));
            time.Advance(TimeSpan.FromSeconds(10));
            time.Advance(TimeSpan.FromSeconds(10));
            RawFrame ping = await peer.NextOfTypeAsync(FrameType.Ping, Token);
            await peer.SendAsync(FrameType.Ping, FrameFlags.Ack, 0, ping.Payload);
            await WaitUntilAsync(() => mux.LastRoundTripTime is not null);
            mux.LastRoundTripTime = null;
        }

        mux.Failure.Should().BeNull();
        mux.Completion.IsCompleted.Should().BeFalse();
    }

    [Fact]
    public async Task GracefulShutdown_RefusesNewChannels_LetsOpenOnesFinish()
    {
        var (console, agent) = await SecurePairAsync(Token);
        await using var _ = console;
        await using var __ = agent;
        var (open, openAtAgent) = await OpenPairAsync(console, agent, "transfer", Token);

        Task shutdown = agent.ShutdownAsync("maintenance window", Token).AsTask();
        var refused = await FluentActions.Awaiting(() => console.OpenChannelAsync("late", Token).AsTask()).Should().ThrowAsync<ChannelException>();
        refused.Which.Error.Should().Be(ChannelError.Refused);
        shutdown.IsCompleted.Should().BeFalse("a channel is still open");

        // The open channel finishes both ways.
        await open.SendMessageAsync("last block"u8.ToArray(), Token);
        await open.Output.CompleteAsync();
        (await openAtAgent.ReceiveMessageAsync(Token)).Should().Equal("last block"u8.ToArray());
        (await openAtAgent.ReceiveMessageAsync(Token)).Should().BeNull();
        await openAtAgent.Output.CompleteAsync();
        (await open.ReceiveMessageAsync(Token)).Should().BeNull();

        await shutdown.WaitAsync(Token);
        await agent.Completion.WaitAsync(Token);
        await console.Completion.WaitAsync(Token);
        agent.Failure.Should().BeNull();
        (await console.AcceptChannelAsync(Token)).Should().BeNull();
    }

    [Fact]
    public async Task AGracefulGoAwayInTheClear_IsIgnoredOnASealedLink()
    {
        // Someone on the line injects an unauthenticated "graceful close" before any sealed frame.
        var (console, agent) = await SecurePairAsync(Token, beforeStart: async secure =>
        {
            secure.Framed.WriteFrame(FrameType.GoAway, FrameFlags.None, 0, [0, 0, 0, 0, (byte)'b', (byte)'y', (byte)'e']);
            await secure.Framed.FlushAsync(Token);
        });
        await using var _ = console;
        await using var __ = agent;

        var (opened, accepted) = await OpenPairAsync(agent, console, "still open for business", Token);

        opened.Id.Should().Be(2);
        accepted.Name.Should().Be("still open for business");
        agent.Failure.Should().BeNull();
    }

    [Fact]
    public async Task Abort_FailsThePeersChannels_WithTheReason()
    {
        var (console, agent) = await SecurePairAsync(Token);
        await using var _ = console;
        await using var __ = agent;
        var (_, atAgent) = await OpenPairAsync(console, agent, "control", Token);

        await console.AbortAsync("the technician hung up");

        var failure = await FluentActions.Awaiting(async () => await atAgent.ReceiveMessageAsync(Token)).Should().ThrowAsync<ChannelException>();
        failure.Which.ByPeer.Should().BeTrue();
        failure.Which.Message.Should().Contain("the technician hung up");
        await agent.Completion.WaitAsync(Token);
        agent.ChannelCount.Should().Be(0);
    }

    [Fact]
    public async Task AMessageOverTheLimit_ResetsTheChannel_BeforeAnythingIsAllocatedForIt()
    {
        var options = new MultiplexerOptions { MaxMessageSize = 1024 };
        var (peer, mux) = await RawPeer.StartAsync(Token, options);
        await using var _ = peer;
        await using var __ = mux;
        await peer.OpenAsync(1, 65536);
        MultiplexedChannel channel = (await mux.AcceptChannelAsync(Token))!;

        await peer.SendAsync(FrameType.Data, FrameFlags.None, 1, [0x7f, 0xff, 0xff, 0xff, 1, 2, 3]);

        var failure = await FluentActions.Awaiting(async () => await channel.ReceiveMessageAsync(Token)).Should().ThrowAsync<ChannelException>();
        failure.Which.Error.Should().Be(ChannelError.MessageTooLarge);
        (await peer.NextOfTypeAsync(FrameType.ChannelReset, Token)).Code.Should().Be((uint)ChannelError.MessageTooLarge);
    }

    /// <summary>A receive canceled in the middle of a message keeps what it took: the next receive returns the whole message.</summary>
    [Fact]
    public async Task AReceiveCanceledInsideAMessage_LosesNothing()
    {
        var (console, agent) = await PlainPairAsync(Token);
        await using var _ = console;
        await using var __ = agent;
        var (a, b) = await OpenPairAsync(console, agent, "notes", Token);
        byte[] message = ChannelTestKit.Random(10_000);

        // The length and the first half only: the receiver takes them, then waits for the rest.
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(a.Output.GetSpan(4), (uint)message.Length);
        a.Output.Advance(4);
        await a.Output.WriteAsync(message.AsMemory(0, 5_000), Token);
        using var cancel = new CancellationTokenSource();
        Task<byte[]?> receiving = b.ReceiveMessageAsync(cancel.Token).AsTask();
        await WaitUntilAsync(() =>
        {
            lock (agent.Sync)
            {
                return b.Consumed == 4 + 5_000;
            }
        });
        await cancel.CancelAsync();
        await FluentActions.Awaiting(() => receiving).Should().ThrowAsync<OperationCanceledException>();

        await a.Output.WriteAsync(message.AsMemory(5_000), Token);
        (await b.ReceiveMessageAsync(Token)).Should().Equal(message);
        await a.SendMessageAsync("next"u8.ToArray(), Token);
        (await b.ReceiveMessageAsync(Token)).Should().Equal("next"u8.ToArray());
    }

    [Fact]
    public async Task AMessageLargerThanTheWindow_StillArrives()
    {
        var options = new MultiplexerOptions { ChannelWindow = 8 * 1024 };
        var (console, agent) = await PlainPairAsync(Token, options, options);
        await using var _ = console;
        await using var __ = agent;
        var (a, b) = await OpenPairAsync(console, agent, "big", Token);
        byte[] message = ChannelTestKit.Random(1_000_000);

        Task sending = a.SendMessageAsync(message, Token).AsTask();
        (await b.ReceiveMessageAsync(Token)).Should().Equal(message);
        await sending;
    }

    private async Task WaitUntilAsync(Func<bool> condition)
    {
        while (!condition())
        {
            await Task.Delay(5, Token);
        }
    }
}
