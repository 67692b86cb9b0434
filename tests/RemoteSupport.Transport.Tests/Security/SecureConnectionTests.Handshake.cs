using System.Buffers.Binary;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using RemoteSupport.Identities;
using RemoteSupport.Transport.Framing;
using RemoteSupport.Transport.Security;
using RemoteSupport.Transport.Transports;
using RemoteSupport.Trust;

namespace RemoteSupport.Transport.Tests.Security;

/// <summary>The handshake's edges: the identity proof byte by byte and each of its refusals, protocol names, frames a handshake does not expect, the confirmation, cancellation, handshake slots.</summary>
public sealed partial class SecureConnectionTests
{
    [Fact]
    public void Proof_IsVersionKeySignatureRekey_TheSignatureOverLabelStaticHashAndRekey()
    {
        using var noise = NoiseStaticKey.Generate();
        byte[] hash = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        SecureChannelOptions options = ConsoleOptions();
        options.RekeyAfterBytes = 0x0102_0304_0506;

        byte[] proof = SecureConnection.Proof(options, noise.PublicKey.Span, hash);

        proof.Length.Should().Be(1 + 32 + 64 + 8);
        proof[0].Should().Be(1);
        proof[1..33].Should().Equal(_technician.PublicKey.RawKey.ToArray());
        BinaryPrimitives.ReadInt64BigEndian(proof.AsSpan(97)).Should().Be(0x0102_0304_0506);
        byte[] signed = [.. Encoding.ASCII.GetBytes("RemoteSupport secure channel identity 1\0"), .. noise.PublicKey.ToArray(), .. hash, 0, 0, 1, 2, 3, 4, 5, 6];
        _technician.PublicKey.Verify(signed, proof.AsSpan(33, 64)).Should().BeTrue();
        (TrustedKey? peer, long rekey, string? rejection) = SecureConnection.VerifyProof(proof, noise.PublicKey.Span, hash, AgentOptions());
        (peer!.Key, rekey, rejection).Should().Be((_technician.PublicKey, 0x0102_0304_0506L, (string?)null));
    }

    [Fact]
    public void Proof_Malformed_IsRefused_ByItsSentence()
    {
        using var noise = NoiseStaticKey.Generate();
        byte[] hash = new byte[32];
        byte[] proof = SecureConnection.Proof(ConsoleOptions(), noise.PublicKey.Span, hash);
        const string Malformed = "The peer's identity proof is malformed or unsigned.";

        Rejection(proof[..^1], noise.PublicKey.ToArray()).Should().Be(Malformed);
        Rejection([.. proof, 0], noise.PublicKey.ToArray()).Should().Be(Malformed);
        Rejection([2, .. proof[1..]], noise.PublicKey.ToArray()).Should().Be(Malformed);
        Rejection(proof, noise.PublicKey.ToArray()[..31]).Should().Be(Malformed);
        byte[] forged = [.. proof];
        forged[40] ^= 1;
        Rejection(forged, noise.PublicKey.ToArray()).Should().Be(
            $"The peer's identity proof for key {_technician.PublicKey.KeyId} does not verify: the key does not sign this session's static key and handshake.");

        string? Rejection(byte[] bytes, byte[] peerStatic)
        {
            (TrustedKey? peer, long rekey, string? rejection) = SecureConnection.VerifyProof(bytes, peerStatic, hash, AgentOptions());
            (peer, rekey).Should().Be(((TrustedKey?)null, 0L));
            return rejection;
        }
    }

    [Theory]
    [InlineData(65535L, false)]
    [InlineData(65536L, true)]
    [InlineData(1L << 62, true)]
    [InlineData((1L << 62) + 1, false)]
    [InlineData(-1L, false)]
    public void Proof_ARekeyIntervalOutsideTheRange_IsRefused(long rekeyAfter, bool accepted)
    {
        using var noise = NoiseStaticKey.Generate();
        byte[] hash = new byte[32];
        SecureChannelOptions options = ConsoleOptions();
        options.RekeyAfterBytes = rekeyAfter; // Proof does not validate: a peer's proof may say anything

        (TrustedKey? peer, long rekey, string? rejection) = SecureConnection.VerifyProof(SecureConnection.Proof(options, noise.PublicKey.Span, hash), noise.PublicKey.Span, hash, AgentOptions());

        if (accepted)
        {
            (peer is not null, rekey).Should().Be((true, rekeyAfter));
        }
        else
        {
            (peer, rejection).Should().Be(((TrustedKey?)null, "The peer's identity proof announces a rekey interval outside [65536, 2^62]."));
        }
    }

