// RemoteSupport demo: one whole support session over TCP on loopback, as the contract describes it.
// A customer authorizes a vendor, both sign the security ground rules, the vendor's technician views and
// then changes a data file (the customer's approver signs each), pushes a signed fix, and closes the
// session; the unit meters it, signs a receipt, and the demo prints the monthly statement and verifies
// the audit journal.
using System.Net;
using System.Text;
using Microsoft.Extensions.Options;
using RemoteSupport.Audit;
using RemoteSupport.Authorization;
using RemoteSupport.Consent;
using RemoteSupport.DataFiles;
using RemoteSupport.Documents;
using RemoteSupport.Evidence;
using RemoteSupport.Fixes;
using RemoteSupport.GroundRules;
using RemoteSupport.Identities;
using RemoteSupport.Journal;
using RemoteSupport.Ledger;
using RemoteSupport.Sessions;
using RemoteSupport.Transport.Security;
using RemoteSupport.Transport.Sessions;
using RemoteSupport.Transport.Transports;
using RemoteSupport.Trust;

string folder = Path.Combine(Path.GetTempPath(), "remotesupport-demo-" + Guid.NewGuid().ToString("N")[..8]);
Directory.CreateDirectory(folder);
var clock = new DemoClock(new DateTimeOffset(2026, 11, 25, 10, 0, 0, TimeSpan.FromHours(1))); // a Wednesday, 10:00 in Berlin
try
{
    Console.WriteLine("The contract's clock is simulated: it starts on Wednesday 2026-11-25, 10:00 in Berlin, and moves only where a step says.");
    Step("1. The parties and their keys");
    using PartyIdentity vendor = PartyIdentity.Create("contoso", PartyRole.Vendor);
    using PartyIdentity technician = PartyIdentity.Create("contoso", PartyRole.Technician);
    using PartyIdentity release1 = PartyIdentity.Create("contoso", PartyRole.Vendor);
    using PartyIdentity release2 = PartyIdentity.Create("contoso", PartyRole.Vendor);
    using PartyIdentity customer = PartyIdentity.Create("fabrikam", PartyRole.Customer);
    using PartyIdentity approver = PartyIdentity.Create("fabrikam", PartyRole.Approver);
    using PartyIdentity unit = PartyIdentity.Create("fabrikam", PartyRole.Unit);
    Say($"vendor contoso:    fingerprint {vendor.PublicKey.Fingerprint}");
    Say($"customer fabrikam: fingerprint {customer.PublicKey.Fingerprint}");
    Say($"key ids: technician {technician.PublicKey.KeyId}, approver (IT) {approver.PublicKey.KeyId}, unit-7 {unit.PublicKey.KeyId}");
    var trust = new TrustStore(clock); // what the unit trusts
    trust.Trust("contoso", PartyRole.Vendor, vendor.PublicKey);
    trust.Trust("contoso", PartyRole.Technician, technician.PublicKey);
    trust.Trust("fabrikam", PartyRole.Customer, customer.PublicKey);
    trust.Trust("fabrikam", PartyRole.Approver, approver.PublicKey);

    var scriptedApprover = new ScriptedApprover(approver, clock);

    Step("2. Both parties sign the security ground rules; the customer authorizes the vendor");
    var it = new ApprovalRequirement([new ApproverGroup("IT", "fabrikam", PartyRole.Approver, null, 1)]);
    var rules = new SecurityGroundRules
    {
        Version = 1, CustomerId = "fabrikam", VendorId = "contoso", TimeZone = "Europe/Berlin",
        Operations =
        [
            new OperationRule(SupportOperation.ViewData, true, it),
            new OperationRule(SupportOperation.ChangeData, true, it),
            new OperationRule(SupportOperation.InstallFix, true, it),
            new OperationRule(SupportOperation.RunDiagnostic, true, null),
        ],
        MaxApprovalLifetimeSeconds = 3600,
        DataScopes = [new DataScope("finance", ["ledger/**"], "fabrikam")],
        Hours = new ServiceHours([DayOfWeek.Monday, DayOfWeek.Tuesday, DayOfWeek.Wednesday, DayOfWeek.Thursday, DayOfWeek.Friday], "08:00", "18:00"),
        MaxSessionMinutes = 120,
        TollCharges = new TollChargePolicy("EUR", SetupFeeMinor: 500, PerMinuteMinor: 120, BillingIncrementSeconds: 60, MinimumMinor: 500,
            SessionCapMinor: 20_000, MonthlyCapMinor: 100_000, ApprovalThresholdMinor: 10_000),
    };
    SignedEnvelope groundRules = rules.ToEnvelope().Sign(customer).Sign(vendor);
    SignedEnvelope authorization = new ServiceAuthorization
    {
        AuthorizationId = "auth-2026-11", CustomerId = "fabrikam", VendorId = "contoso",
        VendorKeys = [technician.PublicKey.ToString()], Units = ["unit-7"],
        ValidFrom = clock.GetUtcNow().AddDays(-1), ValidUntil = clock.GetUtcNow().AddDays(30), GroundRulesHash = SecurityGroundRules.DocumentHash(groundRules),
    }.ToEnvelope().Sign(customer);
    Say($"ground rules version 1, signed by fabrikam and contoso, hash {Short(SecurityGroundRules.DocumentHash(groundRules))}");
    Say("authorization auth-2026-11, signed by fabrikam: contoso's technician may support unit-7 for 30 days");

    Step("3. Unit-7 starts its agent on TCP loopback; its durable state lives in one folder");
    string dataRoot = Path.Combine(folder, "finance");
    Directory.CreateDirectory(Path.Combine(dataRoot, "ledger"));
    await File.WriteAllTextAsync(Path.Combine(dataRoot, "ledger", "2026.csv"), "account,amount\n4711,12.50\n");
    string installRoot = Path.Combine(folder, "ledger-app");
    Directory.CreateDirectory(Path.Combine(installRoot, "bin"));
    await File.WriteAllTextAsync(Path.Combine(installRoot, "bin", "app.dll"), "ledger 2.3.0");
    var agentOptions = new SupportAgentOptions
    {
        UnitId = "unit-7", CustomerId = "fabrikam", StateFolder = Path.Combine(folder, "unit-7-state"),
        Identity = unit, Trust = trust, GroundRules = groundRules, Authorizations = { authorization },
        DataRoots = { ["finance"] = dataRoot }, ApprovalPrompt = scriptedApprover, TimeProvider = clock,
        Diagnostics = { ["disk"] = _ => Task.FromResult("disk /srv: 93% used, 4.1 GB free") },
        Fixes =
        {
            InstallRoot = installRoot, Product = "ledger", InstalledVersion = "2.3.0",
            VendorRoot = new VendorRoot
            {
                VendorId = "contoso", Version = 1, Expires = clock.GetUtcNow().AddYears(1), Threshold = 2,
                ReleaseKeys = [release1.PublicKey.ToString(), release2.PublicKey.ToString()],
            }.ToEnvelope().Sign(release1).Sign(release2),
        },
    };
    await using var agentService = new SupportAgentService(Options.Create(agentOptions), Options.Create(new SupportAgentHostOptions { Listen = "127.0.0.1:0" }));
    var sessionDone = new TaskCompletionSource<SignedEnvelope?>(TaskCreationOptions.RunContinuationsAsynchronously);
    agentService.SessionEnded += ended => sessionDone.TrySetResult(ended.Receipt);
    await agentService.StartAsync(CancellationToken.None);
    SupportAgent agent = agentService.Agent;
    Say($"listening on tcp://{agentService.BoundEndPoint}; state in {Path.GetFileName(agentOptions.StateFolder)}/ (audit with the contract state, ledger, fix work, inbox)");

    Step("4. The technician connects (Noise handshake, both identities proven) and opens a session");
    var consoleTrust = new TrustStore();
    consoleTrust.Trust("fabrikam", PartyRole.Unit, unit.PublicKey);
    SignedEnvelope sessionReceipt;
    SignedEnvelope? installReceipt;
    bool operationsAsExpected;
    await using (SupportConsoleConnection console = await new SupportConsole(new SupportConsoleOptions { Identity = technician, Trust = consoleTrust, Customers = { "fabrikam" } })
        .ConnectAsync(new TcpDialer(agentService.BoundEndPoint!)))
    {
        SupportSession session = console.Session;
        session.ApprovalPending = text =>
        {
            Say("waiting for the customer's approver, who reads:");
            Block(text, "      | ");
        };
        Say($"session {session.SessionId} with {session.UnitId} ({console.Secure.ProtocolName}), protocol version {session.Version}");

        Step("5. View a data file (needs the customer's written approval)");
        DataFileViewResult view = await session.ViewAsync("finance", "ledger/2026.csv", "fabrikam", "ticket 4711: totals look wrong");
        Say($"{Outcome(view)}; sha256 {Short(view.Hash)}:");
        Block(Encoding.UTF8.GetString(view.Content ?? []), "      ");

        Step("6. Change it (approval again: viewing never allows changing)");
        DataFileChangeResult change = await session.ChangeAsync("finance", "ledger/2026.csv", "fabrikam", "account,amount\n4711,21.50\n"u8.ToArray(), "ticket 4711: correct the total");
        Say($"{Outcome(change)}; sha256 {Short(change.HashBefore)} -> {Short(change.HashAfter)}");
        DataFileViewResult outside = await session.ViewAsync("finance", "../payroll/salaries.csv", "fabrikam", "curious");
        Say($"a path outside the scope: {Outcome(outside)}");

        Step("7. Run a diagnostic, push a signed fix");
        Say((await session.RunDiagnosticAsync("disk")).Output ?? string.Empty);
        string package = await BuildFixAsync(folder, clock, release1, release2);
        FixPushResult fix = await session.PushFixAsync(package, "ticket 4711: rounding fix");
        installReceipt = fix.InstallReceipt;
        InstallReceipt installed = InstallReceipt.FromEnvelope(fix.InstallReceipt!);
        Say($"{Outcome(fix)}; ledger {installed.Version} {installed.Outcome}, package {Short(installed.PackageHash)}; unit-7 now runs '{await File.ReadAllTextAsync(Path.Combine(installRoot, "bin", "app.dll"))}'");

        Step("8. Close the session after 23 minutes: the unit meters it and signs a receipt");
        clock.Advance(TimeSpan.FromMinutes(23));
        sessionReceipt = await session.CloseAsync();
        operationsAsExpected = view.Succeeded && change.Succeeded && !outside.Succeeded && fix.Succeeded;
    }

    var unitKeys = new TrustStore(clock);
    unitKeys.Trust("fabrikam", PartyRole.Unit, unit.PublicKey);
    VerificationResult receiptCheck = unitKeys.Verify(sessionReceipt, new SignaturePolicy(SessionReceipt.DocumentType, new SignatureRequirement("fabrikam", PartyRole.Unit)));
    SessionReceipt receipt = SessionReceipt.FromEnvelope(sessionReceipt);
    Say($"receipt signed by unit-7: {receiptCheck.IsValid}; {receipt.Ending} after {(receipt.ClosedAt - receipt.OpenedAt).TotalMinutes:0} min");
    foreach (SessionOperation operation in receipt.Operations)
    {
        Say($"   {operation.Operation,-13} {operation.Target,-28} {(operation.Succeeded ? "done" : operation.Code)}");
    }

    Say($"   {receipt.Charges.Count} charges metered into the ledger; the statement below lists them");

    await sessionDone.Task;

    Step("9. December 1st: the vendor issues November's itemized statement");
    clock.Set(new DateTimeOffset(2026, 12, 1, 9, 0, 0, TimeSpan.FromHours(1)));
    await using AppendOnlyJournal statementJournal = await AppendOnlyJournal.OpenAsync(Path.Combine(folder, "contoso-statements.journal"));
    using StatementIssuer issuer = await StatementIssuer.OpenAsync(statementJournal, clock);
    string ledgerCheckpoint = new Checkpoint("fabrikam.example/unit-7/ledger", agent.Ledger.Journal.Count, agent.Ledger.Journal.Root()).Sign("contoso-billing", vendor);
    SignedEnvelope statement = await issuer.IssueAsync(agent.Ledger, "fabrikam", 2026, 11, "Europe/Berlin", ledgerCheckpoint, vendor);
    Block(MonthlyStatement.FromEnvelope(statement).ToText(), "   ");

    Step("10. The customer verifies the unit's audit journal");
    string export = Path.Combine(folder, "audit-export.journal");
    IRecordJournal auditJournal = agent.Audit.Journal;
    string note = agent.SignAuditCheckpoint(); // the unit's key, under fabrikam/unit-7

    await auditJournal.ExportAsync(export);
    JournalVerification verified = await JournalVerifier.VerifyAsync(export, note, agent.CheckpointKeyName, unit.PublicKey);
    Say($"{verified.RecordCount} records: {verified.Sentence}");
    foreach (AuditEvent e in await AuditLog.ReadExportAsync(export))
    {
        Say($"   {e.At:HH:mm:ss} {e.Kind,-20} {Describe(e)}");
    }

    Step("11. The customer revokes the authorization; the unit restarts and its word sticks");
    var revocation = new AuthorizationRevocation { AuthorizationId = "auth-2026-11", CustomerId = "fabrikam", Reason = "contract ended" };
    Say((await agent.AcceptAsync(revocation.ToEnvelope().Sign(customer))).Sentence + " (journaled before it took effect)");
    string checkpointAtIssue = await issuer.SignCheckpointAsync("contoso/statements", "contoso-billing", vendor);
    await agentService.StopAsync(CancellationToken.None);
    await using var restarted = new SupportAgentService(Options.Create(agentOptions), Options.Create(new SupportAgentHostOptions { Listen = "127.0.0.1:0" }));
    await restarted.StartAsync(CancellationToken.None); // the options still offer auth-2026-11
    AuthorizationCheck afterRestart = restarted.Agent.Authorizations.Check("contoso", technician.PublicKey, "unit-7", restarted.Agent.GroundRules.CurrentHash);
    Say($"after the restart: {afterRestart.Reason}: {afterRestart.Sentence}");

    Step("12. The customer's auditor receives November's evidence bundle and verifies it offline");
    string bundle = Path.Combine(folder, "evidence-2026-11");
    await restarted.Agent.ExportEvidenceAsync(bundle, MonthlyStatement.FromEnvelope(statement).PeriodStart, MonthlyStatement.FromEnvelope(statement).PeriodEnd, contents =>
    {
        contents.Statements.Add(new EvidenceStatement(statement, MonthlyStatement.FromEnvelope(statement).ToCsv()));
        contents.StatementJournal = new EvidenceJournal(statementJournal, checkpointAtIssue);
        contents.SessionReceipts.Add(sessionReceipt);
        contents.InstallReceipts.Add(installReceipt!);
        foreach (SignedEnvelope signedApproval in scriptedApprover.Signed)
        {
            contents.Approvals.Add(signedApproval);
        }
    });
    var auditorTrust = new TrustStore(clock); // the keys the customer enrolled, nothing the bundle says
    foreach (PartyIdentity party in new[] { customer, vendor, technician, approver, unit })
    {
        auditorTrust.Trust(party.PartyId, party.Role, party.PublicKey);
    }

    EvidenceVerification evidence = await EvidenceVerifier.VerifyAsync(bundle, auditorTrust);
    Say(evidence.Sentence);
    string csv = Directory.GetFiles(Path.Combine(bundle, "statements"), "*.csv").Single();
    await File.WriteAllTextAsync(csv, (await File.ReadAllTextAsync(csv)).Replace("5.00", "0.50", StringComparison.Ordinal));
    EvidenceVerification tampered = await EvidenceVerifier.VerifyAsync(bundle, auditorTrust);
    Say($"a statement line edited in the bundle: {tampered.Findings[0].Artifact}: {tampered.Findings[0].Reason}");
    await restarted.StopAsync(CancellationToken.None);

    bool ok = receiptCheck.IsValid && operationsAsExpected && verified.IsValid
        && afterRestart.Reason == AuthorizationFailure.Revoked && evidence.IsValid && !tampered.IsValid;
    Console.WriteLine();
    Console.WriteLine(ok ? "Demo complete: every step behaved as the contract requires." : "Demo FAILED: a step did not behave as expected.");
    return ok ? 0 : 1;
}
finally
{
    Directory.Delete(folder, recursive: true);
}

