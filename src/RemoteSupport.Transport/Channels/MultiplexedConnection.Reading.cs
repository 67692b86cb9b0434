using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using RemoteSupport.Transport.Framing;
using RemoteSupport.Transport.Security;

namespace RemoteSupport.Transport.Channels;

/// <summary>The read loop: frames from the link, handled by type (data, open, accept, window updates, resets, pings, go-away).</summary>
public sealed partial class MultiplexedConnection
{
    private async Task ReadLoopAsync()
    {
        ChannelException? failure = null;
        try
        {
            while (!Volatile.Read(ref _closed))
            {
                ValueTask<FrameReadResult> reading = _link.ReadFrameAsync(CancellationToken.None);
                if (!reading.IsCompleted)
                {
                    // The buffered frames are handled: wake the readers once, not per frame, and write
                    // the answers (window updates, acks, data the peer's credit released) in one flush.
                    FlushReceived();
                    Volatile.Write(ref _readLoopThread, 0);
                    WriteIfIdle();
                }

                FrameReadResult result = await reading.ConfigureAwait(false);
                Volatile.Write(ref _readLoopThread, Environment.CurrentManagedThreadId);
                if (result.IsCompleted)
                {
                    break;
                }

                if (result.IsCanceled)
                {
                    continue; // Fail() wakes the loop to end it
                }

                Volatile.Write(ref _lastReceivedAt, _time.GetTimestamp());
                failure = Handle(result.Frame);
                if (failure is not null)
                {
                    break;
                }
            }
        }
        catch (SecureChannelException ex)
        {
            // A sealed record failed: this side tells the peer once both loops have stopped.
            failure = new ChannelException(ChannelError.ProtocolError, 0, false, "The secure channel failed: " + ex.Message);
        }
        catch (FramingException ex)
        {
            // The framing layer already told the peer; never mistaken for a graceful end.
            failure = new ChannelException(ChannelError.ProtocolError, 0, true, "The connection failed: " + ex.Message);
        }
        catch (Exception ex)
        {
            // The transport failed (IOException and the like), or a bug: either way the connection ends here.
            failure = new ChannelException(ChannelError.ConnectionClosed, 0, false, "The connection failed: " + ex.Message);
        }

        Volatile.Write(ref _readLoopThread, 0);
        Fail(failure ?? new ChannelException(ChannelError.ConnectionClosed, 0, true, "The peer closed the connection."), tellPeer: failure is { ByPeer: false });
    }

    /// <returns>A connection failure, or <see langword="null"/> to keep reading.</returns>
    private ChannelException? Handle(Frame frame)
    {
        return frame.Type switch
        {
            FrameType.Data => OnData(frame),
            FrameType.ChannelOpen => OnOpen(frame),
            FrameType.ChannelAccept => OnAccept(frame),
            FrameType.WindowUpdate => OnWindowUpdate(frame),
            FrameType.ChannelReset => OnReset(frame),
            FrameType.Ping => OnPing(frame),
            FrameType.GoAway => OnGoAway(frame),
            _ => Violation($"A {frame.Type} frame is not part of the channel protocol."),
        };
    }

    private static ChannelException Violation(string message, ChannelError error = ChannelError.ProtocolError) => new(error, 0, false, message);

