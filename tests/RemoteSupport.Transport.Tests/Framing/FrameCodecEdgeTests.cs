using System.Buffers;
using System.Buffers.Binary;
using RemoteSupport.Transport.Framing;
using RemoteSupport.Transport.Transports;

namespace RemoteSupport.Transport.Tests.Framing;

/// <summary>The codec at its boundaries: each limit exactly and one past it, each refusal by its sentence.</summary>
public class FrameCodecEdgeTests
{
    [Theory]
    [InlineData(1024)]
    [InlineData(16 * 1024 * 1024)]
    public void Preface_AtEachLimitOfTheMaximum_IsWrittenAndRead(int max)
    {
        // Written over a buffer of 0xFF: the reserved field is written as zeros, not left as it was.
        byte[] buffer = Enumerable.Repeat((byte)0xFF, 32).ToArray();
        var output = new FixedBufferWriter(buffer);
        FrameCodec.WritePreface(output, max);

        output.Written.Should().Be(FrameCodec.PrefaceSize);
        buffer[..12].Should().Equal(0x52, 0x53, 0x55, 0x50, 1, 0, 0, 0, (byte)(max >> 24), (byte)(max >> 16), (byte)(max >> 8), (byte)max);
        var input = new ReadOnlySequence<byte>(buffer, 0, FrameCodec.PrefaceSize);
        SequencePosition consumed = input.Start, examined = input.Start;
        FrameCodec.TryReadPreface(input, ref consumed, ref examined, out byte major, out byte minor, out int peerMax).Should().BeTrue();
        (major, minor, peerMax).Should().Be(((byte)1, (byte)0, max));
        consumed.Should().Be(input.End);
        examined.Should().Be(input.End);
    }

    [Theory]
    [InlineData(1023)]
    [InlineData(16 * 1024 * 1024 + 1)]
    [InlineData(0)]
    public void WritePreface_MaximumOutsideTheRange_Throws(int max)
    {
        FluentActions.Invoking(() => FrameCodec.WritePreface(new ArrayBufferWriter<byte>(), max))
            .Should().Throw<ArgumentOutOfRangeException>().Which.Message.Should().Contain("[1024, 16777216]");
    }

    [Fact]
    public void WritePreface_WithoutAnOutput_Throws()
    {
        FluentActions.Invoking(() => FrameCodec.WritePreface(null!, 65536)).Should().Throw<ArgumentNullException>().Which.ParamName.Should().Be("output");
    }

    [Fact]
    public void Preface_ANewerMinorVersion_IsAccepted_AndReported()
    {
        byte[] preface = [0x52, 0x53, 0x55, 0x50, 1, 7, 0xAB, 0xCD, 0, 1, 0, 0];
        var input = new ReadOnlySequence<byte>(preface);
        SequencePosition consumed = input.Start, examined = input.Start;

        FrameCodec.TryReadPreface(input, ref consumed, ref examined, out byte major, out byte minor, out int max).Should().BeTrue();

        (major, minor, max).Should().Be(((byte)1, (byte)7, 65536), "the reserved field is not read");
    }

    [Fact]
    public void Preface_ThreeBytesOfTheWrongMagic_WaitForTheFourth()
    {
        var input = new ReadOnlySequence<byte>("GET"u8.ToArray());
        SequencePosition consumed = input.Start, examined = input.Start;

        FrameCodec.TryReadPreface(input, ref consumed, ref examined, out _, out _, out int max).Should().BeFalse();

        max.Should().Be(0);
        consumed.Should().Be(input.Start);
        examined.Should().Be(input.End);
    }

    [Fact]
    public void Preface_ElevenGoodBytes_WaitForTheTwelfth_ConsumingNothing()
    {
        var output = new ArrayBufferWriter<byte>();
        FrameCodec.WritePreface(output, 65536);
        var input = new ReadOnlySequence<byte>(output.WrittenMemory[..11]);
        SequencePosition consumed = input.Start, examined = input.Start;

        FrameCodec.TryReadPreface(input, ref consumed, ref examined, out byte major, out _, out _).Should().BeFalse();

        major.Should().Be(0);
        consumed.Should().Be(input.Start);
        examined.Should().Be(input.End);
    }

