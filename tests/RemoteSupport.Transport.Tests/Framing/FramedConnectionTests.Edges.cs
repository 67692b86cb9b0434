using System.Buffers;
using System.IO.Pipelines;
using RemoteSupport.Transport.Framing;
using RemoteSupport.Transport.Transports;

namespace RemoteSupport.Transport.Tests.Framing;

/// <summary>The framed connection's edges: options, the one-writer rule, GoAway's size, each timeout exactly, and the preface exchange failing.</summary>
public sealed partial class FramedConnectionTests
{
    [Theory]
    [InlineData(1024, true)]
    [InlineData(16 * 1024 * 1024, true)]
    [InlineData(1023, false)]
    [InlineData(16 * 1024 * 1024 + 1, false)]
    public void Options_MaxFramePayload_WithinItsRange(int max, bool valid)
    {
        var validate = () => new FramingOptions { MaxFramePayload = max }.Validate();
        if (valid)
        {
            validate.Should().NotThrow();
        }
        else
        {
            validate.Should().Throw<ArgumentOutOfRangeException>().WithMessage("MaxFramePayload must be within [1024, 16777216].*")
                .Which.ParamName.Should().Be("MaxFramePayload");
        }
    }

    [Fact]
    public void Options_EachTimeoutPositiveOrInfinite_TheRateZeroOrPositive_AClock()
    {
        TimeSpan tick = TimeSpan.FromTicks(1);
        new FramingOptions { HandshakeTimeout = tick, IdleTimeout = tick, MinDataRateGracePeriod = tick, MinDataRate = 0 }.Validate();
        new FramingOptions
        {
            HandshakeTimeout = Timeout.InfiniteTimeSpan, IdleTimeout = Timeout.InfiniteTimeSpan, MinDataRateGracePeriod = Timeout.InfiniteTimeSpan, MinDataRate = 0.5,
        }.Validate();

        Refused(new FramingOptions { HandshakeTimeout = TimeSpan.Zero }).Should().Be("HandshakeTimeout");
        FluentActions.Invoking(new FramingOptions { IdleTimeout = TimeSpan.Zero }.Validate).Should().Throw<ArgumentOutOfRangeException>()
            .WithMessage("IdleTimeout must be positive or Timeout.InfiniteTimeSpan.*");
        FluentActions.Invoking(new FramingOptions { MinDataRate = -1 }.Validate).Should().Throw<ArgumentOutOfRangeException>()
            .WithMessage("MinDataRate must be 0 (off) or a positive number of bytes per second.*");
        Refused(new FramingOptions { IdleTimeout = TimeSpan.FromSeconds(-2) }).Should().Be("IdleTimeout");
        Refused(new FramingOptions { MinDataRateGracePeriod = TimeSpan.Zero }).Should().Be("MinDataRateGracePeriod");
        Refused(new FramingOptions { MinDataRate = -0.001 }).Should().Be("MinDataRate");
        Refused(new FramingOptions { MinDataRate = double.NaN }).Should().Be("MinDataRate");
        Refused(new FramingOptions { MinDataRate = double.PositiveInfinity }).Should().Be("MinDataRate");
        FluentActions.Invoking(() => new FramingOptions { TimeProvider = null! }.Validate()).Should().Throw<ArgumentNullException>();

        static string? Refused(FramingOptions options) =>
            FluentActions.Invoking(options.Validate).Should().Throw<ArgumentOutOfRangeException>().Which.ParamName;
    }

    [Fact]
    public async Task Start_WithoutATransport_OrWithOptionsOutOfRange_Throws()
    {
        await FluentActions.Awaiting(async () => await FramedConnection.StartAsync(null!)).Should().ThrowAsync<ArgumentNullException>();
        (TransportConnection a, _) = InMemoryTransport.CreatePair(InlineTransport);
        (await FluentActions.Awaiting(async () => await FramedConnection.StartAsync(a, new FramingOptions { MaxFramePayload = 100 }))
            .Should().ThrowAsync<ArgumentOutOfRangeException>()).Which.ParamName.Should().Be("MaxFramePayload");
    }

