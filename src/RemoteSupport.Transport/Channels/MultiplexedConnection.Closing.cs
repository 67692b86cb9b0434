using System.Globalization;

namespace RemoteSupport.Transport.Channels;

/// <summary>Keepalive, failure and the orderly finish of the connection.</summary>
public sealed partial class MultiplexedConnection
{
    private void OnKeepAliveTick()
    {
        ChannelException? timedOut = null;
        lock (Sync)
        {
            if (_closed)
            {
                return;
            }

            if (_keepAliveSentAt != 0)
            {
                if (_time.GetElapsedTime(_keepAliveSentAt) >= _options.KeepAliveTimeout)
                {
                    timedOut = new ChannelException(ChannelError.KeepAliveTimeout, 0, false, string.Create(CultureInfo.InvariantCulture,
                        $"The peer did not answer a keepalive ping within {_options.KeepAliveTimeout.TotalSeconds:0.###} s."));
                }
            }
            else if (_time.GetElapsedTime(Volatile.Read(ref _lastReceivedAt)) >= _options.KeepAliveInterval)
            {
                _keepAliveSentAt = _time.GetTimestamp();
                _control.Enqueue(ControlFrame.Ping(KeepAlivePingId, ack: false));
            }
        }

        if (timedOut is not null)
        {
            Fail(timedOut, tellPeer: true);
        }
        else
        {
            Wake();
        }
    }

    /// <summary>
    /// Ends the connection once, from any thread: every channel, pending open and ping fails with
    /// <paramref name="failure"/>, and both loops are woken to end; the link is closed only after
    /// they have (the read loop may hold a frame in the link's buffer until then).
    /// </summary>
    private void Fail(ChannelException failure, bool tellPeer)
    {
        List<MultiplexedChannel> channels;
        List<TaskCompletionSource<TimeSpan>> pings;
        lock (Sync)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            bool graceful = (_closeRequested || _peerGoingAway) && failure.ByPeer && failure.Error == ChannelError.ConnectionClosed;
            if (!graceful)
            {
                _failure = failure;
                _tellPeer = tellPeer && failure.Error != ChannelError.None;
            }

            channels = [.. _channels.Values];
            foreach (MultiplexedChannel channel in channels)
            {
                RemoveLocked(channel);
            }

            pings = [.. _pings.Values.Select(p => p.Reply)];
            _pings.Clear();
            _ready.Clear();
            _control.Clear();
        }

        foreach (MultiplexedChannel channel in channels)
        {
            Release(channel, new ChannelException(failure.Error, channel.Id, failure.ByPeer, failure.Message));
        }

        foreach (TaskCompletionSource<TimeSpan> ping in pings)
        {
            ping.TrySetException(failure);
        }

        _accepted.Writer.TryComplete();
        _drained.TrySetResult();
        _link.CancelPendingIo();
        Interlocked.Exchange(ref _wakePending, 1);
        WriteIfIdle(); // an idle writer stops now; a busy one stops at its next check
    }

    private async Task FinishAsync()
    {
        // Both end through Fail: the read loop and the writer catch every exception.
        await Task.WhenAll(_readLoop, _writerStopped.Task).ConfigureAwait(false);

        if (_keepAliveTimer is not null)
        {
            await _keepAliveTimer.DisposeAsync().ConfigureAwait(false);
        }

        ChannelException? failure;
        bool tellPeer;
        lock (Sync)
        {
            failure = _failure;
            tellPeer = _tellPeer;
        }

        try
        {
            if (failure is not null)
            {
                // GoAway with the reason (best effort, bounded), then the connection closes.
                await _link.CloseWithErrorAsync(tellPeer ? (uint)failure.Error : (uint)ChannelError.None, failure.Message).ConfigureAwait(false);
            }
        }
        finally
        {
            await _link.DisposeAsync().ConfigureAwait(false);
            _completion.TrySetResult();
        }
    }
}
