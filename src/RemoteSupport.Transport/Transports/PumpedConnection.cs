using System.Buffers;
using System.IO.Pipelines;

namespace RemoteSupport.Transport.Transports;

/// <summary>
/// A connection whose bytes move between pipes and a byte transport (a socket, a stream) on two
/// loops: receive (transport → input pipe) and send (output pipe → transport).
/// </summary>
internal abstract class PumpedConnection : TransportConnection
{
    private readonly Pipe _input;
    private readonly Pipe _output;
    // Never disposed: it has no timer, and Abort may race with disposal.
    private readonly CancellationTokenSource _stopping = new();
    private readonly TransportOptions _options;
    private Task _receiving = Task.CompletedTask;
    private Task _sending = Task.CompletedTask;
    private int _transportClosed;
    private volatile bool _holdsReceiveBuffer;

    protected PumpedConnection(string remoteEndPoint, TransportOptions options)
        : base(remoteEndPoint)
    {
        _options = options;
        _input = new Pipe(options.InputPipeOptions);
        _output = new Pipe(options.OutputPipeOptions);
    }

    public override PipeReader Input => _input.Reader;

    public override PipeWriter Output => _output.Writer;

    /// <summary>Gets whether the receive loop holds a pipe buffer now (tests: an idle socket must not).</summary>
    internal bool HoldsReceiveBuffer => _holdsReceiveBuffer;


    protected void Start()
    {
        _receiving = ReceiveLoopAsync();
        _sending = SendLoopAsync();
        _ = WhenBothStoppedAsync();
    }

    protected abstract ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken);

    /// <summary>
    /// Waits until bytes (or the end) can be received, without taking them and holding no buffer, where the
    /// transport can (a socket's zero-byte receive); an idle connection then holds no receive buffer. The
    /// default returns at once, and the next receive waits holding a buffer.
    /// </summary>
    /// <returns>How many bytes are ready when the transport knows (the next receive asks for no more than that
    /// and <see cref="TransportOptions.ReceiveBufferSize"/>, so a heartbeat takes a small pool buffer); 0 when it does not.</returns>
    protected virtual ValueTask<int> WaitForBytesAsync(CancellationToken cancellationToken) => ValueTask.FromResult(0);

    /// <summary>Sends everything in <paramref name="data"/>; several segments may go out in one call.</summary>
    protected abstract ValueTask SendAsync(ReadOnlySequence<byte> data, CancellationToken cancellationToken);

    /// <summary>Called after a batch of sends; streams flush here.</summary>
    protected virtual ValueTask AfterSendBatchAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>Tells the peer nothing more will be sent (half-close), where the transport can.</summary>
    protected abstract void ShutdownSend();

    /// <summary>Releases the transport; pending receives and sends fail.</summary>
    protected abstract void CloseTransport();

    protected override void AbortCore()
    {
        _stopping.Cancel();
        _output.Reader.CancelPendingRead();
        CloseTransportOnce();
    }

    protected override async ValueTask DisposeCoreAsync()
    {
        // The application may still hold its ends; completing them is how it says it is done.
        await _output.Writer.CompleteAsync().ConfigureAwait(false);
        await _sending.WaitAsync(_options.ShutdownTimeout).ContinueWith(static _ => { }, TaskScheduler.Default).ConfigureAwait(false);
        _stopping.Cancel();
        CloseTransportOnce();
        await Task.WhenAll(_receiving, _sending).ContinueWith(static _ => { }, TaskScheduler.Default).ConfigureAwait(false);
        await _input.Reader.CompleteAsync().ConfigureAwait(false);
    }

    private async Task ReceiveLoopAsync()
    {
        PipeWriter writer = _input.Writer;
        Exception? error = null;
        try
        {
            bool drained = true;
            while (true)
            {
                int ready = 0;
                if (drained)
                {
                    // The last receive left the transport empty: wait for more holding no buffer. A receive that
                    // filled its buffer goes straight on, so a busy connection pays no extra call.
                    ready = await WaitForBytesAsync(_stopping.Token).ConfigureAwait(false);
                }

                Memory<byte> memory = writer.GetMemory(ready > 0 ? Math.Min(ready, _options.ReceiveBufferSize) : _options.ReceiveBufferSize);
                int received;
                _holdsReceiveBuffer = true;
                try
                {
                    received = await ReceiveAsync(memory, _stopping.Token).ConfigureAwait(false);
                }
                finally
                {
                    _holdsReceiveBuffer = false; // the bytes are the pipe's after Advance, released as the reader consumes them
                }

                if (received == 0)
                {
                    RecordCloseReason(ConnectionCloseReason.RemoteClose, "The peer ended the connection.");
                    break;
                }

                drained = received < memory.Length;
                writer.Advance(received);
                FlushResult flushed = await writer.FlushAsync(_stopping.Token).ConfigureAwait(false);
                if (flushed.IsCompleted || flushed.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (_stopping.IsCancellationRequested)
        {
            error = new ConnectionAbortedException(CloseDetail ?? "The connection was aborted.", ex);
        }
        catch (Exception ex)
        {
            RecordCloseReason(ConnectionCloseReason.TransportError, "Receiving failed: " + ex.Message);
            error = new IOException("Receiving failed: " + ex.Message, ex);
        }

        await writer.CompleteAsync(error).ConfigureAwait(false);
    }

    private async Task SendLoopAsync()
    {
        PipeReader reader = _output.Reader;
        Exception? error = null;
        try
        {
            while (true)
            {
                ReadResult result = await reader.ReadAsync().ConfigureAwait(false);
                if (result.IsCanceled)
                {
                    break;
                }

                ReadOnlySequence<byte> buffer = result.Buffer;
                try
                {
                    if (!buffer.IsEmpty)
                    {
                        await SendAsync(buffer, _stopping.Token).ConfigureAwait(false);
                        await AfterSendBatchAsync(_stopping.Token).ConfigureAwait(false);
                    }
                }
                finally
                {
                    reader.AdvanceTo(buffer.End);
                }

                if (result.IsCompleted)
                {
                    ShutdownSend();
                    break;
                }
            }
        }
        catch (Exception ex) when (_stopping.IsCancellationRequested)
        {
            error = new ConnectionAbortedException(CloseDetail ?? "The connection was aborted.", ex);
        }
        catch (Exception ex)
        {
            RecordCloseReason(ConnectionCloseReason.TransportError, "Sending failed: " + ex.Message);
            error = new IOException("Sending failed: " + ex.Message, ex);
            _stopping.Cancel();
            CloseTransportOnce();
        }

        await reader.CompleteAsync(error).ConfigureAwait(false);
    }

    private async Task WhenBothStoppedAsync()
    {
        await Task.WhenAll(_receiving, _sending).ConfigureAwait(false);
        CloseTransportOnce();
        SignalClosed();
    }

    private void CloseTransportOnce()
    {
        if (Interlocked.Exchange(ref _transportClosed, 1) == 0)
        {
            CloseTransport();
        }
    }
}
