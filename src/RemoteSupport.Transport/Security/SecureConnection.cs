using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using RemoteSupport.Transport.Framing;
using RemoteSupport.Transport.Security.Noise;
using RemoteSupport.Transport.Transports;
using RemoteSupport.Trust;

namespace RemoteSupport.Transport.Security;

/// <summary>
/// An encrypted, mutually authenticated channel over a <see cref="FramedConnection"/>: a Noise
/// handshake (<c>XX</c> on first contact, <c>IK</c> when the initiator knows the responder's static
/// key) in which each side proves its Ed25519 identity, then AEAD-protected messages
/// (docs/protocol/secure-channel.md). Nothing is sent or delivered before the handshake completes;
/// any failure closes the connection with a reason both sides can log.
/// </summary>
public sealed partial class SecureConnection : IAsyncDisposable
{
    /// <summary>The secure channel protocol version bound into every handshake's prologue.</summary>
    public const int ProtocolVersion = 1;

    /// <summary>The largest Noise message, and so the largest frame payload the channel sends.</summary>
    public const int MaxNoiseMessage = 65535;

    private const byte FinalFragment = 0x01;
    private const byte SealedFrameRecord = 0x02;
    private const int SealedFrameHeader = 3; // record kind, inner type, inner flags
    private const int TagLength = NoiseCipher.TagLength;

    private readonly FramedConnection _framed;
    private readonly NoiseCipherState _send;
    private readonly NoiseCipherState _receive;
    private readonly long _sendRekeyAfter;
    private readonly long _receiveRekeyAfter;
    private readonly int _maxMessageSize;
    private readonly int _maxFragment;
    // Plaintext buffers are rented per frame and returned (their used bytes cleared) before the next wait, so an
    // idle connection holds none: the received one lives until the next receive, as the receive contract says.
    private byte[]? _receivePlain;
    private int _receivePlainUsed;
    private int _buffersReturned;
    private long _sentSinceRekey;
    private long _receivedSinceRekey;
    private byte[]? _assembly;
    private int _assembled;
    private bool _closed;

    private SecureConnection(
        FramedConnection framed, HandshakeOutcome outcome, NoiseCipherState send, NoiseCipherState receive, long sendRekeyAfter, int maxMessageSize, bool isInitiator)
    {
        _framed = framed;
        IsInitiator = isInitiator;
        _send = send;
        _receive = receive;
        _sendRekeyAfter = sendRekeyAfter;
        _receiveRekeyAfter = outcome.PeerRekeyAfterBytes;
        _maxMessageSize = maxMessageSize;
        _maxFragment = Math.Min(framed.PeerMaxFramePayload, MaxNoiseMessage) - TagLength - 1;
        ProtocolName = outcome.ProtocolName;
        PeerIdentity = outcome.PeerIdentity;
        PeerStaticKey = outcome.PeerStaticKey;
        HandshakeHash = outcome.HandshakeHash;
    }

    /// <summary>Gets the Noise protocol name the handshake ran, for example <c>Noise_XX_25519_AESGCM_SHA256</c>.</summary>
    public string ProtocolName { get; }

    /// <summary>Gets the trusted key the peer proved it holds, with its party and role.</summary>
    public TrustedKey PeerIdentity { get; }

    /// <summary>Gets the peer's Noise static public key; an initiator keeps it to use <c>IK</c> next time.</summary>
    public ReadOnlyMemory<byte> PeerStaticKey { get; }

    /// <summary>Gets the handshake hash, unique to this session (channel binding).</summary>
    public ReadOnlyMemory<byte> HandshakeHash { get; }

    /// <summary>Gets the framed connection the channel runs over.</summary>
    public FramedConnection Framed => _framed;

    /// <summary>Gets a value indicating whether this side ran the handshake as the initiator (it dialed).</summary>
    public bool IsInitiator { get; }

    /// <summary>Gets the largest payload of one sealed frame (see <c>WriteSealedFrame</c>).</summary>
    internal int MaxSealedFramePayload => _maxFragment + 1 - SealedFrameHeader;

    /// <summary>Gets how many times each direction has rekeyed (sent, received).</summary>
    public (long Sent, long Received) RekeyCount { get; private set; }

