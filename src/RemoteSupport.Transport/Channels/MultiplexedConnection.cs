using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using RemoteSupport.Transport.Framing;
using RemoteSupport.Transport.Security;
using Signals = System.Threading.Channels;

namespace RemoteSupport.Transport.Channels;

/// <summary>
/// Logical channels over one connection (docs/protocol/channels.md): each side opens channels in its
/// own id space, every channel has credit-based flow control and the connection has one more, the
/// channels with data to send take turns, control frames go first, keepalive pings measure the
/// round-trip time. Over a <see cref="SecureConnection"/> every frame is sealed.
/// </summary>
/// <remarks>
/// A read loop runs for the connection's life; writing needs no thread of its own (the first thread
/// to find the writer idle writes what is queued). Nothing the application does blocks either. A protocol violation closes the connection with a reason both sides can log; a problem
/// with one channel resets that channel only.
/// </remarks>
public sealed class MultiplexedConnection : IAsyncDisposable
{
    /// <summary>The channel protocol version (docs/protocol/channels.md).</summary>
    public const int ProtocolVersion = 1;

    /// <summary>The connection window both sides start with before their first window update.</summary>
    public const int InitialConnectionWindow = 65536;

    internal const int Quantum = 16 * 1024;
    private const int FlushBudget = 64 * 1024;
    private const int MaxNameBytes = 256;
    private const ulong KeepAlivePingId = 0;

    /// <summary>Control frames waiting to be sent beyond which a peer that keeps asking (pings) while not reading is cut off.</summary>
    internal const int MaxPendingControlFrames = 4096;

    private readonly FrameLink _link;
    private readonly MultiplexerOptions _options;
    private readonly TimeProvider _time;
    private readonly Dictionary<ushort, MultiplexedChannel> _channels = [];
    private readonly Queue<ControlFrame> _control = new();
    private readonly Queue<MultiplexedChannel> _ready = new();
    private readonly List<MultiplexedChannel> _waitingForConnectionCredit = [];
    private readonly List<MultiplexedChannel> _receivePending = []; // read loop only
    private readonly Dictionary<ulong, (TaskCompletionSource<TimeSpan> Reply, long SentAt)> _pings = [];
    private readonly Signals.Channel<MultiplexedChannel> _accepted = Signals.Channel.CreateUnbounded<MultiplexedChannel>();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ITimer? _keepAliveTimer;
    private readonly Task _readLoop;
    private readonly TaskCompletionSource _writerStopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _wakePending;
    private int _writerRunning; // 1 while one thread writes (see Wake); stays 1 once the writer has stopped
    private int _readLoopThread; // the managed thread id while the read loop handles frames, else 0
    private long _connectionSendCredit = InitialConnectionWindow;
    private long _connectionReceiveCredit = InitialConnectionWindow;
    private long _connectionConsumedUnacknowledged;
    private int _nextLocalId;
    private int _highestRemoteId;
    private int _remoteOpen;
    private ulong _nextPingId = KeepAlivePingId + 1;
    private long _lastReceivedAt;
    private long _keepAliveSentAt;
    private bool _peerGoingAway;
    private bool _shuttingDown;
    private bool _closeRequested;
    private bool _tellPeer;
    private string _closeReason = "closing";
    private ChannelException? _failure;
    private bool _closed;

    private MultiplexedConnection(FrameLink link, MultiplexerOptions options)
    {
        _link = link;
        _options = options;
        _time = options.TimeProvider;
        _nextLocalId = link.IsInitiator ? 1 : 2;
        _lastReceivedAt = _time.GetTimestamp();
        if (options.ConnectionWindow > InitialConnectionWindow)
        {
            _connectionReceiveCredit = options.ConnectionWindow;
            _control.Enqueue(ControlFrame.WindowUpdate(0, (uint)(options.ConnectionWindow - InitialConnectionWindow)));
        }

        _readLoop = Task.Run(ReadLoopAsync);
        if (options.KeepAliveInterval != Timeout.InfiniteTimeSpan)
        {
            TimeSpan tick = options.KeepAliveInterval < options.KeepAliveTimeout ? options.KeepAliveInterval : options.KeepAliveTimeout;
            _keepAliveTimer = _time.CreateTimer(static state => ((MultiplexedConnection)state!).OnKeepAliveTick(), this, tick, tick);
        }

        _ = FinishAsync();
        Wake();
    }

