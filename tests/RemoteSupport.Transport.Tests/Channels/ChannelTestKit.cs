using System.Buffers.Binary;
using System.Text;
using RemoteSupport.Identities;
using RemoteSupport.Transport.Channels;
using RemoteSupport.Transport.Framing;
using RemoteSupport.Transport.Security;
using RemoteSupport.Transport.Transports;
using RemoteSupport.Trust;

namespace RemoteSupport.Transport.Tests.Channels;

/// <summary>Builds multiplexed pairs (sealed or plain) and a raw peer that speaks frames by hand.</summary>
internal static class ChannelTestKit
{
    public static async Task<(FramedConnection Initiator, FramedConnection Responder)> FramedPairAsync(CancellationToken cancellationToken, TransportOptions? transport = null)
    {
        (TransportConnection a, TransportConnection b) = InMemoryTransport.CreatePair(transport);
        Task<FramedConnection> first = FramedConnection.StartAsync(a, cancellationToken: cancellationToken).AsTask();
        FramedConnection second = await FramedConnection.StartAsync(b, cancellationToken: cancellationToken);
        return (await first, second);
    }

    public static async Task<(MultiplexedConnection Initiator, MultiplexedConnection Responder)> PlainPairAsync(
        CancellationToken cancellationToken, MultiplexerOptions? initiator = null, MultiplexerOptions? responder = null)
    {
        (FramedConnection a, FramedConnection b) = await FramedPairAsync(cancellationToken);
        return (MultiplexedConnection.StartUnencrypted(a, isInitiator: true, initiator), MultiplexedConnection.StartUnencrypted(b, isInitiator: false, responder));
    }

    public static async Task<(MultiplexedConnection Initiator, MultiplexedConnection Responder)> SecurePairAsync(
        CancellationToken cancellationToken, MultiplexerOptions? options = null, Func<SecureConnection, Task>? beforeStart = null)
    {
        using var technician = PartyIdentity.Create("contoso", PartyRole.Technician);
        using var unit = PartyIdentity.Create("fabrikam", PartyRole.Unit);
        var consoleTrust = new TrustStore();
        consoleTrust.Trust("fabrikam", PartyRole.Unit, unit.PublicKey);
        var agentTrust = new TrustStore();
        agentTrust.Trust("contoso", PartyRole.Technician, technician.PublicKey);
        var console = new SecureChannelOptions { Identity = technician, TrustStore = consoleTrust };
        console.AcceptedPeers.Add(new ExpectedPeer("fabrikam", PartyRole.Unit));
        var agent = new SecureChannelOptions { Identity = unit, TrustStore = agentTrust, StaticKey = NoiseStaticKey.Generate() };
        agent.AcceptedPeers.Add(new ExpectedPeer("contoso", PartyRole.Technician));

        (FramedConnection a, FramedConnection b) = await FramedPairAsync(cancellationToken);
        Task<SecureConnection> connecting = SecureConnection.ConnectAsync(a, console, cancellationToken).AsTask();
        SecureConnection accepted = await SecureConnection.AcceptAsync(b, agent, cancellationToken);
        SecureConnection connected = await connecting;
        if (beforeStart is not null)
        {
            await beforeStart(connected);
        }

        return (MultiplexedConnection.Start(connected, options), MultiplexedConnection.Start(accepted, options));
    }

    public static async Task<(MultiplexedChannel Opened, MultiplexedChannel Accepted)> OpenPairAsync(
        MultiplexedConnection opener, MultiplexedConnection acceptor, string name, CancellationToken cancellationToken)
    {
        Task<MultiplexedChannel> opening = opener.OpenChannelAsync(name, cancellationToken).AsTask();
        MultiplexedChannel? accepted = await acceptor.AcceptChannelAsync(cancellationToken);
        accepted.Should().NotBeNull();
        return (await opening, accepted!);
    }

    public static async Task WriteAllAsync(MultiplexedChannel channel, byte[] data, int chunk, CancellationToken cancellationToken, bool complete = true)
    {
        for (int offset = 0; offset < data.Length; offset += chunk)
        {
            await channel.Output.WriteAsync(data.AsMemory(offset, Math.Min(chunk, data.Length - offset)), cancellationToken);
        }

        if (complete)
        {
            await channel.Output.CompleteAsync();
        }
    }