    [Fact]
    public Task OneWriterAtATime_AFrameBegunBlocksOtherWrites_UntilCommittedOrAbandoned() => WithoutSynchronizationContext(async () =>
    {
        (FramedConnection client, FramedConnection server) = await ConnectAsync();

        Span<byte> place = client.BeginFrame(FrameType.Data, FrameFlags.None, 5, 3);
        place.Length.Should().Be(3);
        "abc"u8.CopyTo(place);
        FluentActions.Invoking(() => client.WriteFrame(FrameType.Data, FrameFlags.None, 1, "x"u8))
            .Should().Throw<InvalidOperationException>().WithMessage("Another write or flush is in progress; a framed connection has one writer at a time.");
        await FluentActions.Awaiting(async () => await client.FlushAsync()).Should().ThrowAsync<InvalidOperationException>();
        FluentActions.Invoking(() => client.WriteFrame(FrameType.Data, FrameFlags.None, 1, Segments.Of([1], [2])))
            .Should().Throw<InvalidOperationException>();
        client.CommitFrame(3);
        client.BeginFrame(FrameType.Data, FrameFlags.None, 6, 10);
        client.AbandonFrame();
        client.WriteFrame(FrameType.Data, FrameFlags.None, 7, new ReadOnlySequence<byte>("de"u8.ToArray()));
        await client.FlushAsync();

        Frame first = (await server.ReadFrameAsync()).Frame;
        (first.ChannelId, first.Payload.ToArray()).Should().BeEquivalentTo(((ushort)5, "abc"u8.ToArray()));
        Frame second = (await server.ReadFrameAsync()).Frame;
        (second.ChannelId, second.Payload.ToArray()).Should().BeEquivalentTo(((ushort)7, "de"u8.ToArray()), "the abandoned frame was never written");
    });

    [Fact]
    public Task EachWriteRefusesMoreThanThePeerAccepts_AndTakesExactlyThat() => WithoutSynchronizationContext(async () =>
    {
        (FramedConnection client, FramedConnection server) = await ConnectAsync(clientMax: 65536, serverMax: 1024);

        FluentActions.Invoking(() => client.BeginFrame(FrameType.Data, FrameFlags.None, 1, 1025))
            .Should().Throw<ArgumentException>().Which.ParamName.Should().Be("payloadLength");
        FluentActions.Invoking(() => client.WriteFrame(FrameType.Data, FrameFlags.None, 1, Segments.Of(new byte[1000], new byte[25])))
            .Should().Throw<ArgumentException>().WithMessage("The payload is 1025 bytes; the peer accepts at most 1024 per frame.*");
        client.BeginFrame(FrameType.Data, FrameFlags.None, 1, 1024);
        client.CommitFrame(1024);
        client.WriteFrame(FrameType.Data, FrameFlags.None, 2, Segments.Of(new byte[1000], new byte[24]));
        await client.FlushAsync();

        (await server.ReadFrameAsync()).Frame.Payload.Length.Should().Be(1024);
        (await server.ReadFrameAsync()).Frame.Payload.Length.Should().Be(1024);
    });

    [Fact]
    public Task AfterDispose_WritesAreRefusedWithTheReason_AndReadsReportTheEnd() => WithoutSynchronizationContext(async () =>
    {
        (FramedConnection client, _) = await ConnectAsync();

        await client.DisposeAsync();

        FluentActions.Invoking(() => client.WriteFrame(FrameType.Data, FrameFlags.None, 1, "x"u8))
            .Should().Throw<InvalidOperationException>().WithMessage("The connection is closed for writing (LocalClose: The connection was disposed.).");
        FrameReadResult end = await client.ReadFrameAsync();
        (end.IsCompleted, end.IsCanceled, end.HasFrame).Should().Be((true, false, false));
        client.CloseReason.Should().Be(ConnectionCloseReason.LocalClose);
        await client.CloseAsync("closed twice"); // nothing more is written: the output is complete
    });

    [Fact]
    public Task AReadWaitingWhenTheConnectionIsDisposed_Returns() => WithoutSynchronizationContext(async () =>
    {
        (FramedConnection client, _) = await ConnectAsync();
        ValueTask<FrameReadResult> waiting = client.ReadFrameAsync();
        waiting.IsCompleted.Should().BeFalse();

        await client.DisposeAsync();

        FrameReadResult result = await waiting;
        result.HasFrame.Should().BeFalse();
    });