    private ChannelException? OnData(Frame frame)
    {
        ushort id = frame.ChannelId;
        long length = frame.Payload.Length;
        bool end = frame.HasFlag(FrameFlags.EndOfStream);
        MultiplexedChannel? channel;
        ChannelException? channelFailure = null;
        lock (Sync)
        {
            if (id == 0)
            {
                return Violation("A Data frame on channel 0: data travels on a channel.");
            }

            if (length > _connectionReceiveCredit)
            {
                return Violation(string.Create(CultureInfo.InvariantCulture,
                    $"The peer sent {length} bytes with {_connectionReceiveCredit} bytes of connection window left."), ChannelError.FlowControlError);
            }

            _connectionReceiveCredit -= length;
            if (!_channels.TryGetValue(id, out channel) || channel.State == ChannelState.Opening)
            {
                if (!WasUsed(id) || channel is not null)
                {
                    return Violation(string.Create(CultureInfo.InvariantCulture, $"Data on channel {id}, which is not open."));
                }

                // A late frame for a channel closed here: dropped, the window returned.
                if (CreditConnection(length))
                {
                    Wake();
                }

                return null;
            }

            if (channel.RemoteEnded)
            {
                channelFailure = new ChannelException(ChannelError.StreamClosed, id, false, string.Create(CultureInfo.InvariantCulture,
                    $"Data on channel {id} after the peer ended its stream."));
            }
            else if (length > channel.ReceiveCredit)
            {
                channelFailure = new ChannelException(ChannelError.FlowControlError, id, false, string.Create(CultureInfo.InvariantCulture,
                    $"The peer sent {length} bytes on channel {id} with {channel.ReceiveCredit} bytes of its window left."));
            }

            if (channelFailure is not null)
            {
                CreditConnection(length);
            }
            else
            {
                channel.ReceiveCredit -= length;
                channel.Received += length;
                if (channel.InputCompleted)
                {
                    // Nobody reads: drop the bytes, return both windows, batched like consumed bytes.
                    channel.Consumed += length;
                    channel.ConsumedUnacknowledged += length;
                    CreditConnection(length);
                    if (!end && channel.ConsumedUnacknowledged >= channel.ReceiveWindow / 2)
                    {
                        channel.ReceiveCredit += channel.ConsumedUnacknowledged;
                        _control.Enqueue(ControlFrame.WindowUpdate(id, (uint)channel.ConsumedUnacknowledged));
                        channel.ConsumedUnacknowledged = 0;
                    }
                }

                if (end)
                {
                    channel.RemoteEnded = true;
                }
            }
        }

        if (channelFailure is not null)
        {
            Reset(channel, channelFailure);
            return null;
        }

        if (length > 0)
        {
            lock (channel.ReceiveLock)
            {
                if (!channel.InputCompleted && channel.Failure is null)
                {
                    // One buffer for the frame: the pipe's lock is taken once, not once per small buffer.
                    int bytes = (int)length;
                    frame.Payload.CopyTo(channel.ReceiveWriter.GetSpan(bytes));
                    channel.ReceiveWriter.Advance(bytes);

                    if (bytes < Quantum && !channel.ReceivePending)
                    {
                        // Shorter than a turn: someone waiting for an answer, not a bulk transfer; its reader gets it now.
#pragma warning disable CA2012 // The receive pipe never pauses (pauseWriterThreshold 0): the flush completes at once.
                        _ = channel.ReceiveWriter.FlushAsync(CancellationToken.None);
#pragma warning restore CA2012
                    }
                    else if (!channel.ReceivePending)
                    {
                        channel.ReceivePending = true;
                        _receivePending.Add(channel);
                    }
                }
            }
        }

        if (end)
        {
            channel.CompleteReceive(null);
            bool both;
            lock (Sync)
            {
                both = channel.LocalEnded && channel.State != ChannelState.Closed;
                if (both)
                {
                    RemoveLocked(channel);
                }
            }

            if (both)
            {
                channel.MarkClosed(null);
            }
        }

        Wake();
        return null;
    }

    /// <summary>Makes the bytes written into channels' receive pipes visible to their readers (read loop only).</summary>
    private void FlushReceived()
    {
        foreach (MultiplexedChannel channel in _receivePending)
        {
            channel.ReceivePending = false;
            lock (channel.ReceiveLock)
            {
                if (channel.Failure is null && !channel.InputCompleted)
                {
#pragma warning disable CA2012 // The receive pipe never pauses (pauseWriterThreshold 0): the flush completes at once.
                    _ = channel.ReceiveWriter.FlushAsync(CancellationToken.None);
#pragma warning restore CA2012
                }
            }
        }

        _receivePending.Clear();
    }

