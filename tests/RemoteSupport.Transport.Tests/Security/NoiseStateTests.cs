using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using RemoteSupport.Transport.Security.Noise;

namespace RemoteSupport.Transport.Tests.Security;

/// <summary>
/// The Noise building blocks against the specification (noiseprotocol.org, revision 34) and an independent AEAD: the
/// cipher state's nonce, rekey, exhaustion and key-less pass-through, the protocol name's refusals, the handshake
/// state's guards. The handshakes themselves are checked byte for byte by the test vectors (<see cref="NoiseVectorTests"/>).
/// </summary>
public sealed class NoiseStateTests
{
    private static readonly byte[] Key = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();
    private static readonly byte[] Ad = "associated"u8.ToArray();

    public static TheoryData<string> Ciphers => NoiseCipher.IsAesGcmSupported ? ["ChaChaPoly", "AESGCM"] : ["ChaChaPoly"];

    [Theory]
    [MemberData(nameof(Ciphers))]
    public void Encrypt_IsTheAeadWithTheNoiseNonce_ThenTheNonceCounts(string name)
    {
        using var state = new NoiseCipherState(NoiseCipher.FromName(name)!);
        state.InitializeKey(Key);
        state.Nonce = 0x0102_0304_0506_0708;
        byte[] plain = "fix 2.1.0"u8.ToArray();
        byte[] sealedBytes = new byte[plain.Length + 16];

        state.EncryptWithAd(Ad, plain, sealedBytes).Should().Be(plain.Length + 16);

        sealedBytes.Should().Equal(Reference(name, Key, 0x0102_0304_0506_0708, plain));
        state.Nonce.Should().Be(0x0102_0304_0506_0709);
    }

    [Theory]
    [MemberData(nameof(Ciphers))]
    public void Decrypt_OpensOnlyTheRightNonce_AndCountsOnlyASuccess(string name)
    {
        using var state = new NoiseCipherState(NoiseCipher.FromName(name)!);
        state.InitializeKey(Key);
        byte[] sealedBytes = Reference(name, Key, 5, "hello"u8.ToArray());
        byte[] plain = new byte[sealedBytes.Length];

        state.Nonce = 4;
        state.DecryptWithAd(Ad, sealedBytes, plain).Should().Be(-1);
        state.Nonce.Should().Be(4);
        state.DecryptWithAd(Ad, sealedBytes[..15], plain).Should().Be(-1, "shorter than a tag");
        state.Nonce = 5;
        state.DecryptWithAd(Ad, sealedBytes, plain).Should().Be(5);
        plain[..5].Should().Equal("hello"u8.ToArray());
        state.Nonce.Should().Be(6);
        state.Nonce = 5;
        state.DecryptWithAd(Ad, Reference(name, Key, 5, []), plain).Should().Be(0, "a tag alone is an empty message");
    }

    [Theory]
    [MemberData(nameof(Ciphers))]
    public void Rekey_IsTheFirst32BytesOfEncryptingZerosAtTheLastNonce_KeepingTheNonce(string name)
    {
        using var state = new NoiseCipherState(NoiseCipher.FromName(name)!);
        state.InitializeKey(Key);
        state.Nonce = 9;

        state.Rekey();

        state.Nonce.Should().Be(9);
        byte[] newKey = Reference(name, Key, ulong.MaxValue, new byte[32], ad: [])[..32];
        byte[] sealedBytes = new byte[4 + 16];
        state.EncryptWithAd(Ad, "next"u8, sealedBytes);
        sealedBytes.Should().Equal(Reference(name, newKey, 9, "next"u8.ToArray()));
    }

    [Fact]
    public void WithoutAKey_TheStatePassesBytesThrough_AndCannotRekey()
    {
        using var state = new NoiseCipherState(NoiseCipher.ChaChaPoly);
        byte[] output = new byte[8];

        state.HasKey.Should().BeFalse();
        state.EncryptWithAd(Ad, "abc"u8, output).Should().Be(3);
        output[..3].Should().Equal("abc"u8.ToArray());
        state.DecryptWithAd(Ad, "xy"u8, output).Should().Be(2);
        output[..2].Should().Equal("xy"u8.ToArray());
        state.Nonce.Should().Be(0);
        FluentActions.Invoking(state.Rekey).Should().Throw<InvalidOperationException>().WithMessage("A cipher state without a key cannot rekey.");
    }

