using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;

namespace RemoteSupport.Transport.Channels;

/// <summary>
/// One logical channel of a <see cref="MultiplexedConnection"/>: a byte stream each way
/// (<see cref="Input"/>, <see cref="Output"/>) with flow control, and length-prefixed messages on top.
/// </summary>
/// <remarks>
/// Completing <see cref="Output"/> ends this side's stream (half-close); the peer reads to the end.
/// Memory is bounded both ways: the peer sends at most the channel's window before the application
/// here consumes; <see cref="Output"/>'s flush waits while the send buffer is full, and its
/// <c>WriteAsync</c> sends from the caller's buffer, completing once the bytes are framed.
/// </remarks>
public sealed class MultiplexedChannel : IDuplexPipe, IAsyncDisposable, RemoteSupport.Sessions.ISessionChannel
{
    private readonly MultiplexedConnection _connection;
    private readonly Pipe _receive;
    private readonly Pipe _send;
    private readonly ChannelInput _input;
    private readonly ChannelOutput _output;
    private readonly TaskCompletionSource _opened = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // The message being received: kept across calls, so a canceled receive loses nothing.
    private byte[]? _message;
    private int _messageFilled;
    private int _messageLength = -1;

    internal MultiplexedChannel(MultiplexedConnection connection, ushort id, string name, bool isLocal, int receiveWindow, int sendBufferSize)
    {
        _connection = connection;
        Id = id;
        Name = name;
        IsLocal = isLocal;
        ReceiveWindow = receiveWindow;
        ReceiveCredit = receiveWindow;
        // Each frame asks for its own size: a small message takes a 4 KiB pool buffer, a large frame one its size.
        _receive = new Pipe(new PipeOptions(pauseWriterThreshold: 0, resumeWriterThreshold: 0, minimumSegmentSize: 4 * 1024, useSynchronizationContext: false));
        _send = new Pipe(new PipeOptions(
            pauseWriterThreshold: sendBufferSize, resumeWriterThreshold: sendBufferSize / 2, minimumSegmentSize: 16 * 1024,
            readerScheduler: PipeScheduler.Inline, useSynchronizationContext: false));
        _input = new ChannelInput(this, _receive.Reader);
        _output = new ChannelOutput(this, _send.Writer);
    }

    /// <summary>Gets the channel id: odd when the connection's initiator opened it, even otherwise.</summary>
    public ushort Id { get; }

    /// <summary>Gets the name the opener gave the channel (for example <c>control</c> or <c>fix</c>).</summary>
    public string Name { get; }

    /// <summary>Gets a value indicating whether this side opened the channel.</summary>
    public bool IsLocal { get; }

    /// <summary>Gets the bytes the peer sends, in order; completed at the peer's end of stream, faulted with <see cref="ChannelException"/> on a reset.</summary>
    public PipeReader Input => _input;

    /// <summary>Gets the writer for bytes to the peer; complete it to end this side's stream.</summary>
    public PipeWriter Output => _output;

    /// <summary>Gets a task that completes when the channel is closed both ways or reset.</summary>
    public Task Closed => _closed.Task;

    // State below is guarded by the connection's lock.
    internal ChannelState State { get; set; }

    internal long SendCredit { get; set; }

    internal int ReceiveWindow { get; }

    internal long ReceiveCredit { get; set; }

    internal long ConsumedUnacknowledged { get; set; }

    internal long Received { get; set; }

    internal long Consumed { get; set; }

    internal bool LocalEnded { get; set; }

    internal bool RemoteEnded { get; set; }

    internal bool InputCompleted { get; set; }

    internal bool Queued { get; set; }

    /// <summary>Gets or sets whether the application completed <see cref="Output"/> without an error.</summary>
    internal bool OutputCompleted { get; set; }

    /// <summary>Gets or sets whether received bytes wait for a flush (read loop only).</summary>
    internal bool ReceivePending { get; set; }

    internal bool WaitingForConnectionCredit { get; set; }

    internal ChannelException? Failure { get; set; }

    /// <summary>Guards the receive pipe's writer: the read loop writes, a reset from any thread completes.</summary>
    internal Lock ReceiveLock { get; } = new();

