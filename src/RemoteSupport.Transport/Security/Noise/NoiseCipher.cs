using System.Buffers.Binary;
using System.Security.Cryptography;
using NSec.Cryptography;

namespace RemoteSupport.Transport.Security.Noise;

/// <summary>A Noise cipher: ChaChaPoly or AESGCM (Noise revision 34, section 5.1 and 12).</summary>
/// <remarks>
/// Keys are the BCL's <see cref="System.Security.Cryptography.AesGcm"/> and
/// <see cref="System.Security.Cryptography.ChaCha20Poly1305"/> (OpenSSL, CNG or the platform's provider):
/// they hold a cipher context on the native heap, not a guarded allocation, so a process can hold tens of
/// thousands of secure connections within the kernel's default memory-map limit. NSec's AEAD serves only
/// a platform whose BCL lacks ChaCha20-Poly1305.
/// </remarks>
internal abstract class NoiseCipher
{
    public const int KeyLength = 32;
    public const int TagLength = 16;
    public const int NonceLength = 12;

    private readonly bool _bigEndianNonce;

    private NoiseCipher(string name, bool bigEndianNonce)
    {
        Name = name;
        _bigEndianNonce = bigEndianNonce;
    }

    public static NoiseCipher ChaChaPoly { get; } = new ChaChaPolyCipher();

    public static NoiseCipher AesGcm { get; } = new AesGcmCipher();

    /// <summary>Whether the processor has AES instructions (NSec's test) and the platform provides AES-GCM.</summary>
    public static bool IsAesGcmSupported => Aes256Gcm.IsSupported && System.Security.Cryptography.AesGcm.IsSupported;

    public string Name { get; }

    public static NoiseCipher? FromName(string name) => name switch
    {
        "ChaChaPoly" => ChaChaPoly,
        "AESGCM" => AesGcm,
        _ => null,
    };

    /// <summary>ChaChaPoly: 4 zero bytes and the counter little-endian; AESGCM: 4 zero bytes and the counter big-endian.</summary>
    public void FormatNonce(ulong n, Span<byte> nonce)
    {
        nonce[..4].Clear();
        if (_bigEndianNonce)
        {
            BinaryPrimitives.WriteUInt64BigEndian(nonce[4..], n);
        }
        else
        {
            BinaryPrimitives.WriteUInt64LittleEndian(nonce[4..], n);
        }
    }

    /// <summary>A key for this cipher from its 32 raw bytes; the caller clears its copy.</summary>
    public abstract NoiseCipherKey CreateKey(ReadOnlySpan<byte> key);

    private sealed class AesGcmCipher() : NoiseCipher("AESGCM", bigEndianNonce: true)
    {
        public override NoiseCipherKey CreateKey(ReadOnlySpan<byte> key) => new AesGcmKey(key);
    }

    private sealed class ChaChaPolyCipher() : NoiseCipher("ChaChaPoly", bigEndianNonce: false)
    {
        public override NoiseCipherKey CreateKey(ReadOnlySpan<byte> key) =>
            System.Security.Cryptography.ChaCha20Poly1305.IsSupported ? new ChaChaPolyKey(key) : new NSecKey(AeadAlgorithm.ChaCha20Poly1305, key);
    }

    private sealed class AesGcmKey(ReadOnlySpan<byte> key) : NoiseCipherKey
    {
        private readonly System.Security.Cryptography.AesGcm _aead = new(key, TagLength);

        public override void Encrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext) =>
            _aead.Encrypt(nonce, plaintext, ciphertext[..plaintext.Length], ciphertext.Slice(plaintext.Length, TagLength), associatedData);

        public override bool Decrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> ciphertext, Span<byte> plaintext)
        {
            int length = ciphertext.Length - TagLength;
            try
            {
                _aead.Decrypt(nonce, ciphertext[..length], ciphertext[length..], plaintext[..length], associatedData);
                return true;
            }
            catch (AuthenticationTagMismatchException)
            {
                return false;
            }
        }

        public override void Dispose() => _aead.Dispose();
    }

    private sealed class ChaChaPolyKey(ReadOnlySpan<byte> key) : NoiseCipherKey
    {
        private readonly System.Security.Cryptography.ChaCha20Poly1305 _aead = new(key);

        public override void Encrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext) =>
            _aead.Encrypt(nonce, plaintext, ciphertext[..plaintext.Length], ciphertext.Slice(plaintext.Length, TagLength), associatedData);

        public override bool Decrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> ciphertext, Span<byte> plaintext)
        {
            int length = ciphertext.Length - TagLength;
            try
            {
                _aead.Decrypt(nonce, ciphertext[..length], ciphertext[length..], plaintext[..length], associatedData);
                return true;
            }
            catch (AuthenticationTagMismatchException)
            {
                return false;
            }
        }

        public override void Dispose() => _aead.Dispose();
    }

    /// <summary>NSec's AEAD, for a platform whose BCL lacks the algorithm (a guarded allocation per key).</summary>
    private sealed class NSecKey(AeadAlgorithm algorithm, ReadOnlySpan<byte> key) : NoiseCipherKey
    {
        private readonly Key _key = Key.Import(algorithm, key, KeyBlobFormat.RawSymmetricKey, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.None });

        public override void Encrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext) =>
            algorithm.Encrypt(_key, nonce, associatedData, plaintext, ciphertext[..(plaintext.Length + TagLength)]);

        public override bool Decrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> ciphertext, Span<byte> plaintext) =>
            algorithm.Decrypt(_key, nonce, associatedData, ciphertext, plaintext[..(ciphertext.Length - TagLength)]);

        public override void Dispose() => _key.Dispose();
    }
}

/// <summary>One AEAD key of a Noise cipher. Noise's layout: the ciphertext is the encrypted bytes followed by the 16-byte tag.</summary>
internal abstract class NoiseCipherKey : IDisposable
{
    /// <summary>Writes plaintext.Length + 16 bytes into <paramref name="ciphertext"/>.</summary>
    public abstract void Encrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext);

    /// <summary>Whether the tag verified; <paramref name="ciphertext"/> is at least 16 bytes.</summary>
    public abstract bool Decrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> ciphertext, Span<byte> plaintext);

    public abstract void Dispose();
}