    [Fact]
    public void Proof_OfAKeyNotAcceptedUnderAnyExpectedPeer_NamesEachReason()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero));
        var trust = new TrustStore(time);
        using var early = PartyIdentity.Create("contoso", PartyRole.Technician);
        using var late = PartyIdentity.Create("globex", PartyRole.Technician);
        using var ops = PartyIdentity.Create("initech", PartyRole.Technician);
        trust.Trust("contoso", PartyRole.Technician, 1, [early.PublicKey], notBefore: time.GetUtcNow().AddDays(1));
        trust.Trust("globex", PartyRole.Technician, 1, [late.PublicKey], notAfter: time.GetUtcNow().AddDays(-1), notBefore: time.GetUtcNow().AddDays(-9));
        trust.Trust("initech", PartyRole.Technician, ops.PublicKey);
        trust.Revoke(ops.PublicKey, "left");
        var options = new SecureChannelOptions { Identity = _unit, TrustStore = trust };
        options.AcceptedPeers.Add(new ExpectedPeer("contoso", PartyRole.Technician));
        options.AcceptedPeers.Add(new ExpectedPeer(null, PartyRole.Technician));

        Rejection(early).Should().Be($"The peer's key {early.PublicKey.KeyId} ({early.PublicKey.Fingerprint}) is not accepted: contoso/technician: not yet valid; any party/technician: not yet valid.");
        Rejection(late).Should().EndWith("is not accepted: contoso/technician: not trusted; any party/technician: expired.");
        Rejection(ops).Should().EndWith("is not accepted: contoso/technician: not trusted; any party/technician: revoked.");
        time.Advance(TimeSpan.FromDays(2));
        Rejection(early).Should().BeNull("the second day, the first key is valid: the first accepted peer takes it");

        string? Rejection(PartyIdentity identity)
        {
            using var noise = NoiseStaticKey.Generate();
            byte[] hash = new byte[32];
            SecureChannelOptions sender = ConsoleOptions(identity);
            return SecureConnection.VerifyProof(SecureConnection.Proof(sender, noise.PublicKey.Span, hash), noise.PublicKey.Span, hash, options).Rejection;
        }
    }

    [Fact]
    public void ProtocolNames_ForEachPatternAndCipher()
    {
        SecureConnection.ProtocolNameFor(false, SecureChannelCipher.AesGcm).Should().Be("Noise_XX_25519_AESGCM_SHA256");
        SecureConnection.ProtocolNameFor(true, SecureChannelCipher.ChaChaPoly).Should().Be("Noise_IK_25519_ChaChaPoly_SHA256");
        SecureConnection.ProtocolNameFor(true, SecureChannelCipher.Automatic).Should().Be(Aes.Supported ? "Noise_IK_25519_AESGCM_SHA256" : "Noise_IK_25519_ChaChaPoly_SHA256");
        SecureConnection.SupportedProtocols.Should().Equal(Aes.Supported
            ? ["Noise_XX_25519_AESGCM_SHA256", "Noise_XX_25519_ChaChaPoly_SHA256", "Noise_IK_25519_AESGCM_SHA256", "Noise_IK_25519_ChaChaPoly_SHA256"]
            : ["Noise_XX_25519_ChaChaPoly_SHA256", "Noise_IK_25519_ChaChaPoly_SHA256"]);
    }

    [Fact]
    public async Task TheCipherTheInitiatorAsksFor_IsTheOneRun()
    {
        SecureChannelOptions options = ConsoleOptions();
        options.Cipher = SecureChannelCipher.ChaChaPoly;

        (SecureConnection console, SecureConnection agent) = await ConnectAsync(options, AgentOptions());

        (console.ProtocolName, agent.ProtocolName).Should().Be(("Noise_XX_25519_ChaChaPoly_SHA256", "Noise_XX_25519_ChaChaPoly_SHA256"));
        (console.IsInitiator, agent.IsInitiator).Should().Be((true, false));
        await console.SendAsync("over chacha"u8.ToArray(), _stop.Token);
        (await Text(agent)).Should().Be("over chacha");
    }

    [Fact]
    public async Task Handshake_WithoutAConnectionOrOptions_Throws()
    {
        await FluentActions.Awaiting(async () => await SecureConnection.ConnectAsync(null!, ConsoleOptions())).Should().ThrowAsync<ArgumentNullException>();
        (FramedConnection framed, FramedConnection other) = await FramedPairAsync(null);
        await FluentActions.Awaiting(async () => await SecureConnection.AcceptAsync(framed, null!)).Should().ThrowAsync<ArgumentNullException>();
        await framed.DisposeAsync();
        await other.DisposeAsync();
    }

    [Fact]
    public async Task APeerRefusingTheHandshake_WithACodeNotOfOurs_IsPeerClosed_WithItsReason()
    {
        var relay = new FrameRelay((direction, index, frame) =>
            direction == Direction.ToInitiator && frame.Type == FrameType.Handshake ? [GoAway(12345, "nope")] : [frame]);

        (SecureChannelException console, _) = await FailingConnectAsync(ConsoleOptions(), AgentOptions(), relay);

        (console.Error, console.Message).Should().Be((SecureChannelError.PeerClosed, "The peer refused the handshake: nope"));
    }

    [Theory]
    [InlineData(FrameType.Ping, 0, "A Ping frame arrived before the handshake completed; nothing but handshake messages may.")]
    [InlineData(FrameType.Handshake, 2, "A Handshake frame arrived before the handshake completed; nothing but handshake messages may.")]
    public async Task AFrameOtherThanAHandshakeMessage_DuringTheHandshake_IsRefused(FrameType type, ushort channel, string expected)
    {
        var relay = new FrameRelay((direction, index, frame) =>
            direction == Direction.ToInitiator && frame.Type == FrameType.Handshake ? [new RelayFrame(type, FrameFlags.None, channel, type == FrameType.Ping ? new byte[8] : frame.Payload)] : [frame]);

        (SecureChannelException console, _) = await FailingConnectAsync(ConsoleOptions(), AgentOptions(), relay);

        (console.Error, console.Message).Should().Be((SecureChannelError.UnexpectedFrame, expected));
    }

    [Theory]
    [InlineData(new byte[] { 0 })]
    [InlineData(new byte[] { 0, 1, 2 })]
    [InlineData(new byte[] { 40, (byte)'N', (byte)'o' })]
    public async Task AFirstMessageNotNamingItsProtocol_IsRefused(byte[] first)
    {
        var relay = new FrameRelay((direction, index, frame) =>
            direction == Direction.ToResponder && index == 0 ? [frame with { Payload = first }] : [frame]);

        (_, SecureChannelException agent) = await FailingConnectAsync(ConsoleOptions(), AgentOptions(), relay);

        (agent.Error, agent.Message).Should().Be((SecureChannelError.HandshakeFailed, "The first handshake message does not name its protocol."));
    }

    [Fact]
    public async Task AProtocolNameNotAllowed_IsQuotedPrintably_AndCut()
    {
        string name = "Noise\u0001" + new string('Z', 100);
        var relay = new FrameRelay((direction, index, frame) =>
            direction == Direction.ToResponder && index == 0 ? [frame with { Payload = [(byte)name.Length, .. Encoding.ASCII.GetBytes(name), 1, 2, 3] }] : [frame]);

        (_, SecureChannelException agent) = await FailingConnectAsync(ConsoleOptions(), AgentOptions(), relay);

        agent.Error.Should().Be(SecureChannelError.ProtocolNotAllowed);
        agent.Message.Should().Be($"'Noise?{new string('Z', 58)}' is not allowed; this side accepts {string.Join(", ", SecureConnection.SupportedProtocols)}.");
    }

    [Fact]
    public async Task AFramingViolationDuringTheHandshake_FailsIt_NamingTheViolation()
    {
        var relay = new FrameRelay((direction, index, frame) =>
            direction == Direction.ToInitiator && frame.Type == FrameType.Handshake ? [new RelayFrame((FrameType)0x44, FrameFlags.None, 0, [1])] : [frame]);

        (SecureChannelException console, _) = await FailingConnectAsync(ConsoleOptions(), AgentOptions(), relay);

        (console.Error, console.Message).Should().Be((SecureChannelError.HandshakeFailed, "The connection failed during the handshake: Frame type 0x44 is not defined in framing version 1.0."));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ATamperedOrResizedConfirmation_FailsTheInitiator(bool resize)
    {
        int toInitiator = 0;
        var relay = new FrameRelay((direction, index, frame) =>
        {
            if (direction == Direction.ToInitiator && frame.Type == FrameType.Handshake && ++toInitiator == 2)
            {
                frame.Payload.Length.Should().Be(17, "the confirmation is one sealed byte");
                return [frame with { Payload = resize ? [.. frame.Payload, 0] : [(byte)(frame.Payload[0] ^ 1), .. frame.Payload[1..]] }];
            }

            return [frame];
        });

        (FramedConnection consoleFramed, FramedConnection agentFramed) = await FramedPairAsync(relay);
        Task<SecureConnection> connecting = SecureConnection.ConnectAsync(consoleFramed, ConsoleOptions(), _stop.Token).AsTask();
        Task<SecureConnection> accepting = SecureConnection.AcceptAsync(agentFramed, AgentOptions(), _stop.Token).AsTask();

        SecureChannelException error = (await FluentActions.Awaiting(() => connecting).Should().ThrowAsync<SecureChannelException>()).Which;
        (error.Error, error.Message).Should().Be((SecureChannelError.HandshakeFailed, "The responder's handshake confirmation failed authentication."));
        consoleFramed.CloseReason.Should().Be(ConnectionCloseReason.SecurityFailure);
        await using SecureConnection agent = await accepting; // the responder finished: it learns of the failure from its first receive
    }

    [Fact]
    public async Task AHandshakeCanceledByTheCaller_IsAborted_AndThePeerIsTold()
    {
        (FramedConnection consoleFramed, FramedConnection agentFramed) = await FramedPairAsync(null);
        using var cancel = new CancellationTokenSource();

        Task<SecureConnection> accepting = SecureConnection.AcceptAsync(agentFramed, AgentOptions(), cancel.Token).AsTask();
        await cancel.CancelAsync();

        await FluentActions.Awaiting(() => accepting).Should().ThrowAsync<OperationCanceledException>();
        agentFramed.CloseReason.Should().Be(ConnectionCloseReason.Aborted);
        agentFramed.Transport.CloseDetail.Should().Be("The handshake was canceled.");
        FrameReadResult told = await consoleFramed.ReadFrameAsync(_stop.Token);
        SecureConnection.ReadGoAway(told.Frame).Should().Be(((uint)SecureChannelError.HandshakeFailed, "The handshake was canceled."));
        await consoleFramed.DisposeAsync();
    }

    [Fact]
    public async Task AHandshakeTimeout_NamesItsLength()
    {
        var time = new FakeTimeProvider();
        (FramedConnection consoleFramed, FramedConnection agentFramed) = await FramedPairAsync(null);
        SecureChannelOptions options = AgentOptions();
        options.TimeProvider = time;
        options.HandshakeTimeout = TimeSpan.FromSeconds(2.5);

        Task<SecureConnection> accepting = SecureConnection.AcceptAsync(agentFramed, options, _stop.Token).AsTask();
        time.Advance(TimeSpan.FromSeconds(2.5));

        SecureChannelException error = (await FluentActions.Awaiting(() => accepting).Should().ThrowAsync<SecureChannelException>()).Which;
        (error.Error, error.Message).Should().Be((SecureChannelError.Timeout, "The handshake did not complete within 2.5 s."));
        SecureConnection.ReadGoAway((await consoleFramed.ReadFrameAsync(_stop.Token)).Frame).Code.Should().Be((uint)SecureChannelError.Timeout);
        await consoleFramed.DisposeAsync();
    }

    [Fact]
    public async Task HandshakeSlots_AreHeldOnlyBetweenAMessagesArrivalAndTheNextWait_AndAllGiveBack()
    {
        int taken = 0, held = 0, most = 0, returned = 0;
        SecureChannelOptions options = AgentOptions();
        options.HandshakeSlot = _ =>
        {
            taken++;
            most = Math.Max(most, ++held);
            return ValueTask.FromResult<IDisposable>(new Slot(() => { held--; returned++; }));
        };

        (SecureConnection console, SecureConnection agent) = await ConnectAsync(ConsoleOptions(), options);

        (taken, returned, most, held).Should().Be((2, 2, 1, 0), "XX brings the responder two messages: one slot for each, none while it waits");
        await console.SendAsync("slots given back"u8.ToArray(), _stop.Token);
        (await Text(agent)).Should().Be("slots given back");
    }

    private sealed class Slot(Action release) : IDisposable
    {
        private bool _disposed;

        public void Dispose()
        {
            if (!_disposed)
            {
                _disposed = true;
                release();
            }
        }
    }
}
