using System.Buffers.Binary;
using NSec.Cryptography;

namespace RemoteSupport.Transport.Security.Noise;

/// <summary>A Noise cipher: ChaChaPoly or AESGCM (Noise revision 34, section 5.1 and 12).</summary>
/// <remarks>
/// Keys are libsodium's AEADs on the ordinary native heap (<see cref="SodiumAead"/>), not NSec's guarded
/// allocations, so a process can hold tens of thousands of secure connections within the kernel's default
/// memory-map limit.
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

    /// <summary>Whether the processor has the AES instructions libsodium's AES-256-GCM needs (NSec's test).</summary>
    public static bool IsAesGcmSupported => Aes256Gcm.IsSupported && SodiumAead.IsAesGcmAvailable;

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
    public abstract SodiumAead.SodiumKey CreateKey(ReadOnlySpan<byte> key);

    private sealed class AesGcmCipher() : NoiseCipher("AESGCM", bigEndianNonce: true)
    {
        public override SodiumAead.SodiumKey CreateKey(ReadOnlySpan<byte> key) => new SodiumAead.AesGcmKey(key);
    }

    private sealed class ChaChaPolyCipher() : NoiseCipher("ChaChaPoly", bigEndianNonce: false)
    {
        public override SodiumAead.SodiumKey CreateKey(ReadOnlySpan<byte> key) => new SodiumAead.ChaChaPolyKey(key);
    }
}
