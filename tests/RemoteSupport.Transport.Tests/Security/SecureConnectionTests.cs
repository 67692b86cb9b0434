using System.Text;
using Microsoft.Extensions.Time.Testing;
using RemoteSupport.Identities;
using RemoteSupport.Transport.Framing;
using RemoteSupport.Transport.Security;
using RemoteSupport.Transport.Transports;
using RemoteSupport.Trust;

namespace RemoteSupport.Transport.Tests.Security;

public sealed partial class SecureConnectionTests : IDisposable
{
    private static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(30);
    private readonly PartyIdentity _technician = PartyIdentity.Create("contoso", PartyRole.Technician);
    private readonly PartyIdentity _unit = PartyIdentity.Create("fabrikam", PartyRole.Unit);
    private readonly TrustStore _consoleTrust = new();
    private readonly TrustStore _agentTrust = new();
    private readonly NoiseStaticKey _agentStatic = NoiseStaticKey.Generate();
    private readonly CancellationTokenSource _stop = new(TestTimeout);

    public SecureConnectionTests()
    {
        _consoleTrust.Trust("fabrikam", PartyRole.Unit, _unit.PublicKey);
        _agentTrust.Trust("contoso", PartyRole.Technician, _technician.PublicKey);
    }

    public void Dispose()
    {
        _technician.Dispose();
        _unit.Dispose();
        _agentStatic.Dispose();
        _stop.Dispose();
    }

    private SecureChannelOptions ConsoleOptions(PartyIdentity? identity = null)
    {
        var options = new SecureChannelOptions { Identity = identity ?? _technician, TrustStore = _consoleTrust };
        options.AcceptedPeers.Add(new ExpectedPeer("fabrikam", PartyRole.Unit));
        return options;
    }

    private SecureChannelOptions AgentOptions()
    {
        var options = new SecureChannelOptions { Identity = _unit, TrustStore = _agentTrust, StaticKey = _agentStatic };
        options.AcceptedPeers.Add(new ExpectedPeer("contoso", PartyRole.Technician));
        return options;
    }

    [Fact]
    public async Task XX_BothSidesProveTheirIdentity_AndMessagesFlowBothWays()
    {
        (SecureConnection console, SecureConnection agent) = await ConnectAsync(ConsoleOptions(), AgentOptions());

        console.ProtocolName.Should().Be(Aes.Supported ? "Noise_XX_25519_AESGCM_SHA256" : "Noise_XX_25519_ChaChaPoly_SHA256");
        console.PeerIdentity.Key.Should().Be(_unit.PublicKey);
        agent.PeerIdentity.Key.Should().Be(_technician.PublicKey);
        agent.PeerIdentity.PartyId.Should().Be("contoso");
        console.HandshakeHash.ToArray().Should().Equal(agent.HandshakeHash.ToArray());
        console.PeerStaticKey.ToArray().Should().Equal(_agentStatic.PublicKey.ToArray());

        await console.SendAsync("view C:/data/ledger.db"u8.ToArray(), _stop.Token);
        (await Text(agent)).Should().Be("view C:/data/ledger.db");
        await agent.SendAsync("needs approval"u8.ToArray(), _stop.Token);
        (await Text(console)).Should().Be("needs approval");

        await console.CloseAsync("done", _stop.Token);
        (await agent.ReceiveAsync(_stop.Token)).IsCompleted.Should().BeTrue();
    }

    [Fact]
    public async Task AnIdleConnection_HoldsNoPlaintextBuffer_AndAMessageStaysValidUntilTheNextReceive()
    {
        (SecureConnection console, SecureConnection agent) = await ConnectAsync(ConsoleOptions(), AgentOptions());
        await console.SendAsync("first"u8.ToArray(), _stop.Token);
        SecureReceiveResult first = await agent.ReceiveAsync(_stop.Token);
        agent.HoldsPlaintextBuffer.Should().BeTrue("the message's bytes are valid until the next receive");
        Encoding.UTF8.GetString(first.Message.Span).Should().Be("first");

        ValueTask<SecureReceiveResult> waiting = agent.ReceiveAsync(_stop.Token);

        agent.HoldsPlaintextBuffer.Should().BeFalse("waiting for the next frame, the connection holds no buffer");
        waiting.IsCompleted.Should().BeFalse();
        await console.SendAsync("second"u8.ToArray(), _stop.Token);
        Encoding.UTF8.GetString((await waiting).Message.Span).Should().Be("second");
    }