    [Fact]
    public Task Close_SendsGoAwayWithTheReason_CutToFitInAGoAwayOf512Bytes() => WithoutSynchronizationContext(async () =>
    {
        (TransportConnection raw, FramedConnection server) = await ConnectRawAsync();

        await server.CloseAsync(new string('é', 600));

        (uint code, string reason) = await ReadGoAwayAsync(raw);
        code.Should().Be(0);
        reason.Should().Be(new string('é', 254), "508 bytes of reason after the 4-byte code: 254 two-byte characters");
        server.CloseReason.Should().Be(ConnectionCloseReason.LocalClose);
        server.Transport.CloseDetail.Should().Be(new string('é', 600));
        (await FluentActions.Awaiting(async () => await server.CloseAsync(null!)).Should().ThrowAsync<ArgumentNullException>()).Which.ParamName.Should().Be("reason");
    });

    [Theory]
    [InlineData(508, 508)]
    [InlineData(509, 508)]
    [InlineData(0, 0)]
    public Task Close_AnAsciiReason_IsSentWholeUpTo508Bytes(int length, int sent) => WithoutSynchronizationContext(async () =>
    {
        (TransportConnection raw, FramedConnection server) = await ConnectRawAsync();

        await server.CloseAsync(new string('r', length));

        (await ReadGoAwayAsync(raw)).Reason.Should().Be(new string('r', sent));
    });

    [Fact]
    public Task ShutdownOutput_SendsGoAwayAndEndsTheOutput_WhileTheInputStaysOpen() => WithoutSynchronizationContext(async () =>
    {
        (FramedConnection client, FramedConnection server) = await ConnectAsync();

        await server.ShutdownOutputAsync("draining");

        FrameReadResult goAway = await client.ReadFrameAsync();
        goAway.Frame.Type.Should().Be(FrameType.GoAway);
        goAway.Frame.Payload.ToArray()[4..].Should().Equal("draining"u8.ToArray());
        (await client.ReadFrameAsync()).IsCompleted.Should().BeTrue();
        client.WriteFrame(FrameType.Data, FrameFlags.None, 3, "late"u8);
        await client.FlushAsync();
        (await server.ReadFrameAsync()).Frame.Payload.ToArray().Should().Equal("late"u8.ToArray());
        server.CloseReason.Should().Be(ConnectionCloseReason.LocalClose);
        server.Transport.CloseDetail.Should().Be("draining");
    });

    [Fact]
    public Task CancelPendingIo_AWaitingRead_ReturnsCanceled_AndTheNextReadGetsTheFrame() => WithoutSynchronizationContext(async () =>
    {
        (FramedConnection client, FramedConnection server) = await ConnectAsync();

        ValueTask<FrameReadResult> waiting = server.ReadFrameAsync();
        server.CancelPendingIo();
        FrameReadResult canceled = await waiting;
        server.CancelPendingIo();
        FrameReadResult canceledBeforeReading = await server.ReadFrameAsync();
        client.WriteFrame(FrameType.Data, FrameFlags.None, 1, "after"u8);
        await client.FlushAsync();

        (canceled.IsCanceled, canceled.IsCompleted, canceledBeforeReading.IsCanceled, canceledBeforeReading.IsCompleted).Should().Be((true, false, true, false));
        (await server.ReadFrameAsync()).Frame.Payload.ToArray().Should().Equal("after"u8.ToArray());
        server.CloseReason.Should().Be(ConnectionCloseReason.None);
    });

    [Fact]
    public Task CancelPendingIo_AFlushWaitingForAPeerThatDoesNotRead_ReturnsCanceled() => WithoutSynchronizationContext(async () =>
    {
        var small = new PipeOptions(readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline, pauseWriterThreshold: 2048, resumeWriterThreshold: 1024, useSynchronizationContext: false);
        (TransportConnection a, TransportConnection b) = InMemoryTransport.CreatePair(new TransportOptions { InputPipeOptions = small, OutputPipeOptions = small });
        ValueTask<FramedConnection> clientStart = FramedConnection.StartAsync(a, Framing());
        FramedConnection server = await FramedConnection.StartAsync(b, Framing());
        FramedConnection client = await clientStart;
        client.WriteFrame(FrameType.Data, FrameFlags.None, 1, new byte[4096]);

        ValueTask<FlushResult> flush = client.FlushAsync();
        flush.IsCompleted.Should().BeFalse("the server reads nothing and the pipe holds at most 2 KiB");
        client.CancelPendingIo();

        (await flush).IsCanceled.Should().BeTrue();
        (await server.ReadFrameAsync()).Frame.Payload.Length.Should().Be(4096);
    });

