using System.Net;
using Microsoft.Extensions.Time.Testing;
using RemoteSupport.Audit;
using RemoteSupport.Authorization;
using RemoteSupport.Consent;
using RemoteSupport.DataFiles;
using RemoteSupport.Documents;
using RemoteSupport.Fixes;
using RemoteSupport.GroundRules;
using RemoteSupport.Identities;
using RemoteSupport.Journal;
using RemoteSupport.Ledger;
using RemoteSupport.Sessions;
using RemoteSupport.Soak;
using RemoteSupport.Transport.Channels;
using RemoteSupport.Transport.Framing;
using RemoteSupport.Transport.Security;
using RemoteSupport.Transport.Sessions;
using RemoteSupport.Transport.Transports;
using RemoteSupport.Trust;

namespace RemoteSupport.Transport.Tests.Sessions;

/// <summary>
/// A customer unit with its agent listening on TCP loopback, and a vendor console that dials it:
/// identities, trust, jointly signed ground rules, an authorization, data files, audit and ledger
/// journals on disk. The contract's clock is fake (a Wednesday, 10:00 in Berlin); sockets are real.
/// </summary>
internal sealed class SessionWorld : IAsyncDisposable
{
    public static readonly DateTimeOffset Wednesday10Berlin = new(2026, 11, 25, 9, 0, 0, TimeSpan.Zero);

    private readonly string _dir = Directory.CreateTempSubdirectory("rs-session-").FullName;
    private readonly CancellationTokenSource _stop = new(TimeSpan.FromSeconds(60));
    private readonly List<SignedEnvelope?> _receipts = [];
    private readonly List<Exception> _failures = [];
    private TcpConnectionListener _listener = null!;
    private Task _accepting = Task.CompletedTask;

    public FakeTimeProvider Clock { get; } = new(Wednesday10Berlin);

    public PartyIdentity Vendor { get; } = PartyIdentity.Create("contoso", PartyRole.Vendor);

    public PartyIdentity Technician { get; } = PartyIdentity.Create("contoso", PartyRole.Technician);

    public PartyIdentity Customer { get; } = PartyIdentity.Create("fabrikam", PartyRole.Customer);

    public PartyIdentity Unit { get; } = PartyIdentity.Create("fabrikam", PartyRole.Unit);

    public PartyIdentity ItApprover { get; } = PartyIdentity.Create("fabrikam", PartyRole.Approver);

    public PartyIdentity Release1 { get; } = PartyIdentity.Create("contoso", PartyRole.Vendor);

    public PartyIdentity Release2 { get; } = PartyIdentity.Create("contoso", PartyRole.Vendor);

    public string InstallRoot => Path.Combine(_dir, "install");

    public string Inbox => Path.Combine(_dir, "inbox");

    public FixInstaller Installer { get; private set; } = null!;

    public TrustStore UnitTrust { get; private set; } = null!;

    public AuthorizationBook Authorizations { get; private set; } = null!;

    public GroundRulesBook GroundRules { get; private set; } = null!;

    public AppendOnlyJournal AuditJournal { get; private set; } = null!;

    public AppendOnlyJournal LedgerJournal { get; private set; } = null!;

    public AuditLog Audit { get; private set; } = null!;

    /// <summary>Gets the audit journal as the agent writes it: a test makes chosen appends fail.</summary>
    public FaultyJournal AuditFaults { get; private set; } = null!;

    public ChargeLedger Ledger { get; private set; } = null!;

    public FileApprovalUseCounter Uses { get; private set; } = null!;

    public ScriptedApprover Approver { get; } = new();

    public SupportAgentParts AgentOptions { get; private set; } = null!;

    public string DataRoot => Path.Combine(_dir, "finance");

    public CancellationToken Token => _stop.Token;

    public IPEndPoint EndPoint => _listener.BoundEndPoint;

    public IReadOnlyList<SignedEnvelope?> Receipts
    {
        get
        {
            lock (_receipts)
            {
                return [.. _receipts];
            }
        }
    }

    public static async Task<SessionWorld> StartAsync(
        bool authorize = true, TimeSpan? approvalTimeout = null, Func<SecurityGroundRules, SecurityGroundRules>? rules = null,
        Action<SupportConnectionOptions>? agentConnection = null)
    {
        var world = new SessionWorld();
        await world.InitializeAsync(authorize, approvalTimeout ?? TimeSpan.FromMinutes(5), rules ?? (r => r), agentConnection);
        return world;
    }

