using System.IO.Pipelines;
using System.Net;
using System.Security.Cryptography;
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
using RemoteSupport.Transport.Channels;
using RemoteSupport.Transport.Security;
using RemoteSupport.Transport.Sessions;
using RemoteSupport.Transport.Transports;
using RemoteSupport.Trust;

namespace RemoteSupport.Soak;

/// <summary>
/// The customer's unit under soak: its agent on TCP loopback with journals, a data file, an install root and fixes
/// on disk in <see cref="Folder"/>, and the parties' keys. The contract's clock is fake and moves only inside the
/// agent's own work (a <c>work-N</c> diagnostic moves it N minutes; an approver who never answers moves it past the
/// approval timeout), so each session's connect time is known exactly. Keep-alives and handshake deadlines run on
/// the real clock (counted: <see cref="Timers"/>), and the connections' pipes rent from <see cref="Buffers"/>.
/// </summary>
internal sealed class SoakUnit : IAsyncDisposable
{
    public const string DataPath = UnitSetup.DataPath;
    public static readonly DateTimeOffset Start = new(2026, 11, 25, 9, 0, 0, TimeSpan.Zero);
    public static readonly TimeSpan ApprovalTimeout = TimeSpan.FromMinutes(2);

    private readonly CancellationTokenSource _stop = new();
    private readonly List<TransportConnection> _accepted = [];
    private readonly List<(SignedEnvelope? Receipt, Exception? Failure)> _ended = [];
    private TcpConnectionListener _listener = null!;
    private Task _serving = Task.CompletedTask;
    private int _authorizations;
    private long _advancedSeconds;

    private SoakUnit(string folder) => Folder = folder;

    public string Folder { get; }

    public FakeTimeProvider Clock { get; } = new(Start);

    public CountingTimeProvider Timers { get; } = new();

    public CountingMemoryPool Buffers { get; } = new();

    public PartyIdentity Vendor { get; } = PartyIdentity.Create("contoso", PartyRole.Vendor);

    public PartyIdentity Technician { get; } = PartyIdentity.Create("contoso", PartyRole.Technician);

    public PartyIdentity Customer { get; } = PartyIdentity.Create("fabrikam", PartyRole.Customer);

    public PartyIdentity Unit { get; } = PartyIdentity.Create("fabrikam", PartyRole.Unit);

    public PartyIdentity Approver { get; } = PartyIdentity.Create("fabrikam", PartyRole.Approver);

    public PartyIdentity Release1 { get; } = PartyIdentity.Create("contoso", PartyRole.Vendor);

    public PartyIdentity Release2 { get; } = PartyIdentity.Create("contoso", PartyRole.Vendor);

    public SoakApprover Approvals { get; } = new();

    public TrustStore UnitTrust { get; } = new();

    public GroundRulesBook GroundRules { get; private set; } = null!;

    public AuthorizationBook Authorizations { get; private set; } = null!;

    public string CurrentAuthorization { get; private set; } = "";

    public AppendOnlyJournal AuditJournal { get; private set; } = null!;

    public AppendOnlyJournal LedgerJournal { get; private set; } = null!;

    public ChargeLedger Ledger { get; private set; } = null!;

    public FixInstaller Installer { get; private set; } = null!;

    public FileApprovalUseCounter Uses { get; private set; } = null!;

    public string DataRoot => Path.Combine(Folder, "finance");

    public string InstallRoot => Path.Combine(Folder, "install");

    public string InitialApp { get; } = "ledger 2.3.0";

    /// <summary>Gets the fix packages, oldest first, with the hash of the bin/app.dll each installs.</summary>
    public List<(string Version, string Package, string AppHash)> Fixes { get; } = [];

    public IPEndPoint EndPoint => _listener.BoundEndPoint;

    /// <summary>Gets how far the contract's clock has moved since the start.</summary>
    public TimeSpan Advanced => TimeSpan.FromSeconds(Interlocked.Read(ref _advancedSeconds));

    public int AcceptedCount
    {
        get
        {
            lock (_accepted)
            {
                return _accepted.Count;
            }
        }
    }

    public IReadOnlyList<TransportConnection> Accepted
    {
        get
        {
            lock (_accepted)
            {
                return [.. _accepted];
            }
        }
    }

    public IReadOnlyList<(SignedEnvelope? Receipt, Exception? Failure)> Ended
    {
        get
        {
            lock (_ended)
            {
                return [.. _ended];
            }
        }
    }

    public static async Task<SoakUnit> StartAsync(string folder, int fixCount)
    {
        var unit = new SoakUnit(folder);
        await unit.InitializeAsync(fixCount);
        return unit;
    }

