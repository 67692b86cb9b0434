using System.Security.Cryptography;

namespace RemoteSupport.Transport.Security.Noise;

/// <summary>
/// A Noise CipherState: a key and a 64-bit nonce counter. Encrypting or decrypting with the nonce
/// 2^64-1 is refused (the counter is exhausted), as the specification requires.
/// </summary>
internal sealed class NoiseCipherState : IDisposable
{
    public const ulong MaxNonce = ulong.MaxValue;

    private readonly NoiseCipher _cipher;
    private SodiumAead.SodiumKey? _key;
    private bool _disposed;

    public NoiseCipherState(NoiseCipher cipher)
    {
        _cipher = cipher;
    }

    public bool HasKey => _key is not null;

    public ulong Nonce { get; internal set; }

    public NoiseCipher Cipher => _cipher;

    public void InitializeKey(ReadOnlySpan<byte> key)
    {
        _key?.Dispose();
        _key = _cipher.CreateKey(key[..NoiseCipher.KeyLength]);
        Nonce = 0;
    }

    /// <summary>ENCRYPT(k, n++, ad, plaintext) into <paramref name="ciphertext"/>; plaintext is copied when there is no key.</summary>
    /// <returns>The number of bytes written.</returns>
    public int EncryptWithAd(ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext)
    {
        ObjectDisposedException.ThrowIf(_disposed, this); // a disposed state must never fall back to plaintext
        if (_key is null)
        {
            plaintext.CopyTo(ciphertext);
            return plaintext.Length;
        }

        ThrowIfExhausted();
        Span<byte> nonce = stackalloc byte[NoiseCipher.NonceLength];
        _cipher.FormatNonce(Nonce, nonce);
        _key.Encrypt(nonce, associatedData, plaintext, ciphertext[..(plaintext.Length + NoiseCipher.TagLength)]);
        Nonce++;
        return plaintext.Length + NoiseCipher.TagLength;
    }

    /// <summary>DECRYPT(k, n++, ad, ciphertext) into <paramref name="plaintext"/>.</summary>
    /// <returns>The plaintext length, or -1 when authentication fails (the nonce does not advance).</returns>
    public int DecryptWithAd(ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> ciphertext, Span<byte> plaintext)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_key is null)
        {
            ciphertext.CopyTo(plaintext);
            return ciphertext.Length;
        }

        ThrowIfExhausted();
        if (ciphertext.Length < NoiseCipher.TagLength)
        {
            return -1;
        }

        Span<byte> nonce = stackalloc byte[NoiseCipher.NonceLength];
        _cipher.FormatNonce(Nonce, nonce);
        int length = ciphertext.Length - NoiseCipher.TagLength;
        if (!_key.Decrypt(nonce, associatedData, ciphertext, plaintext[..length]))
        {
            return -1;
        }

        Nonce++;
        return length;
    }

    /// <summary>REKEY(k): k = ENCRYPT(k, maxnonce, zerolen, zeros) truncated to 32 bytes; the nonce is kept.</summary>
    public void Rekey()
    {
        if (_key is null)
        {
            throw new InvalidOperationException("A cipher state without a key cannot rekey.");
        }

        Span<byte> nonce = stackalloc byte[NoiseCipher.NonceLength];
        _cipher.FormatNonce(MaxNonce, nonce);
        Span<byte> zeros = stackalloc byte[NoiseCipher.KeyLength];
        zeros.Clear();
        Span<byte> output = stackalloc byte[NoiseCipher.KeyLength + NoiseCipher.TagLength];
        _key.Encrypt(nonce, ReadOnlySpan<byte>.Empty, zeros, output);
        ulong keep = Nonce;
        InitializeKey(output[..NoiseCipher.KeyLength]);
        Nonce = keep;
        CryptographicOperations.ZeroMemory(output);
    }

    public void Dispose()
    {
        _disposed = true;
        _key?.Dispose();
        _key = null;
    }

    private void ThrowIfExhausted()
    {
        if (Nonce == MaxNonce)
        {
            throw new NoiseException("The cipher state's nonce is exhausted (2^64-1 messages); the channel must close.");
        }
    }
}

/// <summary>A Noise handshake or transport message failed; the connection must close.</summary>
internal sealed class NoiseException(string message) : Exception(message);