    /// <summary>
    /// Sends <paramref name="message"/>; one longer than a frame spans several. Encrypts into a
    /// reused buffer: no allocation per message.
    /// </summary>
    public async ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        if (message.Length > int.MaxValue - 1)
        {
            Error.Argument(nameof(message), "The message is too large.");
        }

        int offset = 0;
        do
        {
            int chunk = Math.Min(_maxFragment, message.Length - offset);
            bool final = offset + chunk == message.Length;
            if (!WriteFragment(message.Span.Slice(offset, chunk), final, out string? exhausted))
            {
                throw await FailAsync(SecureChannelError.NonceExhausted, exhausted!).ConfigureAwait(false);
            }

            offset += chunk;
        }
        while (offset < message.Length);

        await _framed.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Receives the next message. Its bytes are valid until the next call. Returns
    /// <see cref="SecureReceiveResult.IsCompleted"/> when the peer closed the channel gracefully.
    /// </summary>
    /// <exception cref="SecureChannelException">A message failed authentication, was too large, or the peer broke the protocol; the connection is closed.</exception>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))] // an idle connection waits here between messages: reuse the state machine instead of promoting a new one each time
    public async ValueTask<SecureReceiveResult> ReceiveAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        _assembled = 0;
        while (true)
        {
            ReleaseReceivePlain();
            FrameReadResult result;
            try
            {
                result = await _framed.ReadFrameAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (FramingException ex)
            {
                throw new SecureChannelException(SecureChannelError.PeerClosed, "The connection failed: " + ex.Message, ex);
            }

            if (result.IsCompleted)
            {
                if (_assembled > 0)
                {
                    throw await FailAsync(SecureChannelError.DecryptionFailed, "The connection ended inside a message: it was cut off.").ConfigureAwait(false);
                }

                return new SecureReceiveResult(ReadOnlyMemory<byte>.Empty, isCompleted: true);
            }

            if (result.IsCanceled)
            {
                throw new OperationCanceledException("The receive was canceled.");
            }

            Frame frame = result.Frame;
            if (frame.Type == FrameType.GoAway)
            {
                (uint code, string reason) = ReadGoAway(frame);
                if (code == 0)
                {
                    continue; // graceful: the end of the stream follows
                }

                await DisposeAsync().ConfigureAwait(false);
                throw new SecureChannelException(SecureChannelError.PeerClosed, $"The peer closed the channel: {reason} (code {code}).");
            }

            if (frame.Type != FrameType.Data || frame.ChannelId != 0)
            {
                throw await FailAsync(SecureChannelError.UnexpectedFrame, $"A {frame.Type} frame on channel {frame.ChannelId} is not part of the secure channel.").ConfigureAwait(false);
            }

            int length = DecryptFrame(frame, out bool final, sealedFrame: false);
            if (length < 0)
            {
                throw await FailAsync(SecureChannelError.DecryptionFailed,
                    "A message failed authentication: it was tampered with, replayed, reordered or truncated.").ConfigureAwait(false);
            }

            if (final && _assembled == 0)
            {
                if (length > _maxMessageSize)
                {
                    throw await FailAsync(SecureChannelError.MessageTooLarge, string.Create(CultureInfo.InvariantCulture,
                        $"A message exceeds the limit of {_maxMessageSize} bytes.")).ConfigureAwait(false);
                }

                return new SecureReceiveResult(_receivePlain!.AsMemory(1, length), isCompleted: false);
            }

            if ((long)_assembled + length > _maxMessageSize)
            {
                throw await FailAsync(SecureChannelError.MessageTooLarge, string.Create(CultureInfo.InvariantCulture,
                    $"A message exceeds the limit of {_maxMessageSize} bytes.")).ConfigureAwait(false);
            }

            Append(_receivePlain!.AsSpan(1, length));
            if (final)
            {
                return new SecureReceiveResult(_assembly.AsMemory(0, _assembled), isCompleted: false);
            }
        }
    }

