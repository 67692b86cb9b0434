using System.Buffers;
using System.Buffers.Binary;
using RemoteSupport.Transport.Framing;
using RemoteSupport.Transport.Transports;

namespace RemoteSupport.Transport.Tests.Framing;

public class FrameCodecTests
{
    [Theory]
    [InlineData(FrameType.Data, FrameFlags.None, 1)]
    [InlineData(FrameType.Data, FrameFlags.EndOfStream, 0)]
    [InlineData(FrameType.Data, FrameFlags.None, 65536)]
    [InlineData(FrameType.Handshake, FrameFlags.None, 48)]
    [InlineData(FrameType.Ping, FrameFlags.Ack, 8)]
    [InlineData(FrameType.GoAway, FrameFlags.None, 4)]
    [InlineData(FrameType.ChannelOpen, FrameFlags.None, 0)]
    [InlineData(FrameType.ChannelAccept, FrameFlags.None, 3)]
    [InlineData(FrameType.WindowUpdate, FrameFlags.None, 4)]
    [InlineData(FrameType.ChannelReset, FrameFlags.None, 9)]
    public void WriteThenRead_RoundTrips(FrameType type, FrameFlags flags, int length)
    {
        byte[] payload = Enumerable.Range(0, length).Select(i => (byte)i).ToArray();
        var output = new ArrayBufferWriter<byte>();
        FrameCodec.WriteFrame(output, type, flags, 513, payload);

        output.WrittenCount.Should().Be(FrameCodec.HeaderSize + length);
        var input = new ReadOnlySequence<byte>(output.WrittenMemory);
        SequencePosition consumed = input.Start, examined = input.Start;
        FrameCodec.TryReadFrame(input, 65536, ref consumed, ref examined, out Frame frame).Should().BeTrue();

        frame.Type.Should().Be(type);
        frame.Flags.Should().Be(flags);
        frame.ChannelId.Should().Be(513);
        frame.Payload.ToArray().Should().Equal(payload);
        consumed.Should().Be(input.End);
    }

    [Fact]
    public void Header_IsLengthTypeFlagsChannel_BigEndian()
    {
        var output = new ArrayBufferWriter<byte>();
        FrameCodec.WriteFrame(output, FrameType.Data, FrameFlags.EndOfStream, 0x0102, [0xAA, 0xBB]);

        output.WrittenSpan.ToArray().Should().Equal(0, 0, 0, 2, 0x00, 0x01, 0x01, 0x02, 0xAA, 0xBB);
    }

    [Fact]
    public void Read_FramesSplitAcrossSegmentsAtEveryOffset()
    {
        var output = new ArrayBufferWriter<byte>();
        for (int i = 0; i < 5; i++)
        {
            FrameCodec.WriteFrame(output, FrameType.Data, FrameFlags.None, (ushort)i, Enumerable.Repeat((byte)i, 10 + i).ToArray());
        }

        byte[] bytes = output.WrittenSpan.ToArray();
        for (int split = 1; split < bytes.Length; split++)
        {
            ReadOnlySequence<byte> input = Segments.Of(bytes[..split], bytes[split..]);
            SequencePosition consumed = input.Start, examined = input.Start;
            var frames = new List<(ushort Channel, byte[] Payload)>();
            while (FrameCodec.TryReadFrame(input, 1024, ref consumed, ref examined, out Frame frame))
            {
                frames.Add((frame.ChannelId, frame.Payload.ToArray()));
            }

            frames.Should().HaveCount(5, $"split at {split}");
            frames[3].Payload.Should().Equal(Enumerable.Repeat((byte)3, 13));
        }
    }

    [Fact]
    public void Read_IncompleteFrame_ReturnsFalse_HavingExaminedEverything()
    {
        var output = new ArrayBufferWriter<byte>();
        FrameCodec.WriteFrame(output, FrameType.Data, FrameFlags.None, 1, new byte[100]);
        var input = new ReadOnlySequence<byte>(output.WrittenMemory[..50]);
        SequencePosition consumed = input.Start, examined = input.Start;

        FrameCodec.TryReadFrame(input, 1024, ref consumed, ref examined, out _).Should().BeFalse();

        consumed.Should().Be(input.Start);
        examined.Should().Be(input.End);
    }

    [Theory]
    [InlineData(0x7FFFFFFFu)]
    [InlineData(0xFFFFFFFFu)]
    [InlineData(65537u)]
    public void Read_LengthBeyondMaximum_IsRefusedFromTheHeaderAlone(uint announced)
    {
        byte[] header = Header(announced, FrameType.Data, FrameFlags.None, 1);

        FramingException error = ReadError(header, max: 65536);

        error.Error.Should().Be(FramingError.FrameTooLarge);
        error.CloseReason.Should().Be(ConnectionCloseReason.ProtocolError);
        error.Message.Should().Contain($"announces {announced} payload bytes; the maximum is 65536");
    }

    [Fact]
    public void Read_UnknownType_IsRefused()
    {
        FramingException error = ReadError(Header(1, (FrameType)0x2A, FrameFlags.None, 0), max: 1024);

        error.Error.Should().Be(FramingError.UnknownFrameType);
        error.Message.Should().Contain("0x2a");
    }

    [Fact]
    public void Read_EmptyDataFrame_IsRefused()
    {
        ReadError(Header(0, FrameType.Data, FrameFlags.None, 1), max: 1024).Error.Should().Be(FramingError.EmptyFrame);
    }

