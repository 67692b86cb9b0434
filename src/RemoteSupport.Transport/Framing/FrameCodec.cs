using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.CompilerServices;
using RemoteSupport.Transport.Transports;

namespace RemoteSupport.Transport.Framing;

/// <summary>
/// Reads and writes frames and the connection preface (docs/protocol/framing.md, version 1.0).
/// Parsing never copies a payload and never allocates; writing goes into any <see cref="IBufferWriter{T}"/>.
/// </summary>
public static class FrameCodec
{
    /// <summary>The size of a frame header, in bytes.</summary>
    public const int HeaderSize = 8;

    /// <summary>The size of the connection preface, in bytes.</summary>
    public const int PrefaceSize = 12;

    /// <summary>The major protocol version this library speaks.</summary>
    public const byte MajorVersion = 1;

    /// <summary>The minor protocol version this library speaks.</summary>
    public const byte MinorVersion = 0;

    /// <summary>The default maximum frame payload: 64 KiB.</summary>
    public const int DefaultMaxFramePayload = 64 * 1024;

    /// <summary>The smallest maximum frame payload a side may advertise.</summary>
    public const int MinMaxFramePayload = 1024;

    /// <summary>The hard limit on any frame payload: 16 MiB.</summary>
    public const int HardMaxFramePayload = 16 * 1024 * 1024;

    private const uint Magic = 0x52535550; // "RSUP"

    /// <summary>Writes this side's preface, advertising <paramref name="maxFramePayload"/>.</summary>
    public static void WritePreface(IBufferWriter<byte> output, int maxFramePayload)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (maxFramePayload is < MinMaxFramePayload or > HardMaxFramePayload)
        {
            Error.ArgumentOutOfRange(nameof(maxFramePayload), $"The maximum frame payload must be within [{MinMaxFramePayload}, {HardMaxFramePayload}].");
        }