static void Step(string title)
{
    Console.WriteLine();
    Console.WriteLine("== " + title);
}

static void Say(string text) => Console.WriteLine("   " + text);

static void Block(string text, string prefix) => Console.WriteLine(Indent(text, prefix));

static string Short(string? hash) => hash is null ? "(none)" : hash[..12];

static string Outcome(SessionOperationResult result) => result.Succeeded ? "granted and done" : $"refused ({result.Code}): {result.Sentence}";

static string Indent(string text, string prefix = "   ") => string.Join('\n', text.TrimEnd().Split('\n').Select(line => prefix + line));

static string Describe(AuditEvent e) => string.Join(", ", e.Details
    .Where(d => (d.Key is "outcome" or "reason" or "operation" or "path" or "ending" or "kind" or "result" or "approval-id"
        || (e.Kind == AuditEventKind.DocumentAccepted && d.Key == "sentence")) && d.Value.Length > 0)
    .Select(d => $"{d.Key}={d.Value}"));

static async Task<string> BuildFixAsync(string folder, TimeProvider clock, PartyIdentity release1, PartyIdentity release2)
{
    string source = Path.Combine(folder, "fix-source");
    Directory.CreateDirectory(Path.Combine(source, "bin"));
    await File.WriteAllTextAsync(Path.Combine(source, "bin", "app.dll"), "ledger 2.4.0");
    string package = Path.Combine(folder, "ledger-2.4.0.rsfix");
    await FixPackage.BuildAsync(source, new FixManifest
    {
        PackageId = "ledger-fix-2.4.0", Product = "ledger", Version = "2.4.0",
        AppliesTo = new FixTarget("ledger", "2.0.0", "3.0.0", ["*"], null, null),
        CreatedAt = clock.GetUtcNow(), ExpiresAt = clock.GetUtcNow().AddDays(30), ReleaseNotes = "Totals are rounded correctly.", Files = [],
    }, [release1, release2], package);
    return package;
}

