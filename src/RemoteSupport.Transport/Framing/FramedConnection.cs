using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Text;
using RemoteSupport.Transport.Transports;

namespace RemoteSupport.Transport.Framing;

/// <summary>
/// Frames over a <see cref="TransportConnection"/>: exchanges the preface, then reads and writes
/// frames (docs/protocol/framing.md). One reader and one writer at a time. A protocol violation or a
/// timeout closes the connection with its reason, after telling the peer with a GoAway frame.
/// </summary>
/// <remarks>
/// Reading does not allocate per frame: <see cref="ReadFrameAsync"/> returns a frame whose payload
/// is a slice of the receive buffer, valid until the next call. Writing buffers frames until
/// <see cref="FlushAsync"/>, so many frames go out per flush.
/// </remarks>
public sealed class FramedConnection : IAsyncDisposable
{
    private static readonly TimeSpan GoAwayTimeout = TimeSpan.FromSeconds(1);

    private readonly TransportConnection _transport;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly FramingOptions _options;
    private readonly TimeProvider _time;
    private readonly ITimer _timer;

    // Receive state: the buffer from the last read, held until it has no complete frame left.
    private ReadOnlySequence<byte> _buffer;
    private SequencePosition _consumed;
    private bool _holding;
    private bool _inputCompleted;
    private bool _ended;
    private long _frameStartedAt;
    private long _pendingBytes;
    private long _pendingFrameLength = -1;
    private volatile bool _timerFired;

    // 0: free; 1: a write or flush is in progress; 2: closed for writing.
    private int _writeState;

