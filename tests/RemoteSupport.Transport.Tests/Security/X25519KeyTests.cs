using NSec.Cryptography;
using RemoteSupport.Transport.Security.Noise;

namespace RemoteSupport.Transport.Tests.Security;

/// <summary>The Noise DH on libsodium's scalar multiplication; the Noise vectors check it inside every handshake pattern.</summary>
public sealed class X25519KeyTests
{
    [Fact]
    public void TwoKeys_AgreeOnOneSecret_ThatNSecComputesToo()
    {
        using X25519Key alice = X25519Key.Generate();
        using X25519Key bob = X25519Key.Generate();
        byte[] ab = new byte[32];
        byte[] ba = new byte[32];

        alice.TryAgree(bob.PublicKey, ab).Should().BeTrue();
        bob.TryAgree(alice.PublicKey, ba).Should().BeTrue();

        ab.Should().Equal(ba);
        ab.Should().NotEqual(new byte[32]);
        using Key nsec = Key.Import(KeyAgreementAlgorithm.X25519, alice.ExportPrivateKey(), KeyBlobFormat.RawPrivateKey,
            new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
        nsec.PublicKey.Export(KeyBlobFormat.RawPublicKey).Should().Equal(alice.PublicKey);
        using SharedSecret? secret = KeyAgreementAlgorithm.X25519.Agree(nsec, PublicKey.Import(KeyAgreementAlgorithm.X25519, bob.PublicKey, KeyBlobFormat.RawPublicKey),
            new SharedSecretCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
        secret!.Export(SharedSecretBlobFormat.RawSharedSecret).Should().Equal(ab);
    }

    [Fact]
    public void ALowOrderPublicKey_IsRefused()
    {
        using X25519Key key = X25519Key.Generate();
        byte[] shared = new byte[32];

        key.TryAgree(new byte[32], shared).Should().BeFalse("the zero point gives an all-zero secret (RFC 7748 section 6.1)");
    }

    [Fact]
    public void AnImportedKey_ExportsTheSameBytes_AndDerivesTheSamePublicKey()
    {
        using X25519Key original = X25519Key.Generate();
        using X25519Key imported = X25519Key.Import(original.ExportPrivateKey());

        imported.PublicKey.Should().Equal(original.PublicKey);
        imported.ExportPrivateKey().Should().Equal(original.ExportPrivateKey());
        FluentActions.Invoking(() => X25519Key.Import(new byte[31])).Should().Throw<ArgumentException>();
    }

    [Fact]
    public void ADisposedKey_Throws()
    {
        X25519Key key = X25519Key.Generate();
        key.Dispose();

        FluentActions.Invoking(() => key.TryAgree(new byte[32], new byte[32])).Should().Throw<ObjectDisposedException>();
        FluentActions.Invoking(key.ExportPrivateKey).Should().Throw<ObjectDisposedException>();
    }
}