    [Fact]
    public async Task LargeMessage_SpansFrames_AndArrivesWhole()
    {
        (SecureConnection console, SecureConnection agent) = await ConnectAsync(ConsoleOptions(), AgentOptions());
        byte[] big = new byte[300_000];
        Random.Shared.NextBytes(big);

        Task sending = console.SendAsync(big, _stop.Token).AsTask();
        SecureReceiveResult received = await agent.ReceiveAsync(_stop.Token);
        await sending;

        received.Message.ToArray().Should().Equal(big);
    }

    [Fact]
    public async Task IK_WithTheStaticKeyLearnedOnFirstContact()
    {
        (SecureConnection first, SecureConnection firstAgent) = await ConnectAsync(ConsoleOptions(), AgentOptions());
        byte[] learned = first.PeerStaticKey.ToArray();
        await first.DisposeAsync();
        await firstAgent.DisposeAsync();

        SecureChannelOptions options = ConsoleOptions();
        options.KnownResponderStaticKey = learned;
        (SecureConnection console, SecureConnection agent) = await ConnectAsync(options, AgentOptions());

        console.ProtocolName.Should().StartWith("Noise_IK_25519_");
        agent.PeerIdentity.Key.Should().Be(_technician.PublicKey);
        await console.SendAsync("hello"u8.ToArray(), _stop.Token);
        (await Text(agent)).Should().Be("hello");
    }

    [Fact]
    public async Task IK_WithAnOutdatedStaticKey_FailsWithAHint()
    {
        using var outdated = NoiseStaticKey.Generate();
        SecureChannelOptions options = ConsoleOptions();
        options.KnownResponderStaticKey = outdated.PublicKey;

        (SecureChannelException console, SecureChannelException agent) = await FailingConnectAsync(options, AgentOptions());

        agent.Error.Should().Be(SecureChannelError.HandshakeFailed);
        agent.Message.Should().Contain("retry with XX");
        console.Error.Should().Be(SecureChannelError.HandshakeFailed);
    }

    [Fact]
    public async Task UnknownIdentity_IsRejected_AndBothSidesKnowWhy()
    {
        using var stranger = PartyIdentity.Create("contoso", PartyRole.Technician);

        (SecureChannelException console, SecureChannelException agent) = await FailingConnectAsync(ConsoleOptions(stranger), AgentOptions());

        agent.Error.Should().Be(SecureChannelError.IdentityRejected);
        agent.Message.Should().Contain(stranger.PublicKey.KeyId).And.Contain("not trusted");
        console.Error.Should().Be(SecureChannelError.IdentityRejected);
        console.Message.Should().Contain("not trusted");
    }

    [Fact]
    public async Task RevokedIdentity_IsRejected()
    {
        _agentTrust.Revoke(_technician.PublicKey, "left the company");

        (SecureChannelException console, SecureChannelException agent) = await FailingConnectAsync(ConsoleOptions(), AgentOptions());

        agent.Error.Should().Be(SecureChannelError.IdentityRejected);
        agent.Message.Should().Contain("revoked");
        console.Message.Should().Contain("revoked");
    }

    [Fact]
    public async Task AnotherPartysIdentity_IsRejected()
    {
        using var globex = PartyIdentity.Create("globex", PartyRole.Technician);
        _agentTrust.Trust("globex", PartyRole.Technician, globex.PublicKey);

        (_, SecureChannelException agent) = await FailingConnectAsync(ConsoleOptions(globex), AgentOptions());

        agent.Error.Should().Be(SecureChannelError.IdentityRejected);
        agent.Message.Should().Contain("contoso/technician: not trusted");
    }