    [Fact]
    public void Preface_AfterBytesAlreadyConsumed_IsReadFromTheConsumedPosition()
    {
        var output = new ArrayBufferWriter<byte>();
        output.Write("xyz"u8);
        FrameCodec.WritePreface(output, 4096);
        output.Write("tail"u8);
        ReadOnlySequence<byte> input = Segments.Of(output.WrittenSpan[..5].ToArray(), output.WrittenSpan[5..].ToArray());
        SequencePosition consumed = input.GetPosition(3), examined = consumed;

        FrameCodec.TryReadPreface(input, ref consumed, ref examined, out _, out _, out int max).Should().BeTrue();

        max.Should().Be(4096);
        input.Slice(consumed).ToArray().Should().Equal("tail"u8.ToArray());
        examined.Should().Be(consumed);
    }

    [Fact]
    public void Preface_Refusals_NameWhatIsWrong()
    {
        Refusal([0x47, 0x45, 0x54, 0x20]).Message.Should().Be("The peer does not speak RemoteSupport framing: its first bytes are 47455420, not 52535550 ('RSUP').");
        FramingException version = Refusal([0x52, 0x53, 0x55, 0x50, 2, 3, 0, 0, 0, 1, 0, 0]);
        version.Message.Should().Be("The peer speaks framing version 2.3; this side speaks 1.0.");
        version.Error.Should().Be(FramingError.UnsupportedVersion);
        version.CloseReason.Should().Be(ConnectionCloseReason.ProtocolError);
        FramingException small = Refusal([0x52, 0x53, 0x55, 0x50, 1, 0, 0, 0, 0, 0, 0x03, 0xFF]);
        small.Message.Should().Be("The peer advertises a maximum frame payload of 1023, outside [1024, 16777216].");
        small.Error.Should().Be(FramingError.BadPreface);
        Refusal([0x52, 0x53, 0x55, 0x50, 1, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF]).Message.Should().Contain("of 4294967295, outside");

        static FramingException Refusal(byte[] bytes)
        {
            var input = new ReadOnlySequence<byte>(bytes);
            SequencePosition consumed = input.Start, examined = input.Start;
            return FluentActions.Invoking(() => FrameCodec.TryReadPreface(input, ref consumed, ref examined, out _, out _, out _))
                .Should().Throw<FramingException>().Which;
        }
    }

    [Theory]
    [InlineData(FrameType.Data, 0x01, 5, true)]
    [InlineData(FrameType.Data, 0x01, 0, true)]
    [InlineData(FrameType.Handshake, 0x00, 1, true)]
    [InlineData(FrameType.Ping, 0x00, 8, true)]
    [InlineData(FrameType.GoAway, 0x00, 4, true)]
    [InlineData(FrameType.GoAway, 0x00, 1024, true)]
    [InlineData(FrameType.ChannelOpen, 0x00, 1024, true)]
    [InlineData(FrameType.ChannelAccept, 0x00, 0, true)]
    [InlineData(FrameType.WindowUpdate, 0x00, 4, true)]
    [InlineData(FrameType.ChannelReset, 0x00, 4, true)]
    [InlineData(FrameType.Handshake, 0x01, 1, false)]
    [InlineData(FrameType.GoAway, 0x01, 4, false)]
    [InlineData(FrameType.ChannelOpen, 0x01, 0, false)]
    [InlineData(FrameType.ChannelAccept, 0x01, 0, false)]
    [InlineData(FrameType.WindowUpdate, 0x01, 4, false)]
    [InlineData(FrameType.ChannelReset, 0x01, 4, false)]
    [InlineData(FrameType.Ping, 0x02, 8, false)]
    [InlineData(FrameType.WindowUpdate, 0x00, 3, false)]
    [InlineData(FrameType.ChannelReset, 0x00, 3, false)]
    public void Header_EachTypesFlagsAndLengths(FrameType type, byte flags, uint length, bool valid)
    {
        var action = () => FrameCodec.ValidateHeader(length, type, (FrameFlags)flags, 1024);
        if (valid)
        {
            action.Should().NotThrow();
        }
        else
        {
            action.Should().Throw<FramingException>().Which.Error.Should().BeOneOf(FramingError.InvalidFlags, FramingError.InvalidPayloadLength);
        }
    }

