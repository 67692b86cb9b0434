using RemoteSupport.Transport.Framing;
using RemoteSupport.Transport.Transports;

namespace RemoteSupport.Transport.Tests.Security;

internal enum Direction
{
    ToResponder,
    ToInitiator,
}

internal sealed record RelayFrame(FrameType Type, FrameFlags Flags, ushort ChannelId, byte[] Payload);

/// <summary>
/// A man in the middle for tests: frames pass between an initiator and a responder through a
/// function that may alter, drop (empty), duplicate or reorder them, or close the line (null).
/// </summary>
internal sealed class FrameRelay(Func<Direction, int, RelayFrame, RelayFrame[]?> mutate)
{
    private int _deliveredData;

    public int DeliveredData => Volatile.Read(ref _deliveredData);

    public async Task<(FramedConnection Initiator, FramedConnection Responder)> StartAsync(CancellationToken cancellationToken)
    {
        (TransportConnection initiator, TransportConnection relayToInitiator) = InMemoryTransport.CreatePair();
        (TransportConnection relayToResponder, TransportConnection responder) = InMemoryTransport.CreatePair();
        Task<FramedConnection>[] starts =
        [
            FramedConnection.StartAsync(initiator, cancellationToken: cancellationToken).AsTask(),
            FramedConnection.StartAsync(relayToInitiator, cancellationToken: cancellationToken).AsTask(),
            FramedConnection.StartAsync(relayToResponder, cancellationToken: cancellationToken).AsTask(),
            FramedConnection.StartAsync(responder, cancellationToken: cancellationToken).AsTask(),
        ];
        await Task.WhenAll(starts);
        FramedConnection left = await starts[1];
        FramedConnection right = await starts[2];
        _ = PumpAsync(left, right, Direction.ToResponder, cancellationToken);
        _ = PumpAsync(right, left, Direction.ToInitiator, cancellationToken);
        return (await starts[0], await starts[3]);
    }

    private async Task PumpAsync(FramedConnection from, FramedConnection to, Direction direction, CancellationToken cancellationToken)
    {
        int index = 0;
        try
        {
            while (true)
            {
                FrameReadResult result = await from.ReadFrameAsync(cancellationToken);
                if (!result.HasFrame)
                {
                    break;
                }

                var frame = new RelayFrame(result.Frame.Type, result.Frame.Flags, result.Frame.ChannelId, result.Frame.Payload.ToArray());
                RelayFrame[]? forward = mutate(direction, index++, frame);
                if (forward is null)
                {
                    break;
                }

                foreach (RelayFrame f in forward)
                {
                    to.WriteFrame(f.Type, f.Flags, f.ChannelId, f.Payload);
                    if (f.Type == FrameType.Data)
                    {
                        Interlocked.Increment(ref _deliveredData);
                    }
                }

                await to.FlushAsync(cancellationToken);
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or InvalidOperationException)
        {
        }
        finally
        {
            await from.DisposeAsync();
            await to.DisposeAsync();
        }
    }
}