    /// <summary>Gets the failures that ended connections the agent host served (a refusal at capacity, a hello timeout…).</summary>
    public IReadOnlyList<Exception> Failures
    {
        get
        {
            lock (_receipts)
            {
                return [.. _failures];
            }
        }
    }

    private async Task InitializeAsync(bool authorize, TimeSpan approvalTimeout, Func<SecurityGroundRules, SecurityGroundRules> amend, Action<SupportConnectionOptions>? agentConnection)
    {
        UnitTrust = new TrustStore(Clock);
        UnitSetup.TrustParties(UnitTrust, Customer, Vendor, Technician, ItApprover);
        SecurityGroundRules rules = amend(UnitSetup.GroundRules(
            new ServiceHours([DayOfWeek.Monday, DayOfWeek.Tuesday, DayOfWeek.Wednesday, DayOfWeek.Thursday, DayOfWeek.Friday], "08:00", "18:00"),
            new TollChargePolicy("EUR", 500, 120, 60, 500, 1_000_000, 10_000_000, 1_000_000)));
        GroundRules = new GroundRulesBook(UnitTrust);
        GroundRules.Accept(rules.ToEnvelope().Sign(Customer).Sign(Vendor)).IsAccepted.Should().BeTrue();
        Authorizations = new AuthorizationBook(UnitTrust, Clock);
        if (authorize)
        {
            Authorizations.Accept(new ServiceAuthorization
            {
                AuthorizationId = "auth-1",
                CustomerId = "fabrikam",
                VendorId = "contoso",
                VendorKeys = [Technician.PublicKey.ToString()],
                Units = ["unit-7"],
                ValidFrom = Wednesday10Berlin.AddDays(-1),
                ValidUntil = Wednesday10Berlin.AddDays(30),
                GroundRulesHash = GroundRules.CurrentHash!,
            }.ToEnvelope().Sign(Customer)).IsAccepted.Should().BeTrue();
        }

        Directory.CreateDirectory(Path.Combine(DataRoot, "ledger"));
        await File.WriteAllTextAsync(Path.Combine(DataRoot, "ledger", "2026.csv"), "account,amount\n4711,12.50\n");
        AuditJournal = await AppendOnlyJournal.OpenAsync(Path.Combine(_dir, "audit.journal"));
        LedgerJournal = await AppendOnlyJournal.OpenAsync(Path.Combine(_dir, "ledger.journal"));
        AuditFaults = new FaultyJournal(AuditJournal);
        Audit = new AuditLog(AuditFaults, Clock);
        Ledger = await ChargeLedger.OpenAsync(LedgerJournal, GroundRules, Clock);
        Uses = FileApprovalUseCounter.Open(Path.Combine(_dir, "approval-uses.log"));
        Approver.Sign = request => Approval.For(request, Clock.GetUtcNow()).ToEnvelope().Sign(ItApprover);
        AgentOptions = UnitSetup.AgentParts(Unit, UnitTrust, Authorizations, GroundRules, Uses, Audit, Ledger, DataRoot, Approver, approvalTimeout, Clock);
        AgentOptions.Diagnostics["disk"] = _ => Task.FromResult("disk: 93% used");

        Directory.CreateDirectory(Path.Combine(InstallRoot, "bin"));
        await File.WriteAllTextAsync(Path.Combine(InstallRoot, "bin", "app.dll"), "ledger 2.3.0");
        Installer = new FixInstaller(InstallRoot, Path.Combine(_dir, "install-work"), Unit, Clock, Audit);
        AgentOptions.Fixes = UnitSetup.Fixes(Installer, Release1, Release2, Wednesday10Berlin, Clock, Inbox);

        _listener = TcpConnectionListener.Listen(new IPEndPoint(IPAddress.Loopback, 0));
        SupportConnectionOptions hostOptions = AgentConnection();
        agentConnection?.Invoke(hostOptions);
        _accepting = new SupportAgentHost(new SupportAgent(AgentOptions), hostOptions).RunAsync(_listener, OnSessionEnded, Token);
    }

    private SupportConnectionOptions AgentConnection()
    {
        var secure = new SecureChannelOptions { Identity = Unit, TrustStore = UnitTrust, StaticKey = NoiseStaticKey.Generate() };
        secure.AcceptedPeers.Add(new ExpectedPeer("contoso", PartyRole.Technician));
        return new SupportConnectionOptions { Secure = secure };
    }

    private void OnSessionEnded(SignedEnvelope? receipt, Exception? failure)
    {
        lock (_receipts)
        {
            _receipts.Add(receipt);
            if (failure is not null)
            {
                _failures.Add(failure);
            }
        }
    }

