using System.Buffers;
using System.IO.Pipelines;
using RemoteSupport.Transport.Framing;

namespace RemoteSupport.Transport.Channels;

/// <summary>The writer: control frames first, then the ready channels in turns, by whichever thread finds the writer idle.</summary>
public sealed partial class MultiplexedConnection
{
    /// <summary>Writes until nothing is queued; runs on the thread that found the writer idle (see <see cref="Wake"/>).</summary>
    private async Task WriteAsync()
    {
        try
        {
            while (!Volatile.Read(ref _closed))
            {
                Interlocked.Exchange(ref _wakePending, 0);
                bool more = WriteBatch();
                FlushResult flushed = await _link.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                if (flushed.IsCompleted || flushed.IsCanceled)
                {
                    break;
                }

                if (more)
                {
                    continue;
                }

                bool close;
                lock (Sync)
                {
                    close = _closeRequested && !_closed && _control.Count == 0;
                }

                if (close)
                {
                    // Graceful: everything is sent; end this side's output. The peer closes in turn,
                    // and the read loop sees the end of the stream.
                    await _link.ShutdownOutputAsync(_closeReason).ConfigureAwait(false);
                    break;
                }

                // Idle; whoever queued a frame after the batch was taken finds the writer idle or is seen here.
                Interlocked.Exchange(ref _writerRunning, 0);
                if (Volatile.Read(ref _wakePending) == 0 || Interlocked.CompareExchange(ref _writerRunning, 1, 0) != 0)
                {
                    return;
                }
            }
        }
        catch (Exception ex)
        {
            // The link failed (IOException, a sealed record, ...), or a bug: the connection ends and the writer stops.
            Fail(new ChannelException(ChannelError.ConnectionClosed, 0, false, "Sending failed: " + ex.Message), tellPeer: true);
        }

        // Stopped: _writerRunning stays 1, so no thread writes again.
        _writerStopped.TrySetResult();
    }

    /// <summary>
    /// Takes the writer if it is idle and sends <paramref name="data"/> straight from the
    /// application's buffer as far as nothing stands in its way: no other channel waits for its turn,
    /// and there is credit. Queued control frames go first. The caller then queues what is left and
    /// calls <see cref="EndDirect"/>, so the rest takes its turn in the same drain.
    /// </summary>
    /// <returns>How many bytes of <paramref name="data"/> were sent; -1 when the writer is busy or the connection failed (nothing sent, nothing to end).</returns>
    internal int BeginDirect(MultiplexedChannel channel, ReadOnlySpan<byte> data)
    {
        if (Interlocked.CompareExchange(ref _writerRunning, 1, 0) != 0)
        {
            return -1;
        }

        int sent = 0;
        try
        {
            while (TryTakeControl(out ControlFrame control))
            {
                WriteControl(control);
            }

            long credit;
            lock (Sync)
            {
                credit = _closed || channel.State != ChannelState.Open || channel.LocalEnded || _ready.Count > 0
                    ? 0
                    : Math.Min(channel.SendCredit, _connectionSendCredit);
            }

            int total = (int)Math.Min(Math.Min(data.Length, credit), FlushBudget); // the rest takes its turn
            while (sent < total)
            {
                int length = Math.Min(total - sent, _link.MaxPayload);
                _link.WriteFrame(FrameType.Data, FrameFlags.None, channel.Id, data.Slice(sent, length));
                sent += length;
            }

            lock (Sync)
            {
                channel.SendCredit -= sent;
                _connectionSendCredit -= sent;
            }
        }
        catch (Exception ex)
        {
            // The link failed (IOException, a sealed record, ...): as in the drain, the connection ends and the writer stops.
            Fail(new ChannelException(ChannelError.ConnectionClosed, 0, false, "Sending failed: " + ex.Message), tellPeer: true);
            _writerStopped.TrySetResult();
            return -1;
        }

        return sent;
    }

    /// <summary>Ends <see cref="BeginDirect"/>: flushes, and goes on with anything queued meanwhile, as after any other write.</summary>
    internal void EndDirect()
    {
        Interlocked.Exchange(ref _wakePending, 1);
        _ = WriteAsync();
    }

    /// <summary>Writes control frames first, then data from ready channels in turn, up to the flush budget.</summary>
    /// <returns>Whether work remains.</returns>
    private bool WriteBatch()
    {
        int written = 0;
        while (true)
        {
            while (TryTakeControl(out ControlFrame control))
            {
                WriteControl(control);
                written += 16;
            }

            MultiplexedChannel? channel;
            lock (Sync)
            {
                if (_closed)
                {
                    return false;
                }

                if (written >= FlushBudget)
                {
                    return _ready.Count > 0 || _control.Count > 0;
                }

                if (!_ready.TryDequeue(out channel))
                {
                    return false;
                }

                channel.Queued = false;
            }

            written += SendFrom(channel);
        }
    }

