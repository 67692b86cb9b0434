using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace RemoteSupport.Transport.Security.Noise;

/// <summary>
/// libsodium's AEADs (the native library NSec ships and loads) with the key on the ordinary native heap:
/// AES-256-GCM through its precomputed state (<c>crypto_aead_aes256gcm_beforenm</c>, the key schedule and
/// GHASH table computed once per key), ChaCha20-Poly1305 (IETF) with the 32-byte key. NSec's keys are
/// guarded allocations (four memory mappings each, guard pages, locked), which a host holding tens of
/// thousands of connections cannot afford; the BCL's AEADs cost about 2 µs more a message through
/// OpenSSL's per-call setup, which quadrupled the time of 64-byte messages.
/// </summary>
/// <remarks>
/// Each key lives in a <see cref="SafeHandle"/>: a call holds a reference for its duration, so disposing the
/// key while another thread seals with it waits for nothing and frees nothing under it (the memory is zeroed
/// and freed when the last call ends), and a key never disposed is still zeroed and freed by the finalizer.
/// </remarks>
internal static unsafe partial class SodiumAead
{
    private const string Library = "libsodium";
    private const int AesGcmStateBytes = 512;
    private const int Alignment = 16;

    private static readonly bool Initialized = sodium_init() >= 0;

    /// <summary>Throws unless libsodium initialized (it picks the fastest implementations for this processor).</summary>
    public static void EnsureInitialized()
    {
        if (!Initialized)
        {
            throw new PlatformNotSupportedException("libsodium did not initialize.");
        }
    }

    /// <summary>Gets whether libsodium's AES-256-GCM runs here (it needs AES-NI and PCLMUL).</summary>
    public static bool IsAesGcmAvailable => Initialized && crypto_aead_aes256gcm_is_available() == 1;

    /// <summary>An AES-256-GCM key: its precomputed state.</summary>
    public sealed class AesGcmKey : SodiumKey
    {
        public AesGcmKey(ReadOnlySpan<byte> key)
            : base(AesGcmStateBytes)
        {
            if (!IsAesGcmAvailable || crypto_aead_aes256gcm_statebytes() > AesGcmStateBytes)
            {
                Dispose();
                throw new PlatformNotSupportedException("libsodium's AES-256-GCM needs AES-NI and PCLMUL.");
            }

            fixed (byte* k = key)
            {
                if (crypto_aead_aes256gcm_beforenm(Memory.Pointer, k) != 0)
                {
                    Dispose();
                    throw new CryptographicException("libsodium refused the AES-256-GCM key.");
                }
            }
        }

        protected override int Seal(byte* c, byte* m, ulong mlen, byte* ad, ulong adlen, byte* npub, byte* key) =>
            crypto_aead_aes256gcm_encrypt_afternm(c, out _, m, mlen, ad, adlen, null, npub, key);

        protected override int Open(byte* m, byte* c, ulong clen, byte* ad, ulong adlen, byte* npub, byte* key) =>
            crypto_aead_aes256gcm_decrypt_afternm(m, out _, null, c, clen, ad, adlen, npub, key);
    }

    /// <summary>A ChaCha20-Poly1305 (IETF) key.</summary>
    public sealed class ChaChaPolyKey : SodiumKey
    {
        public ChaChaPolyKey(ReadOnlySpan<byte> key)
            : base(NoiseCipher.KeyLength)
        {
            if (!Initialized)
            {
                Dispose();
                EnsureInitialized();
            }

            key[..NoiseCipher.KeyLength].CopyTo(new Span<byte>(Memory.Pointer, NoiseCipher.KeyLength));
        }

        protected override int Seal(byte* c, byte* m, ulong mlen, byte* ad, ulong adlen, byte* npub, byte* key) =>
            crypto_aead_chacha20poly1305_ietf_encrypt(c, out _, m, mlen, ad, adlen, null, npub, key);

        protected override int Open(byte* m, byte* c, ulong clen, byte* ad, ulong adlen, byte* npub, byte* key) =>
            crypto_aead_chacha20poly1305_ietf_decrypt(m, out _, null, c, clen, ad, adlen, npub, key);
    }

    /// <summary>
    /// One AEAD key of a Noise cipher, in native memory; each call holds a reference to it for its duration.
    /// Noise's layout: the ciphertext is the encrypted bytes followed by the 16-byte tag.
    /// </summary>
    public abstract class SodiumKey : IDisposable
    {
        private protected SodiumKey(int bytes)
        {
            Memory = new KeyMemory(bytes);
        }