    private FramedConnection(TransportConnection transport, FramingOptions options)
    {
        _transport = transport;
        _input = transport.Input;
        _output = transport.Output;
        _options = options;
        _time = options.TimeProvider;
        _timer = _time.CreateTimer(static state => ((FramedConnection)state!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Gets the underlying transport connection.</summary>
    public TransportConnection Transport => _transport;

    /// <summary>Gets the largest frame payload this side accepts.</summary>
    public int MaxFramePayload => _options.MaxFramePayload;

    /// <summary>Gets the largest frame payload the peer accepts: the most this side may send in one frame.</summary>
    public int PeerMaxFramePayload { get; private set; }

    /// <summary>Gets the framing version the peer announced, as <c>major.minor</c>.</summary>
    public Version PeerVersion { get; private set; } = new(0, 0);

    /// <summary>Gets why the connection closed, or <see cref="ConnectionCloseReason.None"/>.</summary>
    public ConnectionCloseReason CloseReason => _transport.CloseReason;

    /// <summary>
    /// Sends this side's preface and reads the peer's within <see cref="FramingOptions.HandshakeTimeout"/>.
    /// </summary>
    /// <exception cref="FramingException">The peer's preface is wrong or late; the connection is closed with the reason.</exception>
    public static async ValueTask<FramedConnection> StartAsync(
        TransportConnection transport, FramingOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(transport);
        options ??= new FramingOptions();
        options.Validate();
        var connection = new FramedConnection(transport, options);
        try
        {
            FrameCodec.WritePreface(connection._output, options.MaxFramePayload);
            await connection._output.FlushAsync(cancellationToken).ConfigureAwait(false);
            await connection.ReadPrefaceAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch (Exception ex) when (ex is not FramingException)
        {
            connection._transport.RecordCloseReason(ex is OperationCanceledException ? ConnectionCloseReason.Aborted : ConnectionCloseReason.TransportError,
                "The preface exchange failed: " + ex.Message);
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Reads the next frame. Its payload is valid until the next call. Returns
    /// <see cref="FrameReadResult.IsCompleted"/> when the peer ended the connection at a frame boundary.
    /// </summary>
    /// <exception cref="FramingException">The peer violated the protocol or was too slow; the connection is closed with the reason.</exception>
    public ValueTask<FrameReadResult> ReadFrameAsync(CancellationToken cancellationToken = default)
    {
        if (_ended)
        {
            return new(new FrameReadResult(default, isCompleted: true, isCanceled: false));
        }

        if (_holding)
        {
            Frame frame;
            try
            {
                if (TryParseHeld(out frame))
                {
                    return new(new FrameReadResult(frame, false, false));
                }
            }
            catch (FramingException ex)
            {
                return FailThenThrowAsync(ex);
            }

            if (_inputCompleted)
            {
                return EndOfInputAsync();
            }

            ReleaseHeld();
        }

        return ReadFrameSlowAsync(cancellationToken);
    }

    /// <summary>Buffers one frame for sending; <see cref="FlushAsync"/> sends what is buffered.</summary>
    /// <exception cref="ArgumentException">The payload is larger than <see cref="PeerMaxFramePayload"/>.</exception>
    /// <exception cref="InvalidOperationException">Another write is in progress, or the connection is closed for writing.</exception>
    public void WriteFrame(FrameType type, FrameFlags flags, ushort channelId, ReadOnlySpan<byte> payload)
    {
        if (payload.Length > PeerMaxFramePayload)
        {
            Error.Argument(nameof(payload), string.Create(CultureInfo.InvariantCulture,
                $"The payload is {payload.Length} bytes; the peer accepts at most {PeerMaxFramePayload} per frame."));
        }

        EnterWrite();
        try
        {
            FrameCodec.WriteFrame(_output, type, flags, channelId, payload);
        }
        finally
        {
            ExitWrite();
        }
    }

    /// <summary>Buffers one frame whose payload is a sequence (the multiplexer sends slices of its channels' buffers).</summary>
    internal void WriteFrame(FrameType type, FrameFlags flags, ushort channelId, in ReadOnlySequence<byte> payload)
    {
        if (payload.Length > PeerMaxFramePayload)
        {
            Error.Argument(nameof(payload), string.Create(CultureInfo.InvariantCulture,
                $"The payload is {payload.Length} bytes; the peer accepts at most {PeerMaxFramePayload} per frame."));
        }

        EnterWrite();
        try
        {
            FrameCodec.WriteFrame(_output, type, flags, channelId, payload);
        }
        finally
        {
            ExitWrite();
        }
    }

    /// <summary>
    /// Starts a frame of <paramref name="payloadLength"/> bytes and returns its payload's place in the
    /// output buffer, to fill in place (the secure channel encrypts straight into it); finish with <see cref="CommitFrame"/>.
    /// </summary>
    internal Span<byte> BeginFrame(FrameType type, FrameFlags flags, ushort channelId, int payloadLength)
    {
        if (payloadLength > PeerMaxFramePayload)
        {
            Error.Argument(nameof(payloadLength), string.Create(CultureInfo.InvariantCulture,
                $"The payload is {payloadLength} bytes; the peer accepts at most {PeerMaxFramePayload} per frame."));
        }

        EnterWrite();
        Span<byte> span = _output.GetSpan(FrameCodec.HeaderSize + payloadLength);
        FrameCodec.WriteHeader(span, (uint)payloadLength, type, flags, channelId);
        return span.Slice(FrameCodec.HeaderSize, payloadLength);
    }

    /// <summary>Finishes the frame started by <see cref="BeginFrame"/>.</summary>
    internal void CommitFrame(int payloadLength)
    {
        _output.Advance(FrameCodec.HeaderSize + payloadLength);
        ExitWrite();
    }

    /// <summary>Gives up the frame started by <see cref="BeginFrame"/> without writing it.</summary>
    internal void AbandonFrame() => ExitWrite();

    /// <summary>Sends the buffered frames; waits while the transport applies backpressure.</summary>
    public async ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        EnterWrite();
        try
        {
            return await _output.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ExitWrite();
        }
    }

    /// <summary>
    /// Closes gracefully: sends GoAway (code 0) with <paramref name="reason"/>, ends the output, and
    /// releases the transport once unsent data has drained.
    /// </summary>
    public async ValueTask CloseAsync(string reason = "closing", CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reason);
        _transport.RecordCloseReason(ConnectionCloseReason.LocalClose, reason);
        await SendGoAwayAsync((uint)FramingError.None, reason, cancellationToken).ConfigureAwait(false);
        await DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Sends GoAway (code 0) with <paramref name="reason"/> and ends the output; the input stays open until the peer ends.</summary>
    internal async ValueTask ShutdownOutputAsync(string reason)
    {
        _transport.RecordCloseReason(ConnectionCloseReason.LocalClose, reason);
        await SendGoAwayAsync((uint)FramingError.None, reason, CancellationToken.None).ConfigureAwait(false);
        await _output.CompleteAsync().ConfigureAwait(false);
    }

    /// <summary>Wakes a read or a flush waiting on another thread: it returns canceled.</summary>
    internal void CancelPendingIo()
    {
        _input.CancelPendingRead();
        _output.CancelPendingFlush();
    }

    /// <summary>Releases the connection; unsent data drains within the transport's shutdown timeout.</summary>
    public async ValueTask DisposeAsync()
    {
        _timer.Dispose();
        _ended = true;
        _input.CancelPendingRead(); // a reader waiting on another thread wakes and sees the end
        _output.CancelPendingFlush(); // so does a writer waiting for a peer that stopped reading

        // A write in progress on another thread finishes first (writes are synchronous, a waiting flush
        // was just canceled): the output buffer must not go back to the pool under it.
        var spin = new SpinWait();
        while (Interlocked.CompareExchange(ref _writeState, 2, 0) == 1)
        {
            spin.SpinOnce();
        }

        Interlocked.Exchange(ref _writeState, 2);
        if (_holding)
        {
            ReleaseHeld();
        }

        await _transport.DisposeAsync().ConfigureAwait(false);
    }

    private void EnterWrite()
    {
        int state = Interlocked.CompareExchange(ref _writeState, 1, 0);
        if (state != 0)
        {
            throw new InvalidOperationException(state == 2
                ? $"The connection is closed for writing ({_transport.CloseReason}: {_transport.CloseDetail})."
                : "Another write or flush is in progress; a framed connection has one writer at a time.");
        }
    }

    private void ExitWrite() => Interlocked.CompareExchange(ref _writeState, 0, 1);

    private bool TryParseHeld(out Frame frame)
    {
        SequencePosition examined = _consumed;
        try
        {
            return FrameCodec.TryReadFrame(_buffer, _options.MaxFramePayload, ref _consumed, ref examined, out frame);
        }
        catch (FramingException)
        {
            ReleaseHeld();
            throw;
        }
    }

    private void ReleaseHeld()
    {
        // Note what is left of a partial frame before the buffer goes back to the pipe.
        ReadOnlySequence<byte> left = _buffer.Slice(_consumed);
        _pendingBytes = left.Length;
        _pendingFrameLength = FrameCodec.TryPeekPayloadLength(left, out uint length) ? length : -1;
        _holding = false;
        _input.AdvanceTo(_consumed, _buffer.End);
        _buffer = default;
        _consumed = default;
    }

    private async ValueTask<FrameReadResult> FailThenThrowAsync(FramingException error)
    {
        await FailAsync(error).ConfigureAwait(false);
        throw error;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))] // an idle connection waits here between messages: reuse the state machine instead of promoting a new one each time
    private async ValueTask<FrameReadResult> ReadFrameSlowAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                if (!await FillAsync(_pendingBytes, cancellationToken).ConfigureAwait(false))
                {
                    return new FrameReadResult(default, false, isCanceled: true);
                }

                if (TryParseHeld(out Frame frame))
                {
                    _frameStartedAt = 0;
                    return new FrameReadResult(frame, false, false);
                }

                if (_inputCompleted)
                {
                    return await EndOfInputAsync().ConfigureAwait(false);
                }

                ReleaseHeld();
            }
        }
        catch (FramingException ex)
        {
            await FailAsync(ex).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Reads more bytes into the held buffer, with the idle or minimum-data-rate deadline armed.</summary>
    /// <returns><see langword="false"/> when the read was canceled with CancelPendingRead by someone else.</returns>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))] // an idle connection waits here between messages: reuse the state machine instead of promoting a new one each time
    private async ValueTask<bool> FillAsync(long pendingBytes, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (!_input.TryRead(out ReadResult result))
            {
                (long deadline, ConnectionCloseReason reason) = Deadline(pendingBytes);
                Arm(deadline);
                try
                {
                    result = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    Disarm();
                }

                if (result.IsCanceled)
                {
                    bool ours = _timerFired;
                    _timerFired = false;
                    _input.AdvanceTo(result.Buffer.Start);
                    if (deadline != long.MaxValue && _time.GetTimestamp() >= deadline)
                    {
                        throw TimeoutError(reason, pendingBytes);
                    }

                    if (ours)
                    {
                        continue; // a timer that fired for an earlier read
                    }

                    return false;
                }
            }
            else if (result.IsCanceled)
            {
                _input.AdvanceTo(result.Buffer.Start);
                if (_timerFired)
                {
                    _timerFired = false;
                    continue;
                }

                return false;
            }

            _buffer = result.Buffer;
            _consumed = _buffer.Start;
            _holding = true;
            _inputCompleted = result.IsCompleted;
            return true;
        }
    }

    private (long Deadline, ConnectionCloseReason Reason) Deadline(long pendingBytes)
    {
        long now = _time.GetTimestamp();
        if (pendingBytes == 0)
        {
            _frameStartedAt = 0;
            return _options.IdleTimeout == Timeout.InfiniteTimeSpan
                ? (long.MaxValue, ConnectionCloseReason.IdleTimeout)
                : (now + ToTimestamp(_options.IdleTimeout), ConnectionCloseReason.IdleTimeout);
        }

        if (_options.MinDataRate == 0)
        {
            return (long.MaxValue, ConnectionCloseReason.MinDataRate);
        }

        if (_frameStartedAt == 0)
        {
            _frameStartedAt = now;
        }

        TimeSpan allowed = _options.MinDataRateGracePeriod;
        if (_pendingFrameLength >= 0)
        {
            allowed += TimeSpan.FromSeconds((FrameCodec.HeaderSize + _pendingFrameLength) / _options.MinDataRate);
        }

        return (_frameStartedAt + ToTimestamp(allowed), ConnectionCloseReason.MinDataRate);
    }

    private long ToTimestamp(TimeSpan span) => (long)(span.TotalSeconds * _time.TimestampFrequency);

    private void Arm(long deadline)
    {
        if (deadline == long.MaxValue)
        {
            return;
        }

        TimeSpan due = _time.GetElapsedTime(_time.GetTimestamp(), deadline);
        _timer.Change(due < TimeSpan.Zero ? TimeSpan.Zero : due, Timeout.InfiniteTimeSpan);
    }

    private void Disarm() => _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);