    private async Task InitializeAsync(int fixCount)
    {
        UnitSetup.TrustParties(UnitTrust, Customer, Vendor, Technician, Approver);
        SecurityGroundRules rules = UnitSetup.GroundRules(
            new ServiceHours(Enum.GetValues<DayOfWeek>(), "00:00", "00:00"), new TollChargePolicy("EUR", 500, 120, 60, 500, 100_000_000, 1_000_000_000, 100_000_000));
        GroundRules = new GroundRulesBook(UnitTrust);
        Require(GroundRules.Accept(rules.ToEnvelope().Sign(Customer).Sign(Vendor)));
        Authorizations = new AuthorizationBook(UnitTrust, Clock);
        Authorize();

        Directory.CreateDirectory(Path.Combine(DataRoot, "ledger"));
        await File.WriteAllTextAsync(Path.Combine(DataRoot, DataPath), "account,amount\n4711,12.50\n");
        AuditJournal = await AppendOnlyJournal.OpenAsync(Path.Combine(Folder, "audit.journal"));
        LedgerJournal = await AppendOnlyJournal.OpenAsync(Path.Combine(Folder, "ledger.journal"));
        var audit = new AuditLog(AuditJournal, Clock);
        Ledger = await ChargeLedger.OpenAsync(LedgerJournal, GroundRules, Clock);
        Uses = FileApprovalUseCounter.Open(Path.Combine(Folder, "approval-uses.log"));
        Approvals.Sign = request => Approval.For(request, Clock.GetUtcNow()).ToEnvelope().Sign(Approver);
        Approvals.TimeOut = () => Advance(ApprovalTimeout + TimeSpan.FromSeconds(1));

        Directory.CreateDirectory(Path.Combine(InstallRoot, "bin"));
        await File.WriteAllTextAsync(Path.Combine(InstallRoot, "bin", "app.dll"), InitialApp);
        Installer = new FixInstaller(InstallRoot, Path.Combine(Folder, "install-work"), Unit, Clock, audit);
        await BuildFixesAsync(fixCount);
        SupportAgentParts parts = UnitSetup.AgentParts(Unit, UnitTrust, Authorizations, GroundRules, Uses, audit, Ledger, DataRoot, Approvals, ApprovalTimeout, Clock);
        parts.Fixes = UnitSetup.Fixes(Installer, Release1, Release2, Start, Clock, Path.Combine(Folder, "inbox"));
        foreach (int minutes in new[] { 1, 2, 3 })
        {
            parts.Diagnostics["work-" + minutes] = _ =>
            {
                Advance(TimeSpan.FromMinutes(minutes));
                return Task.FromResult($"worked {minutes} min");
            };
        }

        _listener = TcpConnectionListener.Listen(new IPEndPoint(IPAddress.Loopback, 0), Transport());
        var secure = new SecureChannelOptions { Identity = Unit, TrustStore = UnitTrust, StaticKey = NoiseStaticKey.Generate(), TimeProvider = Timers, HandshakeTimeout = TimeSpan.FromSeconds(3) };
        secure.AcceptedPeers.Add(new ExpectedPeer("contoso", PartyRole.Technician));
        var host = new SupportAgentHost(new SupportAgent(parts), new SupportConnectionOptions { Secure = secure, Channels = Channels(), CloseTimeout = TimeSpan.FromSeconds(3) });
        _serving = host.RunAsync(new CountingListener(_listener, this), OnSessionEnded, _stop.Token);
    }

    /// <summary>The connection settings both sides use: the counted pool and clock, keep-alives that notice a stall within 3 s.</summary>
    public TransportOptions Transport()
    {
        var pipe = new PipeOptions(pool: Buffers, pauseWriterThreshold: 1024 * 1024, resumeWriterThreshold: 512 * 1024, useSynchronizationContext: false);
        return new TransportOptions { InputPipeOptions = pipe, OutputPipeOptions = pipe, ShutdownTimeout = TimeSpan.FromSeconds(2) };
    }

    public MultiplexerOptions Channels() => new()
    {
        KeepAliveInterval = TimeSpan.FromSeconds(1),
        KeepAliveTimeout = TimeSpan.FromSeconds(2),
        TimeProvider = Timers,
    };

    public SupportConnectionOptions ConsoleConnection()
    {
        var trust = new TrustStore();
        trust.Trust("fabrikam", PartyRole.Unit, Unit.PublicKey);
        var secure = new SecureChannelOptions { Identity = Technician, TrustStore = trust, TimeProvider = Timers, HandshakeTimeout = TimeSpan.FromSeconds(3) };
        secure.AcceptedPeers.Add(new ExpectedPeer("fabrikam", PartyRole.Unit));
        return new SupportConnectionOptions { Secure = secure, Channels = Channels(), CloseTimeout = TimeSpan.FromSeconds(3) };
    }