    [Fact]
    public void Header_Refusals_NameWhatIsWrong()
    {
        Refusal(1025, FrameType.Data, 0).Message.Should().Be("A Data frame announces 1025 payload bytes; the maximum is 1024.");
        Refusal(1025, FrameType.Data, 0).Error.Should().Be(FramingError.FrameTooLarge);
        Refusal(uint.MaxValue, (FrameType)0x09, 0).Message.Should().Be("A 0x09 frame announces 4294967295 payload bytes; the maximum is 1024.");
        Refusal(1, (FrameType)0x09, 0).Message.Should().Be("Frame type 0x09 is not defined in framing version 1.0.");
        Refusal(1, (FrameType)0xFF, 0).Message.Should().Be("Frame type 0xff is not defined in framing version 1.0.");
        Refusal(8, FrameType.Ping, 0x03).Message.Should().Be("A Ping frame sets flags 0x03; only 0x01 are defined for it.");
        Refusal(1, FrameType.Handshake, 0x01).Message.Should().Be("A Handshake frame sets flags 0x01; only 0x00 are defined for it.");
        Refusal(0, FrameType.Data, 0).Message.Should().Be("An empty Data frame must end the stream; empty frames carry nothing.");
        Refusal(9, FrameType.Ping, 0).Message.Should().Be("A Ping frame has 9 payload bytes; it must have 8.");
        Refusal(3, FrameType.GoAway, 0).Message.Should().Be("A GoAway frame has 3 payload bytes; it must have at least 4.");
        Refusal(3, FrameType.GoAway, 0).Error.Should().Be(FramingError.InvalidPayloadLength);
        Refusal(0, FrameType.Handshake, 0).Message.Should().Be("A Handshake frame has 0 payload bytes; it must have at least 1.");

        static FramingException Refusal(uint length, FrameType type, byte flags) =>
            FluentActions.Invoking(() => FrameCodec.ValidateHeader(length, type, (FrameFlags)flags, 1024)).Should().Throw<FramingException>().Which;
    }

    [Fact]
    public void Read_HeaderExactlyFillingTheFirstSegment_AndSplitBeforeIt()
    {
        byte[] header = FrameCodecTests.Header(3, FrameType.Data, FrameFlags.None, 9);
        foreach (ReadOnlySequence<byte> input in new[] { Segments.Of(header, [1, 2, 3]), Segments.Of(header[..7], [header[7], 1, 2, 3]) })
        {
            SequencePosition consumed = input.Start, examined = input.Start;
            FrameCodec.TryReadFrame(input, 1024, ref consumed, ref examined, out Frame frame).Should().BeTrue();
            frame.ChannelId.Should().Be(9);
            frame.Payload.ToArray().Should().Equal(1, 2, 3);
            consumed.Should().Be(input.End);
            examined.Should().Be(input.End);
        }
    }

