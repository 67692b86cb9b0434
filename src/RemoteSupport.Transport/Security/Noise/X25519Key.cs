using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace RemoteSupport.Transport.Security.Noise;

/// <summary>
/// An X25519 private key (RFC 7748) for Noise's DH function, computed by libsodium's
/// <c>crypto_scalarmult_curve25519</c> with the 32 private bytes on the ordinary native heap. NSec's keys are
/// guarded allocations: each key and each shared secret maps four pages, protects, locks, unprotects and
/// unmaps them, about nine system calls, and a handshake makes five of them a side (the ephemeral key, a
/// per-connection static key, three shared secrets). In a host taking a herd of reconnecting units those
/// calls, and the page-table flushes they force on every core, cost more than the curve arithmetic.
/// </summary>
/// <remarks>Like <see cref="SodiumAead.SodiumKey"/>, the memory is a <see cref="SafeHandle"/>: zeroed and freed once the last call using it ends, or by the finalizer.</remarks>
internal sealed unsafe partial class X25519Key : IDisposable
{
    public const int Length = 32;

    private const string Library = "libsodium";

    private readonly SodiumAead.KeyMemory _private;

    private X25519Key(ReadOnlySpan<byte> privateKey)
    {
        SodiumAead.EnsureInitialized();
        _private = new SodiumAead.KeyMemory(Length);
        privateKey.CopyTo(new Span<byte>(_private.Pointer, Length));
        fixed (byte* q = PublicKey)
        {
            if (crypto_scalarmult_curve25519_base(q, _private.Pointer) != 0)
            {
                _private.Dispose();
                throw new CryptographicException("libsodium could not compute the X25519 public key.");
            }
        }
    }

    /// <summary>Gets the 32-byte public key (the private key times the base point).</summary>
    public byte[] PublicKey { get; } = new byte[Length];

    /// <summary>Creates a key from 32 random bytes (libsodium clamps the scalar in every multiplication).</summary>
    public static X25519Key Generate()
    {
        Span<byte> random = stackalloc byte[Length];
        RandomNumberGenerator.Fill(random);
        try
        {
            return new X25519Key(random);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(random);
        }
    }

    /// <summary>Creates a key from its 32 raw private bytes.</summary>
    public static X25519Key Import(ReadOnlySpan<byte> privateKey)
    {
        if (privateKey.Length != Length)
        {
            throw new ArgumentException("An X25519 private key is 32 bytes.", nameof(privateKey));
        }

        return new X25519Key(privateKey);
    }

    /// <summary>Returns a copy of the 32 raw private bytes.</summary>
    public byte[] ExportPrivateKey()
    {
        bool added = false;
        _private.DangerousAddRef(ref added); // throws ObjectDisposedException once disposed
        try
        {
            return new ReadOnlySpan<byte>(_private.Pointer, Length).ToArray();
        }
        finally
        {
            _private.DangerousRelease();
        }
    }

    /// <summary>
    /// Computes the shared secret with <paramref name="remotePublicKey"/> (32 bytes) into <paramref name="shared"/>
    /// (32 bytes); false when it is all zeros (the peer's key has a small order), which RFC 7748 section 6.1 lets
    /// a protocol refuse.
    /// </summary>
    public bool TryAgree(ReadOnlySpan<byte> remotePublicKey, Span<byte> shared)
    {
        if (remotePublicKey.Length != Length || shared.Length != Length)
        {
            throw new ArgumentException("X25519 keys and shared secrets are 32 bytes.");
        }

        bool added = false;
        _private.DangerousAddRef(ref added);
        try
        {
            fixed (byte* p = remotePublicKey, q = shared)
            {
                return crypto_scalarmult_curve25519(q, _private.Pointer, p) == 0;
            }
        }
        finally
        {
            _private.DangerousRelease();
        }
    }

    public void Dispose() => _private.Dispose();

    [LibraryImport(Library)]
    private static partial int crypto_scalarmult_curve25519_base(byte* q, byte* n);

    [LibraryImport(Library)]
    private static partial int crypto_scalarmult_curve25519(byte* q, byte* n, byte* p);
}