    /// <summary>Accepts a new authorization (after a revocation), naming the technician's key and this unit.</summary>
    public void Authorize()
    {
        CurrentAuthorization = "auth-" + ++_authorizations;
        Require(Authorizations.Accept(new ServiceAuthorization
        {
            AuthorizationId = CurrentAuthorization,
            CustomerId = "fabrikam",
            VendorId = "contoso",
            VendorKeys = [Technician.PublicKey.ToString()],
            Units = ["unit-7"],
            ValidFrom = Start.AddDays(-1),
            ValidUntil = Start.AddDays(365),
            GroundRulesHash = GroundRules.CurrentHash!,
        }.ToEnvelope().Sign(Customer)));
    }

    /// <summary>The customer revokes the authorization in force.</summary>
    public void Revoke() => Require(Authorizations.Revoke(new AuthorizationRevocation
    {
        AuthorizationId = CurrentAuthorization,
        CustomerId = "fabrikam",
        Reason = "soak: the customer withdrew the service",
    }.ToEnvelope().Sign(Customer)));

    /// <summary>A checkpoint of the audit journal as it is now, signed by the unit.</summary>
    public string AuditCheckpoint() => new Checkpoint("fabrikam/unit-7/audit", AuditJournal.Count, AuditJournal.Root()).Sign("unit-7", Unit);

    /// <summary>Stops accepting, waits for the host to finish, and closes the journals.</summary>
    public async Task StopAsync()
    {
        await _listener.DisposeAsync();
        await _stop.CancelAsync();
        try
        {
            await _serving;
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        Ledger.Dispose();
        Uses.Dispose();
        await AuditJournal.DisposeAsync();
        await LedgerJournal.DisposeAsync();
        foreach (PartyIdentity identity in new[] { Vendor, Technician, Customer, Unit, Approver, Release1, Release2 })
        {
            identity.Dispose();
        }

        _stop.Dispose();
    }

    private void Advance(TimeSpan by)
    {
        Interlocked.Add(ref _advancedSeconds, (long)by.TotalSeconds);
        Clock.Advance(by);
    }

    private async Task BuildFixesAsync(int count)
    {
        var random = new Random(count);
        for (int i = 1; i <= count; i++)
        {
            string version = $"2.4.{i}";
            string source = Path.Combine(Folder, "fix-source-" + version);
            Directory.CreateDirectory(Path.Combine(source, "bin"));
            byte[] app = new byte[1024 * (1 + random.Next(64))];
            random.NextBytes(app);
            await File.WriteAllBytesAsync(Path.Combine(source, "bin", "app.dll"), app);
            string package = Path.Combine(Folder, $"ledger-{version}.rsfix");
            await FixPackage.BuildAsync(source, new FixManifest
            {
                PackageId = "ledger-fix-" + version,
                Product = "ledger",
                Version = version,
                AppliesTo = new FixTarget("ledger", "2.0.0", "3.0.0", ["*"], null, null),
                CreatedAt = Start,
                ExpiresAt = Start.AddDays(365),
                ReleaseNotes = "Soak fix " + version,
                Files = [],
            }, [Release1, Release2], package);
            Fixes.Add((version, package, Convert.ToHexStringLower(SHA256.HashData(app))));
        }
    }

    private void OnSessionEnded(SignedEnvelope? receipt, Exception? failure)
    {
        lock (_ended)
        {
            _ended.Add((receipt, failure));
        }
    }

    private static void Require(DocumentAcceptance acceptance)
    {
        if (!acceptance.IsAccepted)
        {
            throw new InvalidOperationException("The soak's unit could not be set up: " + acceptance.Sentence);
        }
    }

    /// <summary>The TCP listener, remembering every connection it accepted (for the end-of-run checks).</summary>
    private sealed class CountingListener(TcpConnectionListener inner, SoakUnit unit) : IConnectionListener
    {
        public string LocalEndPoint => inner.LocalEndPoint;

        public async ValueTask<TransportConnection?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            TransportConnection? connection = await inner.AcceptAsync(cancellationToken);
            if (connection is not null)
            {
                lock (unit._accepted)
                {
                    unit._accepted.Add(connection);
                }
            }

            return connection;
        }

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}

/// <summary>The customer's approver under soak: approves, refuses, or never answers (the contract's clock then passes the timeout).</summary>
internal sealed class SoakApprover : IApprovalPrompt
{
    public enum Answer
    {
        Approve,
        Refuse,
        Never,
    }

    public Answer Next { get; set; } = Answer.Approve;

    public Func<ApprovalRequest, SignedEnvelope> Sign { get; set; } = _ => throw new InvalidOperationException("No signer.");

    public Action TimeOut { get; set; } = () => { };

    public async ValueTask<SignedEnvelope?> RequestApprovalAsync(ApprovalRequest request, CancellationToken cancellationToken = default)
    {
        switch (Next)
        {
            case Answer.Approve:
                return Sign(request);
            case Answer.Refuse:
                return null;
            default:
                TimeOut();
                await Task.Delay(Timeout.Infinite, cancellationToken);
                return null;
        }
    }
}