    /// <summary>Closes gracefully: a GoAway with <paramref name="reason"/>, then the connection ends.</summary>
    public async ValueTask CloseAsync(string reason = "closing", CancellationToken cancellationToken = default)
    {
        if (_closed)
        {
            return;
        }

        await _framed.CloseAsync(reason, cancellationToken).ConfigureAwait(false);
        await DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Releases the channel's keys and the connection.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_closed)
        {
            return;
        }

        _closed = true;
        _send.Dispose();
        _receive.Dispose();
        ReturnBuffers();
        await _framed.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Buffers one frame of another layer (the multiplexer) sealed in a secure record: the outer
    /// frame is <c>Data</c> on <paramref name="channelId"/>, its plaintext the record kind, the inner
    /// type and flags, then <paramref name="payload"/>; the outer header is the AEAD's associated data.
    /// </summary>
    /// <exception cref="SecureChannelException">The send nonce is exhausted; the caller must close the connection.</exception>
    internal void WriteSealedFrame(FrameType type, FrameFlags flags, ushort channelId, in ReadOnlySequence<byte> payload)
    {
        byte[] buffer = BeginSealedFrame(type, flags, payload.Length, out int plainLength);
        try
        {
            payload.CopyTo(buffer.AsSpan(SealedFrameHeader));
            Seal(buffer.AsSpan(0, plainLength), plainLength + TagLength, channelId);
        }
        finally
        {
            ReturnPlain(buffer, plainLength);
        }
    }

    /// <inheritdoc cref="WriteSealedFrame(FrameType, FrameFlags, ushort, in ReadOnlySequence{byte})"/>
    internal void WriteSealedFrame(FrameType type, FrameFlags flags, ushort channelId, ReadOnlySpan<byte> payload)
    {
        byte[] buffer = BeginSealedFrame(type, flags, payload.Length, out int plainLength);
        try
        {
            payload.CopyTo(buffer.AsSpan(SealedFrameHeader));
            Seal(buffer.AsSpan(0, plainLength), plainLength + TagLength, channelId);
        }
        finally
        {
            ReturnPlain(buffer, plainLength);
        }
    }

    /// <summary>Checks the payload's length and rents the plaintext buffer with the record header written (return it with <see cref="ReturnPlain"/>).</summary>
    private byte[] BeginSealedFrame(FrameType type, FrameFlags flags, long payloadLength, out int plainLength)
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        if (payloadLength > MaxSealedFramePayload)
        {
            Error.Argument("payload", "The payload is larger than one sealed frame.");
        }

        plainLength = SealedFrameHeader + (int)payloadLength;
        byte[] plain = ArrayPool<byte>.Shared.Rent(plainLength);
        plain[0] = SealedFrameRecord;
        plain[1] = (byte)type;
        plain[2] = (byte)flags;
        return plain;
    }

    /// <summary>Clears the plaintext a rented buffer held and returns it to the pool.</summary>
    private static void ReturnPlain(byte[] buffer, int used)
    {
        buffer.AsSpan(0, used).Clear();
        ArrayPool<byte>.Shared.Return(buffer);
    }

    /// <summary>Gets a value indicating whether the connection holds a plaintext buffer (only from a frame's arrival to the next receive).</summary>
    internal bool HoldsPlaintextBuffer => Volatile.Read(ref _receivePlain) is not null;

    /// <summary>Gets a value indicating whether either direction still holds its key (not after a dispose or a failure).</summary>
    internal bool HoldsKeys => _send.HasKey || _receive.HasKey;

    /// <summary>Returns the last received frame's plaintext buffer, cleared: called before waiting for the next frame.</summary>
    private void ReleaseReceivePlain()
    {
        if (_receivePlain is { } buffer)
        {
            _receivePlain = null;
            ReturnPlain(buffer, _receivePlainUsed);
        }
    }

    /// <summary>
    /// Reads the next sealed frame (see <c>WriteSealedFrame</c>). Its payload is valid until the
    /// next read. A GoAway frame of the framing layer is returned as it is.
    /// </summary>
    /// <exception cref="SecureChannelException">A record failed authentication or is not a sealed frame; the connection is closed.</exception>
    /// <exception cref="FramingException">The framing layer failed; the connection is closed.</exception>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))] // an idle connection waits here between messages: reuse the state machine instead of promoting a new one each time
    internal async ValueTask<FrameReadResult> ReadSealedFrameAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        ReleaseReceivePlain();
        FrameReadResult result = await _framed.ReadFrameAsync(cancellationToken).ConfigureAwait(false);
        while (result.HasFrame && result.Frame.Type == FrameType.GoAway && ReadGoAway(result.Frame).Code == 0)
        {
            // A graceful GoAway in the clear is not authenticated: the layer above learns of a graceful
            // close from its own sealed GoAway, and from the end of the stream.
            result = await _framed.ReadFrameAsync(cancellationToken).ConfigureAwait(false);
        }