    [Fact]
    public Task IdleTimeout_NamesItsLength_AndRestartsAfterEachFrame() => WithoutSynchronizationContext(async () =>
    {
        (TransportConnection raw, FramedConnection server) = await ConnectRawAsync();
        ValueTask<FrameReadResult> first = server.ReadFrameAsync();
        _time.Advance(TimeSpan.FromSeconds(100));
        await raw.Output.WriteAsync((byte[])[.. FrameCodecTests.Header(1, FrameType.Data, FrameFlags.None, 1), 1]);
        (await first).HasFrame.Should().BeTrue();

        ValueTask<FrameReadResult> second = server.ReadFrameAsync();
        _time.Advance(TimeSpan.FromSeconds(119));
        second.IsCompleted.Should().BeFalse("the idle timeout counts from the last frame, not from the first read");
        _time.Advance(TimeSpan.FromSeconds(1));

        FramingException error = await ReadFailureAsync(second);
        error.Message.Should().Be("Nothing arrived for 120 s (idle timeout).");
        error.Error.Should().Be(FramingError.Timeout);
    });

    [Fact]
    public Task TimeoutsSetToInfinite_AndARateOfZero_NeverClose() => WithoutSynchronizationContext(async () =>
    {
        var options = new FramingOptions { TimeProvider = _time, IdleTimeout = Timeout.InfiniteTimeSpan, MinDataRate = 0 };
        (TransportConnection raw, FramedConnection server) = await ConnectRawAsync(options);

        ValueTask<FrameReadResult> read = server.ReadFrameAsync();
        _time.Advance(TimeSpan.FromDays(3));
        read.IsCompleted.Should().BeFalse();
        await raw.Output.WriteAsync(FrameCodecTests.Header(2, FrameType.Data, FrameFlags.None, 1));
        _time.Advance(TimeSpan.FromDays(3));
        read.IsCompleted.Should().BeFalse();
        await raw.Output.WriteAsync((byte[])[4, 2]);

        (await read).Frame.Payload.ToArray().Should().Equal(4, 2);
        server.CloseReason.Should().Be(ConnectionCloseReason.None);
    });

    [Fact]
    public Task AnIncompleteHeader_GetsTheGracePeriodExactly() => WithoutSynchronizationContext(async () =>
    {
        (TransportConnection raw, FramedConnection server) = await ConnectRawAsync();

        ValueTask<FrameReadResult> read = server.ReadFrameAsync();
        await raw.Output.WriteAsync((byte[])[0, 0, 0, 1]);
        _time.Advance(TimeSpan.FromSeconds(5) - TimeSpan.FromMilliseconds(1));
        read.IsCompleted.Should().BeFalse();
        _time.Advance(TimeSpan.FromMilliseconds(1));

        FramingException error = await ReadFailureAsync(read);
        error.CloseReason.Should().Be(ConnectionCloseReason.MinDataRate);
        error.Message.Should().Be("A frame arrived slower than 240 bytes/s after a 5 s grace period (4 bytes had arrived).");
    });

    [Fact]
    public Task AStartedFrame_GetsTheGracePeriodPlusItsSizeAtTheMinimumRate() => WithoutSynchronizationContext(async () =>
    {
        (TransportConnection raw, FramedConnection server) = await ConnectRawAsync();

        ValueTask<FrameReadResult> read = server.ReadFrameAsync();
        await raw.Output.WriteAsync((byte[])[.. FrameCodecTests.Header(1000, FrameType.Data, FrameFlags.None, 1), 1]);
        _time.Advance(TimeSpan.FromSeconds(4));
        await raw.Output.WriteAsync((byte[])[2, 3]); // more bytes do not restart the frame's clock
        _time.Advance(TimeSpan.FromSeconds(5.2) - TimeSpan.FromMilliseconds(1)); // 5 s + 1008 bytes / 240 bytes/s = 9.2 s in all
        read.IsCompleted.Should().BeFalse();
        _time.Advance(TimeSpan.FromMilliseconds(1));

        FramingException error = await ReadFailureAsync(read);
        error.CloseReason.Should().Be(ConnectionCloseReason.MinDataRate);
        error.Message.Should().EndWith("(11 bytes had arrived).");
    });

