using System.Buffers;
using System.IO.Pipelines;
using RemoteSupport.Transport.Framing;
using RemoteSupport.Transport.Security;

namespace RemoteSupport.Transport.Channels;

/// <summary>
/// What the multiplexer needs of the connection beneath it: frames with a type, flags and a channel
/// id, one reader and one writer. Plain over a <see cref="FramedConnection"/>; sealed (every frame
/// authenticated and encrypted) over a <see cref="SecureConnection"/>.
/// </summary>
internal abstract class FrameLink : IAsyncDisposable
{
    public abstract bool IsInitiator { get; }

    /// <summary>Gets the largest payload one frame may carry to the peer.</summary>
    public abstract int MaxPayload { get; }

    public abstract string Description { get; }

    public abstract ValueTask<FrameReadResult> ReadFrameAsync(CancellationToken cancellationToken);

    public abstract void WriteFrame(FrameType type, FrameFlags flags, ushort channelId, in ReadOnlySequence<byte> payload);

    public abstract void WriteFrame(FrameType type, FrameFlags flags, ushort channelId, ReadOnlySpan<byte> payload);

    public abstract ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken);

    /// <summary>Sends GoAway (code 0) with <paramref name="reason"/> and ends the output; reading goes on to the peer's end.</summary>
    public ValueTask ShutdownOutputAsync(string reason) => Framed.ShutdownOutputAsync(reason);

    /// <summary>Wakes a read or flush waiting on another thread (it returns canceled).</summary>
    public void CancelPendingIo() => Framed.CancelPendingIo();

    protected abstract FramedConnection Framed { get; }

    /// <summary>Tells the peer with GoAway (best effort, bounded) and closes; buffers are kept until <see cref="DisposeAsync"/>.</summary>
    public abstract ValueTask CloseWithErrorAsync(uint code, string reason);

    public abstract ValueTask DisposeAsync();
}

internal sealed class PlainFrameLink(FramedConnection framed, bool isInitiator) : FrameLink
{
    public override bool IsInitiator => isInitiator;

    public override int MaxPayload => framed.PeerMaxFramePayload;

    public override string Description => framed.Transport.RemoteEndPoint;

    public override ValueTask<FrameReadResult> ReadFrameAsync(CancellationToken cancellationToken) => framed.ReadFrameAsync(cancellationToken);

    public override void WriteFrame(FrameType type, FrameFlags flags, ushort channelId, in ReadOnlySequence<byte> payload) =>
        framed.WriteFrame(type, flags, channelId, payload);

    public override void WriteFrame(FrameType type, FrameFlags flags, ushort channelId, ReadOnlySpan<byte> payload) =>
        framed.WriteFrame(type, flags, channelId, payload);

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken) => framed.FlushAsync(cancellationToken);

    protected override FramedConnection Framed => framed;

    public override ValueTask CloseWithErrorAsync(uint code, string reason) =>
        framed.CloseWithErrorAsync(code, reason, Transports.ConnectionCloseReason.ProtocolError);

    public override ValueTask DisposeAsync() => framed.DisposeAsync();
}

internal sealed class SealedFrameLink(SecureConnection secure) : FrameLink
{
    public override bool IsInitiator => secure.IsInitiator;

    public override int MaxPayload => secure.MaxSealedFramePayload;

    public override string Description => secure.Framed.Transport.RemoteEndPoint;

    public override ValueTask<FrameReadResult> ReadFrameAsync(CancellationToken cancellationToken) => secure.ReadSealedFrameAsync(cancellationToken);

    public override void WriteFrame(FrameType type, FrameFlags flags, ushort channelId, in ReadOnlySequence<byte> payload) =>
        secure.WriteSealedFrame(type, flags, channelId, payload);

    public override void WriteFrame(FrameType type, FrameFlags flags, ushort channelId, ReadOnlySpan<byte> payload) =>
        secure.WriteSealedFrame(type, flags, channelId, payload);

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken) => secure.Framed.FlushAsync(cancellationToken);

    protected override FramedConnection Framed => secure.Framed;

    public override ValueTask CloseWithErrorAsync(uint code, string reason) => secure.CloseWithErrorAsync(code, reason);

    public override ValueTask DisposeAsync() => secure.DisposeAsync();
}