        if (!result.HasFrame || result.Frame.Type == FrameType.GoAway)
        {
            return result;
        }

        Frame frame = result.Frame;
        if (frame.Type != FrameType.Data)
        {
            throw new SecureChannelException(SecureChannelError.UnexpectedFrame, $"A {frame.Type} frame in the clear is not part of the secure channel.");
        }

        int length = DecryptFrame(frame, out _, sealedFrame: true);
        if (length < 0)
        {
            throw new SecureChannelException(SecureChannelError.DecryptionFailed,
                "A record failed authentication: it was tampered with, replayed, reordered or truncated.");
        }

        byte[] plain = _receivePlain!;
        var type = (FrameType)plain[1];
        var flags = (FrameFlags)plain[2];
        int payloadLength = length - SealedFrameHeader;
        try
        {
            FrameCodec.ValidateHeader((uint)payloadLength, type, flags, MaxNoiseMessage);
        }
        catch (FramingException ex)
        {
            throw new SecureChannelException(SecureChannelError.UnexpectedFrame, "A sealed frame is malformed: " + ex.Message);
        }

        return new FrameReadResult(
            new Frame(type, flags, frame.ChannelId, new ReadOnlySequence<byte>(plain, SealedFrameHeader, payloadLength)), isCompleted: false, isCanceled: false);
    }

    /// <summary>Closes the connection after a failure of the layer above: GoAway with the code and reason, keys kept until <see cref="DisposeAsync"/>.</summary>
    internal ValueTask CloseWithErrorAsync(uint code, string reason) =>
        _framed.CloseWithErrorAsync(code, reason, ConnectionCloseReason.ProtocolError);

    internal void SetSendNonceForTest(ulong nonce) => _send.Nonce = nonce;

    internal void SetReceiveNonceForTest(ulong nonce) => _receive.Nonce = nonce;

    private bool WriteFragment(ReadOnlySpan<byte> chunk, bool final, out string? exhausted)
    {
        exhausted = null;
        int plainLength = chunk.Length + 1;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(plainLength);
        try
        {
            buffer[0] = final ? FinalFragment : (byte)0;
            chunk.CopyTo(buffer.AsSpan(1));
            Seal(buffer.AsSpan(0, plainLength), plainLength + TagLength, 0);
        }
        catch (SecureChannelException ex)
        {
            exhausted = ex.Message;
            return false;
        }
        finally
        {
            ReturnPlain(buffer, plainLength);
        }

        return true;
    }

    /// <summary>Encrypts <paramref name="plain"/> straight into a Data frame's place in the output buffer.</summary>
    private void Seal(ReadOnlySpan<byte> plain, int cipherLength, ushort channelId)
    {
        Span<byte> header = stackalloc byte[FrameCodec.HeaderSize];
        FrameCodec.WriteHeader(header, (uint)cipherLength, FrameType.Data, FrameFlags.None, channelId);
        Span<byte> frame = _framed.BeginFrame(FrameType.Data, FrameFlags.None, channelId, cipherLength);
        try
        {
            _send.EncryptWithAd(header, plain, frame);
        }
        catch (NoiseException ex)
        {
            _framed.AbandonFrame();
            throw new SecureChannelException(SecureChannelError.NonceExhausted, ex.Message, ex);
        }

        _framed.CommitFrame(cipherLength);
        _sentSinceRekey += plain.Length;
        if (_sentSinceRekey >= _sendRekeyAfter)
        {
            _send.Rekey();
            _sentSinceRekey = 0;
            RekeyCount = (RekeyCount.Sent + 1, RekeyCount.Received);
        }
    }

    /// <summary>Decrypts a Data frame into a rented <c>_receivePlain</c> (flags byte first), valid until the next receive.</summary>
    /// <returns>The fragment's length without the flags byte (a sealed frame's with it), or -1 when authentication fails or the record is of the other kind.</returns>
    private int DecryptFrame(Frame frame, out bool final, bool sealedFrame)
    {
        final = false;
        ReadOnlySequence<byte> payload = frame.Payload;
        if (payload.Length < TagLength + 1 || payload.Length > MaxNoiseMessage)
        {
            return -1;
        }

        ReleaseReceivePlain();
        byte[] plainBuffer = _receivePlain = ArrayPool<byte>.Shared.Rent((int)payload.Length);
        _receivePlainUsed = (int)payload.Length - TagLength;
        byte[]? scratch = payload.IsSingleSegment ? null : ArrayPool<byte>.Shared.Rent((int)payload.Length);
        int plainLength;
        try
        {
            if (scratch is not null)
            {
                payload.CopyTo(scratch);
            }

            ReadOnlySpan<byte> cipher = scratch is null ? payload.FirstSpan : scratch.AsSpan(0, (int)payload.Length);
            Span<byte> header = stackalloc byte[FrameCodec.HeaderSize];
            FrameCodec.WriteHeader(header, (uint)cipher.Length, frame.Type, frame.Flags, frame.ChannelId);
            plainLength = _receive.DecryptWithAd(header, cipher, plainBuffer);
        }
        catch (NoiseException)
        {
            return -1;
        }
        finally
        {
            if (scratch is not null)
            {
                ArrayPool<byte>.Shared.Return(scratch); // ciphertext: nothing to clear
            }
        }

        bool wellFormed = sealedFrame
            ? plainLength >= SealedFrameHeader && plainBuffer[0] == SealedFrameRecord
            : plainLength >= 1 && (plainBuffer[0] & ~FinalFragment) == 0;
        if (!wellFormed)
        {
            return -1;
        }

        final = (plainBuffer[0] & FinalFragment) != 0;
        _receivedSinceRekey += plainLength;
        if (_receivedSinceRekey >= _receiveRekeyAfter)
        {
            _receive.Rekey();
            _receivedSinceRekey = 0;
            RekeyCount = (RekeyCount.Sent, RekeyCount.Received + 1);
        }

        return sealedFrame ? plainLength : plainLength - 1;
    }

    private void Append(ReadOnlySpan<byte> fragment)
    {
        int needed = _assembled + fragment.Length;
        if (_assembly is null || _assembly.Length < needed)
        {
            byte[] larger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, Math.Min(_maxMessageSize, (_assembly?.Length ?? 0) * 2)));
            if (_assembly is not null)
            {
                _assembly.AsSpan(0, _assembled).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(_assembly, clearArray: true);
            }

            _assembly = larger;
        }

        fragment.CopyTo(_assembly.AsSpan(_assembled));
        _assembled = needed;
    }

    private void ReturnBuffers()
    {
        if (Interlocked.Exchange(ref _buffersReturned, 1) != 0)
        {
            return; // once only: a pooled array returned twice could be handed to two connections
        }

        ReleaseReceivePlain();

        if (_assembly is not null)
        {
            ArrayPool<byte>.Shared.Return(_assembly, clearArray: true);
            _assembly = null;
        }
    }

    private async ValueTask<SecureChannelException> FailAsync(SecureChannelError error, string reason)
    {
        _closed = true;
        _send.Dispose();
        _receive.Dispose();
        ReturnBuffers();
        await _framed.CloseWithErrorAsync((uint)error, reason, ConnectionCloseReason.SecurityFailure).ConfigureAwait(false);
        return new SecureChannelException(error, reason);
    }

    internal static (uint Code, string Reason) ReadGoAway(Frame frame)
    {
        byte[] payload = frame.Payload.ToArray();
        uint code = payload.Length >= 4 ? BinaryPrimitives.ReadUInt32BigEndian(payload) : 0;
        string reason = payload.Length > 4 ? Encoding.UTF8.GetString(payload, 4, payload.Length - 4) : string.Empty;
        return (code, reason);
    }

    private sealed record HandshakeOutcome(string ProtocolName, TrustedKey PeerIdentity, byte[] PeerStaticKey, byte[] HandshakeHash, long PeerRekeyAfterBytes);
}

/// <summary>A received message, or the graceful end of the channel.</summary>
public readonly struct SecureReceiveResult
{
    internal SecureReceiveResult(ReadOnlyMemory<byte> message, bool isCompleted)
    {
        Message = message;
        IsCompleted = isCompleted;
    }

    /// <summary>Gets the message; valid until the next receive.</summary>
    public ReadOnlyMemory<byte> Message { get; }

    /// <summary>Gets a value indicating whether the peer closed the channel gracefully.</summary>
    public bool IsCompleted { get; }
}