    public SupportConnectionOptions ConsoleConnection()
    {
        var trust = new TrustStore();
        trust.Trust("fabrikam", PartyRole.Unit, Unit.PublicKey);
        var secure = new SecureChannelOptions { Identity = Technician, TrustStore = trust };
        secure.AcceptedPeers.Add(new ExpectedPeer("fabrikam", PartyRole.Unit));
        return new SupportConnectionOptions { Secure = secure };
    }

    /// <summary>Dials the unit as the technician and opens the session channel (for tests that speak the protocol by hand).</summary>
    public async Task<(MultiplexedConnection Connection, MultiplexedChannel Channel)> DialAsync()
    {
        TransportConnection connection = await new TcpDialer(EndPoint).DialAsync(Token);
        (_, MultiplexedConnection mux) = await ConsoleConnection().ConnectAsync(connection, initiator: true, Token);
        return (mux, await mux.OpenChannelAsync("session", Token));
    }

    /// <summary>Dials and opens a session that can push fixes, as a console does.</summary>
    public async Task<SupportConsoleConnection> OpenSessionAsync() =>
        await SupportConsoleConnection.OpenAsync(await new TcpDialer(EndPoint).DialAsync(Token), dialed: true, ConsoleConnection(), Token);

    /// <summary>Builds a fix package for ledger <paramref name="version"/> whose bin/app.dll is <paramref name="size"/> bytes.</summary>
    public async Task<string> BuildFixAsync(string version, int size = 4096)
    {
        string source = Path.Combine(_dir, "fix-source-" + version);
        Directory.CreateDirectory(Path.Combine(source, "bin"));
        byte[] app = new byte[size];
        Random.Shared.NextBytes(app);
        await File.WriteAllBytesAsync(Path.Combine(source, "bin", "app.dll"), app);
        string package = Path.Combine(_dir, $"ledger-{version}.rsfix");
        await FixPackage.BuildAsync(source, new FixManifest
        {
            PackageId = "ledger-fix-" + version,
            Product = "ledger",
            Version = version,
            AppliesTo = new FixTarget("ledger", "2.0.0", "3.0.0", ["*"], null, null),
            CreatedAt = Clock.GetUtcNow(),
            ExpiresAt = Clock.GetUtcNow().AddDays(30),
            ReleaseNotes = "Totals are rounded correctly.",
            Files = [],
        }, [Release1, Release2], package);
        return package;
    }

    /// <summary>Waits until the agent has finished <paramref name="count"/> sessions.</summary>
    public async Task WaitForSessionsAsync(int count)
    {
        while (Receipts.Count < count)
        {
            await Task.Delay(10, Token);
        }
    }

    public async Task<IReadOnlyList<AuditEvent>> AuditEventsAsync()
    {
        string export = Path.Combine(_dir, "audit-export-" + Guid.NewGuid().ToString("n"));
        await AuditJournal.ExportAsync(export);
        return await AuditLog.ReadExportAsync(export);
    }

    public async ValueTask DisposeAsync()
    {
        await _listener.DisposeAsync();
        await _stop.CancelAsync();
        try
        {
            await _accepting;
        }
        catch (OperationCanceledException)
        {
        }

        Ledger.Dispose();
        Uses.Dispose();
        await AuditJournal.DisposeAsync();
        await LedgerJournal.DisposeAsync();
        foreach (PartyIdentity identity in new[] { Vendor, Technician, Customer, Unit, ItApprover, Release1, Release2 })
        {
            identity.Dispose();
        }

        _stop.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}

/// <summary>The customer's approver, scripted: approves, refuses, or never answers.</summary>
public sealed class ScriptedApprover : IApprovalPrompt
{
    public enum Answer
    {
        Approve,
        Refuse,
        Never,
    }

    internal Answer Next { get; set; } = Answer.Approve;

    internal Func<ApprovalRequest, SignedEnvelope> Sign { get; set; } = _ => throw new InvalidOperationException("No signer.");

    internal List<ApprovalRequest> Asked { get; } = [];

    public async ValueTask<SignedEnvelope?> RequestApprovalAsync(ApprovalRequest request, CancellationToken cancellationToken = default)
    {
        lock (Asked)
        {
            Asked.Add(request);
        }

        switch (Next)
        {
            case Answer.Approve:
                return Sign(request);
            case Answer.Refuse:
                return null;
            default:
                await Task.Delay(Timeout.Infinite, cancellationToken);
                return null;
        }
    }
}
