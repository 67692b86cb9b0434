using System.Net.Sockets;

namespace RemoteSupport.Soak;

/// <summary>
/// The console's side of a TCP connection with one <see cref="ConnectionFault"/>: a stream over the socket that does
/// exactly what the fault says at the fault's byte, and otherwise passes bytes through. What the console sends is
/// kept (the first <see cref="ReplayBook.KeptBytes"/>) for later connections to replay.
/// </summary>
internal sealed class FaultyStream : Stream
{
    private readonly Socket _socket;
    private readonly NetworkStream _inner;
    private readonly ConnectionFault _fault;
    private readonly Random _delays;
    private readonly ReplayBook _replays;
    private readonly byte[]? _earlier;
    private readonly MemoryStream _sent = new();
    private readonly CancellationTokenSource _disposed = new();
    private long _written;
    private long _read;
    private bool _sendShut;
    private int _struck;

    public FaultyStream(Socket socket, ConnectionFault fault, int delaySeed, ReplayBook replays)
    {
        _socket = socket;
        _inner = new NetworkStream(socket, ownsSocket: true);
        _fault = fault;
        _delays = new Random(delaySeed);
        _replays = replays;
        _earlier = fault.Kind is FaultKind.ReplayEarlierStart or FaultKind.ReplayEarlierMiddle ? replays.Earliest() : null;
    }

    /// <summary>Gets whether the fault has struck (a fault whose byte the connection never reached did not).</summary>
    public bool Struck => Volatile.Read(ref _struck) != 0 || (_fault.Kind == FaultKind.Delay && (_written > 0 || _read > 0));

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await DelayAsync(cancellationToken);
        if (_sendShut)
        {
            _written += buffer.Length; // after a half-close, what the console sends goes nowhere
            return;
        }

        if (_fault.Kind == FaultKind.ReplayEarlierStart && _written == 0 && _earlier is not null && Strike())
        {
            await _inner.WriteAsync(_earlier.AsMemory(0, Math.Min(_earlier.Length, 2048)), cancellationToken);
        }

        Keep(buffer.Span);
        long at = _fault.AtByte - _written;
        _written += buffer.Length;
        if (_fault.Direction != FaultDirection.ConsoleToUnit || at < 0 || at >= buffer.Length || Volatile.Read(ref _struck) != 0)
        {
            await _inner.WriteAsync(buffer, cancellationToken);
            return;
        }

        int before = (int)at;
        switch (_fault.Kind)
        {
            case FaultKind.Drop when Strike():
                await _inner.WriteAsync(buffer[..before], cancellationToken);
                Reset();
                throw new IOException($"soak: the connection was reset at byte {_fault.AtByte} of the console's bytes.");
            case FaultKind.Truncate when Strike():
                await _inner.WriteAsync(buffer[..before], cancellationToken);
                _socket.Shutdown(SocketShutdown.Both);
                _socket.Close();
                throw new IOException($"soak: the console's bytes were cut at byte {_fault.AtByte}.");
            case FaultKind.BitFlip when Strike():
                byte[] flipped = buffer.ToArray();
                flipped[before] ^= (byte)(1 << _fault.Bit);
                await _inner.WriteAsync(flipped, cancellationToken);
                return;
            case FaultKind.HalfClose when Strike():
                await _inner.WriteAsync(buffer[..before], cancellationToken);
                _socket.Shutdown(SocketShutdown.Send);
                _sendShut = true;
                return;
            case FaultKind.Stall when Strike():
                await _inner.WriteAsync(buffer[..before], cancellationToken);
                await StallAsync(cancellationToken);
                return;
            case FaultKind.ReplayEarlierMiddle when _earlier is not null && _earlier.Length > 4096 && Strike():
                await _inner.WriteAsync(buffer[..before], cancellationToken);
                await _inner.WriteAsync(_earlier.AsMemory(4096, Math.Min(_earlier.Length - 4096, 1024)), cancellationToken);
                await _inner.WriteAsync(buffer[before..], cancellationToken);
                return;
            default:
                await _inner.WriteAsync(buffer, cancellationToken);
                return;
        }
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await DelayAsync(cancellationToken);
        bool inbound = _fault.Direction == FaultDirection.UnitToConsole && Volatile.Read(ref _struck) == 0;
        long at = _fault.AtByte - _read;
        if (inbound && at == 0 && _fault.Kind is FaultKind.Stall or FaultKind.Drop && Strike())
        {
            if (_fault.Kind == FaultKind.Drop)
            {
                Reset();
                throw new IOException($"soak: the connection was reset at byte {_fault.AtByte} of the unit's bytes.");
            }

            await StallAsync(cancellationToken);
            return 0;
        }

        // Stop a read at the fault's byte, so the fault strikes exactly there on the next one.
        Memory<byte> into = inbound && at > 0 && at < buffer.Length && _fault.Kind is FaultKind.Stall or FaultKind.Drop ? buffer[..(int)at] : buffer;
        int n = await _inner.ReadAsync(into, cancellationToken);
        if (inbound && _fault.Kind == FaultKind.BitFlip && at >= 0 && at < n && Strike())
        {
            into.Span[(int)at] ^= (byte)(1 << _fault.Bit);
        }

        _read += n;
        return n;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count).GetAwaiter().GetResult();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count).GetAwaiter().GetResult();

    public override Task FlushAsync(CancellationToken cancellationToken) => _sendShut ? Task.CompletedTask : _inner.FlushAsync(cancellationToken);

    public override void Flush() => FlushAsync(CancellationToken.None).GetAwaiter().GetResult();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed.IsCancellationRequested)
        {
            _disposed.Cancel();
            _inner.Dispose();
            _replays.Add(_sent.ToArray());
            _sent.Dispose();
            _disposed.Dispose();
        }

        base.Dispose(disposing);
    }

    private bool Strike() => Interlocked.Exchange(ref _struck, 1) == 0;

    private void Keep(ReadOnlySpan<byte> bytes)
    {
        lock (_sent)
        {
            long room = ReplayBook.KeptBytes - _sent.Length;
            if (room > 0)
            {
                _sent.Write(bytes[..(int)Math.Min(room, bytes.Length)]);
            }
        }
    }

    private void Reset()
    {
        _socket.LingerState = new LingerOption(true, 0);
        _socket.Close();
    }

    private async Task StallAsync(CancellationToken cancellationToken)
    {
        using var either = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposed.Token);
        await Task.Delay(Timeout.Infinite, either.Token).ContinueWith(static _ => { }, TaskScheduler.Default);
        throw new IOException("soak: the stalled connection ended.");
    }

    private async ValueTask DelayAsync(CancellationToken cancellationToken)
    {
        if (_fault.Kind == FaultKind.Delay)
        {
            int wait;
            lock (_delays)
            {
                wait = _delays.Next(_fault.MaxDelayMilliseconds + 1);
            }

            await Task.Delay(wait, cancellationToken);
        }
    }
}

/// <summary>The bytes earlier connections sent, for <see cref="FaultKind.ReplayEarlierStart"/> and <see cref="FaultKind.ReplayEarlierMiddle"/>.</summary>
internal sealed class ReplayBook
{
    public const int KeptBytes = 64 * 1024;

    private readonly Queue<byte[]> _connections = new();

    public void Add(byte[] sent)
    {
        lock (_connections)
        {
            if (sent.Length == 0)
            {
                return;
            }

            _connections.Enqueue(sent);
            if (_connections.Count > 8)
            {
                _connections.Dequeue();
            }
        }
    }

    public byte[]? Earliest()
    {
        lock (_connections)
        {
            return _connections.Count == 0 ? null : _connections.Peek();
        }
    }
}
