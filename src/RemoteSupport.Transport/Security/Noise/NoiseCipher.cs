using System.Buffers.Binary;
using NSec.Cryptography;

namespace RemoteSupport.Transport.Security.Noise;

/// <summary>A Noise cipher: ChaChaPoly or AESGCM (Noise revision 34, section 5.1 and 12).</summary>
internal sealed class NoiseCipher
{
    public const int KeyLength = 32;
    public const int TagLength = 16;
    public const int NonceLength = 12;

    private readonly bool _bigEndianNonce;

    private NoiseCipher(string name, AeadAlgorithm algorithm, bool bigEndianNonce)
    {
        Name = name;
        Algorithm = algorithm;
        _bigEndianNonce = bigEndianNonce;
    }

    public static NoiseCipher ChaChaPoly { get; } = new("ChaChaPoly", AeadAlgorithm.ChaCha20Poly1305, bigEndianNonce: false);

    public static NoiseCipher AesGcm { get; } = new("AESGCM", AeadAlgorithm.Aes256Gcm, bigEndianNonce: true);

    public static bool IsAesGcmSupported => Aes256Gcm.IsSupported;

    public string Name { get; }

    public AeadAlgorithm Algorithm { get; }

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

    public Key ImportKey(ReadOnlySpan<byte> key) =>
        Key.Import(Algorithm, key, KeyBlobFormat.RawSymmetricKey, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.None });
}