    /// <summary>Guards the send pipe's reader: the write loop reads, a reset from any thread completes.</summary>
    internal Lock SendLock { get; } = new();

    /// <summary>Bytes flushed into the send pipe and not yet sent (the application adds, the writer subtracts).</summary>
    internal long SendBuffered;

    private TaskCompletionSource<FlushResult>? _pendingWriteDone; // guarded by SendLock
    private volatile bool _hasPendingWrite;

    /// <summary>
    /// Gets or sets the rest of a <see cref="PipeWriter.WriteAsync"/> that could not be sent at once:
    /// still the application's buffer (the write completes when it has been framed), or this
    /// channel's own copy once the write was canceled. Sent before the send pipe's bytes. Guarded by <see cref="SendLock"/>.
    /// </summary>
    internal ReadOnlyMemory<byte> PendingWrite { get; set; }

    /// <summary>Gets or sets whether the send pipe's reader is completed (guarded by <see cref="SendLock"/>).</summary>
    internal bool SendDone { get; set; }

    internal PipeWriter ReceiveWriter => _receive.Writer;

    internal PipeReader SendReader => _send.Reader;

    internal Task Opened => _opened.Task;

    /// <summary>
    /// Sends one message: a 4-byte big-endian length, then the bytes. Not to be mixed with other
    /// writes in progress on <see cref="Output"/>.
    /// </summary>
    /// <exception cref="ChannelException">The channel was reset or the connection ended.</exception>
    public async ValueTask SendMessageAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
    {
        Span<byte> prefix = _output.GetSpan(4);
        BinaryPrimitives.WriteUInt32BigEndian(prefix, (uint)message.Length);
        _output.Advance(4);
        _output.Write(message.Span);
        FlushResult result = await _output.FlushAsync(cancellationToken).ConfigureAwait(false);
        if (result.IsCompleted)
        {
            throw Failure ?? new ChannelException(ChannelError.StreamClosed, Id, false, $"Channel {Id} ({Name}) is closed for sending.");
        }
    }

    /// <summary>
    /// Receives the next message sent with <see cref="SendMessageAsync"/>, or <see langword="null"/>
    /// when the peer ended its stream between messages.
    /// </summary>
    /// <remarks>
    /// Canceled in the middle of a message, the bytes already taken are kept: the next call goes on
    /// with the same message. Not to be called concurrently.
    /// </remarks>
    /// <exception cref="ChannelException">The channel was reset, the stream ended inside a message, or a message exceeds <see cref="MultiplexerOptions.MaxMessageSize"/> (the channel is reset).</exception>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))] // an idle connection waits here between messages: reuse the state machine instead of promoting a new one each time
    public async ValueTask<byte[]?> ReceiveMessageAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            ReadResult result = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            if (_messageLength < 0 && buffer.Length >= 4)
            {
                uint announced = MultiplexedConnection.ReadUInt32(buffer);
                if (announced > (uint)_connection.Options.MaxMessageSize)
                {
                    _input.AdvanceTo(buffer.Start);
                    var tooLarge = new ChannelException(ChannelError.MessageTooLarge, Id, false, string.Create(CultureInfo.InvariantCulture,
                        $"A message on channel {Id} ({Name}) announces {announced} bytes; the limit is {_connection.Options.MaxMessageSize}."));
                    _connection.Reset(this, tooLarge);
                    throw tooLarge;
                }

                _messageLength = (int)announced;
                buffer = buffer.Slice(4);

                // Grown as bytes arrive: memory follows what the peer sent, not what it announced.
                _message = new byte[Math.Min(_messageLength, 64 * 1024)];
            }

            if (_messageLength >= 0)
            {
                int take = (int)Math.Min(buffer.Length, _messageLength - _messageFilled);
                if (_messageFilled + take > _message!.Length)
                {
                    Array.Resize(ref _message, (int)Math.Min(_messageLength, Math.Max((long)_message.Length * 2, _messageFilled + take)));
                }

                buffer.Slice(0, take).CopyTo(_message.AsSpan(_messageFilled));
                _messageFilled += take;
                buffer = buffer.Slice(take);
                if (_messageFilled == _messageLength)
                {
                    _input.AdvanceTo(buffer.Start);
                    byte[] message = _message;
                    (_message, _messageFilled, _messageLength) = (null, 0, -1);
                    return message;
                }
            }