    [Fact]
    public void Read_SecondFrameFromTheConsumedPosition_LeavesTheRestUnexamined()
    {
        var output = new ArrayBufferWriter<byte>();
        FrameCodec.WriteFrame(output, FrameType.Data, FrameFlags.None, 1, [1]);
        FrameCodec.WriteFrame(output, FrameType.Data, FrameFlags.EndOfStream, 2, [2, 2]);
        FrameCodec.WriteFrame(output, FrameType.Data, FrameFlags.None, 3, [3, 3, 3]);
        var input = new ReadOnlySequence<byte>(output.WrittenMemory);
        SequencePosition consumed = input.Start, examined = input.Start;

        FrameCodec.TryReadFrame(input, 1024, ref consumed, ref examined, out _).Should().BeTrue();
        FrameCodec.TryReadFrame(input, 1024, ref consumed, ref examined, out Frame second).Should().BeTrue();

        second.ChannelId.Should().Be(2);
        second.HasFlag(FrameFlags.EndOfStream).Should().BeTrue();
        second.Payload.ToArray().Should().Equal(2, 2);
        input.Slice(consumed).Length.Should().Be(FrameCodec.HeaderSize + 3);
        examined.Should().Be(consumed);
    }

    [Fact]
    public void Read_OnlyAHeader_WaitsForThePayload_HavingExaminedEverything()
    {
        var input = new ReadOnlySequence<byte>([.. FrameCodecTests.Header(4, FrameType.Data, FrameFlags.None, 1), 1, 2, 3]);
        SequencePosition consumed = input.Start, examined = input.Start;

        FrameCodec.TryReadFrame(input, 1024, ref consumed, ref examined, out Frame frame).Should().BeFalse();

        frame.Payload.Length.Should().Be(0);
        consumed.Should().Be(input.Start);
        examined.Should().Be(input.End);
    }

    [Theory]
    [InlineData(7, false, 0u)]
    [InlineData(8, true, 0x01020304u)]
    [InlineData(12, true, 0x01020304u)]
    public void PeekPayloadLength_NeedsAWholeHeader(int available, bool expected, uint length)
    {
        byte[] bytes = [1, 2, 3, 4, 0, 0, 0, 1, 9, 9, 9, 9];
        FrameCodec.TryPeekPayloadLength(Segments.Of(bytes[..2], bytes[2..available]), out uint peeked).Should().Be(expected);
        peeked.Should().Be(length);
    }

    [Fact]
    public void WriteFrame_PayloadBeyondTheHardLimit_Throws_InBothOverloads()
    {
        byte[] big = new byte[FrameCodec.HardMaxFramePayload + 1];
        var output = new ArrayBufferWriter<byte>();

        FluentActions.Invoking(() => FrameCodec.WriteFrame(output, FrameType.Data, FrameFlags.None, 1, big))
            .Should().Throw<ArgumentException>().WithMessage("A frame payload is at most 16777216 bytes.*").Which.ParamName.Should().Be("payload");
        FluentActions.Invoking(() => FrameCodec.WriteFrame(output, FrameType.Data, FrameFlags.None, 1, Segments.Of(big[..10], big[10..])))
            .Should().Throw<ArgumentException>().WithMessage("A frame payload is at most 16777216 bytes.*").Which.ParamName.Should().Be("payload");
        FluentActions.Invoking(() => FrameCodec.WriteFrame(null!, FrameType.Data, FrameFlags.None, 1, Segments.Of([1], [2])))
            .Should().Throw<ArgumentNullException>().Which.ParamName.Should().Be("output");
        FluentActions.Invoking(() => FrameCodec.WriteFrame(null!, FrameType.Data, FrameFlags.None, 1, ReadOnlySpan<byte>.Empty))
            .Should().Throw<ArgumentNullException>().Which.ParamName.Should().Be("output");
        FluentActions.Invoking(() => FrameCodec.WriteFrame(null!, FrameType.Data, FrameFlags.None, 1, ReadOnlySequence<byte>.Empty))
            .Should().Throw<ArgumentNullException>().Which.ParamName.Should().Be("output");
        output.WrittenCount.Should().Be(0);
    }