    public static async Task<byte[]> ReadToEndAsync(MultiplexedChannel channel, CancellationToken cancellationToken)
    {
        using var all = new MemoryStream();
        while (true)
        {
            var result = await channel.Input.ReadAsync(cancellationToken);
            foreach (ReadOnlyMemory<byte> segment in result.Buffer)
            {
                all.Write(segment.Span);
            }

            channel.Input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                return all.ToArray();
            }
        }
    }

    public static byte[] Random(int length)
    {
        byte[] data = new byte[length];
        System.Random.Shared.NextBytes(data);
        return data;
    }
}

/// <summary>One frame as the raw peer saw it (payload copied).</summary>
internal sealed record RawFrame(FrameType Type, FrameFlags Flags, ushort ChannelId, byte[] Payload)
{
    public uint Code => BinaryPrimitives.ReadUInt32BigEndian(Payload);

    public string Reason => Encoding.UTF8.GetString(Payload, 4, Payload.Length - 4);
}

/// <summary>The initiator side of a plain link, driven frame by frame: misbehaves on purpose.</summary>
internal sealed class RawPeer(FramedConnection framed) : IAsyncDisposable
{
    public FramedConnection Framed => framed;

    public static async Task<(RawPeer Peer, MultiplexedConnection Multiplexer)> StartAsync(
        CancellationToken cancellationToken, MultiplexerOptions? options = null, TransportOptions? transport = null)
    {
        (FramedConnection a, FramedConnection b) = await ChannelTestKit.FramedPairAsync(cancellationToken, transport);
        return (new RawPeer(a), MultiplexedConnection.StartUnencrypted(b, isInitiator: false, options));
    }

    public async Task SendAsync(FrameType type, FrameFlags flags, ushort channelId, byte[] payload)
    {
        framed.WriteFrame(type, flags, channelId, payload);
        await framed.FlushAsync();
    }

    public Task OpenAsync(ushort id, uint window, string name = "raw")
    {
        byte[] payload = new byte[4 + Encoding.UTF8.GetByteCount(name)];
        BinaryPrimitives.WriteUInt32BigEndian(payload, window);
        Encoding.UTF8.GetBytes(name, payload.AsSpan(4));
        return SendAsync(FrameType.ChannelOpen, FrameFlags.None, id, payload);
    }

    public Task WindowUpdateAsync(ushort id, uint increment)
    {
        byte[] payload = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(payload, increment);
        return SendAsync(FrameType.WindowUpdate, FrameFlags.None, id, payload);
    }

    public Task ResetAsync(ushort id, uint code, string reason)
    {
        byte[] payload = [.. new byte[4], .. Encoding.UTF8.GetBytes(reason)];
        BinaryPrimitives.WriteUInt32BigEndian(payload, code);
        return SendAsync(FrameType.ChannelReset, FrameFlags.None, id, payload);
    }

    /// <summary>Reads the next frame, or null at the end of the connection.</summary>
    public async Task<RawFrame?> NextAsync(CancellationToken cancellationToken)
    {
        FrameReadResult result = await framed.ReadFrameAsync(cancellationToken);
        if (!result.HasFrame)
        {
            return null;
        }

        Frame frame = result.Frame;
        return new RawFrame(frame.Type, frame.Flags, frame.ChannelId, frame.Payload.ToArray());
    }

    /// <summary>Reads until a frame of <paramref name="type"/> (window updates and pings pass by; pings are not answered).</summary>
    public async Task<RawFrame> NextOfTypeAsync(FrameType type, CancellationToken cancellationToken)
    {
        while (true)
        {
            RawFrame? frame = await NextAsync(cancellationToken);
            frame.Should().NotBeNull($"a {type} frame was expected before the end of the connection");
            if (frame!.Type == type)
            {
                return frame;
            }
        }
    }

    public ValueTask DisposeAsync() => framed.DisposeAsync();
}