    private void OnTimer()
    {
        _timerFired = true;
        _input.CancelPendingRead();
    }

    private async ValueTask ReadPrefaceAsync(CancellationToken cancellationToken)
    {
        long deadline = _time.GetTimestamp() + ToTimestamp(_options.HandshakeTimeout);
        try
        {
            while (true)
            {
                ReadResult result;
                Arm(_options.HandshakeTimeout == Timeout.InfiniteTimeSpan ? long.MaxValue : deadline);
                try
                {
                    result = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    Disarm();
                }

                ReadOnlySequence<byte> buffer = result.Buffer;
                SequencePosition consumed = buffer.Start;
                SequencePosition examined = buffer.End;
                try
                {
                    if (result.IsCanceled)
                    {
                        _timerFired = false;
                        if (_time.GetTimestamp() >= deadline)
                        {
                            throw new FramingException(FramingError.Timeout, ConnectionCloseReason.HandshakeTimeout, string.Create(CultureInfo.InvariantCulture,
                                $"The peer's preface did not arrive within {_options.HandshakeTimeout.TotalSeconds:0.###} s ({buffer.Length} of {FrameCodec.PrefaceSize} bytes)."));
                        }

                        examined = consumed;
                        continue;
                    }

                    if (FrameCodec.TryReadPreface(buffer, ref consumed, ref examined, out byte major, out byte minor, out int peerMax))
                    {
                        PeerVersion = new Version(major, minor);
                        PeerMaxFramePayload = peerMax;
                        return;
                    }

                    if (result.IsCompleted)
                    {
                        throw FrameCodec.Violation(FramingError.TruncatedFrame, string.Create(CultureInfo.InvariantCulture,
                            $"The connection ended inside the preface ({buffer.Length} of {FrameCodec.PrefaceSize} bytes)."));
                    }
                }
                finally
                {
                    _input.AdvanceTo(consumed, examined);
                }
            }
        }
        catch (FramingException ex)
        {
            await FailAsync(ex).ConfigureAwait(false);
            throw;
        }
    }