    [Fact]
    public void TheLastNonce_IsNeverUsed_AndADisposedState_NeverFallsBackToPlaintext()
    {
        var state = new NoiseCipherState(NoiseCipher.ChaChaPoly);
        state.InitializeKey(Key);
        state.Nonce = ulong.MaxValue - 1;
        byte[] output = new byte[64];
        state.EncryptWithAd(Ad, "last"u8, output).Should().Be(20);

        FluentActions.Invoking(() => state.EncryptWithAd(Ad, "one more"u8, output)).Should().Throw<NoiseException>()
            .WithMessage("The cipher state's nonce is exhausted (2^64-1 messages); the channel must close.");
        FluentActions.Invoking(() => state.DecryptWithAd(Ad, new byte[20], output)).Should().Throw<NoiseException>();

        state.Dispose();
        state.HasKey.Should().BeFalse();
        FluentActions.Invoking(() => state.EncryptWithAd(Ad, "x"u8, output)).Should().Throw<ObjectDisposedException>();
        FluentActions.Invoking(() => state.DecryptWithAd(Ad, new byte[20], output)).Should().Throw<ObjectDisposedException>();
    }

    [Fact]
    public void InitializeKey_ResetsTheNonce_AndUsesTheFirst32Bytes()
    {
        using var state = new NoiseCipherState(NoiseCipher.ChaChaPoly);
        state.InitializeKey(Key);
        state.Nonce = 77;

        state.InitializeKey([.. Key, 0xEE, 0xEE]);

        state.Nonce.Should().Be(0);
        byte[] sealedBytes = new byte[16];
        state.EncryptWithAd(Ad, [], sealedBytes);
        sealedBytes.Should().Equal(Reference("ChaChaPoly", Key, 0, []));
    }

    [Theory]
    [InlineData("Noise_XX_25519_ChaChaPoly", "'Noise_XX_25519_ChaChaPoly' is not a Noise protocol name.")]
    [InlineData("Noise_XX_25519_ChaChaPoly_SHA256_x", "'Noise_XX_25519_ChaChaPoly_SHA256_x' is not a Noise protocol name.")]
    [InlineData("Nois_XX_25519_ChaChaPoly_SHA256", "'Nois_XX_25519_ChaChaPoly_SHA256' is not a Noise protocol name.")]
    [InlineData("Noise_ZZ_25519_ChaChaPoly_SHA256", "The handshake pattern 'ZZ' is not supported.")]
    [InlineData("Noise_XX_448_ChaChaPoly_SHA256", "The DH function '448' is not supported (only 25519).")]
    [InlineData("Noise_XX_25519_AESGCMX_SHA256", "The cipher 'AESGCMX' is not supported.")]
    [InlineData("Noise_XX_25519_ChaChaPoly_BLAKE2s", "The hash 'BLAKE2s' is not supported.")]
    public void ProtocolName_Refusals_NameThePart(string name, string expected)
    {
        NoiseProtocol.TryParse(name, out string? unsupported).Should().BeNull();
        unsupported.Should().Be(expected);
    }

    [Theory]
    [InlineData("Noise_XX_25519_ChaChaPoly_SHA256", "ChaChaPoly", "SHA256", 32)]
    [InlineData("Noise_NN_25519_ChaChaPoly_SHA512", "ChaChaPoly", "SHA512", 64)]
    [InlineData("Noise_IK_25519_ChaChaPoly_BLAKE2b", "ChaChaPoly", "BLAKE2b", 64)]
    public void ProtocolName_Parts_AreTheOnesNamed(string name, string cipher, string hash, int hashLength)
    {
        NoiseProtocol protocol = NoiseProtocol.TryParse(name, out string? unsupported)!;

        unsupported.Should().BeNull();
        (protocol.Name, protocol.Cipher.Name, protocol.Hash.Name, protocol.Hash.HashLength).Should().Be((name, cipher, hash, hashLength));
        (NoiseCipher.FromName("AESGCM")!.Name, NoiseCipher.FromName("AES"), NoiseCipher.FromName("ChaChaPoly")!.Name).Should().Be(("AESGCM", (NoiseCipher?)null, "ChaChaPoly"));
    }

