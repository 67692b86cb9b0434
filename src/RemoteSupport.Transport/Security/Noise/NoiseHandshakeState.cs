using System.Security.Cryptography;
using System.Text;

namespace RemoteSupport.Transport.Security.Noise;

/// <summary>
/// A Noise HandshakeState with its SymmetricState (Noise revision 34, sections 5.2 and 5.3), driven
/// by the pattern's tokens, so every pattern works: one-way, interactive, deferred and PSK.
/// </summary>
internal sealed class NoiseHandshakeState : IDisposable
{
    public const int MaxMessageLength = 65535;
    public const int DhLength = 32;

    private readonly NoiseProtocol _protocol;
    private readonly NoiseHash _hash;
    private readonly NoiseCipherState _cipher;
    private readonly bool _initiator;
    private readonly Queue<byte[]> _psks;
    private readonly X25519Key? _s;
    private readonly byte[]? _sPublic;
    private readonly Func<X25519Key> _createEphemeral;
    private readonly byte[] _ck = new byte[NoiseHash.MaxHashLength];
    private readonly byte[] _h = new byte[NoiseHash.MaxHashLength];
    private readonly byte[] _hBeforePayload = new byte[NoiseHash.MaxHashLength];
    private X25519Key? _e;
    private byte[]? _ePublic;
    private byte[]? _rs;
    private byte[]? _re;
    private int _messageIndex;

    private NoiseHandshakeState(NoiseProtocol protocol, bool initiator, X25519Key? s, byte[]? rs, IEnumerable<byte[]> psks, Func<X25519Key> createEphemeral)
    {
        _protocol = protocol;
        _hash = protocol.Hash;
        _cipher = new NoiseCipherState(protocol.Cipher);
        _initiator = initiator;
        _s = s;
        _sPublic = s?.PublicKey;
        _rs = rs;
        _psks = new Queue<byte[]>(psks);
        _createEphemeral = createEphemeral;
    }

    public NoiseProtocol Protocol => _protocol;

    public bool IsInitiator => _initiator;

    public bool IsCompleted => _messageIndex >= _protocol.Pattern.Messages.Count;

    /// <summary>Gets a value indicating whether this side writes the next handshake message.</summary>
    public bool IsMyTurn => !IsCompleted && (_protocol.Pattern.IsOneWay ? _initiator : (_messageIndex % 2 == 0) == _initiator);

    public int MessageIndex => _messageIndex;

    public ReadOnlySpan<byte> HandshakeHash => _h.AsSpan(0, _hash.HashLength);

    /// <summary>Gets the handshake hash that authenticated the payload of the last message written or read.</summary>
    public ReadOnlySpan<byte> PayloadHandshakeHash => _hBeforePayload.AsSpan(0, _hash.HashLength);

    public ReadOnlySpan<byte> RemoteStaticPublicKey => _rs;

    public ReadOnlySpan<byte> LocalStaticPublicKey => _sPublic;

    /// <summary>Creates a handshake state.</summary>
    /// <param name="protocol">The protocol.</param>
    /// <param name="initiator">Whether this side starts.</param>
    /// <param name="prologue">Data both sides must agree on, mixed into the handshake hash.</param>
    /// <param name="s">This side's static X25519 key, when the pattern has one.</param>
    /// <param name="rs">The peer's static public key, when known beforehand.</param>
    /// <param name="psks">Pre-shared keys (32 bytes each), in the order the pattern uses them.</param>
    /// <param name="createEphemeral">Makes the ephemeral key; tests pass fixed keys.</param>
    public static NoiseHandshakeState Create(
        NoiseProtocol protocol, bool initiator, ReadOnlySpan<byte> prologue, X25519Key? s, ReadOnlySpan<byte> rs,
        IReadOnlyList<byte[]>? psks = null, Func<X25519Key>? createEphemeral = null)
    {
        NoisePattern pattern = protocol.Pattern;
        psks ??= [];
        if (psks.Count != pattern.PskCount || psks.Any(p => p.Length != 32))
        {
            throw new ArgumentException($"{protocol.Name} needs {pattern.PskCount} pre-shared key(s) of 32 bytes.", nameof(psks));
        }

        bool needS = initiator ? pattern.InitiatorHasStatic : pattern.ResponderHasStatic;
        if (needS && s is null)
        {
            throw new ArgumentException($"{protocol.Name} needs this side's static key.", nameof(s));
        }

        bool needRs = initiator ? pattern.ResponderPreStatic : pattern.InitiatorPreStatic;
        if (needRs && rs.Length != DhLength)
        {
            throw new ArgumentException($"{protocol.Name} needs the peer's static public key beforehand.", nameof(rs));
        }

        var state = new NoiseHandshakeState(protocol, initiator, s, needRs ? rs.ToArray() : null, psks,
            createEphemeral ?? X25519Key.Generate);
        state.InitializeSymmetric(Encoding.ASCII.GetBytes(protocol.Name));
        state.MixHash(prologue);
        if (pattern.InitiatorPreStatic)
        {
            state.MixHash(initiator ? state._sPublic : state._rs);
        }

        if (pattern.ResponderPreStatic)
        {
            state.MixHash(initiator ? state._rs : state._sPublic);
        }

        return state;
    }