    private async ValueTask<FrameReadResult> EndOfInputAsync()
    {
        ReleaseHeld();
        long left = _pendingBytes;
        if (left == 0)
        {
            _ended = true;
            _transport.RecordCloseReason(ConnectionCloseReason.RemoteClose, "The peer ended the connection.");
            return new FrameReadResult(default, isCompleted: true, isCanceled: false);
        }

        var error = FrameCodec.Violation(FramingError.TruncatedFrame, string.Create(CultureInfo.InvariantCulture,
            $"The connection terminated while reading a frame ({left} bytes of it had arrived)."));
        await FailAsync(error).ConfigureAwait(false);
        throw error;
    }

    private FramingException TimeoutError(ConnectionCloseReason reason, long pendingBytes) => reason == ConnectionCloseReason.IdleTimeout
        ? new FramingException(FramingError.Timeout, reason, string.Create(CultureInfo.InvariantCulture,
            $"Nothing arrived for {_options.IdleTimeout.TotalSeconds:0.###} s (idle timeout)."))
        : new FramingException(FramingError.Timeout, reason, string.Create(CultureInfo.InvariantCulture,
            $"A frame arrived slower than {_options.MinDataRate:0.###} bytes/s after a {_options.MinDataRateGracePeriod.TotalSeconds:0.###} s grace period ({pendingBytes} bytes had arrived)."));