    [Fact]
    public void HandshakeState_AMessageOfExactlyTheLimit_IsRead_APartCutShortAfterTheFirstIsRefused()
    {
        NoiseProtocol nn = NoiseProtocol.TryParse("Noise_NN_25519_ChaChaPoly_SHA256", out _)!;
        NoiseProtocol xx = NoiseProtocol.TryParse("Noise_XX_25519_ChaChaPoly_SHA256", out _)!;
        using NoiseHandshakeState responder = NoiseHandshakeState.Create(nn, false, [], null, []);
        byte[] payload = new byte[65535];
        byte[] limit = new byte[65535];
        limit[0] = 9; // any 32 bytes are an ephemeral key; the payload is in the clear before a key
        responder.ReadMessage(limit, payload).Should().Be(65535 - 32);

        using X25519Key s = X25519Key.Generate();
        using NoiseHandshakeState initiator = NoiseHandshakeState.Create(xx, true, [], s, []);
        initiator.WriteMessage([], new byte[100]);
        using X25519Key peerEphemeral = X25519Key.Generate();
        byte[] cut = [.. peerEphemeral.PublicKey, .. new byte[8]];
        FluentActions.Invoking(() => initiator.ReadMessage(cut, payload)).Should().Throw<NoiseException>()
            .WithMessage("The handshake message is too short for its pattern.", "32 bytes of e, then 8 of the 48 an encrypted s needs");
    }

    [Fact]
    public void HandshakeState_ALowOrderEphemeral_IsRefused_WhenItIsUsed()
    {
        NoiseProtocol nn = NoiseProtocol.TryParse("Noise_NN_25519_ChaChaPoly_SHA256", out _)!;
        using NoiseHandshakeState responder = NoiseHandshakeState.Create(nn, false, [], null, []);
        responder.ReadMessage(new byte[32], new byte[16]).Should().Be(0);

        FluentActions.Invoking(() => responder.WriteMessage([], new byte[100])).Should().Throw<NoiseException>()
            .WithMessage("The X25519 result is all zeros (a low-order public key).");
    }

    [Fact]
    public void X25519Key_LengthsAreChecked_BeforeAnyNativeCall()
    {
        using X25519Key key = X25519Key.Generate();

        FluentActions.Invoking(() => X25519Key.Import(new byte[31])).Should().Throw<ArgumentException>().WithMessage("An X25519 private key is 32 bytes.*");
        FluentActions.Invoking(() => key.TryAgree(new byte[31], new byte[32])).Should().Throw<ArgumentException>().WithMessage("X25519 keys and shared secrets are 32 bytes.");
        FluentActions.Invoking(() => key.TryAgree(new byte[32], new byte[33])).Should().Throw<ArgumentException>().WithMessage("X25519 keys and shared secrets are 32 bytes.");
    }

    [Theory]
    [MemberData(nameof(Ciphers))]
    public void ADisposedAeadKey_RefusesToEncryptOrDecrypt(string name)
    {
        SodiumAead.SodiumKey key = NoiseCipher.FromName(name)!.CreateKey(Key);
        byte[] sealedBytes = new byte[16];
        key.Encrypt(new byte[12], [], [], sealedBytes);
        key.Decrypt(new byte[12], [], sealedBytes, []).Should().BeTrue();

        key.Dispose();

        FluentActions.Invoking(() => key.Encrypt(new byte[12], [], [], sealedBytes)).Should().Throw<ObjectDisposedException>();
        FluentActions.Invoking(() => key.Decrypt(new byte[12], [], sealedBytes, [])).Should().Throw<ObjectDisposedException>();
    }

