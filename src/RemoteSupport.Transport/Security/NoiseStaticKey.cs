using RemoteSupport.Transport.Security.Noise;

namespace RemoteSupport.Transport.Security;

/// <summary>
/// A Noise static key (X25519). A responder keeps one across connections so an initiator that has
/// met it can use the one-round-trip <c>IK</c> pattern; without one, a fresh key is made per connection.
/// The key is bound to the party's Ed25519 identity by a signature in every handshake. Its 32 private bytes
/// live on the native heap, zeroed when the key is disposed (or finalized); they are not locked in memory,
/// so an integrator who keeps one stores its export as protected as a key file.
/// </summary>
public sealed class NoiseStaticKey : IDisposable
{
    private NoiseStaticKey(X25519Key key)
    {
        Key = key;
        PublicKey = key.PublicKey;
    }

    /// <summary>Gets the 32-byte X25519 public key.</summary>
    public ReadOnlyMemory<byte> PublicKey { get; }

    internal X25519Key Key { get; }

    /// <summary>Creates a new random key.</summary>
    public static NoiseStaticKey Generate() => new(X25519Key.Generate());

    /// <summary>Restores a key from its 32 raw private bytes (from <see cref="ExportPrivateKey"/>).</summary>
    public static NoiseStaticKey FromPrivateKey(ReadOnlySpan<byte> privateKey)
    {
        if (privateKey.Length != 32)
        {
            Error.Argument(nameof(privateKey), "An X25519 private key is 32 bytes.");
        }

        return new(X25519Key.Import(privateKey));
    }

    /// <summary>Exports the 32 raw private bytes, for the integrator to store protected (as it stores key files).</summary>
    public byte[] ExportPrivateKey() => Key.ExportPrivateKey();

    /// <summary>Erases the key.</summary>
    public void Dispose() => Key.Dispose();
}