        Span<byte> span = output.GetSpan(PrefaceSize);
        BinaryPrimitives.WriteUInt32BigEndian(span, Magic);
        span[4] = MajorVersion;
        span[5] = MinorVersion;
        BinaryPrimitives.WriteUInt16BigEndian(span[6..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(span[8..], (uint)maxFramePayload);
        output.Advance(PrefaceSize);
    }

    /// <summary>
    /// Reads the peer's preface. The magic is checked as soon as 4 bytes are there, so a peer
    /// speaking another protocol is refused at once.
    /// </summary>
    /// <returns><see langword="true"/> with the peer's versions and maximum when the whole preface is there.</returns>
    /// <exception cref="FramingException">The preface is wrong.</exception>
    public static bool TryReadPreface(
        in ReadOnlySequence<byte> input, ref SequencePosition consumed, ref SequencePosition examined,
        out byte peerMajor, out byte peerMinor, out int peerMaxFramePayload)
    {
        peerMajor = 0;
        peerMinor = 0;
        peerMaxFramePayload = 0;
        ReadOnlySequence<byte> remaining = input.Slice(consumed);
        Span<byte> preface = stackalloc byte[PrefaceSize];
        int available = (int)Math.Min(remaining.Length, PrefaceSize);
        remaining.Slice(0, available).CopyTo(preface);
        if (available >= 4 && BinaryPrimitives.ReadUInt32BigEndian(preface) != Magic)
        {
            throw Violation(FramingError.BadPreface, string.Create(CultureInfo.InvariantCulture,
                $"The peer does not speak RemoteSupport framing: its first bytes are {Convert.ToHexString(preface[..4])}, not 52535550 ('RSUP')."));
        }

        if (available < PrefaceSize)
        {
            examined = input.End;
            return false;
        }

        peerMajor = preface[4];
        peerMinor = preface[5];
        if (peerMajor != MajorVersion)
        {
            throw Violation(FramingError.UnsupportedVersion, string.Create(CultureInfo.InvariantCulture,
                $"The peer speaks framing version {peerMajor}.{peerMinor}; this side speaks {MajorVersion}.{MinorVersion}."));
        }

        uint max = BinaryPrimitives.ReadUInt32BigEndian(preface[8..]);
        if (max is < MinMaxFramePayload or > HardMaxFramePayload)
        {
            throw Violation(FramingError.BadPreface, string.Create(CultureInfo.InvariantCulture,
                $"The peer advertises a maximum frame payload of {max}, outside [{MinMaxFramePayload}, {HardMaxFramePayload}]."));
        }

        peerMaxFramePayload = (int)max;
        consumed = remaining.GetPosition(PrefaceSize);
        examined = consumed;
        return true;
    }

    /// <summary>
    /// Parses one frame starting at <paramref name="consumed"/>. The header is validated (type,
    /// flags, and the declared length against <paramref name="maxPayloadLength"/>) before waiting
    /// for the payload, so nothing is buffered for a frame that will be refused.
    /// </summary>
    /// <returns><see langword="true"/> with the frame (its payload a slice of <paramref name="input"/>) when complete.</returns>
    /// <exception cref="FramingException">The frame violates the protocol.</exception>
    public static bool TryReadFrame(
        in ReadOnlySequence<byte> input, int maxPayloadLength, ref SequencePosition consumed, ref SequencePosition examined, out Frame frame)
    {
        ReadOnlySequence<byte> remaining = input.Slice(consumed);
        if (remaining.Length < HeaderSize)
        {
            frame = default;
            examined = input.End;
            return false;
        }

        ReadOnlySpan<byte> first = remaining.FirstSpan;
        Span<byte> copy = stackalloc byte[HeaderSize];
        scoped ReadOnlySpan<byte> header;
        if (first.Length >= HeaderSize)
        {
            header = first[..HeaderSize];
        }
        else
        {
            remaining.Slice(0, HeaderSize).CopyTo(copy);
            header = copy;
        }

        uint length = BinaryPrimitives.ReadUInt32BigEndian(header);
        var type = (FrameType)header[4];
        var flags = (FrameFlags)header[5];
        ushort channel = BinaryPrimitives.ReadUInt16BigEndian(header[6..]);
        ValidateHeader(length, type, flags, maxPayloadLength);

        long total = HeaderSize + (long)length;
        if (remaining.Length < total)
        {
            frame = default;
            examined = input.End;
            return false;
        }

        ReadOnlySequence<byte> payload = remaining.Slice(HeaderSize, length);
        frame = new Frame(type, flags, channel, payload);
        consumed = payload.End;
        examined = consumed;
        return true;
    }

    /// <summary>Reads the payload length a complete header at the start of <paramref name="input"/> announces, if there is one.</summary>
    internal static bool TryPeekPayloadLength(in ReadOnlySequence<byte> input, out uint length)
    {
        length = 0;
        if (input.Length < HeaderSize)
        {
            return false;
        }

        Span<byte> prefix = stackalloc byte[4];
        input.Slice(0, 4).CopyTo(prefix);
        length = BinaryPrimitives.ReadUInt32BigEndian(prefix);
        return true;
    }

    /// <summary>
    /// Writes one frame (header and payload) into <paramref name="output"/> as one contiguous block,
    /// so a reader over the same kind of buffer finds the payload in one segment; no flush.
    /// </summary>
    public static void WriteFrame(IBufferWriter<byte> output, FrameType type, FrameFlags flags, ushort channelId, ReadOnlySpan<byte> payload)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (payload.Length > HardMaxFramePayload)
        {
            Error.Argument(nameof(payload), $"A frame payload is at most {HardMaxFramePayload} bytes.");
        }

        Span<byte> span = output.GetSpan(HeaderSize + payload.Length);
        WriteHeader(span, (uint)payload.Length, type, flags, channelId);
        payload.CopyTo(span[HeaderSize..]);
        output.Advance(HeaderSize + payload.Length);
    }