    [Theory]
    [InlineData("XXpsk4")]
    [InlineData("XXpskx")]
    [InlineData("XXpsk")]
    [InlineData("XXpsk1+fallback")]
    [InlineData("XXpsk-1")]
    [InlineData("XXpsk1+abc2")]
    [InlineData("QQpsk0")]
    public void Pattern_PskModifiersOutOfPlace_AreRefused(string name)
    {
        NoisePattern.TryParse(name).Should().BeNull();
    }

    [Fact]
    public void Pattern_PskModifiers_PutThePskTokenWhereTheyName()
    {
        NoisePattern pattern = NoisePattern.TryParse("XXpsk0+psk3")!;

        pattern.HasPsk.Should().BeTrue();
        pattern.PskCount.Should().Be(2);
        pattern.Messages[0].Should().Equal(NoiseToken.Psk, NoiseToken.E);
        pattern.Messages[2].Should().Equal(NoiseToken.S, NoiseToken.SE, NoiseToken.Psk);
        NoisePattern.TryParse("XX")!.HasPsk.Should().BeFalse();
    }

    [Theory]
    [InlineData("N", true, true, false, false, true)]
    [InlineData("K", true, true, true, true, true)]
    [InlineData("XX", false, false, false, true, true)]
    [InlineData("IK", false, true, false, true, true)]
    [InlineData("NK", false, true, false, false, true)]
    [InlineData("KN", false, false, true, true, false)]
    public void Pattern_PreMessagesAndStatics(string name, bool oneWay, bool responderPre, bool initiatorPre, bool initiatorHasStatic, bool responderHasStatic)
    {
        NoisePattern pattern = NoisePattern.TryParse(name)!;

        (pattern.IsOneWay, pattern.ResponderPreStatic, pattern.InitiatorPreStatic, pattern.InitiatorHasStatic, pattern.ResponderHasStatic)
            .Should().Be((oneWay, responderPre, initiatorPre, initiatorHasStatic, responderHasStatic));
    }

    [Fact]
    public void HandshakeState_Create_NamesWhatIsMissing()
    {
        NoiseProtocol ik = NoiseProtocol.TryParse("Noise_IK_25519_ChaChaPoly_SHA256", out _)!;
        NoiseProtocol xxpsk = NoiseProtocol.TryParse("Noise_XXpsk3_25519_ChaChaPoly_SHA256", out _)!;
        using X25519Key s = X25519Key.Generate();

        FluentActions.Invoking(() => NoiseHandshakeState.Create(ik, true, [], null, new byte[32])).Should().Throw<ArgumentException>()
            .WithMessage("Noise_IK_25519_ChaChaPoly_SHA256 needs this side's static key.*").Which.ParamName.Should().Be("s");
        FluentActions.Invoking(() => NoiseHandshakeState.Create(ik, true, [], s, new byte[31])).Should().Throw<ArgumentException>()
            .WithMessage("Noise_IK_25519_ChaChaPoly_SHA256 needs the peer's static public key beforehand.*").Which.ParamName.Should().Be("rs");
        FluentActions.Invoking(() => NoiseHandshakeState.Create(xxpsk, true, [], s, [])).Should().Throw<ArgumentException>()
            .WithMessage("Noise_XXpsk3_25519_ChaChaPoly_SHA256 needs 1 pre-shared key(s) of 32 bytes.*").Which.ParamName.Should().Be("psks");
        FluentActions.Invoking(() => NoiseHandshakeState.Create(xxpsk, true, [], s, [], [new byte[31]])).Should().Throw<ArgumentException>().Which.ParamName.Should().Be("psks");
        using NoiseHandshakeState responder = NoiseHandshakeState.Create(ik, false, [], s, []);
        responder.RemoteStaticPublicKey.Length.Should().Be(0, "a responder of IK learns the initiator's key from the first message");
        responder.LocalStaticPublicKey.ToArray().Should().Equal(s.PublicKey);
    }

