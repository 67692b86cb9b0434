using System.Security.Cryptography;
using Blake2bAlgorithm = NSec.Cryptography.HashAlgorithm;
using NSecIncrementalHash = NSec.Cryptography.IncrementalHash;

namespace RemoteSupport.Transport.Security.Noise;

/// <summary>A Noise hash function with its HMAC and HKDF (Noise revision 34, section 4.3).</summary>
internal abstract class NoiseHash
{
    public const int MaxHashLength = 64;

    public static NoiseHash Sha256 { get; } = new BclHash("SHA256", 32, 64, HashAlgorithmName.SHA256);

    public static NoiseHash Sha512 { get; } = new BclHash("SHA512", 64, 128, HashAlgorithmName.SHA512);

    public static NoiseHash Blake2b { get; } = new Blake2bHash();

    public abstract string Name { get; }

    public abstract int HashLength { get; }

    public abstract int BlockLength { get; }

    public static NoiseHash? FromName(string name) => name switch
    {
        "SHA256" => Sha256,
        "SHA512" => Sha512,
        "BLAKE2b" => Blake2b,
        _ => null,
    };

    /// <summary>HASH(a || b) into <paramref name="output"/> (HashLength bytes).</summary>
    public abstract void Hash(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, Span<byte> output);

    /// <summary>HMAC-HASH(key, data) into <paramref name="output"/> (HashLength bytes).</summary>
    public abstract void Hmac(ReadOnlySpan<byte> key, ReadOnlySpan<byte> data, Span<byte> output);

    /// <summary>HKDF as Noise defines it: two or three outputs of HashLength bytes each.</summary>
    public void Hkdf(ReadOnlySpan<byte> chainingKey, ReadOnlySpan<byte> inputKeyMaterial, Span<byte> output1, Span<byte> output2, Span<byte> output3)
    {
        int length = HashLength;
        Span<byte> tempKey = stackalloc byte[MaxHashLength];
        tempKey = tempKey[..length];
        Span<byte> input = stackalloc byte[MaxHashLength + 1];
        Hmac(chainingKey, inputKeyMaterial, tempKey);

        input[0] = 0x01;
        Hmac(tempKey, input[..1], output1);

        output1.CopyTo(input);
        input[length] = 0x02;
        Hmac(tempKey, input[..(length + 1)], output2);

        if (!output3.IsEmpty)
        {
            output2.CopyTo(input);
            input[length] = 0x03;
            Hmac(tempKey, input[..(length + 1)], output3);
        }

        CryptographicOperations.ZeroMemory(tempKey);
        CryptographicOperations.ZeroMemory(input);
    }

    private sealed class BclHash(string name, int hashLength, int blockLength, HashAlgorithmName algorithm) : NoiseHash
    {
        public override string Name => name;

        public override int HashLength => hashLength;

        public override int BlockLength => blockLength;

        public override void Hash(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, Span<byte> output)
        {
            using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(algorithm);
            hash.AppendData(a);
            hash.AppendData(b);
            hash.GetHashAndReset(output);
        }

        public override void Hmac(ReadOnlySpan<byte> key, ReadOnlySpan<byte> data, Span<byte> output)
        {
            if (hashLength == 32)
            {
                HMACSHA256.HashData(key, data, output);
            }
            else
            {
                HMACSHA512.HashData(key, data, output);
            }
        }
    }

    /// <summary>BLAKE2b-512, with HMAC built on it (NSec's keyed BLAKE2b is not HMAC).</summary>
    private sealed class Blake2bHash : NoiseHash
    {
        public override string Name => "BLAKE2b";

        public override int HashLength => 64;

        public override int BlockLength => 128;

        public override void Hash(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, Span<byte> output)
        {
            NSecIncrementalHash.Initialize(Blake2bAlgorithm.Blake2b_512, out NSecIncrementalHash state);
            NSecIncrementalHash.Update(ref state, a);
            NSecIncrementalHash.Update(ref state, b);
            NSecIncrementalHash.Finalize(ref state, output[..64]);
        }

        public override void Hmac(ReadOnlySpan<byte> key, ReadOnlySpan<byte> data, Span<byte> output)
        {
            // RFC 2104: H((K ^ opad) || H((K ^ ipad) || data)), K padded to the block length.
            Span<byte> block = stackalloc byte[128];
            block.Clear();
            if (key.Length > 128)
            {
                Blake2bAlgorithm.Blake2b_512.Hash(key, block[..64]);
            }
            else
            {
                key.CopyTo(block);
            }

            Span<byte> pad = stackalloc byte[128];
            for (int i = 0; i < 128; i++)
            {
                pad[i] = (byte)(block[i] ^ 0x36);
            }

            Span<byte> inner = stackalloc byte[64];
            Hash(pad, data, inner);
            for (int i = 0; i < 128; i++)
            {
                pad[i] = (byte)(block[i] ^ 0x5c);
            }

            Hash(pad, inner, output);
            CryptographicOperations.ZeroMemory(block);
            CryptographicOperations.ZeroMemory(pad);
        }
    }
}