/// <summary>The customer's approver, scripted for the demo: reads the request and signs exactly it.</summary>
internal sealed class ScriptedApprover(PartyIdentity approver, TimeProvider clock) : IApprovalPrompt
{
    /// <summary>Gets the approvals signed so far: the customer keeps them (they go into the evidence bundle).</summary>
    public List<SignedEnvelope> Signed { get; } = [];

    public ValueTask<SignedEnvelope?> RequestApprovalAsync(ApprovalRequest request, CancellationToken cancellationToken = default)
    {
        SignedEnvelope signed = Approval.For(request, clock.GetUtcNow()).ToEnvelope().Sign(approver);
        Signed.Add(signed);
        return ValueTask.FromResult<SignedEnvelope?>(signed);
    }
}

/// <summary>The contract's clock, moved by the demo (a month passes in seconds); timers run on real time.</summary>
internal sealed class DemoClock(DateTimeOffset start) : TimeProvider
{
    private readonly object _gate = new();
    private DateTimeOffset _now = start;

    public override DateTimeOffset GetUtcNow()
    {
        lock (_gate)
        {
            return _now.ToUniversalTime();
        }
    }

    public void Advance(TimeSpan by)
    {
        lock (_gate)
        {
            _now += by;
        }
    }

    public void Set(DateTimeOffset now)
    {
        lock (_gate)
        {
            _now = now;
        }
    }
}