    [Fact]
    public void HandshakeState_Turns_Lengths_AndSplit_AreGuarded()
    {
        NoiseProtocol nn = NoiseProtocol.TryParse("Noise_NN_25519_ChaChaPoly_SHA256", out _)!;
        using NoiseHandshakeState initiator = NoiseHandshakeState.Create(nn, true, "p"u8, null, []);
        using NoiseHandshakeState responder = NoiseHandshakeState.Create(nn, false, "p"u8, null, []);
        byte[] message = new byte[200];
        byte[] payload = new byte[200];

        (initiator.IsMyTurn, responder.IsMyTurn).Should().Be((true, false));
        FluentActions.Invoking(() => responder.WriteMessage([], message)).Should().Throw<InvalidOperationException>().WithMessage("It is not this side's turn to write a handshake message.");
        FluentActions.Invoking(() => initiator.ReadMessage(message, payload)).Should().Throw<InvalidOperationException>().WithMessage("It is not this side's turn to read a handshake message.");
        FluentActions.Invoking(() => responder.Split()).Should().Throw<InvalidOperationException>().WithMessage("The handshake is not complete.");
        FluentActions.Invoking(() => responder.ReadMessage(new byte[65536], payload)).Should().Throw<NoiseException>().WithMessage("A handshake message is at most 65535 bytes.");
        FluentActions.Invoking(() => responder.ReadMessage(new byte[31], payload)).Should().Throw<NoiseException>().WithMessage("The handshake message is too short for its pattern.");

        int first = initiator.WriteMessage("one"u8, message);
        first.Should().Be(32 + 3, "an ephemeral key, then the payload in the clear (no key yet)");
        responder.ReadMessage(message.AsSpan(0, first), payload).Should().Be(3);
        int second = responder.WriteMessage("two"u8, message);
        second.Should().Be(32 + 3 + 16);
        initiator.ReadMessage(message.AsSpan(0, second), payload).Should().Be(3);

        (initiator.IsCompleted, responder.IsCompleted, initiator.IsMyTurn, responder.IsMyTurn).Should().Be((true, true, false, false));
        FluentActions.Invoking(() => initiator.ReadMessage(message, payload)).Should().Throw<InvalidOperationException>();
        initiator.HandshakeHash.ToArray().Should().Equal(responder.HandshakeHash.ToArray());
        (NoiseCipherState toResponder, NoiseCipherState toInitiator) = initiator.Split();
        (NoiseCipherState fromInitiator, NoiseCipherState fromResponder) = responder.Split();
        byte[] sealedBytes = new byte[19];
        toResponder.EncryptWithAd([], "hey"u8, sealedBytes);
        fromInitiator.DecryptWithAd([], sealedBytes, payload).Should().Be(3);
        toInitiator.EncryptWithAd([], "hey"u8, sealedBytes);
        fromResponder.DecryptWithAd([], sealedBytes, payload).Should().Be(3);
        toResponder.Dispose();
        toInitiator.Dispose();
        fromInitiator.Dispose();
        fromResponder.Dispose();
    }

    [Fact]
    public void HandshakeState_ALongProtocolName_IsHashed_AShortOneIsPadded()
    {
        // Noise section 5.2: h = the name padded with zeros when it fits in HASHLEN bytes, else HASH(name); then MixHash(prologue).
        NoiseProtocol shortName = NoiseProtocol.TryParse("Noise_NN_25519_ChaChaPoly_SHA256", out _)!; // exactly 32 bytes
        NoiseProtocol longName = NoiseProtocol.TryParse("Noise_NNpsk0_25519_ChaChaPoly_SHA256", out _)!;
        Encoding.ASCII.GetByteCount(shortName.Name).Should().Be(32);

        using NoiseHandshakeState a = NoiseHandshakeState.Create(shortName, true, "pro"u8, null, []);
        using NoiseHandshakeState b = NoiseHandshakeState.Create(longName, true, "pro"u8, null, [], [new byte[32]]);

        a.HandshakeHash.ToArray().Should().Equal(SHA256.HashData([.. Encoding.ASCII.GetBytes(shortName.Name), .. "pro"u8.ToArray()]));
        b.HandshakeHash.ToArray().Should().Equal(SHA256.HashData([.. SHA256.HashData(Encoding.ASCII.GetBytes(longName.Name)), .. "pro"u8.ToArray()]));
    }

