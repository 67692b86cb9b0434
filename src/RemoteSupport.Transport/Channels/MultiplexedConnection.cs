using System.Buffers.Binary;
using System.Globalization;
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
public sealed partial class MultiplexedConnection : IAsyncDisposable
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

    // Which lock guards which field:
    // - Sync (the connection's lock) guards the channel table (_channels), the queues the writer drains
    //   (_control, _ready, _waitingForConnectionCredit), the pings (_pings, _nextPingId, _keepAliveSentAt),
    //   both connection windows (_connectionSendCredit, _connectionReceiveCredit, _connectionConsumedUnacknowledged),
    //   the id counters (_nextLocalId, _highestRemoteId, _remoteOpen) and the closing state (_peerGoingAway,
    //   _shuttingDown, _closeRequested, _tellPeer, _closeReason, _failure, _closed). Never held across an await.
    // - Each channel's SendLock guards its send-side state, ReceiveLock its receive-side state (MultiplexedChannel).
    //   Order: the writer takes Sync inside a channel's SendLock (SendFrom), so code holding Sync never takes a
    //   SendLock.
    // - Lock-free: _wakePending, _writerRunning and _readLoopThread (Interlocked), _lastReceivedAt (Volatile);
    //   _receivePending belongs to the read loop alone. The readonly fields are set in the constructor.
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