            if (result.IsCompleted)
            {
                _input.AdvanceTo(buffer.End);
                if (_messageLength < 0 && buffer.IsEmpty)
                {
                    return null;
                }

                throw new ChannelException(ChannelError.StreamClosed, Id, true, string.Create(CultureInfo.InvariantCulture,
                    $"Channel {Id} ({Name}) ended inside a message ({_messageFilled} of {(_messageLength < 0 ? 4 : _messageLength)} bytes)."));
            }

            // What was copied is consumed (its credit returns to the peer); the message so far stays in the fields.
            _input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Resets the channel both ways: the peer's reads and writes fail with <paramref name="reason"/>.</summary>
    public void Reset(string reason = "reset by the application")
    {
        ArgumentNullException.ThrowIfNull(reason);
        _connection.Reset(this, new ChannelException(ChannelError.Canceled, Id, false, reason));
    }

    /// <summary>
    /// Releases the channel: one that has not finished both ways is reset; one whose ends are complete
    /// stays until the peer's end arrives.
    /// </summary>
    public ValueTask DisposeAsync()
    {
        bool finished;
        lock (_connection.Sync)
        {
            // An output completed without error still sends what it holds, then its end.
            finished = State == ChannelState.Closed || OutputCompleted;
        }

        if (!finished)
        {
            _connection.Reset(this, new ChannelException(ChannelError.Canceled, Id, false, $"Channel {Id} ({Name}) was disposed before it finished."));
        }

        _input.Complete();
        _output.Complete();
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"channel {Id} ({Name})");

    internal void MarkOpened() => _opened.TrySetResult();

    internal void MarkClosed(ChannelException? failure)
    {
        if (failure is not null)
        {
            _opened.TrySetException(failure);
            _opened.Task.Exception?.Handle(_ => true);
        }
        else
        {
            _opened.TrySetResult();
        }

        _closed.TrySetResult();
    }

    /// <summary>Completes the receive pipe's writer (the application reads to the end, or gets <paramref name="failure"/>).</summary>
    internal void CompleteReceive(Exception? failure)
    {
        lock (ReceiveLock)
        {
            _receive.Writer.Complete(failure);
        }
    }

    /// <summary>Completes the send pipe's reader: the application's next flush fails with <paramref name="failure"/>, a write waiting to be sent too.</summary>
    internal void CompleteSend(Exception? failure)
    {
        lock (SendLock)
        {
            SendDone = true;
            _send.Reader.Complete(failure);
        }

        CompletePendingWrite(failure ?? Failure);
    }

    /// <summary>Ends the waiting write: sent (<paramref name="failure"/> <see langword="null"/>), or never to be.</summary>
    internal void CompletePendingWrite(Exception? failure)
    {
        TaskCompletionSource<FlushResult>? done;
        lock (SendLock)
        {
            done = _pendingWriteDone;
            if (failure is null && !PendingWrite.IsEmpty && !SendDone)
            {
                return; // not all of it was sent yet
            }

            _pendingWriteDone = null;
            PendingWrite = default;
            _hasPendingWrite = false;
        }

        if (done is null)
        {
            return;
        }

        if (failure is null)
        {
            done.TrySetResult(new FlushResult(isCanceled: false, isCompleted: SendDone));
        }
        else
        {
            done.TrySetException(failure);
        }
    }

    /// <summary>Leaves <paramref name="rest"/> in the application's buffer for the writer, which frames it in its turn.</summary>
    private async ValueTask<FlushResult> QueueWriteAsync(ReadOnlyMemory<byte> rest, CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource<FlushResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (SendLock)
        {
            if (SendDone)
            {
                return Failure is null ? new FlushResult(isCanceled: false, isCompleted: true) : throw Failure;
            }

            PendingWrite = rest;
            _pendingWriteDone = done;
            _hasPendingWrite = true;
        }

        _connection.MarkReady(this);
        using (cancellationToken.UnsafeRegister(static (state, token) => ((MultiplexedChannel)state!).CancelPendingWrite(token), this))
        {
            return await done.Task.ConfigureAwait(false);
        }
    }

