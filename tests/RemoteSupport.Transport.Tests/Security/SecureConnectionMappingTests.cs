using RemoteSupport.Identities;
using RemoteSupport.Transport.Framing;
using RemoteSupport.Transport.Security;
using RemoteSupport.Transport.Transports;
using RemoteSupport.Trust;

namespace RemoteSupport.Transport.Tests.Security;

/// <summary>Alone in its collection: other tests creating keys at the same time would move the count.</summary>
[CollectionDefinition(nameof(SecureConnectionMappingTests), DisableParallelization = true)]
public sealed class SecureConnectionMappingCollection;

[Collection(nameof(SecureConnectionMappingTests))]
public sealed class SecureConnectionMappingTests
{
    private const int Pairs = 100;

    [Fact]
    public async Task OpenSecureConnections_HoldNoGuardedKeyAllocations()
    {
        // A guarded (libsodium) key is a memory mapping with guard pages; the kernel allows 65,530 mappings a
        // process by default, so transport keys held for a connection's life must live on the ordinary heap.
        if (!OperatingSystem.IsLinux())
        {
            return; // /proc/self/maps is Linux's; CI runs there
        }

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var technician = PartyIdentity.Create("contoso", PartyRole.Technician);
        using var unit = PartyIdentity.Create("fabrikam", PartyRole.Unit);
        using var agentStatic = NoiseStaticKey.Generate();
        var consoleTrust = new TrustStore();
        consoleTrust.Trust("fabrikam", PartyRole.Unit, unit.PublicKey);
        var agentTrust = new TrustStore();
        agentTrust.Trust("contoso", PartyRole.Technician, technician.PublicKey);
        var console = new SecureChannelOptions { Identity = technician, TrustStore = consoleTrust };
        console.AcceptedPeers.Add(new ExpectedPeer("fabrikam", PartyRole.Unit));
        var agent = new SecureChannelOptions { Identity = unit, TrustStore = agentTrust, StaticKey = agentStatic };
        agent.AcceptedPeers.Add(new ExpectedPeer("contoso", PartyRole.Technician));
        var open = new List<SecureConnection>();
        await OpenPairAsync(console, agent, open, stop.Token); // first use: code, pools and threads settle

        int before = MappingCount();
        for (int i = 0; i < Pairs; i++)
        {
            await OpenPairAsync(console, agent, open, stop.Token);
        }

        int added = MappingCount() - before;

        added.Should().BeLessThan(Pairs, $"{Pairs * 2} open sides must not each map memory (NSec keys took 8 mappings a side)");
        foreach (SecureConnection connection in open)
        {
            await connection.DisposeAsync();
        }
    }

    private static async Task OpenPairAsync(SecureChannelOptions console, SecureChannelOptions agent, List<SecureConnection> open, CancellationToken cancellationToken)
    {
        (TransportConnection a, TransportConnection b) = InMemoryTransport.CreatePair();
        Task<FramedConnection> first = FramedConnection.StartAsync(a, cancellationToken: cancellationToken).AsTask();
        FramedConnection second = await FramedConnection.StartAsync(b, cancellationToken: cancellationToken);
        Task<SecureConnection> connecting = SecureConnection.ConnectAsync(await first, console, cancellationToken).AsTask();
        SecureConnection accepted = await SecureConnection.AcceptAsync(second, agent, cancellationToken);
        SecureConnection connected = await connecting;
        await connected.SendAsync("hello"u8.ToArray(), cancellationToken);
        (await accepted.ReceiveAsync(cancellationToken)).Message.Length.Should().Be(5);
        open.Add(connected);
        open.Add(accepted);
    }

    private static int MappingCount() => File.ReadLines("/proc/self/maps").Count();
}
