using System.Buffers;

namespace RemoteSupport.Transport.Framing;

/// <summary>
/// One received frame. <see cref="Payload"/> is a slice of the connection's receive buffer, valid
/// until the next read: copy what must outlive it.
/// </summary>
public readonly struct Frame
{
    /// <summary>Creates a frame.</summary>
    public Frame(FrameType type, FrameFlags flags, ushort channelId, ReadOnlySequence<byte> payload)
    {
        Type = type;
        Flags = flags;
        ChannelId = channelId;
        Payload = payload;
    }

    /// <summary>Gets the frame type.</summary>
    public FrameType Type { get; }

    /// <summary>Gets the flags.</summary>
    public FrameFlags Flags { get; }

    /// <summary>Gets the channel id; 0 is the connection itself.</summary>
    public ushort ChannelId { get; }

    /// <summary>Gets the payload, without copying.</summary>
    public ReadOnlySequence<byte> Payload { get; }

    /// <summary>Gets a value indicating whether <paramref name="flag"/> is set.</summary>
    public bool HasFlag(FrameFlags flag) => (Flags & flag) == flag;

    /// <inheritdoc/>
    public override string ToString() => $"{Type} channel {ChannelId} flags {Flags} ({Payload.Length} bytes)";
}

/// <summary>The outcome of reading a frame: a frame, or the clean end of the connection, or a canceled read.</summary>
public readonly struct FrameReadResult
{
    internal FrameReadResult(Frame frame, bool isCompleted, bool isCanceled)
    {
        Frame = frame;
        IsCompleted = isCompleted;
        IsCanceled = isCanceled;
    }

    /// <summary>Gets the frame, when <see cref="HasFrame"/>.</summary>
    public Frame Frame { get; }

    /// <summary>Gets a value indicating whether the peer ended the connection at a frame boundary.</summary>
    public bool IsCompleted { get; }

    /// <summary>Gets a value indicating whether the read was canceled with <c>CancelPendingRead</c>.</summary>
    public bool IsCanceled { get; }

    /// <summary>Gets a value indicating whether <see cref="Frame"/> holds a frame.</summary>
    public bool HasFrame => !IsCompleted && !IsCanceled;
}