    [Fact]
    public Task HandshakeTimeout_NamesHowMuchOfThePrefaceCame() => WithoutSynchronizationContext(async () =>
    {
        (TransportConnection raw, TransportConnection server) = InMemoryTransport.CreatePair(InlineTransport);
        await raw.Output.WriteAsync((byte[])[0x52, 0x53, 0x55, 0x50, 1]);

        ValueTask<FramedConnection> start = FramedConnection.StartAsync(server, Framing());
        _time.Advance(TimeSpan.FromSeconds(9.999));
        start.IsCompleted.Should().BeFalse();
        _time.Advance(TimeSpan.FromMilliseconds(1));

        FramingException error = (await FluentActions.Awaiting(async () => await start).Should().ThrowAsync<FramingException>()).Which;
        error.Message.Should().Be("The peer's preface did not arrive within 10 s (5 of 12 bytes).");
        error.Error.Should().Be(FramingError.Timeout);
    });

    [Fact]
    public Task HandshakeTimeoutInfinite_WaitsForThePreface() => WithoutSynchronizationContext(async () =>
    {
        (TransportConnection raw, TransportConnection server) = InMemoryTransport.CreatePair(InlineTransport);

        ValueTask<FramedConnection> start = FramedConnection.StartAsync(server, new FramingOptions { TimeProvider = _time, HandshakeTimeout = Timeout.InfiniteTimeSpan });
        _time.Advance(TimeSpan.FromDays(1));
        start.IsCompleted.Should().BeFalse();
        var preface = new ArrayBufferWriter<byte>();
        FrameCodec.WritePreface(preface, 2048);
        await raw.Output.WriteAsync(preface.WrittenMemory);

        (await start).PeerMaxFramePayload.Should().Be(2048);
    });

    [Fact]
    public Task APeerEndingInsideThePreface_IsATruncation_AndIsToldSo() => WithoutSynchronizationContext(async () =>
    {
        (TransportConnection raw, TransportConnection server) = InMemoryTransport.CreatePair(InlineTransport);
        await raw.Output.WriteAsync((byte[])[0x52, 0x53, 0x55, 0x50, 1, 0]);
        await raw.Output.CompleteAsync();

        FramingException error = (await FluentActions.Awaiting(async () => await FramedConnection.StartAsync(server, Framing())).Should().ThrowAsync<FramingException>()).Which;

        error.Message.Should().Be("The connection ended inside the preface (6 of 12 bytes).");
        error.Error.Should().Be(FramingError.TruncatedFrame);
        server.CloseReason.Should().Be(ConnectionCloseReason.ProtocolError);
        ReadResult sent = await raw.Input.ReadAsync();
        ReadOnlySequence<byte> afterPreface = sent.Buffer.Slice(FrameCodec.PrefaceSize);
        SequencePosition consumed = afterPreface.Start, examined = consumed;
        FrameCodec.TryReadFrame(afterPreface, 65536, ref consumed, ref examined, out Frame goAway).Should().BeTrue();
        goAway.Type.Should().Be(FrameType.GoAway);
        goAway.Payload.FirstSpan[3].Should().Be((byte)FramingError.TruncatedFrame);
        goAway.Payload.Length.Should().Be(4 + error.Message.Length, "a GoAway before the peer's maximum is known still carries the whole short reason");
    });