    private ChannelException? OnOpen(Frame frame)
    {
        ushort id = frame.ChannelId;
        if (id == 0 || IsLocalId(id))
        {
            return Violation(string.Create(CultureInfo.InvariantCulture, $"The peer opened channel {id}, which is not in its id space."));
        }

        if (frame.Payload.Length < 4 || frame.Payload.Length > 4 + MaxNameBytes)
        {
            return Violation("A ChannelOpen frame must carry a 4-byte window and a name of at most 256 bytes.");
        }

        byte[] payload = frame.Payload.ToArray();
        uint window = BinaryPrimitives.ReadUInt32BigEndian(payload);
        string name;
        try
        {
            name = new UTF8Encoding(false, true).GetString(payload, 4, payload.Length - 4);
        }
        catch (DecoderFallbackException)
        {
            return Violation("A channel name is not valid UTF-8.");
        }

        MultiplexedChannel channel;
        lock (Sync)
        {
            if (id <= _highestRemoteId)
            {
                return Violation(string.Create(CultureInfo.InvariantCulture,
                    $"The peer opened channel {id} after channel {_highestRemoteId}: ids must increase."));
            }

            _highestRemoteId = id;
            if (window > MultiplexerOptions.MaxWindow)
            {
                return Violation("A ChannelOpen frame announces a window beyond 2^31 - 1.", ChannelError.FlowControlError);
            }

            string? refusal = _shuttingDown ? "the connection is shutting down"
                : _remoteOpen >= _options.MaxChannels ? string.Create(CultureInfo.InvariantCulture, $"{_options.MaxChannels} channels are open, the most allowed")
                : null;
            if (refusal is not null)
            {
                _control.Enqueue(ControlFrame.Reset(id, ChannelError.Refused, $"Channel {id} ({name}) was refused: {refusal}."));
                Wake();
                return null;
            }

            channel = new MultiplexedChannel(this, id, name, isLocal: false, _options.ChannelWindow, _options.SendBufferSize)
            {
                State = ChannelState.Open,
                SendCredit = window,
            };
            _channels.Add(id, channel);
            _remoteOpen++;
            byte[] accept = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(accept, (uint)_options.ChannelWindow);
            _control.Enqueue(new ControlFrame(FrameType.ChannelAccept, FrameFlags.None, id, accept));
        }

        channel.MarkOpened();
        _accepted.Writer.TryWrite(channel);
        Wake();
        return null;
    }

    private ChannelException? OnAccept(Frame frame)
    {
        ushort id = frame.ChannelId;
        if (frame.Payload.Length != 4)
        {
            return Violation("A ChannelAccept frame must carry exactly a 4-byte window.");
        }

        uint window = ReadUInt32(frame.Payload);
        MultiplexedChannel? channel;
        lock (Sync)
        {
            if (!_channels.TryGetValue(id, out channel))
            {
                return IsLocalId(id) && WasUsed(id) ? null : Violation(string.Create(CultureInfo.InvariantCulture, $"The peer accepted channel {id}, which was not opened."));
            }

            if (channel.State != ChannelState.Opening)
            {
                return Violation(string.Create(CultureInfo.InvariantCulture, $"The peer accepted channel {id} twice."));
            }

            if (window > MultiplexerOptions.MaxWindow)
            {
                return Violation("A ChannelAccept frame announces a window beyond 2^31 - 1.", ChannelError.FlowControlError);
            }

            channel.State = ChannelState.Open;
            channel.SendCredit = window;
        }

        channel.MarkOpened();
        MarkReady(channel);
        return null;
    }

    private ChannelException? OnWindowUpdate(Frame frame)
    {
        ushort id = frame.ChannelId;
        uint increment = ReadUInt32(frame.Payload);
        if (increment == 0)
        {
            return Violation("A window update of 0 bytes.");
        }

        bool unblocked = false;
        MultiplexedChannel? channel;
        bool overflow = false;
        lock (Sync)
        {
            if (id == 0)
            {
                if (_connectionSendCredit + increment > MultiplexerOptions.MaxWindow)
                {
                    return Violation("A connection window update takes the window beyond 2^31 - 1.", ChannelError.FlowControlError);
                }

                _connectionSendCredit += increment;
                if (_waitingForConnectionCredit.Count > 0)
                {
                    // Queued under the same lock the credit arrived under: a direct write, which never
                    // goes while a channel waits for its turn, cannot take the credit before them.
                    foreach (MultiplexedChannel waiting in _waitingForConnectionCredit)
                    {
                        waiting.WaitingForConnectionCredit = false;
                        EnqueueReadyLocked(waiting);
                    }

                    _waitingForConnectionCredit.Clear();
                    unblocked = true;
                }

                channel = null;
            }
            else if (!_channels.TryGetValue(id, out channel))
            {
                return WasUsed(id) ? null : Violation(string.Create(CultureInfo.InvariantCulture, $"A window update for channel {id}, which was never opened."));
            }
            else if (channel.SendCredit + increment > MultiplexerOptions.MaxWindow)
            {
                overflow = true; // reset below, outside the lock
            }
            else
            {
                channel.SendCredit += increment;
            }
        }

        if (channel is not null)
        {
            if (overflow)
            {
                Reset(channel, new ChannelException(ChannelError.FlowControlError, id, false, string.Create(CultureInfo.InvariantCulture,
                    $"A window update takes channel {id}'s window beyond 2^31 - 1.")));
            }
            else
            {
                MarkReady(channel);
            }
        }

        if (unblocked)
        {
            Wake();
        }

        return null;
    }