    [Fact]
    public void WriteFrame_PayloadAtTheHardLimit_IsWritten_InBothOverloads()
    {
        byte[] payload = new byte[FrameCodec.HardMaxFramePayload];
        payload[^1] = 0xEE;
        var output = new ArrayBufferWriter<byte>();

        FrameCodec.WriteFrame(output, FrameType.Data, FrameFlags.None, 1, payload);
        FrameCodec.WriteFrame(output, FrameType.Data, FrameFlags.None, 1, Segments.Of(payload[..10], payload[10..]));

        output.WrittenCount.Should().Be(2 * (FrameCodec.HeaderSize + payload.Length));
        output.WrittenSpan[FrameCodec.HeaderSize + payload.Length - 1].Should().Be(0xEE);
        output.WrittenSpan[^1].Should().Be(0xEE);
    }

    [Fact]
    public void WriteFrame_SequenceOverManySegments_IsOneFrameWithTheBytesInOrder()
    {
        ReadOnlySequence<byte> payload = Segments.Of([1, 2], [3], [4, 5, 6]);
        var output = new ArrayBufferWriter<byte>();

        FrameCodec.WriteFrame(output, FrameType.ChannelReset, FrameFlags.None, 0x0102, payload);

        output.WrittenSpan.ToArray().Should().Equal(0, 0, 0, 6, 0x07, 0, 1, 2, 1, 2, 3, 4, 5, 6);
    }

    [Fact]
    public void WriteFrame_SequenceOfOneSegment_IsWrittenOnce()
    {
        var output = new ArrayBufferWriter<byte>();

        FrameCodec.WriteFrame(output, FrameType.Data, FrameFlags.None, 3, new ReadOnlySequence<byte>(new byte[] { 9, 8 }));

        output.WrittenSpan.ToArray().Should().Equal(0, 0, 0, 2, 0, 0, 0, 3, 9, 8);
    }

    [Fact]
    public void Frame_FlagsAndDescription()
    {
        var frame = new Frame(FrameType.Data, FrameFlags.EndOfStream, 4, new ReadOnlySequence<byte>(new byte[3]));

        frame.HasFlag(FrameFlags.EndOfStream).Should().BeTrue();
        new Frame(FrameType.Data, FrameFlags.None, 4, default).HasFlag(FrameFlags.EndOfStream).Should().BeFalse();
        frame.ToString().Should().Be($"Data channel 4 flags {FrameFlags.EndOfStream} (3 bytes)");
    }

    [Theory]
    [InlineData(3u, FramingError.FrameTooLarge)]
    [InlineData(0u, FramingError.None)]
    [InlineData(9u, FramingError.Timeout)]
    [InlineData(10u, (FramingError)(-1))]
    [InlineData(0x7FFFFFFFu, (FramingError)(-1))]
    [InlineData(0x80000003u, (FramingError)(-1))]
    [InlineData(0xFFFFFFFFu, (FramingError)(-1))]
    public void WireCode_IsOneOfOursOnlyWhenItNamesOne(uint code, FramingError expected)
    {
        WireCode.Known(code, (FramingError)(-1)).Should().Be(expected);
    }

    [Fact]
    public void FramingException_CarriesItsErrorReasonAndCause()
    {
        var cause = new InvalidOperationException("inner");
        var error = new FramingException(FramingError.TruncatedFrame, ConnectionCloseReason.ProtocolError, "cut", cause);

        (error.Error, error.CloseReason, error.Message, error.InnerException).Should().Be((FramingError.TruncatedFrame, ConnectionCloseReason.ProtocolError, "cut", (Exception)cause));
    }

    /// <summary>Writes into one caller's array, so what is left of it outside the written bytes can be seen.</summary>
    private sealed class FixedBufferWriter(byte[] buffer) : IBufferWriter<byte>
    {
        public int Written { get; private set; }

        public void Advance(int count) => Written += count;

        public Memory<byte> GetMemory(int sizeHint = 0) => buffer.AsMemory(Written);

        public Span<byte> GetSpan(int sizeHint = 0) => buffer.AsSpan(Written);
    }
}
