using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using RemoteSupport.Audit;
using RemoteSupport.Authorization;
using RemoteSupport.Documents;
using RemoteSupport.GroundRules;
using RemoteSupport.Identities;
using RemoteSupport.Sessions;
using RemoteSupport.Transport.Channels;
using RemoteSupport.Transport.Sessions;
using RemoteSupport.Transport.Transports;
using RemoteSupport.Trust;

namespace RemoteSupport.Transport.Tests.Sessions;

/// <summary>The agent and the console as a host runs them: one registration, one state folder, options checked at start.</summary>
public sealed class HostedAgentTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("rs-hosted-").FullName;
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(60));
    private readonly PartyIdentity _vendor = PartyIdentity.Create("contoso", PartyRole.Vendor);
    private readonly PartyIdentity _technician = PartyIdentity.Create("contoso", PartyRole.Technician);
    private readonly PartyIdentity _customer = PartyIdentity.Create("fabrikam", PartyRole.Customer);
    private readonly PartyIdentity _unit = PartyIdentity.Create("fabrikam", PartyRole.Unit);
    private readonly TrustStore _unitTrust = new();
    private readonly SignedEnvelope _rules;
    private readonly SignedEnvelope _authorization;

    public HostedAgentTests()
    {
        foreach (PartyIdentity party in new[] { _vendor, _technician, _customer })
        {
            _unitTrust.Trust(party.PartyId, party.Role, party.PublicKey);
        }

        _rules = new SecurityGroundRules
        {
            Version = 1, CustomerId = "fabrikam", VendorId = "contoso", TimeZone = "Europe/Berlin", MaxSessionMinutes = 120,
            Operations = [new(SupportOperation.ViewData, true, null), new(SupportOperation.RunDiagnostic, true, null)],
            DataScopes = [new("finance", ["**"], "fabrikam")], Hours = new(Enum.GetValues<DayOfWeek>(), "00:00", "00:00"),
            MaxApprovalLifetimeSeconds = 3600, TollCharges = new("EUR", 500, 120, 60, 500, 20_000, 100_000, 10_000),
        }.ToEnvelope().Sign(_customer).Sign(_vendor);
        _authorization = new ServiceAuthorization
        {
            AuthorizationId = "auth-1", CustomerId = "fabrikam", VendorId = "contoso", Units = ["unit-7"], VendorKeys = [_technician.PublicKey.ToString()],
            GroundRulesHash = SecurityGroundRules.DocumentHash(_rules), ValidFrom = DateTimeOffset.UtcNow.AddMinutes(-1), ValidUntil = DateTimeOffset.UtcNow.AddDays(30),
        }.ToEnvelope().Sign(_customer);
        Directory.CreateDirectory(DataRoot);
        File.WriteAllText(Path.Combine(DataRoot, "totals.csv"), "account,amount\n4711,12.50\n");
    }

    private string DataRoot => Path.Combine(_folder, "finance");

    private string StateFolder => Path.Combine(_folder, "state");

    private CancellationToken Token => _timeout.Token;

    public void Dispose()
    {
        _timeout.Dispose();
        foreach (PartyIdentity party in new[] { _vendor, _technician, _customer, _unit })
        {
            party.Dispose();
        }

        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task AHostedAgent_OpensItsStateFromOneFolder_ListensAndServesASession_AndKeepsItsStateAcrossARestart()
    {
        var receipts = new List<SupportSessionEnded>();
        for (int run = 1; run <= 2; run++)
        {
            using IHost unitHost = UnitHost(agent => agent.Diagnostics["disk"] = _ => Task.FromResult("disk: 93% used"));
            await unitHost.StartAsync(Token);
            SupportAgentService service = unitHost.Services.GetRequiredService<SupportAgentService>();
            service.SessionEnded += ended => { lock (receipts) { receipts.Add(ended); } };

            await using (SupportConsoleConnection connection = await Console().ConnectAsync(new TcpDialer(service.BoundEndPoint!), Token))
            {
                (await connection.Session.RunDiagnosticAsync("disk", cancellationToken: Token)).Output.Should().Be("disk: 93% used");
                (await connection.Session.ViewAsync("finance", "totals.csv", "fabrikam", "ticket 1", Token)).Succeeded.Should().BeTrue();
                SessionReceipt.FromEnvelope(await connection.Session.CloseAsync(Token)).Ending.Should().Be("closed");
            }

            service.Agent.Ledger.Entries.Should().HaveCount(2 * run, "each session is metered (call setup and connect time) into the ledger in the state folder");
            await unitHost.StopAsync(Token);
        }

        receipts.Should().HaveCount(2).And.OnlyContain(r => r.Receipt != null && r.Failure == null);
        Directory.GetFiles(StateFolder).Select(Path.GetFileName).Should().BeEquivalentTo(["audit.journal", "ledger.journal"], "the contract state and the approval uses are records of the audit journal");
        IReadOnlyList<AuditEvent> events = await AuditLog.ReadExportAsync(Path.Combine(StateFolder, "audit.journal"), Token);
        events.Count(e => e.Kind == AuditEventKind.SessionOpened).Should().Be(2, "the stopped host closed its journals and the next start appended to them");
        events.Where(e => e.Kind == AuditEventKind.DocumentAccepted).Select(e => e.Details["payload-type"]).Should().Equal(
            [SecurityGroundRules.DocumentType.PayloadType, ServiceAuthorization.DocumentType.PayloadType],
            "the options' documents are journaled once, at the first start; offered again at the second, they are already in force");
    }

    [Fact]
    public async Task ARevocationAcceptedWhileTheAgentRuns_OutlivesARestart_ThoughTheOptionsStillGiveTheAuthorization()
    {
        using (IHost first = UnitHost())
        {
            await first.StartAsync(Token);
            SupportAgent agent = first.Services.GetRequiredService<SupportAgentService>().Agent;
            SignedEnvelope revocation = new AuthorizationRevocation { AuthorizationId = "auth-1", CustomerId = "fabrikam", Reason = "contract ended" }.ToEnvelope().Sign(_customer);
            (await agent.AcceptAsync(revocation, Token)).IsAccepted.Should().BeTrue();
            await first.StopAsync(Token);
        }

        using IHost second = UnitHost();
        await second.StartAsync(Token);
        SupportAgentService service = second.Services.GetRequiredService<SupportAgentService>();
        service.Agent.Authorizations.Check("contoso", _technician.PublicKey, "unit-7", service.Agent.GroundRules.CurrentHash).Reason
            .Should().Be(AuthorizationFailure.Revoked, "the options offer auth-1 again at every start; the journal's revocation wins");
        var refused = await FluentActions.Awaiting(() => Console().ConnectAsync(new TcpDialer(service.BoundEndPoint!), Token)).Should().ThrowAsync<SessionRefusedException>();
        refused.Which.Sentence.Should().Contain("revoked");
        await second.StopAsync(Token);
    }

    [Fact]
    public async Task TheAgentRequestsTheSignedCompatibilitySpecification_KeepsTheVendorsInWriting_AndRefusesAStrangers()
    {
        using var stranger = PartyIdentity.Create("contoso", PartyRole.Vendor);
        CompatibilitySpecification spec = CompatibilitySpecification.Describe(
            "contoso", Console().Options, [new CompatibilityEndpoint("tcp", "support.contoso.example", 7700, "inbound")], new LineRequirements(64_000, 600));
        using IHost unitHost = UnitHost(agent => agent.RequestCompatibilitySpecification = true);
        await unitHost.StartAsync(Token);
        SupportAgentService service = unitHost.Services.GetRequiredService<SupportAgentService>();
        foreach (SignedEnvelope handed in new[] { spec.ToEnvelope().Sign(stranger), spec.ToEnvelope().Sign(_vendor), spec.ToEnvelope().Sign(_vendor) })
        {
            await using SupportConsoleConnection connection = await Console(handed).ConnectAsync(new TcpDialer(service.BoundEndPoint!), Token);
            (await connection.Session.RunDiagnosticAsync("disk", cancellationToken: Token)).Code.Should().Be("unknown-diagnostic", "the session goes on after the specification");
            await connection.Session.CloseAsync(Token);
        }

        SignedEnvelope kept = service.Agent.Contract!.CompatibilitySpecification!;
        kept.Should().NotBeNull();
        CompatibilitySpecification.FromEnvelope(kept).ToMarkdown().Should().Be(spec.ToMarkdown());
        kept.Signatures.Should().ContainSingle().Which.KeyId.Should().Be(_vendor.PublicKey.KeyId, "the stranger's signature was refused");
        await unitHost.StopAsync(Token);
        (await AuditLog.ReadExportAsync(Path.Combine(StateFolder, "audit.journal"), Token))
            .Count(e => e.Kind == AuditEventKind.DocumentAccepted && e.Details["payload-type"] == CompatibilitySpecification.DocumentType.PayloadType)
            .Should().Be(1, "handed over twice, it is kept once");
    }

    [Fact]
    public async Task AConsoleHandingOverAnotherDocumentAsItsSpecification_ChangesNothingInTheContract()
    {
        using IHost unitHost = UnitHost(agent => agent.RequestCompatibilitySpecification = true);
        await unitHost.StartAsync(Token);
        SupportAgentService service = unitHost.Services.GetRequiredService<SupportAgentService>();
        SignedEnvelope revocation = new AuthorizationRevocation { AuthorizationId = "auth-1", CustomerId = "fabrikam", Reason = "replayed" }.ToEnvelope().Sign(_customer);
        await using (SupportConsoleConnection connection = await Console(revocation).ConnectAsync(new TcpDialer(service.BoundEndPoint!), Token))
        {
            (await connection.Session.ViewAsync("finance", "totals.csv", "fabrikam", "ticket 1", Token)).Succeeded.Should().BeTrue("the session goes on, still authorized");
            await connection.Session.CloseAsync(Token);
        }

        service.Agent.Authorizations.Check("contoso", _technician.PublicKey, "unit-7", service.Agent.GroundRules.CurrentHash).IsAuthorized.Should().BeTrue();
        service.Agent.Contract!.CompatibilitySpecification.Should().BeNull();
        await unitHost.StopAsync(Token);
        (await AuditLog.ReadExportAsync(Path.Combine(StateFolder, "audit.journal"), Token))
            .Should().NotContain(e => e.Kind == AuditEventKind.DocumentAccepted && e.Details["payload-type"] == AuthorizationRevocation.DocumentType.PayloadType);
    }

    [Fact]
    public async Task TheAgentExportsAnEvidenceBundle_ThatTheCustomersAuditorVerifies()
    {
        using IHost unitHost = UnitHost();
        await unitHost.StartAsync(Token);
        SupportAgent agent = unitHost.Services.GetRequiredService<SupportAgentService>().Agent;
        SignedEnvelope receipt;
        await using (SupportConsoleConnection connection = await Console().ConnectAsync(new TcpDialer(unitHost.Services.GetRequiredService<SupportAgentService>().BoundEndPoint!), Token))
        {
            (await connection.Session.ViewAsync("finance", "totals.csv", "fabrikam", "ticket 1", Token)).Succeeded.Should().BeTrue();
            receipt = await connection.Session.CloseAsync(Token);
        }

        string bundle = Path.Combine(_folder, "evidence");
        await agent.ExportEvidenceAsync(bundle, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1), contents => contents.SessionReceipts.Add(receipt), Token);
        await unitHost.StopAsync(Token);
        var auditor = new TrustStore();
        foreach (PartyIdentity party in new[] { _customer, _vendor, _technician, _unit })
        {
            auditor.Trust(party.PartyId, party.Role, party.PublicKey);
        }

        RemoteSupport.Evidence.EvidenceVerification verified = await RemoteSupport.Evidence.EvidenceVerifier.VerifyAsync(bundle, auditor, Token);

        verified.IsValid.Should().BeTrue(verified.Sentence);
        verified.Artifacts.Select(a => a.Kind).Should().Contain(["trust", "audit-journal", "ledger-journal", "session-receipt"]);
        var withoutTheUnitsKey = new TrustStore();
        withoutTheUnitsKey.Trust("fabrikam", PartyRole.Customer, _customer.PublicKey);
        (await RemoteSupport.Evidence.EvidenceVerifier.VerifyAsync(bundle, withoutTheUnitsKey, Token)).Findings
            .Should().Contain(f => f.Artifact == "manifest.json" && f.Reason == RemoteSupport.Evidence.EvidenceProblem.NotSigned);
    }

    [Fact]
    public async Task TheReleaseCandidatesApprovalUseFile_IsMovedIntoTheAuditJournalOnce()
    {
        string file = Path.Combine(StateFolder, "approval-uses.log");
        Directory.CreateDirectory(StateFolder);
        await File.WriteAllTextAsync(file, "approval-1\napproval-1\napproval-2\napproval-torn", Token);
        for (int run = 1; run <= 2; run++)
        {
            using IHost host = UnitHost();
            await host.StartAsync(Token);
            RemoteSupport.Contract.ContractState contract = host.Services.GetRequiredService<SupportAgentService>().Agent.Contract!;
            contract.UsesOf("approval-1").Should().Be(2);
            contract.UsesOf("approval-2").Should().Be(1);
            contract.UsesOf("approval-torn").Should().Be(0, "a torn last line was never a use");
            await host.StopAsync(Token);
        }

        File.Exists(file).Should().BeFalse();
        File.Exists(file + ".imported").Should().BeTrue();
        (await AuditLog.ReadExportAsync(Path.Combine(StateFolder, "audit.journal"), Token)).Count(e => e.Kind == AuditEventKind.ApprovalUsed).Should().Be(3);
    }

    [Fact]
    public async Task TheUnitSignsCheckpointsOfItsJournals_UnderItsKeyName_AndAVerifierWithTheEnrolledKeyChecksThem()
    {
        using IHost unitHost = UnitHost();
        await unitHost.StartAsync(Token);
        SupportAgentService service = unitHost.Services.GetRequiredService<SupportAgentService>();
        await using (SupportConsoleConnection connection = await Console().ConnectAsync(new TcpDialer(service.BoundEndPoint!), Token))
        {
            await connection.Session.CloseAsync(Token);
        }

        SupportAgent agent = service.Agent;
        string audit = agent.SignAuditCheckpoint();
        string ledger = agent.SignLedgerCheckpoint();
        string auditExport = Path.Combine(_folder, "audit-export.journal");
        string ledgerExport = Path.Combine(_folder, "ledger-export.journal");
        await agent.Audit.Journal.ExportAsync(auditExport, Token);
        await agent.Ledger.Journal.ExportAsync(ledgerExport, Token);

        agent.CheckpointKeyName.Should().Be("fabrikam/unit-7");
        audit.Should().StartWith("fabrikam/unit-7/audit\n");
        ledger.Should().StartWith("fabrikam/unit-7/ledger\n");
        (await RemoteSupport.Journal.JournalVerifier.VerifyAsync(auditExport, audit, "fabrikam/unit-7", _unit.PublicKey, Token)).IsValid.Should().BeTrue();
        (await RemoteSupport.Journal.JournalVerifier.VerifyAsync(ledgerExport, ledger, "fabrikam/unit-7", _unit.PublicKey, Token)).IsValid.Should().BeTrue();
        (await RemoteSupport.Journal.JournalVerifier.VerifyAsync(auditExport, audit, "fabrikam/unit-7", _customer.PublicKey, Token)).IsValid.Should().BeFalse("only the unit's enrolled key verifies");
        await unitHost.StopAsync(Token);
    }

    [Fact]
    public async Task AMisconfiguredAgent_FailsAtHostStart_NamingEachProblem_AndTheSameChecksRunWithoutDI()
    {
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(null);
        builder.Services.AddRemoteSupportAgent(agent => agent.Identity = _technician, host => { });
        using IHost unitHost = builder.Build();

        Exception failure = (await FluentActions.Awaiting(() => unitHost.StartAsync(Token)).Should().ThrowAsync<Exception>()).Which;
        IEnumerable<OptionsValidationException> invalid = failure is AggregateException all
            ? all.InnerExceptions.OfType<OptionsValidationException>()
            : [failure.Should().BeOfType<OptionsValidationException>().Subject];
        string[] failures = invalid.SelectMany(f => f.Failures).ToArray();
        ArgumentException withoutDi = (await FluentActions.Awaiting(() => SupportAgent.OpenAsync(new SupportAgentOptions { Identity = _technician }, Token))
            .Should().ThrowAsync<ArgumentException>()).Which;

        string[] agentProblems = ["UnitId is not set", "CustomerId is not set", "StateFolder is not set", "Identity is contoso/technician", "Trust is not set", "GroundRules is not set"];
        foreach (string problem in agentProblems)
        {
            failures.Should().Contain(f => f.StartsWith(problem, StringComparison.Ordinal));
            withoutDi.Message.Should().Contain(problem, "the same checks run when the agent is opened without DI");
        }

        unitHost.Services.Invoking(s => s.GetRequiredService<IOptions<SupportAgentHostOptions>>().Value).Should().Throw<OptionsValidationException>()
            .Which.Failures.Should().Contain(f => f.StartsWith("Set one of Listen", StringComparison.Ordinal));
        Directory.Exists(StateFolder).Should().BeFalse("nothing was opened");
    }

    [Fact]
    public async Task TheAgentsSettings_BindFromConfiguration_AndCodeGivesTheKeysAndDocuments()
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Agent:UnitId"] = "unit-7",
            ["Agent:CustomerId"] = "fabrikam",
            ["Agent:StateFolder"] = StateFolder,
            ["Agent:DataRoots:finance"] = DataRoot,
            ["Agent:HelloTimeout"] = "00:00:05",
            ["Agent:MaxViewBytes"] = "65536",
            ["Agent:Listen"] = "127.0.0.1:0",
            ["Agent:MaxConnections"] = "8",
        }).Build();
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(null);
        builder.Services.AddRemoteSupportAgent(configuration.GetSection("Agent"), agent => Contract(agent));
        using IHost unitHost = builder.Build();
        await unitHost.StartAsync(Token);

        SupportAgentOptions bound = unitHost.Services.GetRequiredService<IOptions<SupportAgentOptions>>().Value;
        SupportAgentHostOptions host = unitHost.Services.GetRequiredService<IOptions<SupportAgentHostOptions>>().Value;
        (bound.UnitId, bound.CustomerId, bound.StateFolder, bound.HelloTimeout, bound.MaxViewBytes).Should().Be(("unit-7", "fabrikam", StateFolder, TimeSpan.FromSeconds(5), 65536L));
        bound.DataRoots.Should().Equal(new Dictionary<string, string> { ["finance"] = DataRoot });
        bound.Identity.Should().BeSameAs(_unit);
        host.MaxConnections.Should().Be(8);
        await using (SupportConsoleConnection connection = await Console().ConnectAsync(
            new TcpDialer(unitHost.Services.GetRequiredService<SupportAgentService>().BoundEndPoint!), Token))
        {
            (await connection.Session.ViewAsync("finance", "totals.csv", "fabrikam", "ticket 1", Token)).Content.Should().Equal(File.ReadAllBytes(Path.Combine(DataRoot, "totals.csv")));
            await connection.Session.CloseAsync(Token);
        }

        await unitHost.StopAsync(Token);
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    [InlineData("[::1]")]
    public void AListenAddressWithoutAPort_IsRefused(string listen)
    {
        new SupportAgentHostOptions { Listen = listen }.Validate().Should().ContainSingle().Which.Should().Contain("must be address:port");
        new SupportAgentHostOptions { Listen = "[::1]:0" }.Validate().Should().BeEmpty();
    }

    [Fact]
    public async Task StoppingTheHost_LetsTheSessionInProgressEnd_ThenClosesTheJournals()
    {
        using IHost unitHost = UnitHost(agent => agent.Diagnostics["disk"] = _ => Task.FromResult("disk: 93% used"));
        await unitHost.StartAsync(Token);
        SupportAgentService service = unitHost.Services.GetRequiredService<SupportAgentService>();
        var ended = new TaskCompletionSource<SupportSessionEnded>(TaskCreationOptions.RunContinuationsAsynchronously);
        service.SessionEnded += e => ended.TrySetResult(e);
        Task stopping;
        SessionReceipt receipt;
        await using (SupportConsoleConnection connection = await Console().ConnectAsync(new TcpDialer(service.BoundEndPoint!), Token))
        {
            stopping = unitHost.StopAsync(Token);
            await Task.Delay(200, Token); // the stop is under way while the session still runs
            stopping.IsCompleted.Should().BeFalse("the host waits for the session in progress");
            (await connection.Session.RunDiagnosticAsync("disk", cancellationToken: Token)).Output.Should().Be("disk: 93% used", "the session goes on during the stop");
            receipt = SessionReceipt.FromEnvelope(await connection.Session.CloseAsync(Token));
        }

        await stopping.WaitAsync(Token);

        receipt.Ending.Should().Be("closed", "the session ended on its own, not cut off");
        (await ended.Task.WaitAsync(Token)).Receipt.Should().NotBeNull();
        await using RemoteSupport.Journal.AppendOnlyJournal reopened = await RemoteSupport.Journal.AppendOnlyJournal.OpenAsync(Path.Combine(StateFolder, "ledger.journal"), Token);
        reopened.Count.Should().Be(2, "the session was metered before the journals closed");
    }

    [Fact]
    public async Task AnAgentThatDialsOut_ReachesTheConsole_WhichOpensTheSession()
    {
        await using TcpConnectionListener consoleListener = TcpConnectionListener.Listen(new IPEndPoint(IPAddress.Loopback, 0));
        using IHost unitHost = UnitHost(host: host => host.DialOut = consoleListener.BoundEndPoint.ToString());
        await unitHost.StartAsync(Token);

        TransportConnection line = (await consoleListener.AcceptAsync(Token))!;
        await using (SupportConsoleConnection connection = await Console().AcceptAsync(line, Token))
        {
            connection.Session.UnitId.Should().Be("unit-7");
            (await connection.Session.ViewAsync("finance", "totals.csv", "fabrikam", "ticket 1", Token)).Succeeded.Should().BeTrue();
            await connection.Session.CloseAsync(Token);
        }

        await unitHost.StopAsync(Token);
    }

    [Fact]
    public async Task AnAgentThatDialsOut_ReportsAConsoleThatClosesAfterItsHandshake_AsNoSession()
    {
        await using TcpConnectionListener consoleListener = TcpConnectionListener.Listen(new IPEndPoint(IPAddress.Loopback, 0));
        using IHost unitHost = UnitHost(host: host => host.DialOut = consoleListener.BoundEndPoint.ToString());
        await unitHost.StartAsync(Token);
        var ended = new TaskCompletionSource<SupportSessionEnded>(TaskCreationOptions.RunContinuationsAsynchronously);
        unitHost.Services.GetRequiredService<SupportAgentService>().SessionEnded += e => ended.TrySetResult(e);

        TransportConnection line = (await consoleListener.AcceptAsync(Token))!;
        (_, MultiplexedConnection channels) = await Console().Options.ConnectAsync(line, initiator: false, Token);
        await channels.DisposeAsync(); // the handshake is done; the console opens no session
        SupportSessionEnded end = await ended.Task.WaitAsync(Token);
        await unitHost.StopAsync(Token);

        end.Receipt.Should().BeNull();
        end.Failure.Should().BeOfType<SessionProtocolException>().Which.Code.Should().Be("no-session");
    }

    [Fact]
    public async Task ADocumentTheOptionsGive_ThatIsRefused_FailsTheStartWithItsSentence()
    {
        using var stranger = PartyIdentity.Create("fabrikam", PartyRole.Customer);
        SignedEnvelope forged = new ServiceAuthorization
        {
            AuthorizationId = "auth-2", CustomerId = "fabrikam", VendorId = "contoso", Units = ["unit-7"], VendorKeys = [_technician.PublicKey.ToString()],
            GroundRulesHash = SecurityGroundRules.DocumentHash(_rules), ValidFrom = DateTimeOffset.UtcNow, ValidUntil = DateTimeOffset.UtcNow.AddDays(1),
        }.ToEnvelope().Sign(stranger);
        using IHost unitHost = UnitHost(agent => agent.Authorizations.Add(forged));

        InvalidOperationException refused = (await FluentActions.Awaiting(() => unitHost.StartAsync(Token)).Should().ThrowAsync<InvalidOperationException>()).Which;

        refused.Message.Should().Contain("authorization given in the agent's options was refused (NotSigned)");
    }

    [Fact]
    public void AConsole_WithoutItsKeyTrustOrCustomers_IsRefusedNamingEach()
    {
        FluentActions.Invoking(() => new SupportConsole(new SupportConsoleOptions { Identity = _vendor }))
            .Should().Throw<ArgumentException>()
            .Which.Message.Should().Contain("Identity is a vendor key").And.Contain("Trust is not set").And.Contain("Customers is empty");
    }

    private SupportConsole Console(SignedEnvelope? specification = null)
    {
        var trust = new TrustStore();
        trust.Trust("fabrikam", PartyRole.Unit, _unit.PublicKey);
        var services = new ServiceCollection().AddRemoteSupportConsole(console =>
        {
            console.Identity = _technician;
            console.Trust = trust;
            console.Customers.Add("fabrikam");
            console.CompatibilitySpecification = specification;
        });
        return services.BuildServiceProvider().GetRequiredService<SupportConsole>();
    }

    private IHost UnitHost(Action<SupportAgentOptions>? more = null, Action<SupportAgentHostOptions>? host = null)
    {
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(null);
        builder.Services.AddRemoteSupportAgent(
            agent =>
            {
                agent.UnitId = "unit-7";
                agent.CustomerId = "fabrikam";
                agent.StateFolder = StateFolder;
                agent.DataRoots["finance"] = DataRoot;
                Contract(agent);
                more?.Invoke(agent);
            },
            host ?? (h => h.Listen = "127.0.0.1:0"));
        return builder.Build();
    }

    private void Contract(SupportAgentOptions agent)
    {
        agent.Identity = _unit;
        agent.Trust = _unitTrust;
        agent.GroundRules = _rules;
        agent.Authorizations.Add(_authorization);
    }
}