    [Fact]
    public Task ThePrefaceExchangeCanceled_IsAborted_ATransportFailure_IsATransportError() => WithoutSynchronizationContext(async () =>
    {
        (TransportConnection peer, TransportConnection quiet) = InMemoryTransport.CreatePair(InlineTransport);
        using var cancel = new CancellationTokenSource();
        ValueTask<FramedConnection> start = FramedConnection.StartAsync(quiet, Framing(), cancel.Token);
        cancel.Cancel();
        await FluentActions.Awaiting(async () => await start).Should().ThrowAsync<OperationCanceledException>();
        quiet.CloseReason.Should().Be(ConnectionCloseReason.Aborted);
        quiet.CloseDetail.Should().StartWith("The preface exchange failed: ");
        ReadResult left = await peer.Input.ReadAsync();
        (left.Buffer.Length, left.IsCompleted).Should().Be((FrameCodec.PrefaceSize, true), "the failed side is disposed: its preface, then the end");

        (TransportConnection raw, TransportConnection broken) = InMemoryTransport.CreatePair(InlineTransport);
        ValueTask<FramedConnection> failing = FramedConnection.StartAsync(broken, Framing());
        await raw.Output.CompleteAsync(new IOException("connection reset"));
        await FluentActions.Awaiting(async () => await failing).Should().ThrowAsync<IOException>().WithMessage("connection reset");
        broken.CloseReason.Should().Be(ConnectionCloseReason.TransportError);
        broken.CloseDetail.Should().Be("The preface exchange failed: connection reset");
    });

    [Fact]
    public Task APeerEndingAtAFrameBoundary_IsRecordedAsSuch_AndLaterReadsSeeTheEnd() => WithoutSynchronizationContext(async () =>
    {
        (TransportConnection raw, FramedConnection server) = await ConnectRawAsync();
        await raw.Output.WriteAsync((byte[])[.. FrameCodecTests.Header(1, FrameType.Data, FrameFlags.None, 1), 9]);
        await raw.Output.CompleteAsync();

        (await server.ReadFrameAsync()).Frame.Payload.ToArray().Should().Equal(9);
        FrameReadResult end = await server.ReadFrameAsync();
        (end.IsCompleted, end.IsCanceled).Should().Be((true, false));
        FrameReadResult after = await server.ReadFrameAsync();
        (after.IsCompleted, after.IsCanceled).Should().Be((true, false));
        server.Transport.CloseDetail.Should().Be("The peer ended the connection.");
    });

    [Fact]
    public Task AfterAProtocolViolation_LaterReadsSeeTheEnd_AndThePeerGetsGoAwayThenTheEnd() => WithoutSynchronizationContext(async () =>
    {
        (TransportConnection raw, FramedConnection server) = await ConnectRawAsync();
        await raw.Output.WriteAsync(FrameCodecTests.Header(9, FrameType.Ping, FrameFlags.None, 0));

        (await ReadErrorAsync(server)).Error.Should().Be(FramingError.InvalidPayloadLength);
        (await server.ReadFrameAsync()).IsCompleted.Should().BeTrue();
        FluentActions.Invoking(() => server.WriteFrame(FrameType.Data, FrameFlags.None, 1, "x"u8)).Should().Throw<InvalidOperationException>();
        (await ReadGoAwayAsync(raw)).Code.Should().Be((uint)FramingError.InvalidPayloadLength);
        using var bounded = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        (await raw.Input.ReadAsync(bounded.Token)).IsCompleted.Should().BeTrue("the connection is disposed after its GoAway");
    });

    [Fact]
    public Task AFrameCutShort_BehindAWholeOneInTheLastRead_ClosesWithProtocolError() => WithoutSynchronizationContext(async () =>
    {
        (TransportConnection raw, FramedConnection server) = await ConnectRawAsync();
        await raw.Output.WriteAsync((byte[])[.. FrameCodecTests.Header(1, FrameType.Data, FrameFlags.None, 1), 5, .. FrameCodecTests.Header(4, FrameType.Data, FrameFlags.None, 1), 1]);
        await raw.Output.CompleteAsync();

        (await server.ReadFrameAsync()).Frame.Payload.ToArray().Should().Equal(5);
        FramingException error = await ReadErrorAsync(server);

        (error.Error, error.Message).Should().Be((FramingError.TruncatedFrame, "The connection terminated while reading a frame (9 bytes of it had arrived)."));
        server.CloseReason.Should().Be(ConnectionCloseReason.ProtocolError);
        (await ReadGoAwayAsync(raw)).Code.Should().Be((uint)FramingError.TruncatedFrame);
    });

    private static async Task<FramingException> ReadFailureAsync(ValueTask<FrameReadResult> read)
    {
        try
        {
            FrameReadResult result = await read;
            throw new Xunit.Sdk.XunitException($"Expected a FramingException, got {(result.HasFrame ? result.Frame.ToString() : "the end")}.");
        }
        catch (FramingException ex)
        {
            return ex;
        }
    }
}