    /// <summary>Records the reason, tells the peer with GoAway (best effort, bounded), and closes.</summary>
    private ValueTask FailAsync(FramingException error) => CloseWithErrorAsync((uint)error.Error, error.Message, error.CloseReason);

    /// <summary>Records <paramref name="closeReason"/>, sends GoAway with <paramref name="code"/> and <paramref name="reason"/> (best effort, bounded by a short timeout), and closes.</summary>
    internal async ValueTask CloseWithErrorAsync(uint code, string reason, ConnectionCloseReason closeReason)
    {
        _ended = true;
        _transport.RecordCloseReason(closeReason, reason);
        try
        {
            using var timeout = new CancellationTokenSource(GoAwayTimeout, _time);
            await SendGoAwayAsync(code, reason, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or InvalidOperationException or IOException)
        {
            // The peer is gone or not reading; the reason is recorded locally either way.
        }

        await DisposeAsync().ConfigureAwait(false);
    }

    private async ValueTask SendGoAwayAsync(uint code, string reason, CancellationToken cancellationToken)
    {
        if (Interlocked.CompareExchange(ref _writeState, 1, 0) != 0)
        {
            return; // a write is in progress or writing is closed: the peer learns from the closed connection
        }

        try
        {
            int max = Math.Max(0, Math.Min(PeerMaxFramePayload == 0 ? FrameCodec.MinMaxFramePayload : PeerMaxFramePayload, 512) - 4);
            byte[] text = Encoding.UTF8.GetBytes(reason.Length > max ? reason[..max] : reason);
            byte[] payload = new byte[4 + Math.Min(text.Length, max)];
            BinaryPrimitives.WriteUInt32BigEndian(payload, code);
            text.AsSpan(0, payload.Length - 4).CopyTo(payload.AsSpan(4));
            FrameCodec.WriteFrame(_output, FrameType.GoAway, FrameFlags.None, 0, payload);
            await _output.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Exchange(ref _writeState, 2);
        }
    }
}