        private protected KeyMemory Memory { get; }

        /// <summary>Writes plaintext.Length + 16 bytes into <paramref name="ciphertext"/>.</summary>
        public void Encrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext)
        {
            bool added = false;
            Memory.DangerousAddRef(ref added); // throws ObjectDisposedException once disposed
            try
            {
                fixed (byte* c = ciphertext, m = plaintext, ad = associatedData, npub = nonce)
                {
                    if (Seal(c, m, (ulong)plaintext.Length, ad, (ulong)associatedData.Length, npub, Memory.Pointer) != 0)
                    {
                        throw new CryptographicException("libsodium's encryption failed.");
                    }
                }
            }
            finally
            {
                if (added)
                {
                    Memory.DangerousRelease();
                }
            }
        }

        /// <summary>Whether the tag verified; <paramref name="ciphertext"/> is at least 16 bytes.</summary>
        public bool Decrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> ciphertext, Span<byte> plaintext)
        {
            bool added = false;
            Memory.DangerousAddRef(ref added);
            try
            {
                fixed (byte* m = plaintext, c = ciphertext, ad = associatedData, npub = nonce)
                {
                    return Open(m, c, (ulong)ciphertext.Length, ad, (ulong)associatedData.Length, npub, Memory.Pointer) == 0;
                }
            }
            finally
            {
                if (added)
                {
                    Memory.DangerousRelease();
                }
            }
        }

        public void Dispose()
        {
            Memory.Dispose();
            GC.SuppressFinalize(this);
        }

        /// <summary>Encrypts in libsodium's combined mode (ciphertext then tag); 0 on success.</summary>
        protected abstract int Seal(byte* c, byte* m, ulong mlen, byte* ad, ulong adlen, byte* npub, byte* key);

        /// <summary>Decrypts and verifies the tag; 0 when it verified.</summary>
        protected abstract int Open(byte* m, byte* c, ulong clen, byte* ad, ulong adlen, byte* npub, byte* key);
    }

    /// <summary>Aligned native memory for key material, zeroed and freed when released.</summary>
    internal sealed class KeyMemory : SafeHandle
    {
        private readonly int _length;

        public KeyMemory(int length)
            : base(IntPtr.Zero, ownsHandle: true)
        {
            _length = length;
            SetHandle((IntPtr)NativeMemory.AlignedAlloc((nuint)length, Alignment));
            new Span<byte>((void*)handle, length).Clear();
        }

        public override bool IsInvalid => handle == IntPtr.Zero;

        public byte* Pointer => (byte*)handle;

        protected override bool ReleaseHandle()
        {
            CryptographicOperations.ZeroMemory(new Span<byte>((void*)handle, _length));
            NativeMemory.AlignedFree((void*)handle);
            return true;
        }
    }

    [LibraryImport(Library)]
    private static partial int sodium_init();

    [LibraryImport(Library)]
    private static partial int crypto_aead_aes256gcm_is_available();

    [LibraryImport(Library)]
    private static partial nuint crypto_aead_aes256gcm_statebytes();

    [LibraryImport(Library)]
    private static partial int crypto_aead_aes256gcm_beforenm(byte* state, byte* key);

    [LibraryImport(Library)]
    private static partial int crypto_aead_aes256gcm_encrypt_afternm(
        byte* c, out ulong clen, byte* m, ulong mlen, byte* ad, ulong adlen, byte* nsec, byte* npub, byte* state);

    [LibraryImport(Library)]
    private static partial int crypto_aead_aes256gcm_decrypt_afternm(
        byte* m, out ulong mlen, byte* nsec, byte* c, ulong clen, byte* ad, ulong adlen, byte* npub, byte* state);

    [LibraryImport(Library)]
    private static partial int crypto_aead_chacha20poly1305_ietf_encrypt(
        byte* c, out ulong clen, byte* m, ulong mlen, byte* ad, ulong adlen, byte* nsec, byte* npub, byte* k);

    [LibraryImport(Library)]
    private static partial int crypto_aead_chacha20poly1305_ietf_decrypt(
        byte* m, out ulong mlen, byte* nsec, byte* c, ulong clen, byte* ad, ulong adlen, byte* npub, byte* k);
}