    [Theory]
    [InlineData(FrameType.Ping, 7)]
    [InlineData(FrameType.Ping, 9)]
    [InlineData(FrameType.Handshake, 0)]
    [InlineData(FrameType.GoAway, 3)]
    [InlineData(FrameType.WindowUpdate, 5)]
    [InlineData(FrameType.ChannelReset, 0)]
    public void Read_PayloadLengthOutsideTheTypesRange_IsRefused(FrameType type, uint length)
    {
        ReadError(Header(length, type, FrameFlags.None, 0), max: 1024).Error.Should().Be(FramingError.InvalidPayloadLength);
    }

    [Theory]
    [InlineData(FrameType.Data, 0x02)]
    [InlineData(FrameType.Handshake, 0x01)]
    [InlineData(FrameType.Ping, 0x80)]
    public void Read_UndefinedFlags_AreRefused(FrameType type, byte flags)
    {
        ReadError(Header(8, type, (FrameFlags)flags, 0), max: 1024).Error.Should().Be(FramingError.InvalidFlags);
    }

    [Fact]
    public void Preface_RoundTrips()
    {
        var output = new ArrayBufferWriter<byte>();
        FrameCodec.WritePreface(output, 32768);
        output.WrittenSpan.ToArray().Should().Equal(0x52, 0x53, 0x55, 0x50, 1, 0, 0, 0, 0, 0, 0x80, 0);

        var input = new ReadOnlySequence<byte>(output.WrittenMemory);
        SequencePosition consumed = input.Start, examined = input.Start;
        FrameCodec.TryReadPreface(input, ref consumed, ref examined, out byte major, out byte minor, out int max).Should().BeTrue();
        (major, minor, max).Should().Be(((byte)1, (byte)0, 32768));
    }

    [Theory]
    [InlineData(new byte[] { (byte)'G', (byte)'E', (byte)'T', (byte)' ' })]
    [InlineData(new byte[] { 0x16, 0x03, 0x01, 0x02 })]
    [InlineData(new byte[] { 0x52, 0x53, 0x55, 0x51 })]
    public void Preface_WrongMagic_IsRefusedAfterFourBytes(byte[] start)
    {
        var input = new ReadOnlySequence<byte>(start);
        SequencePosition consumed = input.Start, examined = input.Start;

        FluentActions.Invoking(() => FrameCodec.TryReadPreface(input, ref consumed, ref examined, out _, out _, out _))
            .Should().Throw<FramingException>().Where(e => e.Error == FramingError.BadPreface && e.Message.Contains("does not speak RemoteSupport framing"));
    }

    [Fact]
    public void Preface_OtherMajorVersion_NamesBothVersions()
    {
        byte[] preface = [0x52, 0x53, 0x55, 0x50, 2, 3, 0, 0, 0, 1, 0, 0];
        var input = new ReadOnlySequence<byte>(preface);
        SequencePosition consumed = input.Start, examined = input.Start;

        FluentActions.Invoking(() => FrameCodec.TryReadPreface(input, ref consumed, ref examined, out _, out _, out _))
            .Should().Throw<FramingException>().Where(e => e.Error == FramingError.UnsupportedVersion && e.Message.Contains("2.3") && e.Message.Contains("1.0"));
    }

    [Theory]
    [InlineData(1023u)]
    [InlineData(16u * 1024 * 1024 + 1)]
    public void Preface_MaxFramePayloadOutOfRange_IsRefused(uint max)
    {
        byte[] preface = [0x52, 0x53, 0x55, 0x50, 1, 0, 0, 0, 0, 0, 0, 0];
        BinaryPrimitives.WriteUInt32BigEndian(preface.AsSpan(8), max);
        var input = new ReadOnlySequence<byte>(preface);
        SequencePosition consumed = input.Start, examined = input.Start;

        FluentActions.Invoking(() => FrameCodec.TryReadPreface(input, ref consumed, ref examined, out _, out _, out _))
            .Should().Throw<FramingException>().Where(e => e.Error == FramingError.BadPreface);
    }

    [Fact]
    public void Read_DoesNotAllocate()
    {
        var output = new ArrayBufferWriter<byte>();
        for (int i = 0; i < 100; i++)
        {
            FrameCodec.WriteFrame(output, FrameType.Data, FrameFlags.None, 1, new byte[64]);
        }

        ReadOnlySequence<byte> input = Segments.Of(output.WrittenSpan[..3000].ToArray(), output.WrittenSpan[3000..].ToArray());
        int Count()
        {
            SequencePosition consumed = input.Start, examined = input.Start;
            int count = 0;
            while (FrameCodec.TryReadFrame(input, 1024, ref consumed, ref examined, out _))
            {
                count++;
            }

            return count;
        }

        Count().Should().Be(100);
        long before = GC.GetAllocatedBytesForCurrentThread();
        int frames = Count();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        frames.Should().Be(100);
        allocated.Should().Be(0);
    }

    internal static byte[] Header(uint length, FrameType type, FrameFlags flags, ushort channel)
    {
        byte[] header = new byte[FrameCodec.HeaderSize];
        BinaryPrimitives.WriteUInt32BigEndian(header, length);
        header[4] = (byte)type;
        header[5] = (byte)flags;
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(6), channel);
        return header;
    }

    private static FramingException ReadError(byte[] bytes, int max)
    {
        var input = new ReadOnlySequence<byte>(bytes);
        SequencePosition consumed = input.Start, examined = input.Start;
        try
        {
            FrameCodec.TryReadFrame(input, max, ref consumed, ref examined, out _);
        }
        catch (FramingException ex)
        {
            return ex;
        }

        throw new Xunit.Sdk.XunitException("Expected a FramingException.");
    }
}

internal static class Segments
{
    public static ReadOnlySequence<byte> Of(params byte[][] parts)
    {
        var first = new Segment(parts[0], 0);
        Segment last = first;
        foreach (byte[] part in parts.Skip(1))
        {
            last = last.Append(part);
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