    [Fact]
    public void ProofOverAnotherStaticKey_DoesNotVerify()
    {
        using var signed = NoiseStaticKey.Generate();
        using var presented = NoiseStaticKey.Generate();
        byte[] hash = new byte[32];

        (TrustedKey? peer, _, string? rejection) = SecureConnection.VerifyProof(
            SecureConnection.Proof(ConsoleOptions(), signed.PublicKey.Span, hash), presented.PublicKey.Span, hash, AgentOptions());

        peer.Should().BeNull();
        rejection.Should().Contain("does not verify");
        SecureConnection.VerifyProof(
            SecureConnection.Proof(ConsoleOptions(), presented.PublicKey.Span, hash), presented.PublicKey.Span, hash, AgentOptions())
            .Peer.Should().NotBeNull("the same proof over the presented key verifies");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public async Task FlippedBit_InAnyHandshakeMessage_FailsTheHandshake(int message)
    {
        var relay = new FrameRelay((direction, index, frame) =>
        {
            int handshakeIndex = direction == Direction.ToResponder ? index * 2 : index * 2 + 1;
            if (frame.Type == FrameType.Handshake && handshakeIndex == message)
            {
                frame.Payload[^1] ^= 0x04;
            }

            return [frame];
        });

        (SecureChannelException console, SecureChannelException agent) = await FailingConnectAsync(ConsoleOptions(), AgentOptions(), relay);

        new[] { console.Error, agent.Error }.Should().Contain(SecureChannelError.HandshakeFailed);
        relay.DeliveredData.Should().Be(0);
    }

    [Fact]
    public async Task TruncatedHandshake_FailsBothSides()
    {
        var relay = new FrameRelay((direction, index, frame) => direction == Direction.ToInitiator ? null : [frame]);

        (SecureChannelException console, SecureChannelException agent) = await FailingConnectAsync(ConsoleOptions(), AgentOptions(), relay);

        console.Error.Should().Be(SecureChannelError.HandshakeFailed);
        agent.Error.Should().BeOneOf(SecureChannelError.HandshakeFailed, SecureChannelError.PeerClosed);
    }

    [Fact]
    public async Task DowngradedProtocolName_FailsTheHandshake()
    {
        string original = SecureConnection.ProtocolNameFor(false, SecureChannelCipher.Automatic);
        string other = original.Contains("AESGCM", StringComparison.Ordinal)
            ? original.Replace("AESGCM", "ChaChaPoly", StringComparison.Ordinal)
            : original.Replace("ChaChaPoly", "AESGCM", StringComparison.Ordinal);
        var relay = new FrameRelay((direction, index, frame) => direction == Direction.ToResponder && index == 0
            ? [frame with { Payload = RenameProtocol(frame.Payload, original, other) }]
            : [frame]);

        (SecureChannelException console, SecureChannelException agent) = await FailingConnectAsync(ConsoleOptions(), AgentOptions(), relay);

        new[] { console.Error, agent.Error }.Should().Contain(SecureChannelError.HandshakeFailed, "the prologue binds the protocol name, so both sides disagree on the handshake hash");
    }

    [Fact]
    public async Task ProtocolNameNotAllowed_IsRefusedByName()
    {
        string original = SecureConnection.ProtocolNameFor(false, SecureChannelCipher.Automatic);
        var relay = new FrameRelay((direction, index, frame) => direction == Direction.ToResponder && index == 0
            ? [frame with { Payload = RenameProtocol(frame.Payload, original, "Noise_NN_25519_ChaChaPoly_SHA256") }]
            : [frame]);

        (SecureChannelException console, SecureChannelException agent) = await FailingConnectAsync(ConsoleOptions(), AgentOptions(), relay);

        agent.Error.Should().Be(SecureChannelError.ProtocolNotAllowed);
        console.Error.Should().Be(SecureChannelError.ProtocolNotAllowed);
        console.Message.Should().Contain("Noise_NN_25519_ChaChaPoly_SHA256");
    }

    [Fact]
    public async Task FlippedBit_InATransportMessage_ClosesTheChannel_DeliveringNothing()
    {
        var relay = new FrameRelay((direction, index, frame) =>
        {
            if (frame.Type == FrameType.Data)
            {
                frame.Payload[3] ^= 0x80;
            }

            return [frame];
        });
        (SecureConnection console, SecureConnection agent) = await ConnectAsync(ConsoleOptions(), AgentOptions(), relay);

        await console.SendAsync("change ledger.db"u8.ToArray(), _stop.Token);
        var receive = async () => await agent.ReceiveAsync(_stop.Token);

        (await receive.Should().ThrowAsync<SecureChannelException>()).Which.Error.Should().Be(SecureChannelError.DecryptionFailed);
        agent.Framed.CloseReason.Should().Be(ConnectionCloseReason.SecurityFailure);
    }

    [Fact]
    public async Task ReplayedTransportMessage_IsRefused()
    {
        var relay = new FrameRelay((direction, index, frame) => frame.Type == FrameType.Data ? [frame, frame] : [frame]);
        (SecureConnection console, SecureConnection agent) = await ConnectAsync(ConsoleOptions(), AgentOptions(), relay);

        await console.SendAsync("approve"u8.ToArray(), _stop.Token);

        (await Text(agent)).Should().Be("approve");
        var replay = async () => await agent.ReceiveAsync(_stop.Token);
        (await replay.Should().ThrowAsync<SecureChannelException>()).Which.Error.Should().Be(SecureChannelError.DecryptionFailed);
    }

    [Fact]
    public async Task ReorderedTransportMessages_AreRefused()
    {
        RelayFrame? held = null;
        var relay = new FrameRelay((direction, index, frame) =>
        {
            if (frame.Type != FrameType.Data)
            {
                return [frame];
            }

            if (held is null)
            {
                held = frame;
                return [];
            }

            return [frame, held];
        });
        (SecureConnection console, SecureConnection agent) = await ConnectAsync(ConsoleOptions(), AgentOptions(), relay);

        await console.SendAsync("first"u8.ToArray(), _stop.Token);
        await console.SendAsync("second"u8.ToArray(), _stop.Token);

        var receive = async () => await agent.ReceiveAsync(_stop.Token);
        (await receive.Should().ThrowAsync<SecureChannelException>()).Which.Error.Should().Be(SecureChannelError.DecryptionFailed);
    }

    [Fact]
    public async Task DataBeforeTheHandshake_IsRefused()
    {
        (TransportConnection a, TransportConnection b) = InMemoryTransport.CreatePair();
        Task<FramedConnection> rawStart = FramedConnection.StartAsync(a, cancellationToken: _stop.Token).AsTask();
        FramedConnection agentFramed = await FramedConnection.StartAsync(b, cancellationToken: _stop.Token);
        await using FramedConnection raw = await rawStart;
        raw.WriteFrame(FrameType.Data, FrameFlags.None, 0, "sneaky"u8);
        await raw.FlushAsync(_stop.Token);

        var accept = async () => await SecureConnection.AcceptAsync(agentFramed, AgentOptions(), _stop.Token);

        (await accept.Should().ThrowAsync<SecureChannelException>()).Which.Error.Should().Be(SecureChannelError.UnexpectedFrame);
        agentFramed.CloseReason.Should().Be(ConnectionCloseReason.SecurityFailure);
    }

    [Fact]
    public async Task Rekey_AfterTheConfiguredVolume_KeepsTheChannelWorking()
    {
        SecureChannelOptions consoleOptions = ConsoleOptions();
        consoleOptions.RekeyAfterBytes = 64 * 1024;
        (SecureConnection console, SecureConnection agent) = await ConnectAsync(consoleOptions, AgentOptions());
        byte[] chunk = new byte[10_000];

        for (int i = 0; i < 40; i++)
        {
            chunk[0] = (byte)i;
            await console.SendAsync(chunk, _stop.Token);
            SecureReceiveResult received = await agent.ReceiveAsync(_stop.Token);
            received.Message.Span[0].Should().Be((byte)i);
        }

        // Each message is one frame of 10,001 plaintext bytes: every 7th crosses 64 KiB and rekeys.
        console.RekeyCount.Sent.Should().Be(40 / 7);
        agent.RekeyCount.Received.Should().Be(40 / 7);
        await agent.SendAsync("still in step"u8.ToArray(), _stop.Token);
        (await Text(console)).Should().Be("still in step");
    }

    [Fact]
    public async Task NonceExhaustion_ClosesTheChannel()
    {
        (SecureConnection console, SecureConnection agent) = await ConnectAsync(ConsoleOptions(), AgentOptions());
        console.SetSendNonceForTest(ulong.MaxValue - 1);
        agent.SetReceiveNonceForTest(ulong.MaxValue - 1);
        await console.SendAsync("last"u8.ToArray(), _stop.Token);
        (await Text(agent)).Should().Be("last");

        var send = async () => await console.SendAsync("one too many"u8.ToArray(), _stop.Token);

        (await send.Should().ThrowAsync<SecureChannelException>()).Which.Error.Should().Be(SecureChannelError.NonceExhausted);
        var receive = async () => await agent.ReceiveAsync(_stop.Token);
        (await receive.Should().ThrowAsync<SecureChannelException>()).Which.Message.Should().Contain("nonce");
    }

    [Fact]
    public async Task SilentPeer_TimesOutTheHandshake()
    {
        var time = new FakeTimeProvider();
        (TransportConnection a, TransportConnection b) = InMemoryTransport.CreatePair();
        Task<FramedConnection> rawStart = FramedConnection.StartAsync(a, cancellationToken: _stop.Token).AsTask();
        FramedConnection agentFramed = await FramedConnection.StartAsync(b, cancellationToken: _stop.Token);
        await using FramedConnection silent = await rawStart;
        SecureChannelOptions options = AgentOptions();
        options.TimeProvider = time;

        Task<SecureConnection> accept = SecureConnection.AcceptAsync(agentFramed, options, _stop.Token).AsTask();
        time.Advance(TimeSpan.FromSeconds(10));

        (await FluentActions.Awaiting(() => accept).Should().ThrowAsync<SecureChannelException>()).Which.Error.Should().Be(SecureChannelError.Timeout);
        agentFramed.CloseReason.Should().Be(ConnectionCloseReason.HandshakeTimeout);
    }

    private static byte[] RenameProtocol(byte[] payload, string from, string to)
    {
        string name = Encoding.ASCII.GetString(payload, 1, payload[0]);
        name.Should().Be(from);
        byte[] newName = Encoding.ASCII.GetBytes(to);
        return [(byte)newName.Length, .. newName, .. payload.AsSpan(1 + payload[0])];
    }

    private async Task<string> Text(SecureConnection connection)
    {
        SecureReceiveResult result = await connection.ReceiveAsync(_stop.Token);
        return Encoding.UTF8.GetString(result.Message.Span);
    }

    private async Task<(SecureConnection Console, SecureConnection Agent)> ConnectAsync(SecureChannelOptions console, SecureChannelOptions agent, FrameRelay? relay = null)
    {
        (FramedConnection consoleFramed, FramedConnection agentFramed) = await FramedPairAsync(relay);
        Task<SecureConnection> connecting = SecureConnection.ConnectAsync(consoleFramed, console, _stop.Token).AsTask();
        Task<SecureConnection> accepting = SecureConnection.AcceptAsync(agentFramed, agent, _stop.Token).AsTask();
        await Task.WhenAll(connecting, accepting);
        return (await connecting, await accepting);
    }

    private async Task<(SecureChannelException Console, SecureChannelException Agent)> FailingConnectAsync(
        SecureChannelOptions console, SecureChannelOptions agent, FrameRelay? relay = null)
    {
        (FramedConnection consoleFramed, FramedConnection agentFramed) = await FramedPairAsync(relay);
        Task<SecureConnection> connecting = SecureConnection.ConnectAsync(consoleFramed, console, _stop.Token).AsTask();
        Task<SecureConnection> accepting = SecureConnection.AcceptAsync(agentFramed, agent, _stop.Token).AsTask();
        var consoleError = (await FluentActions.Awaiting(() => connecting).Should().ThrowAsync<SecureChannelException>()).Which;
        var agentError = (await FluentActions.Awaiting(() => accepting).Should().ThrowAsync<SecureChannelException>()).Which;
        consoleFramed.CloseReason.Should().NotBe(ConnectionCloseReason.None);
        agentFramed.CloseReason.Should().NotBe(ConnectionCloseReason.None);
        return (consoleError, agentError);
    }

    private async Task<(FramedConnection Console, FramedConnection Agent)> FramedPairAsync(FrameRelay? relay)
    {
        if (relay is null)
        {
            (TransportConnection a, TransportConnection b) = InMemoryTransport.CreatePair();
            Task<FramedConnection> first = FramedConnection.StartAsync(a, cancellationToken: _stop.Token).AsTask();
            FramedConnection second = await FramedConnection.StartAsync(b, cancellationToken: _stop.Token);
            return (await first, second);
        }

        return await relay.StartAsync(_stop.Token);
    }

    private static class Aes
    {
        public static bool Supported => NSec.Cryptography.Aes256Gcm.IsSupported;
    }
}