    /// <summary>Gets the options the connection runs with.</summary>
    public MultiplexerOptions Options => _options;

    /// <summary>Gets the round-trip time of the last answered ping, or <see langword="null"/> before the first.</summary>
    public TimeSpan? LastRoundTripTime { get; internal set; }

    /// <summary>Gets how many channels are open (opening, open, or half-closed).</summary>
    public int ChannelCount
    {
        get
        {
            lock (Sync)
            {
                return _channels.Count;
            }
        }
    }

    /// <summary>Gets a task that completes when the connection has closed and released everything.</summary>
    public Task Completion => _completion.Task;

    /// <summary>Gets why the connection ended with an error, or <see langword="null"/> while it runs or after a graceful close.</summary>
    public ChannelException? Failure
    {
        get
        {
            lock (Sync)
            {
                return _failure;
            }
        }
    }

    internal Lock Sync { get; } = new();

    /// <summary>Starts channels over a secure connection: every frame sealed; the side that dialed opens odd channel ids.</summary>
    public static MultiplexedConnection Start(SecureConnection connection, MultiplexerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return Run(new SealedFrameLink(connection), options);
    }

    /// <summary>
    /// Starts channels over a framed connection without a secure channel (a trusted link, or tests);
    /// <paramref name="isInitiator"/> must differ on the two sides (the initiator opens odd channel ids).
    /// </summary>
    public static MultiplexedConnection StartUnencrypted(FramedConnection connection, bool isInitiator, MultiplexerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return Run(new PlainFrameLink(connection, isInitiator), options);
    }

    /// <summary>Opens a channel named <paramref name="name"/> and waits for the peer to accept it.</summary>
    /// <exception cref="ChannelException">The peer refused the channel, or the connection is closing or closed.</exception>
    public async ValueTask<MultiplexedChannel> OpenChannelAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(name);
        byte[] nameBytes = Encoding.UTF8.GetBytes(name);
        if (nameBytes.Length > MaxNameBytes)
        {
            Error.Argument(nameof(name), string.Create(CultureInfo.InvariantCulture, $"A channel name is at most {MaxNameBytes} UTF-8 bytes."));
        }

        MultiplexedChannel channel;
        lock (Sync)
        {
            ThrowIfNotOpening();
            if (_nextLocalId > ushort.MaxValue)
            {
                throw new ChannelException(ChannelError.Refused, 0, false, "This connection has used all its channel ids; open a new connection.");
            }

            var id = (ushort)_nextLocalId;
            _nextLocalId += 2;
            channel = new MultiplexedChannel(this, id, name, isLocal: true, _options.ChannelWindow, _options.SendBufferSize) { State = ChannelState.Opening };
            _channels.Add(id, channel);
            byte[] payload = new byte[4 + nameBytes.Length];
            BinaryPrimitives.WriteUInt32BigEndian(payload, (uint)_options.ChannelWindow);
            nameBytes.CopyTo(payload, 4);
            _control.Enqueue(new ControlFrame(FrameType.ChannelOpen, FrameFlags.None, id, payload));
        }

        Wake();
        try
        {
            await channel.Opened.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Reset(channel, new ChannelException(ChannelError.Canceled, channel.Id, false, "The open was canceled."));
            throw;
        }