    /// <summary>Makes a handshake payload from the handshake hash that will authenticate it.</summary>
    public delegate byte[] PayloadFactory(ReadOnlySpan<byte> handshakeHash);

    /// <summary>Writes the next handshake message carrying <paramref name="payload"/>.</summary>
    /// <returns>The message length.</returns>
    public int WriteMessage(ReadOnlySpan<byte> payload, Span<byte> message)
    {
        byte[] copy = payload.ToArray();
        return WriteMessage(_ => copy, message);
    }

    /// <summary>Writes the next handshake message; the payload is made once the tokens are processed, from the hash that authenticates it.</summary>
    /// <returns>The message length.</returns>
    public int WriteMessage(PayloadFactory payload, Span<byte> message)
    {
        if (!IsMyTurn)
        {
            throw new InvalidOperationException("It is not this side's turn to write a handshake message.");
        }

        int offset = 0;
        foreach (NoiseToken token in _protocol.Pattern.Messages[_messageIndex])
        {
            switch (token)
            {
                case NoiseToken.E:
                    _e = _createEphemeral();
                    _ePublic = _e.PublicKey;
                    _ePublic.CopyTo(message[offset..]);
                    offset += DhLength;
                    MixHash(_ePublic);
                    if (_protocol.Pattern.HasPsk)
                    {
                        MixKey(_ePublic);
                    }

                    break;
                case NoiseToken.S:
                    offset += EncryptAndHash(_sPublic, message[offset..]);
                    break;
                case NoiseToken.Psk:
                    MixKeyAndHash(_psks.Dequeue());
                    break;
                default:
                    MixDh(token);
                    break;
            }
        }

        _h.CopyTo(_hBeforePayload, 0);
        offset += EncryptAndHash(payload(PayloadHandshakeHash), message[offset..]);
        _messageIndex++;
        return offset;
    }

    /// <summary>Reads the next handshake message into <paramref name="payload"/>.</summary>
    /// <returns>The payload length.</returns>
    /// <exception cref="NoiseException">The message is malformed or fails authentication.</exception>
    public int ReadMessage(ReadOnlySpan<byte> message, Span<byte> payload)
    {
        if (IsCompleted || IsMyTurn)
        {
            throw new InvalidOperationException("It is not this side's turn to read a handshake message.");
        }

        if (message.Length > MaxMessageLength)
        {
            throw new NoiseException($"A handshake message is at most {MaxMessageLength} bytes.");
        }

        int offset = 0;
        foreach (NoiseToken token in _protocol.Pattern.Messages[_messageIndex])
        {
            switch (token)
            {
                case NoiseToken.E:
                    _re = Take(message, ref offset, DhLength).ToArray();
                    MixHash(_re);
                    if (_protocol.Pattern.HasPsk)
                    {
                        MixKey(_re);
                    }

                    break;
                case NoiseToken.S:
                    int length = _cipher.HasKey ? DhLength + NoiseCipher.TagLength : DhLength;
                    ReadOnlySpan<byte> encrypted = Take(message, ref offset, length);
                    byte[] rs = new byte[DhLength];
                    DecryptAndHash(encrypted, rs);
                    _rs = rs;
                    break;
                case NoiseToken.Psk:
                    MixKeyAndHash(_psks.Dequeue());
                    break;
                default:
                    MixDh(token);
                    break;
            }
        }

        _h.CopyTo(_hBeforePayload, 0);
        int payloadLength = DecryptAndHash(message[offset..], payload);
        _messageIndex++;
        return payloadLength;
    }

    /// <summary>Split(): the initiator-to-responder and responder-to-initiator cipher states.</summary>
    public (NoiseCipherState InitiatorToResponder, NoiseCipherState ResponderToInitiator) Split()
    {
        if (!IsCompleted)
        {
            throw new InvalidOperationException("The handshake is not complete.");
        }

        Span<byte> k1 = stackalloc byte[NoiseHash.MaxHashLength];
        Span<byte> k2 = stackalloc byte[NoiseHash.MaxHashLength];
        int length = _hash.HashLength;
        _hash.Hkdf(_ck.AsSpan(0, length), ReadOnlySpan<byte>.Empty, k1[..length], k2[..length], Span<byte>.Empty);
        var c1 = new NoiseCipherState(_protocol.Cipher);
        var c2 = new NoiseCipherState(_protocol.Cipher);
        c1.InitializeKey(k1[..NoiseCipher.KeyLength]);
        c2.InitializeKey(k2[..NoiseCipher.KeyLength]);
        CryptographicOperations.ZeroMemory(k1);
        CryptographicOperations.ZeroMemory(k2);
        return (c1, c2);
    }