    private bool TryTakeControl(out ControlFrame control)
    {
        lock (Sync)
        {
            return _control.TryDequeue(out control);
        }
    }

    private void WriteControl(in ControlFrame control) =>
        _link.WriteFrame(control.Type, control.Flags, control.ChannelId, new ReadOnlySequence<byte>(control.Payload));

    /// <summary>
    /// Sends one quantum of <paramref name="channel"/>'s data, or its end of stream: first from the
    /// write waiting in the application's buffer (<see cref="MultiplexedChannel.PendingWrite"/>), then
    /// from the channel's send buffer.
    /// </summary>
    /// <returns>The bytes written.</returns>
    private int SendFrom(MultiplexedChannel channel)
    {
        bool ended = false;
        bool more;
        bool pendingDone = false;
        int sent = 0;
        int length;
        lock (channel.SendLock)
        {
            if (channel.SendDone)
            {
                return 0;
            }

            ReadOnlyMemory<byte> pending = channel.PendingWrite;
            ReadResult read = default;
            if (pending.IsEmpty && !channel.SendReader.TryRead(out read))
            {
                return 0;
            }

            long available = pending.IsEmpty ? read.Buffer.Length : pending.Length;
            if (!TryTakeTurn(channel, available, out long credit, out bool alone))
            {
                if (pending.IsEmpty)
                {
                    channel.SendReader.AdvanceTo(read.Buffer.Start);
                }

                return 0; // closed, or a window update makes it ready again
            }

            int quantum = alone ? FlushBudget : Quantum; // a channel alone sends full frames; several take turns
            length = (int)Math.Min(Math.Min(available, credit), Math.Min(quantum, _link.MaxPayload));
            if (!pending.IsEmpty)
            {
                _link.WriteFrame(FrameType.Data, FrameFlags.None, channel.Id, pending.Span[..length]);
                sent = FrameCodec.HeaderSize + length;
                channel.PendingWrite = pending[length..];
                pendingDone = length == pending.Length;
                more = !pendingDone || Volatile.Read(ref channel.SendBuffered) != 0 || channel.OutputCompleted;
            }
            else
            {
                ReadOnlySequence<byte> slice = read.Buffer.Slice(0, length);
                ended = read.IsCompleted && length == read.Buffer.Length;
                if (length > 0 || ended)
                {
                    _link.WriteFrame(FrameType.Data, ended ? FrameFlags.EndOfStream : FrameFlags.None, channel.Id, slice);
                    sent = FrameCodec.HeaderSize + length;
                }

                channel.SendReader.AdvanceTo(slice.End);
                Interlocked.Add(ref channel.SendBuffered, -length);
                more = length < read.Buffer.Length;
                if (ended)
                {
                    channel.SendDone = true;
                    channel.SendReader.Complete();
                }
            }

            lock (Sync)
            {
                channel.SendCredit -= length;
                _connectionSendCredit -= length;
                if (ended)
                {
                    channel.LocalEnded = true;
                    if (channel.RemoteEnded)
                    {
                        RemoveLocked(channel);
                    }
                }
            }
        }

        if (pendingDone)
        {
            channel.CompletePendingWrite(null);
        }

        if (ended && channel.State == ChannelState.Closed)
        {
            channel.MarkClosed(null);
        }
        else if (more)
        {
            MarkReady(channel); // to the back of the queue: channels take turns
        }

        return sent;
    }

    /// <summary>Whether <paramref name="channel"/> may send now, and how much: open, and with credit when it has data.</summary>
    private bool TryTakeTurn(MultiplexedChannel channel, long available, out long credit, out bool alone)
    {
        lock (Sync)
        {
            alone = _ready.Count == 0;
            credit = Math.Min(channel.SendCredit, _connectionSendCredit);
            if (channel.State != ChannelState.Open || channel.LocalEnded)
            {
                return false;
            }

            if (credit <= 0 && available > 0)
            {
                if (channel.SendCredit > 0 && !channel.WaitingForConnectionCredit)
                {
                    channel.WaitingForConnectionCredit = true;
                    _waitingForConnectionCredit.Add(channel);
                }

                return false;
            }

            return true;
        }
    }
}
