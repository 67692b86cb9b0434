using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using RemoteSupport.Audit;
using RemoteSupport.Authorization;
using RemoteSupport.Consent;
using RemoteSupport.Documents;
using RemoteSupport.GroundRules;
using RemoteSupport.Identities;
using RemoteSupport.Sessions;
using RemoteSupport.Transport.Fleet;
using RemoteSupport.Transport.Sessions;
using RemoteSupport.Trust;

namespace RemoteSupport.Transport.Tests.Fleet;

/// <summary>A console host and units holding standing outbound connections to it, over TCP on loopback.</summary>
public sealed partial class FleetTests : IAsyncDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("rs-fleet-").FullName;
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(60));
    private readonly PartyIdentity _vendor = PartyIdentity.Create("contoso", PartyRole.Vendor);
    private readonly PartyIdentity _technician = PartyIdentity.Create("contoso", PartyRole.Technician);
    private readonly PartyIdentity _customer = PartyIdentity.Create("fabrikam", PartyRole.Customer);
    private readonly PartyIdentity _unit7 = PartyIdentity.Create("fabrikam", PartyRole.Unit);
    private readonly PartyIdentity _unit8 = PartyIdentity.Create("fabrikam", PartyRole.Unit);
    private readonly SignedEnvelope _rules;
    private readonly List<IAsyncDisposable> _running = [];

    public FleetTests()
    {
        _rules = new SecurityGroundRules
        {
            Version = 1, CustomerId = "fabrikam", VendorId = "contoso", TimeZone = "Europe/Berlin", MaxSessionMinutes = 120,
            Operations = [new(SupportOperation.ViewData, true, null)],
            DataScopes = [new("finance", ["**"], "fabrikam")], Hours = new(Enum.GetValues<DayOfWeek>(), "00:00", "00:00"),
            MaxApprovalLifetimeSeconds = 3600, TollCharges = new("EUR", 500, 120, 60, 500, 20_000, 100_000, 10_000),
        }.ToEnvelope().Sign(_customer).Sign(_vendor);
        Directory.CreateDirectory(Path.Combine(_folder, "finance"));
        File.WriteAllText(Path.Combine(_folder, "finance", "totals.csv"), "account,amount\n4711,12.50\n");
    }

    private CancellationToken Token => _timeout.Token;

    public async ValueTask DisposeAsync()
    {
        for (int i = _running.Count - 1; i >= 0; i--)
        {
            await _running[i].DisposeAsync();
        }

        foreach (PartyIdentity party in new[] { _vendor, _technician, _customer, _unit7, _unit8 })
        {
            party.Dispose();
        }

        _timeout.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task UnitsComeOnline_AndATechnicianOpensASessionOverAStandingConnection_CheckedByTheUnitAsADirectOne()
    {
        UnitDirectory directory = await HostAsync();
        var changes = new List<UnitPresenceChange>();
        directory.PresenceChanged += change => { lock (changes) { changes.Add(change); } };
        UnitConnector unit7 = await UnitAsync("unit-7", _unit7, directory.BoundEndPoint!);
        await UnitAsync("unit-8", _unit8, directory.BoundEndPoint!);

        await UntilAsync(() => directory.Online.Count == 2);
        OnlineUnit online = directory.Find("fabrikam", "unit-7")!;
        online.KeyFingerprint.Should().Be(_unit7.PublicKey.Fingerprint);
        online.Capabilities.Should().Contain("view-data");
        online.HostId.Should().Be("host-a");
        await UntilAsync(() => unit7.State == "online: host-a"); // the unit reads its welcome after the host registered it

        await using (SupportConsoleConnection connection = await directory.OpenSessionAsync("fabrikam", "unit-7", Console(), Token))
        {
            connection.Session.UnitId.Should().Be("unit-7");
            DataFileViewResult view = await connection.Session.ViewAsync("finance", "totals.csv", "fabrikam", "ticket 1", Token);
            view.Succeeded.Should().BeTrue(view.Sentence);
            SessionReceipt.FromEnvelope(await connection.Session.CloseAsync(Token)).Ending.Should().Be("closed");
        }

        using var stranger = PartyIdentity.Create("contoso", PartyRole.Technician);
        var notAuthorized = await FluentActions.Awaiting(() => directory.OpenSessionAsync("fabrikam", "unit-8", Console(stranger), Token)).Should().ThrowAsync<Exception>();
        notAuthorized.Which.Should().Match<Exception>(
            e => e is SessionRefusedException || e is RemoteSupport.Transport.Security.SecureChannelException || e is RemoteSupport.Transport.Channels.ChannelException,
            "the unit checks the technician's key itself and ends the routed channel");
        lock (changes)
        {
            changes.Where(c => c.IsOnline).Select(c => c.Unit.UnitId).Should().BeEquivalentTo(["unit-7", "unit-8"]);
        }
    }

    [Fact]
    public async Task ASessionOnAnOfflineUnit_IsRefusedAtOnce()
    {
        UnitDirectory directory = await HostAsync();

        var refused = await FluentActions.Awaiting(() => directory.OpenSessionAsync("fabrikam", "unit-9", Console(), Token)).Should().ThrowAsync<SessionRefusedException>();

        refused.Which.Code.Should().Be("unit-offline");
    }

    [Fact]
    public async Task AUnitWhoseAuthorizationIsRevoked_WithdrawsAndSaysWhy()
    {
        UnitDirectory directory = await HostAsync();
        var offline = new TaskCompletionSource<UnitPresenceChange>(TaskCreationOptions.RunContinuationsAsynchronously);
        directory.PresenceChanged += change => { if (!change.IsOnline) { offline.TrySetResult(change); } };
        UnitConnector unit = await UnitAsync("unit-7", _unit7, directory.BoundEndPoint!);
        await UntilAsync(() => directory.Online.Count == 1);

        SignedEnvelope revocation = new AuthorizationRevocation { AuthorizationId = "auth-1", CustomerId = "fabrikam", Reason = "contract ended" }.ToEnvelope().Sign(_customer);
        (await unit.Agent.AcceptAsync(revocation, Token)).IsAccepted.Should().BeTrue();

        UnitPresenceChange change = await offline.Task.WaitAsync(Token);
        change.Reason.Should().StartWith("withdrawn: ").And.Contain("revoked");
        await UntilAsync(() => unit.State.StartsWith("withdrawn: ", StringComparison.Ordinal));
        directory.Online.Should().BeEmpty();
        string export = Path.Combine(_folder, "audit-export.journal");
        await unit.Agent.Audit.Journal.ExportAsync(export, Token);
        (await AuditLog.ReadExportAsync(export, Token)).Should().Contain(e => e.Kind == AuditEventKind.AuthorizationChecked && e.Details["outcome"] == "withdrawn");
    }

    [Fact]
    public async Task AUnitWhoseKeyTheHostRevoked_NeverComesOnline()
    {
        UnitDirectory directory = await HostAsync(revoked: _unit8.PublicKey);
        var arrivals = new List<string>();
        directory.PresenceChanged += change => { lock (arrivals) { arrivals.Add(change.Unit.UnitId); } };
        UnitConnector revoked = await UnitAsync("unit-8", _unit8, directory.BoundEndPoint!);
        await UnitAsync("unit-7", _unit7, directory.BoundEndPoint!);

        await UntilAsync(() => directory.Online.Count == 1 && revoked.State.StartsWith("backing off", StringComparison.Ordinal));

        directory.Online.Should().ContainSingle().Which.UnitId.Should().Be("unit-7");
        lock (arrivals)
        {
            arrivals.Should().NotContain("unit-8", "the handshake refused its revoked key before any announce");
        }
    }

    [Fact]
    public async Task AUnitThatAnnouncesButNeverHeartbeats_IsTakenOffline()
    {
        UnitDirectory directory = await HostAsync();
        var offline = new TaskCompletionSource<UnitPresenceChange>(TaskCreationOptions.RunContinuationsAsynchronously);
        directory.PresenceChanged += change => { if (!change.IsOnline) { offline.TrySetResult(change); } };
        var secure = new RemoteSupport.Transport.Security.SecureChannelOptions { Identity = _unit7, TrustStore = UnitTrust() };
        secure.AcceptedPeers.Add(new RemoteSupport.Transport.Security.ExpectedPeer("contoso", PartyRole.Vendor));
        var standing = new SupportConnectionOptions { Secure = secure };
        RemoteSupport.Transport.Transports.TransportConnection line = await new RemoteSupport.Transport.Transports.TcpDialer(directory.BoundEndPoint!).DialAsync(Token);
        (_, RemoteSupport.Transport.Channels.MultiplexedConnection channels) = await standing.ConnectAsync(line, initiator: true, Token);
        await using (channels)
        {
            RemoteSupport.Transport.Channels.MultiplexedChannel presence = await channels.OpenChannelAsync("presence", Token);
            await presence.SendMessageAsync("{\"type\":\"announce\",\"protocol\":1,\"customerId\":\"fabrikam\",\"unitId\":\"unit-7\"}"u8.ToArray(), Token);

            UnitPresenceChange change = await offline.Task.WaitAsync(Token);

            change.Unit.UnitId.Should().Be("unit-7");
            change.Reason.Should().Be("no-heartbeat");
            directory.Online.Should().BeEmpty();
        }
    }

    [Fact]
    public async Task AfterAHostRestart_EveryUnitIsBack()
    {
        UnitDirectory first = await HostAsync();
        IPEndPoint endpoint = first.BoundEndPoint!;
        await UnitAsync("unit-7", _unit7, endpoint);
        await UnitAsync("unit-8", _unit8, endpoint);
        await UntilAsync(() => first.Online.Count == 2);

        await first.StopAsync(Token);
        UnitDirectory second = await HostAsync(listen: endpoint.ToString());

        await UntilAsync(() => second.Online.Count == 2);
        second.Online.Select(u => u.UnitId).Should().BeEquivalentTo(["unit-7", "unit-8"]);
    }

    [Fact]
    public async Task TwoConnectionsClaimingOneUnit_TheSameKeyReplacesTheOlder_AnotherKeyIsTurnedAway()
    {
        UnitDirectory directory = await HostAsync();
        var changes = new List<UnitPresenceChange>();
        directory.PresenceChanged += change => { lock (changes) { changes.Add(change); } };
        await UnitAsync("unit-7", _unit7, directory.BoundEndPoint!, folder: "a");
        await UntilAsync(() => directory.Online.Count == 1);
        DateTimeOffset firstSince = directory.Find("fabrikam", "unit-7")!.ConnectedSince;

        UnitConnector impostor = await UnitAsync("unit-7", _unit8, directory.BoundEndPoint!, folder: "b");
        await UntilAsync(() => impostor.State.Contains("unit-claimed", StringComparison.Ordinal));
        directory.Find("fabrikam", "unit-7")!.KeyId.Should().Be(_unit7.PublicKey.KeyId);

        await UnitAsync("unit-7", _unit7, directory.BoundEndPoint!, folder: "c");
        await UntilAsync(() => { lock (changes) { return changes.Any(c => !c.IsOnline && c.Reason == "replaced"); } });
        directory.Online.Should().ContainSingle().Which.KeyId.Should().Be(_unit7.PublicKey.KeyId);
    }

    [Fact]
    public async Task AFullHost_TurnsAUnitAwayWithARetryAfter()
    {
        UnitDirectory directory = await HostAsync(maxUnits: 1);
        await UnitAsync("unit-7", _unit7, directory.BoundEndPoint!);
        await UntilAsync(() => directory.Online.Count == 1);

        UnitConnector second = await UnitAsync("unit-8", _unit8, directory.BoundEndPoint!);

        await UntilAsync(() => second.State.Contains("host-full", StringComparison.Ordinal));
        directory.Online.Should().ContainSingle().Which.UnitId.Should().Be("unit-7");
    }

    [Fact]
    public async Task TheConnectorAndTheDirectory_RegisterAsHostedServices()
    {
        HostApplicationBuilder vendor = Host.CreateEmptyApplicationBuilder(null);
        var unitKeys = new TrustStore();
        unitKeys.Trust("fabrikam", PartyRole.Unit, _unit7.PublicKey);
        vendor.Services.AddRemoteSupportUnitDirectory(d =>
        {
            d.Identity = _vendor;
            d.Trust = unitKeys;
            d.Customers.Add("fabrikam");
            d.Listen = "127.0.0.1:0";
        });
        using IHost vendorHost = vendor.Build();
        await vendorHost.StartAsync(Token);
        UnitDirectory directory = vendorHost.Services.GetRequiredService<UnitDirectory>();

        HostApplicationBuilder unit = Host.CreateEmptyApplicationBuilder(null);
        SupportAgentOptions template = UnitOptions("unit-7", _unit7, "di");
        unit.Services.AddRemoteSupportUnitConnector(
            agent =>
            {
                (agent.UnitId, agent.CustomerId, agent.StateFolder, agent.Identity, agent.Trust, agent.GroundRules) =
                    (template.UnitId, template.CustomerId, template.StateFolder, template.Identity, template.Trust, template.GroundRules);
                agent.Authorizations.Add(template.Authorizations[0]);
            },
            connector => connector.Endpoints.Add(directory.BoundEndPoint!.ToString()));
        using IHost unitHost = unit.Build();
        await unitHost.StartAsync(Token);

        await UntilAsync(() => directory.Online.Count == 1);
        await UntilAsync(() => unitHost.Services.GetRequiredService<UnitConnector>().State.StartsWith("online", StringComparison.Ordinal));
        await unitHost.StopAsync(Token);
        await UntilAsync(() => directory.Online.Count == 0);
        await vendorHost.StopAsync(Token);
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(3, 8)]
    [InlineData(10, 60)]
    [InlineData(40, 60)]
    public void TheBackoff_IsFullJitterUpToTheCappedDoubling(int attempt, double ceilingSeconds)
    {
        UnitConnector.Backoff(attempt, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60), 0.999999).TotalSeconds.Should().BeApproximately(ceilingSeconds, 0.001);
        UnitConnector.Backoff(attempt, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60), 0.5).TotalSeconds.Should().BeApproximately(ceilingSeconds / 2, 0.001);
        UnitConnector.Backoff(attempt, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60), 0).Should().Be(TimeSpan.Zero);
    }

    private async Task<UnitDirectory> HostAsync(string listen = "127.0.0.1:0", int maxUnits = 100, PartyKey? revoked = null, Action<UnitDirectoryOptions>? configure = null)
    {
        var trust = new TrustStore();
        trust.Trust("fabrikam", PartyRole.Unit, 1, [_unit7.PublicKey, _unit8.PublicKey]);
        if (revoked is not null)
        {
            trust.Revoke(revoked, "the unit was decommissioned");
        }

        var options = new UnitDirectoryOptions
        {
            Identity = _vendor, Trust = trust, Customers = { "fabrikam" }, Listen = listen, HostId = "host-a", MaxUnits = maxUnits,
            HeartbeatInterval = TimeSpan.FromSeconds(1), HeartbeatTimeout = TimeSpan.FromSeconds(4), RetryAfterSeconds = 1,
        };
        configure?.Invoke(options);
        var directory = new UnitDirectory(options);
        await directory.StartAsync(Token);
        _running.Add(directory);
        return directory;
    }

    private async Task<UnitConnector> UnitAsync(string unitId, PartyIdentity key, IPEndPoint host, string? folder = null)
    {
        var connector = new UnitConnector(UnitOptions(unitId, key, folder), new UnitConnectorOptions
        {
            Endpoints = { host.ToString() }, InitialBackoff = TimeSpan.FromMilliseconds(100), MaxBackoff = TimeSpan.FromSeconds(1), HeartbeatInterval = TimeSpan.FromSeconds(1),
        });
        await connector.StartAsync(Token);
        _running.Add(connector);
        return connector;
    }

    private TrustStore UnitTrust()
    {
        var trust = new TrustStore();
        foreach (PartyIdentity party in new[] { _vendor, _technician, _customer })
        {
            trust.Trust(party.PartyId, party.Role, party.PublicKey);
        }

        return trust;
    }

    private SupportAgentOptions UnitOptions(string unitId, PartyIdentity key, string? folder)
    {
        TrustStore trust = UnitTrust();

        var agent = new SupportAgentOptions
        {
            UnitId = unitId, CustomerId = "fabrikam", StateFolder = Path.Combine(_folder, "state-" + unitId + folder), Identity = key, Trust = trust, GroundRules = _rules,
            Authorizations =
            {
                new ServiceAuthorization
                {
                    AuthorizationId = "auth-1", CustomerId = "fabrikam", VendorId = "contoso", Units = ["*"], VendorKeys = [_technician.PublicKey.ToString()],
                    GroundRulesHash = SecurityGroundRules.DocumentHash(_rules), ValidFrom = DateTimeOffset.UtcNow.AddMinutes(-1), ValidUntil = DateTimeOffset.UtcNow.AddDays(30),
                }.ToEnvelope().Sign(_customer),
            },
        };
        agent.DataRoots["finance"] = Path.Combine(_folder, "finance");
        return agent;
    }

    private SupportConsole Console(PartyIdentity? technician = null)
    {
        var trust = new TrustStore();
        trust.Trust("fabrikam", PartyRole.Unit, 1, [_unit7.PublicKey, _unit8.PublicKey]);
        return new SupportConsole(new SupportConsoleOptions { Identity = technician ?? _technician, Trust = trust, Customers = { "fabrikam" } });
    }

    /// <summary>Waits for a condition the fleet reaches on its own (no timing is asserted: the test's timeout bounds it).</summary>
    private async Task UntilAsync(Func<bool> condition)
    {
        while (!condition())
        {
            await Task.Delay(20, Token);
        }
    }
}