    public void Dispose()
    {
        _cipher.Dispose();
        _e?.Dispose();
        CryptographicOperations.ZeroMemory(_ck);
    }

    private static ReadOnlySpan<byte> Take(ReadOnlySpan<byte> message, ref int offset, int length)
    {
        if (message.Length - offset < length)
        {
            throw new NoiseException("The handshake message is too short for its pattern.");
        }

        ReadOnlySpan<byte> part = message.Slice(offset, length);
        offset += length;
        return part;
    }

    private void InitializeSymmetric(ReadOnlySpan<byte> protocolName)
    {
        int length = _hash.HashLength;
        if (protocolName.Length <= length)
        {
            Array.Clear(_h);
            protocolName.CopyTo(_h);
        }
        else
        {
            _hash.Hash(protocolName, ReadOnlySpan<byte>.Empty, _h.AsSpan(0, length));
        }

        _h.AsSpan(0, length).CopyTo(_ck);
    }

    private void MixHash(ReadOnlySpan<byte> data)
    {
        int length = _hash.HashLength;
        Span<byte> next = stackalloc byte[NoiseHash.MaxHashLength];
        _hash.Hash(_h.AsSpan(0, length), data, next[..length]);
        next[..length].CopyTo(_h);
    }

    private void MixKey(ReadOnlySpan<byte> inputKeyMaterial)
    {
        int length = _hash.HashLength;
        Span<byte> ck = stackalloc byte[NoiseHash.MaxHashLength];
        Span<byte> tempK = stackalloc byte[NoiseHash.MaxHashLength];
        _hash.Hkdf(_ck.AsSpan(0, length), inputKeyMaterial, ck[..length], tempK[..length], Span<byte>.Empty);
        ck[..length].CopyTo(_ck);
        _cipher.InitializeKey(tempK[..NoiseCipher.KeyLength]);
        CryptographicOperations.ZeroMemory(tempK);
    }

    private void MixKeyAndHash(ReadOnlySpan<byte> inputKeyMaterial)
    {
        int length = _hash.HashLength;
        Span<byte> ck = stackalloc byte[NoiseHash.MaxHashLength];
        Span<byte> tempH = stackalloc byte[NoiseHash.MaxHashLength];
        Span<byte> tempK = stackalloc byte[NoiseHash.MaxHashLength];
        _hash.Hkdf(_ck.AsSpan(0, length), inputKeyMaterial, ck[..length], tempH[..length], tempK[..length]);
        ck[..length].CopyTo(_ck);
        MixHash(tempH[..length]);
        _cipher.InitializeKey(tempK[..NoiseCipher.KeyLength]);
        CryptographicOperations.ZeroMemory(tempK);
    }

    private int EncryptAndHash(ReadOnlySpan<byte> plaintext, Span<byte> ciphertext)
    {
        int written = _cipher.EncryptWithAd(_h.AsSpan(0, _hash.HashLength), plaintext, ciphertext);
        MixHash(ciphertext[..written]);
        return written;
    }

    private int DecryptAndHash(ReadOnlySpan<byte> ciphertext, Span<byte> plaintext)
    {
        int written = _cipher.DecryptWithAd(_h.AsSpan(0, _hash.HashLength), ciphertext, plaintext);
        if (written < 0)
        {
            throw new NoiseException("A handshake message failed authentication.");
        }

        MixHash(ciphertext);
        return written;
    }

    private void MixDh(NoiseToken token)
    {
        // es: the initiator's e with the responder's s; se: the initiator's s with the responder's e.
        (X25519Key? local, byte[]? remote) = token switch
        {
            NoiseToken.EE => (_e, _re),
            NoiseToken.SS => (_s, _rs),
            NoiseToken.ES => _initiator ? (_e, _rs) : (_s, _re),
            NoiseToken.SE => _initiator ? (_s, _re) : (_e, _rs),
            _ => throw new InvalidOperationException("Not a DH token."),
        };
        if (local is null || remote is null)
        {
            throw new NoiseException($"The pattern uses '{token}' before both keys are known.");
        }

        Span<byte> shared = stackalloc byte[DhLength];
        try
        {
            if (remote.Length != DhLength || !local.TryAgree(remote, shared))
            {
                throw new NoiseException(remote.Length != DhLength
                    ? "The peer's public key is not an X25519 key."
                    : "The X25519 result is all zeros (a low-order public key).");
            }

            MixKey(shared);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(shared);
        }
    }
}