    [Theory]
    [InlineData("SHA256")]
    [InlineData("SHA512")]
    [InlineData("BLAKE2b")]
    public void Hkdf_IsTheSpecificationsHmacChain(string name)
    {
        NoiseHash hash = NoiseHash.FromName(name)!;
        int n = hash.HashLength;
        byte[] ck = Enumerable.Range(0, n).Select(i => (byte)(i * 3)).ToArray();
        byte[] ikm = "input key material"u8.ToArray();
        byte[] o1 = new byte[n], o2 = new byte[n], o3 = new byte[n];

        hash.Hkdf(ck, ikm, o1, o2, o3);

        byte[] temp = Hmac(hash, ck, ikm);
        byte[] e1 = Hmac(hash, temp, [1]);
        byte[] e2 = Hmac(hash, temp, [.. e1, 2]);
        byte[] e3 = Hmac(hash, temp, [.. e2, 3]);
        (o1, o2, o3).Should().BeEquivalentTo((e1, e2, e3));
        NoiseHash.FromName("SHA3").Should().BeNull();
    }

    [Fact]
    public void Blake2bHmac_IsRfc2104_WithKeysLongerThanABlockHashedFirst()
    {
        NoiseHash blake = NoiseHash.Blake2b;
        foreach (int keyLength in new[] { 0, 64, 128, 129, 200 })
        {
            byte[] key = Enumerable.Range(0, keyLength).Select(i => (byte)i).ToArray();
            byte[] output = new byte[64];
            blake.Hmac(key, "data"u8, output);
            output.Should().Equal(Blake2bHmac(key, "data"u8.ToArray()), $"a key of {keyLength} bytes");
        }

        (blake.BlockLength, NoiseHash.Sha256.BlockLength, NoiseHash.Sha512.BlockLength).Should().Be((128, 64, 128));
    }

    private static byte[] Hmac(NoiseHash hash, byte[] key, byte[] data)
    {
        byte[] output = new byte[hash.HashLength];
        if (hash.Name == "BLAKE2b")
        {
            Blake2bHmac(key, data).CopyTo(output, 0);
        }
        else
        {
            (hash.Name == "SHA256" ? HMACSHA256.HashData(key, data) : HMACSHA512.HashData(key, data)).CopyTo(output, 0);
        }

        return output;
    }

    /// <summary>RFC 2104 over BLAKE2b-512 (block 128 bytes), computed with NSec's hash alone.</summary>
    private static byte[] Blake2bHmac(byte[] key, byte[] data)
    {
        var blake = NSec.Cryptography.HashAlgorithm.Blake2b_512;
        byte[] block = new byte[128];
        (key.Length > 128 ? blake.Hash(key) : key).CopyTo(block, 0);
        byte[] inner = blake.Hash([.. block.Select(b => (byte)(b ^ 0x36)), .. data]);
        return blake.Hash([.. block.Select(b => (byte)(b ^ 0x5c)), .. inner]);
    }

    /// <summary>The AEAD of the same bytes by another implementation, with the nonce laid out as Noise section 12 says.</summary>
    private static byte[] Reference(string cipher, byte[] key, ulong n, byte[] plain, byte[]? ad = null)
    {
        ad ??= Ad;
        byte[] nonce = new byte[12];
        byte[] output = new byte[plain.Length + 16];
        if (cipher == "AESGCM")
        {
            BinaryPrimitives.WriteUInt64BigEndian(nonce.AsSpan(4), n);
            using var aes = new AesGcm(key, 16);
            aes.Encrypt(nonce, plain, output.AsSpan(0, plain.Length), output.AsSpan(plain.Length), ad);
        }
        else
        {
            BinaryPrimitives.WriteUInt64LittleEndian(nonce.AsSpan(4), n);
            using var chacha = new ChaCha20Poly1305(key);
            chacha.Encrypt(nonce, plain, output.AsSpan(0, plain.Length), output.AsSpan(plain.Length), ad);
        }

        return output;
    }
}
