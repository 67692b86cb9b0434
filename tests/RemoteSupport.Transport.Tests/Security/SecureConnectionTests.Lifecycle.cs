using System.Text;
using RemoteSupport.Transport.Framing;
using RemoteSupport.Transport.Security;
using RemoteSupport.Transport.Security.Noise;
using RemoteSupport.Transport.Transports;

namespace RemoteSupport.Transport.Tests.Security;

/// <summary>What a channel holds after it closes or fails, the rekey boundary, and handshakes a well-behaved peer never sends.</summary>
public sealed partial class SecureConnectionTests
{
    [Fact]
    public void Prologue_IsTheLabelAZeroByteAndTheProtocolName()
    {
        SecureConnection.Prologue("Noise_XX_25519_AESGCM_SHA256").Should().Equal(Encoding.ASCII.GetBytes("RemoteSupport secure channel 1\0Noise_XX_25519_AESGCM_SHA256"));
    }

    [Fact]
    public async Task Handshake_ChecksItsOptions_BeforeSendingAnything()
    {
        (FramedConnection framed, FramedConnection other) = await FramedPairAsync(null);
        SecureChannelOptions options = ConsoleOptions();
        options.AcceptedPeers.Clear();

        (await FluentActions.Awaiting(async () => await SecureConnection.ConnectAsync(framed, options, _stop.Token)).Should().ThrowAsync<ArgumentException>())
            .Which.ParamName.Should().Be("AcceptedPeers");
        await framed.DisposeAsync();
        await other.DisposeAsync();
    }

    [Fact]
    public async Task AClosedChannel_HoldsNoKeyAndNoPlaintext()
    {
        (SecureConnection console, SecureConnection agent) = await ConnectAsync(ConsoleOptions(), AgentOptions());
        await console.SendAsync("held until the next receive"u8.ToArray(), _stop.Token);
        (await Text(agent)).Should().Be("held until the next receive");
        (agent.HoldsKeys, agent.HoldsPlaintextBuffer).Should().Be((true, true));

        await agent.DisposeAsync();

        (agent.HoldsKeys, agent.HoldsPlaintextBuffer).Should().Be((false, false));
        await console.DisposeAsync();
    }

    [Fact]
    public async Task AFailedChannel_HoldsNoKeyAndNoPlaintext_AndIsClosed()
    {
        SecureChannelOptions agentOptions = AgentOptions();
        agentOptions.MaxMessageSize = 1024;
        (SecureConnection console, SecureConnection agent) = await ConnectAsync(ConsoleOptions(), agentOptions);
        _ = console.SendAsync(new byte[2000], _stop.Token).AsTask();

        (await ReceiveErrorAsync(agent)).Error.Should().Be(SecureChannelError.MessageTooLarge);

        (agent.HoldsKeys, agent.HoldsPlaintextBuffer).Should().Be((false, false));
        await FluentActions.Awaiting(async () => await agent.ReceiveAsync(_stop.Token)).Should().ThrowAsync<ObjectDisposedException>();
        FluentActions.Invoking(() => agent.WriteSealedFrame(FrameType.Data, FrameFlags.None, 1, "x"u8)).Should().Throw<ObjectDisposedException>();
        await FluentActions.Awaiting(async () => await agent.ReadSealedFrameAsync(_stop.Token)).Should().ThrowAsync<ObjectDisposedException>();
    }

    [Fact]
    public async Task AMessageOfSeveralFrames_IsAMessage_NotTheEnd()
    {
        (SecureConnection console, SecureConnection agent) = await ConnectAsync(ConsoleOptions(), AgentOptions());

        Task sending = console.SendAsync(new byte[150_000], _stop.Token).AsTask();
        SecureReceiveResult received = await agent.ReceiveAsync(_stop.Token);
        await sending;

        (received.IsCompleted, received.Message.Length).Should().Be((false, 150_000));
    }

    [Fact]
    public async Task SealedFrames_AnEmptyOne_AndNoPlaintextHeldWhileWaitingForTheNext()
    {
        (SecureConnection console, SecureConnection agent) = await ConnectAsync(ConsoleOptions(), AgentOptions());
        console.WriteSealedFrame(FrameType.ChannelOpen, FrameFlags.None, 4, ReadOnlySpan<byte>.Empty);
        await console.Framed.FlushAsync(_stop.Token);

        FrameReadResult open = await agent.ReadSealedFrameAsync(_stop.Token);
        (open.IsCompleted, open.IsCanceled, open.Frame.Type, open.Frame.ChannelId, open.Frame.Payload.Length).Should().Be((false, false, FrameType.ChannelOpen, (ushort)4, 0L));
        agent.HoldsPlaintextBuffer.Should().BeTrue();
        Task<FrameReadResult> next = agent.ReadSealedFrameAsync(_stop.Token).AsTask();
        agent.HoldsPlaintextBuffer.Should().BeFalse("the last frame's plaintext is cleared and returned before waiting");
        console.WriteSealedFrame(FrameType.Data, FrameFlags.None, 4, "x"u8);
        await console.Framed.FlushAsync(_stop.Token);
        (await next).Frame.Payload.ToArray().Should().Equal("x"u8.ToArray());
    }