    private ChannelException? OnReset(Frame frame)
    {
        ushort id = frame.ChannelId;
        (uint code, string reason) = ReadCodeAndReason(frame.Payload);
        MultiplexedChannel? channel;
        lock (Sync)
        {
            if (id == 0)
            {
                return Violation("A ChannelReset frame on channel 0; the connection ends with GoAway.");
            }

            if (!_channels.TryGetValue(id, out channel))
            {
                return WasUsed(id) ? null : Violation(string.Create(CultureInfo.InvariantCulture, $"A reset of channel {id}, which was never opened."));
            }

            RemoveLocked(channel);
        }

        ChannelError error = WireCode.Known(code, ChannelError.Canceled);
        Release(channel, new ChannelException(error, id, true, string.Create(CultureInfo.InvariantCulture,
            $"The peer reset channel {id} ({channel.Name}): {reason} ({error}).")));
        return null;
    }

    private ChannelException? OnPing(Frame frame)
    {
        if (frame.ChannelId != 0)
        {
            return Violation("A Ping frame belongs on channel 0.");
        }

        ulong id = ReadUInt64(frame.Payload);
        if (!frame.HasFlag(FrameFlags.Ack))
        {
            lock (Sync)
            {
                if (_control.Count >= MaxPendingControlFrames)
                {
                    return Violation(string.Create(CultureInfo.InvariantCulture,
                        $"The peer sends pings faster than it reads the answers ({_control.Count} control frames wait to be sent)."));
                }

                _control.Enqueue(ControlFrame.Ping(id, ack: true));
            }

            // Answered now, not at the end of the batch: the data frames behind it must not delay a round-trip measurement.
            Interlocked.Exchange(ref _wakePending, 1);
            WriteIfIdle();
            return null;
        }

        lock (Sync)
        {
            if (id == KeepAlivePingId)
            {
                if (_keepAliveSentAt != 0)
                {
                    LastRoundTripTime = _time.GetElapsedTime(_keepAliveSentAt);
                    _keepAliveSentAt = 0;
                }
            }
            else if (_pings.Remove(id, out (TaskCompletionSource<TimeSpan> Reply, long SentAt) ping))
            {
                TimeSpan rtt = _time.GetElapsedTime(ping.SentAt);
                LastRoundTripTime = rtt;
                ping.Reply.TrySetResult(rtt);
            }
        }

        return null;
    }

    private ChannelException? OnGoAway(Frame frame)
    {
        (uint code, string reason) = ReadCodeAndReason(frame.Payload);
        if (code != 0)
        {
            ChannelError error = WireCode.Known(code, ChannelError.ConnectionClosed);
            return new ChannelException(error, 0, true, string.Create(CultureInfo.InvariantCulture, $"The peer closed the connection: {reason} (code {code})."));
        }

        lock (Sync)
        {
            _peerGoingAway = true;
        }

        return null;
    }

    internal static uint ReadUInt32(in ReadOnlySequence<byte> payload)
    {
        Span<byte> bytes = stackalloc byte[4];
        payload.Slice(0, 4).CopyTo(bytes);
        return BinaryPrimitives.ReadUInt32BigEndian(bytes);
    }

    private static ulong ReadUInt64(in ReadOnlySequence<byte> payload)
    {
        Span<byte> bytes = stackalloc byte[8];
        payload.Slice(0, 8).CopyTo(bytes);
        return BinaryPrimitives.ReadUInt64BigEndian(bytes);
    }

    private static (uint Code, string Reason) ReadCodeAndReason(in ReadOnlySequence<byte> payload)
    {
        if (payload.Length < 4)
        {
            return (0, string.Empty);
        }

        byte[] text = payload.Slice(4, Math.Min(payload.Length - 4, 512)).ToArray();
        return (ReadUInt32(payload), Encoding.UTF8.GetString(text));
    }
}
