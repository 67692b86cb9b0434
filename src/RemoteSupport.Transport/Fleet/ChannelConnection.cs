using System.IO.Pipelines;
using RemoteSupport.Transport.Channels;
using RemoteSupport.Transport.Transports;

namespace RemoteSupport.Transport.Fleet;

/// <summary>
/// One channel of a standing connection as a <see cref="TransportConnection"/>: a routed session runs its own
/// framing, handshake and channels inside it, end to end between the technician's console and the unit.
/// </summary>
internal sealed class ChannelConnection : TransportConnection
{
    private static readonly TimeSpan CloseWait = TimeSpan.FromSeconds(2);
    private readonly MultiplexedChannel _channel;

    public ChannelConnection(MultiplexedChannel channel, string remoteEndPoint)
        : base(remoteEndPoint)
    {
        _channel = channel;
        _ = channel.Closed.ContinueWith(_ => SignalClosed(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    public override PipeReader Input => _channel.Input;

    public override PipeWriter Output => _channel.Output;

    protected override void AbortCore() => _channel.Reset(CloseDetail ?? "aborted");

    /// <summary>Ends the channel in order: what was written (a handshake's refusal, a session's last message) reaches the peer before the channel closes.</summary>
    protected override async ValueTask DisposeCoreAsync()
    {
        try
        {
            await _channel.Output.CompleteAsync().ConfigureAwait(false);
            await Task.WhenAny(_channel.Closed, Task.Delay(CloseWait)).ConfigureAwait(false);
        }
        finally
        {
            await _channel.DisposeAsync().ConfigureAwait(false);
        }
    }
}