    /// <summary>The application gave up waiting: what is left is copied (its buffer is its own again) and still sent, in order.</summary>
    private void CancelPendingWrite(CancellationToken token)
    {
        TaskCompletionSource<FlushResult>? done;
        lock (SendLock)
        {
            done = _pendingWriteDone;
            if (done is null)
            {
                return;
            }

            _pendingWriteDone = null;
            PendingWrite = PendingWrite.ToArray();
        }

        done.TrySetCanceled(token);
    }

    private sealed class ChannelInput(MultiplexedChannel channel, PipeReader inner) : PipeReader
    {
        private ReadOnlySequence<byte> _last;

        public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
        {
            long bytes = _last.Slice(_last.Start, consumed).Length;
            _last = default;
            inner.AdvanceTo(consumed, examined);
            if (bytes > 0)
            {
                channel._connection.OnConsumed(channel, bytes);
            }
        }

        public override void CancelPendingRead() => inner.CancelPendingRead();

        public override void Complete(Exception? exception = null)
        {
            inner.Complete(exception);
            channel._connection.OnInputCompleted(channel);
        }

        [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
        public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        {
            ReadResult result = await inner.ReadAsync(cancellationToken).ConfigureAwait(false);
            _last = result.Buffer;
            return result;
        }

        public override bool TryRead(out ReadResult result)
        {
            if (inner.TryRead(out result))
            {
                _last = result.Buffer;
                return true;
            }

            return false;
        }
    }

    private sealed class ChannelOutput(MultiplexedChannel channel, PipeWriter inner) : PipeWriter
    {
        public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

        public override long UnflushedBytes => inner.UnflushedBytes;

        public override void Advance(int bytes) => inner.Advance(bytes);

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null)
        {
            Interlocked.Add(ref channel.SendBuffered, inner.UnflushedBytes);
            inner.Complete(exception);
            if (exception is null)
            {
                lock (channel._connection.Sync)
                {
                    channel.OutputCompleted = true;
                }
            }

            channel._connection.OnOutputCompleted(channel, exception);
        }

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            long unflushed = inner.UnflushedBytes;
            ValueTask<FlushResult> flush = inner.FlushAsync(cancellationToken);
            if (inner.UnflushedBytes == 0)
            {
                // Counted once committed (a flush canceled before it commits leaves them unflushed). Only
                // this thread reads the count to choose the direct path, and only after this returns.
                Interlocked.Add(ref channel.SendBuffered, unflushed);
            }

            channel._connection.MarkReady(channel);
            return flush;
        }

        /// <summary>
        /// Sends from <paramref name="source"/> itself when the channel has nothing buffered: at once
        /// when the connection's writer is idle and there is credit, else the writer frames the rest
        /// from <paramref name="source"/> in its turn and the write completes then (no copy into the
        /// send buffer; memory stays bounded by the caller's buffer). Otherwise buffers as a flush would.
        /// </summary>
        public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
        {
            if (source.IsEmpty)
            {
                return FlushAsync(cancellationToken); // nothing to send or to wait for: a flush
            }

            if (!cancellationToken.IsCancellationRequested && !channel._hasPendingWrite
                && inner.UnflushedBytes == 0 && Volatile.Read(ref channel.SendBuffered) == 0)
            {
                int sent = channel._connection.BeginDirect(channel, source.Span);
                if (sent < 0)
                {
                    return channel.QueueWriteAsync(source, cancellationToken); // the busy writer frames it in its turn
                }

                // The rest is queued while this thread holds the writer, so the drain below already includes it.
                ValueTask<FlushResult> written = sent == source.Length
                    ? new ValueTask<FlushResult>(new FlushResult(isCanceled: false, isCompleted: false))
                    : channel.QueueWriteAsync(source[sent..], cancellationToken);
                channel._connection.EndDirect();
                return written;
            }

            inner.Write(source.Span);
            return FlushAsync(cancellationToken);
        }

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);
    }
}

internal enum ChannelState
{
    Opening,
    Open,
    Closed,
}