        return channel;
    }

    /// <summary>
    /// Waits for the next channel the peer opens, or returns <see langword="null"/> when no more will
    /// come (the connection is shutting down or closed).
    /// </summary>
    public async ValueTask<MultiplexedChannel?> AcceptChannelAsync(CancellationToken cancellationToken = default)
    {
        while (await _accepted.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (_accepted.Reader.TryRead(out MultiplexedChannel? channel))
            {
                return channel;
            }
        }

        return null;
    }

    /// <summary>Sends a ping and returns the round-trip time when the answer arrives.</summary>
    /// <exception cref="ChannelException">The connection closed before the answer.</exception>
    public async ValueTask<TimeSpan> PingAsync(CancellationToken cancellationToken = default)
    {
        var reply = new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously);
        ulong id;
        lock (Sync)
        {
            ThrowIfClosed();
            id = _nextPingId++;
            _pings.Add(id, (reply, _time.GetTimestamp()));
            _control.Enqueue(ControlFrame.Ping(id, ack: false));
        }

        Wake();
        try
        {
            return await reply.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            lock (Sync)
            {
                _pings.Remove(id);
            }
        }
    }

    /// <summary>
    /// Shuts down gracefully: tells the peer no new channels will be accepted, waits until every open
    /// channel has finished both ways, then closes the connection.
    /// </summary>
    /// <param name="reason">The reason given to the peer.</param>
    /// <param name="cancellationToken">Stops waiting: the connection is then aborted.</param>
    public async ValueTask ShutdownAsync(string reason = "shutting down", CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reason);
        lock (Sync)
        {
            if (_closed || _shuttingDown)
            {
                goto wait;
            }

            _shuttingDown = true;
            _closeReason = reason;
            _control.Enqueue(ControlFrame.GoAway(ChannelError.None, reason));
            if (_channels.Count == 0)
            {
                _drained.TrySetResult();
            }
        }

        _accepted.Writer.TryComplete();
        Wake();
    wait:
        try
        {
            await _drained.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            await AbortAsync("the graceful shutdown was canceled").ConfigureAwait(false);
            throw;
        }

        lock (Sync)
        {
            _closeRequested = true;
        }

        Wake();
        await _completion.Task.ConfigureAwait(false);
    }

    /// <summary>Closes at once: every channel fails with <paramref name="reason"/>, and the peer is told.</summary>
    public async ValueTask AbortAsync(string reason = "aborted")
    {
        ArgumentNullException.ThrowIfNull(reason);
        Fail(new ChannelException(ChannelError.ConnectionClosed, 0, false, "The connection was aborted: " + reason), tellPeer: true);
        await _completion.Task.ConfigureAwait(false);
    }

    /// <summary>Aborts the connection if it is still open and releases it.</summary>
    public async ValueTask DisposeAsync()
    {
        bool open;
        lock (Sync)
        {
            open = !_closed;
        }

        if (open)
        {
            await AbortAsync("the connection was disposed").ConfigureAwait(false);
        }

        await _completion.Task.ConfigureAwait(false);
    }

    internal void MarkReady(MultiplexedChannel channel)
    {
        lock (Sync)
        {
            if (!EnqueueReadyLocked(channel))
            {
                return;
            }
        }

        Wake();
    }

    /// <summary>Puts <paramref name="channel"/> at the back of the queue of channels with something to send, unless it is there or closed.</summary>
    private bool EnqueueReadyLocked(MultiplexedChannel channel)
    {
        if (channel.Queued || channel.State == ChannelState.Closed)
        {
            return false;
        }

        channel.Queued = true;
        _ready.Enqueue(channel);
        return true;
    }

    internal void OnOutputCompleted(MultiplexedChannel channel, Exception? exception)
    {
        if (exception is not null)
        {
            Reset(channel, new ChannelException(ChannelError.Canceled, channel.Id, false, "The application failed the channel: " + exception.Message));
            return;
        }

        MarkReady(channel); // the write loop sends the end of the stream after the data
    }

    /// <summary>The application consumed <paramref name="bytes"/>: credit the peer, batched at half a window.</summary>
    internal void OnConsumed(MultiplexedChannel channel, long bytes)
    {
        bool wake = false;
        lock (Sync)
        {
            channel.Consumed += bytes;
            if (channel.State != ChannelState.Closed && !channel.RemoteEnded)
            {
                channel.ConsumedUnacknowledged += bytes;
                if (channel.ConsumedUnacknowledged >= channel.ReceiveWindow / 2)
                {
                    channel.ReceiveCredit += channel.ConsumedUnacknowledged;
                    _control.Enqueue(ControlFrame.WindowUpdate(channel.Id, (uint)channel.ConsumedUnacknowledged));
                    channel.ConsumedUnacknowledged = 0;
                    wake = true;
                }
            }

            wake |= CreditConnection(bytes);
        }

        if (wake)
        {
            Wake();
        }
    }

    internal void OnInputCompleted(MultiplexedChannel channel)
    {
        bool wake;
        lock (Sync)
        {
            if (channel.InputCompleted)
            {
                return;
            }

            // What the application never read goes back to both windows; later data is dropped and credited.
            channel.InputCompleted = true;
            long unread = channel.Received - channel.Consumed;
            channel.Consumed = channel.Received;
            wake = CreditConnection(unread);
            long back = unread + channel.ConsumedUnacknowledged;
            channel.ConsumedUnacknowledged = 0;
            if (back > 0 && !channel.RemoteEnded && channel.State != ChannelState.Closed)
            {
                channel.ReceiveCredit += back;
                _control.Enqueue(ControlFrame.WindowUpdate(channel.Id, (uint)back));
                wake = true;
            }
        }

        if (wake)
        {
            Wake();
        }
    }

    /// <summary>Resets <paramref name="channel"/> from this side: the peer is told, both pipes fail.</summary>
    internal void Reset(MultiplexedChannel channel, ChannelException failure)
    {
        lock (Sync)
        {
            if (channel.State == ChannelState.Closed)
            {
                return;
            }

            if (!_closed)
            {
                _control.Enqueue(ControlFrame.Reset(channel.Id, failure.Error, failure.Message));
            }

            RemoveLocked(channel);
        }

        Release(channel, failure);
        Wake();
    }

    private static MultiplexedConnection Run(FrameLink link, MultiplexerOptions? options)
    {
        options ??= new MultiplexerOptions();
        options.Validate();
        return new MultiplexedConnection(link, options);
    }

    private void Release(MultiplexedChannel channel, ChannelException? failure)
    {
        bool wake = false;
        lock (Sync)
        {
            if (!channel.InputCompleted)
            {
                // Nobody can read what the channel buffered: its connection window comes back at once.
                channel.InputCompleted = true;
                wake = CreditConnection(channel.Received - channel.Consumed);
            }
        }

        if (wake)
        {
            Wake();
        }

        channel.Failure ??= failure;
        channel.CompleteReceive(failure);
        channel.CompleteSend(failure);
        channel.MarkClosed(failure);
    }

    private void ThrowIfClosed()
    {
        if (_closed)
        {
            throw _failure ?? new ChannelException(ChannelError.ConnectionClosed, 0, false, "The connection is closed.");
        }
    }

    private void ThrowIfNotOpening()
    {
        ThrowIfClosed();
        if (_shuttingDown)
        {
            throw new ChannelException(ChannelError.Refused, 0, false, "The connection is shutting down: no new channels.");
        }

        if (_peerGoingAway)
        {
            throw new ChannelException(ChannelError.Refused, 0, true, "The peer is shutting down: no new channels.");
        }
    }

    private bool CreditConnection(long bytes)
    {
        if (bytes <= 0 || _closed)
        {
            return false;
        }

        _connectionConsumedUnacknowledged += bytes;
        if (_connectionConsumedUnacknowledged < _options.ConnectionWindow / 2)
        {
            return false;
        }

        _connectionReceiveCredit += _connectionConsumedUnacknowledged;
        _control.Enqueue(ControlFrame.WindowUpdate(0, (uint)_connectionConsumedUnacknowledged));
        _connectionConsumedUnacknowledged = 0;
        return true;
    }

    private void RemoveLocked(MultiplexedChannel channel)
    {
        if (channel.State == ChannelState.Closed)
        {
            return;
        }

        channel.State = ChannelState.Closed;
        _channels.Remove(channel.Id);
        _waitingForConnectionCredit.Remove(channel);
        if (!channel.IsLocal)
        {
            _remoteOpen--;
        }

        if (_shuttingDown && _channels.Count == 0)
        {
            _drained.TrySetResult();
        }
    }

    /// <summary>
    /// Asks for the queued frames to be written. No thread is kept for writing: the first thread to
    /// find the writer idle writes everything queued and flushes (the application's thread after a
    /// write, or the read loop once per batch of frames it handled); a flush that must wait for the
    /// transport continues on the thread pool, and frames queued meanwhile go out when it resumes.
    /// </summary>
    private void Wake()
    {
        Interlocked.Exchange(ref _wakePending, 1);
        if (Volatile.Read(ref _readLoopThread) != Environment.CurrentManagedThreadId)
        {
            WriteIfIdle(); // else the read loop writes once its batch of frames is handled
        }
    }

    private void WriteIfIdle()
    {
        if (Volatile.Read(ref _wakePending) != 0 && Interlocked.CompareExchange(ref _writerRunning, 1, 0) == 0)
        {
            _ = WriteAsync();
        }
    }

    private bool IsLocalId(ushort id) => (id & 1) == (_link.IsInitiator ? 1 : 0);

    /// <summary>Whether <paramref name="id"/> was used on this connection (and so may still see late frames after it closed).</summary>
    private bool WasUsed(ushort id) => IsLocalId(id) ? id < _nextLocalId : id <= _highestRemoteId;

    // ---------------------------------------------------------------- read loop

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

        ChannelError error = Enum.IsDefined((ChannelError)code) ? (ChannelError)code : ChannelError.Canceled;
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
            ChannelError error = Enum.IsDefined((ChannelError)code) ? (ChannelError)code : ChannelError.ConnectionClosed;
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

    // ---------------------------------------------------------------- write loop

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

    // ---------------------------------------------------------------- keepalive and closing

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

    private readonly record struct ControlFrame(FrameType Type, FrameFlags Flags, ushort ChannelId, byte[] Payload)
    {
        public static ControlFrame WindowUpdate(ushort channelId, uint increment)
        {
            byte[] payload = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(payload, increment);
            return new(FrameType.WindowUpdate, FrameFlags.None, channelId, payload);
        }

        public static ControlFrame Ping(ulong id, bool ack)
        {
            byte[] payload = new byte[8];
            BinaryPrimitives.WriteUInt64BigEndian(payload, id);
            return new(FrameType.Ping, ack ? FrameFlags.Ack : FrameFlags.None, 0, payload);
        }

        public static ControlFrame Reset(ushort channelId, ChannelError error, string reason) => new(FrameType.ChannelReset, FrameFlags.None, channelId, CodeAndReason(error, reason));

        public static ControlFrame GoAway(ChannelError error, string reason) => new(FrameType.GoAway, FrameFlags.None, 0, CodeAndReason(error, reason));

        private static byte[] CodeAndReason(ChannelError error, string reason)
        {
            byte[] text = Encoding.UTF8.GetBytes(reason.Length > 400 ? reason[..400] : reason);
            byte[] payload = new byte[4 + text.Length];
            BinaryPrimitives.WriteUInt32BigEndian(payload, (uint)error);
            text.CopyTo(payload, 4);
            return payload;
        }
    }
}
