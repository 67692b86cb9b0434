using NSec.Cryptography;

namespace RemoteSupport.Transport.Security;

/// <summary>
/// A Noise static key (X25519). A responder keeps one across connections so an initiator that has
/// met it can use the one-round-trip <c>IK</c> pattern; without one, a fresh key is made per connection.
/// The key is bound to the party's Ed25519 identity by a signature in every handshake.
/// </summary>
public sealed class NoiseStaticKey : IDisposable
{
    private NoiseStaticKey(Key key)
    {
        Key = key;
        PublicKey = key.PublicKey.Export(KeyBlobFormat.RawPublicKey);
    }

    /// <summary>Gets the 32-byte X25519 public key.</summary>
    public ReadOnlyMemory<byte> PublicKey { get; }

    internal Key Key { get; }

    /// <summary>Creates a new random key.</summary>
    public static NoiseStaticKey Generate() =>
        new(Key.Create(KeyAgreementAlgorithm.X25519, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextArchiving }));

    /// <summary>Restores a key from its 32 raw private bytes (from <see cref="ExportPrivateKey"/>).</summary>
    public static NoiseStaticKey FromPrivateKey(ReadOnlySpan<byte> privateKey)
    {
        if (privateKey.Length != 32)
        {
            Error.Argument(nameof(privateKey), "An X25519 private key is 32 bytes.");
        }

        return new(Key.Import(KeyAgreementAlgorithm.X25519, privateKey, KeyBlobFormat.RawPrivateKey,
            new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextArchiving }));
    }

    /// <summary>Exports the 32 raw private bytes, for the integrator to store protected (as it stores key files).</summary>
    public byte[] ExportPrivateKey() => Key.Export(KeyBlobFormat.RawPrivateKey);

    /// <summary>Erases the key.</summary>
    public void Dispose() => Key.Dispose();
}