    /// <summary>Writes one frame whose payload is a sequence (for example a slice of another pipe); no flush.</summary>
    public static void WriteFrame(IBufferWriter<byte> output, FrameType type, FrameFlags flags, ushort channelId, in ReadOnlySequence<byte> payload)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (payload.IsSingleSegment)
        {
            WriteFrame(output, type, flags, channelId, payload.FirstSpan);
            return;
        }

        if (payload.Length > HardMaxFramePayload)
        {
            Error.Argument(nameof(payload), $"A frame payload is at most {HardMaxFramePayload} bytes.");
        }

        // One contiguous span for the whole frame: a pipe takes its lock once per buffer it hands out,
        // so a frame spread over small buffers contends with the reader once per buffer.
        int length = (int)payload.Length;
        Span<byte> span = output.GetSpan(HeaderSize + length);
        WriteHeader(span, (uint)length, type, flags, channelId);
        payload.CopyTo(span[HeaderSize..]);
        output.Advance(HeaderSize + length);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void WriteHeader(Span<byte> span, uint length, FrameType type, FrameFlags flags, ushort channelId)
    {
        BinaryPrimitives.WriteUInt32BigEndian(span, length);
        span[4] = (byte)type;
        span[5] = (byte)flags;
        BinaryPrimitives.WriteUInt16BigEndian(span[6..], channelId);
    }

    internal static void ValidateHeader(uint length, FrameType type, FrameFlags flags, int maxPayloadLength)
    {
        if (length > (uint)maxPayloadLength)
        {
            throw Violation(FramingError.FrameTooLarge, string.Create(CultureInfo.InvariantCulture,
                $"A {Name(type)} frame announces {length} payload bytes; the maximum is {maxPayloadLength}."));
        }

        (uint min, uint max, FrameFlags allowed) = type switch
        {
            FrameType.Data => (0u, uint.MaxValue, FrameFlags.EndOfStream),
            FrameType.Handshake => (1u, uint.MaxValue, FrameFlags.None),
            FrameType.Ping => (8u, 8u, FrameFlags.Ack),
            FrameType.GoAway => (4u, uint.MaxValue, FrameFlags.None),
            FrameType.ChannelOpen => (0u, uint.MaxValue, FrameFlags.None),
            FrameType.ChannelAccept => (0u, uint.MaxValue, FrameFlags.None),
            FrameType.WindowUpdate => (4u, 4u, FrameFlags.None),
            FrameType.ChannelReset => (4u, uint.MaxValue, FrameFlags.None),
            _ => throw Violation(FramingError.UnknownFrameType, string.Create(CultureInfo.InvariantCulture,
                $"Frame type 0x{(byte)type:x2} is not defined in framing version {MajorVersion}.{MinorVersion}.")),
        };

        if ((flags & ~allowed) != 0)
        {
            throw Violation(FramingError.InvalidFlags, string.Create(CultureInfo.InvariantCulture,
                $"A {Name(type)} frame sets flags 0x{(byte)flags:x2}; only 0x{(byte)allowed:x2} are defined for it."));
        }

        if (type == FrameType.Data && length == 0 && (flags & FrameFlags.EndOfStream) == 0)
        {
            throw Violation(FramingError.EmptyFrame, "An empty Data frame must end the stream; empty frames carry nothing.");
        }

        if (length < min || length > max)
        {
            throw Violation(FramingError.InvalidPayloadLength, string.Create(CultureInfo.InvariantCulture,
                $"A {Name(type)} frame has {length} payload bytes; it must have {(min == max ? min.ToString(CultureInfo.InvariantCulture) : $"at least {min}")}."));
        }
    }

    private static string Name(FrameType type) => Enum.IsDefined(type) ? type.ToString() : "0x" + ((byte)type).ToString("x2", CultureInfo.InvariantCulture);

    internal static FramingException Violation(FramingError error, string message) =>
        new(error, ConnectionCloseReason.ProtocolError, message);
}