    [Fact]
    public async Task Rekey_HappensWhenTheCountReachesTheIntervalExactly_OnBothSides()
    {
        SecureChannelOptions consoleOptions = ConsoleOptions();
        consoleOptions.RekeyAfterBytes = 65536;
        (SecureConnection console, SecureConnection agent) = await ConnectAsync(consoleOptions, AgentOptions());

        await console.SendAsync(new byte[65518], _stop.Token); // one frame: 65,519 plaintext bytes with its flags byte
        (await agent.ReceiveAsync(_stop.Token)).Message.Length.Should().Be(65518);
        (console.RekeyCount.Sent, agent.RekeyCount.Received).Should().Be((0L, 0L));
        await console.SendAsync(new byte[16], _stop.Token); // 17 more: 65,536 exactly
        (await agent.ReceiveAsync(_stop.Token)).Message.Length.Should().Be(16);

        (console.RekeyCount.Sent, agent.RekeyCount.Received).Should().Be((1L, 1L));
        await console.SendAsync("after the rekey"u8.ToArray(), _stop.Token);
        (await Text(agent)).Should().Be("after the rekey");
    }

    [Fact]
    public async Task AReceiveNonceExhausted_FailsAuthentication()
    {
        (SecureConnection console, SecureConnection agent) = await ConnectAsync(ConsoleOptions(), AgentOptions());
        agent.SetReceiveNonceForTest(ulong.MaxValue);

        await console.SendAsync("never opened"u8.ToArray(), _stop.Token);

        (await ReceiveErrorAsync(agent)).Error.Should().Be(SecureChannelError.DecryptionFailed);
    }

    [Fact]
    public async Task ATamperedXXMessage_FailsWithTheNoiseSentence_AndNoHintToRetry()
    {
        var relay = new FrameRelay((direction, index, frame) =>
        {
            if (direction == Direction.ToInitiator && index == 0)
            {
                frame.Payload[^1] ^= 0x01;
            }

            return [frame];
        });

        (SecureChannelException console, _) = await FailingConnectAsync(ConsoleOptions(), AgentOptions(), relay);

        (console.Error, console.Message).Should().Be((SecureChannelError.HandshakeFailed, "A handshake message failed authentication."));
    }

    [Fact]
    public async Task AFirstMessageOfItsNameAlone_IsTooShortForThePattern()
    {
        var relay = new FrameRelay((direction, index, frame) =>
            direction == Direction.ToResponder && index == 0 ? [frame with { Payload = frame.Payload[..(1 + frame.Payload[0])] }] : [frame]);

        (_, SecureChannelException agent) = await FailingConnectAsync(ConsoleOptions(), AgentOptions(), relay);

        (agent.Error, agent.Message).Should().Be((SecureChannelError.HandshakeFailed, "The handshake message is too short for its pattern."));
    }

    [Fact]
    public async Task TheConnectionEndingDuringTheHandshake_IsSaid()
    {
        var relay = new FrameRelay((direction, index, frame) => direction == Direction.ToInitiator ? null : [frame]);

        (SecureChannelException console, _) = await FailingConnectAsync(ConsoleOptions(), AgentOptions(), relay);

        (console.Error, console.Message).Should().Be((SecureChannelError.HandshakeFailed, "The connection ended during the handshake."));
    }

    [Fact]
    public async Task AHandshakeReadWokenByCancelPendingIo_IsCanceled()
    {
        (FramedConnection consoleFramed, FramedConnection agentFramed) = await FramedPairAsync(null);

        Task<SecureConnection> accepting = SecureConnection.AcceptAsync(agentFramed, AgentOptions(), _stop.Token).AsTask();
        agentFramed.CancelPendingIo();

        (await FluentActions.Awaiting(() => accepting).Should().ThrowAsync<OperationCanceledException>()).Which.Message.Should().Be("The handshake read was canceled.");
        agentFramed.CloseReason.Should().Be(ConnectionCloseReason.Aborted);
        await consoleFramed.DisposeAsync();
    }

    [Fact]
    public async Task AnInitiatorThatNeverProvesItsIdentity_IsRejected()
    {
        (FramedConnection rogue, FramedConnection agentFramed) = await FramedPairAsync(null);
        Task<SecureConnection> accepting = SecureConnection.AcceptAsync(agentFramed, AgentOptions(), _stop.Token).AsTask();
        string name = SecureConnection.ProtocolNameFor(false, SecureChannelCipher.ChaChaPoly);
        using X25519Key rogueStatic = X25519Key.Generate();
        using NoiseHandshakeState handshake = NoiseHandshakeState.Create(NoiseProtocol.TryParse(name, out _)!, true, SecureConnection.Prologue(name), rogueStatic, []);
        byte[] message = new byte[1024];

        int first = handshake.WriteMessage([], message); // -> e
        rogue.WriteFrame(FrameType.Handshake, FrameFlags.None, 0, [(byte)name.Length, .. Encoding.ASCII.GetBytes(name), .. message.AsSpan(0, first)]);
        await rogue.FlushAsync(_stop.Token);
        FrameReadResult second = await rogue.ReadFrameAsync(_stop.Token); // <- e, ee, s, es, and the agent's proof
        handshake.ReadMessage(second.Frame.Payload.ToArray(), new byte[1024]).Should().BeGreaterThan(0);
        int third = handshake.WriteMessage([], message); // -> s, se, and no proof
        rogue.WriteFrame(FrameType.Handshake, FrameFlags.None, 0, message.AsSpan(0, third));
        await rogue.FlushAsync(_stop.Token);

        SecureChannelException error = (await FluentActions.Awaiting(() => accepting).Should().ThrowAsync<SecureChannelException>()).Which;
        (error.Error, error.Message).Should().Be((SecureChannelError.IdentityRejected, "The peer completed the handshake without proving its identity."));
        await rogue.DisposeAsync();
    }
}
