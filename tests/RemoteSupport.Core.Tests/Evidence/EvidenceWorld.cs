using RemoteSupport.Audit;
using RemoteSupport.Consent;
using RemoteSupport.Contract;
using RemoteSupport.Documents;
using RemoteSupport.Evidence;
using RemoteSupport.Fixes;
using RemoteSupport.Identities;
using RemoteSupport.Journal;
using RemoteSupport.Ledger;
using RemoteSupport.Sessions;
using RemoteSupport.Tests.Consent;
using RemoteSupport.Trust;

namespace RemoteSupport.Tests.Evidence;

/// <summary>
/// A unit's October on real journals: the contract accepted, a key revoked, a view granted under an approval, a session
/// closed with its receipt, a fix installed with its receipt, charges metered, and the vendor's October statement issued.
/// </summary>
internal sealed class EvidenceWorld : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _journals = [];

    private EvidenceWorld(ConsentFixture fixture, TemporaryFolder folder)
    {
        F = fixture;
        Folder = folder;
    }

    public ConsentFixture F { get; }

    public TemporaryFolder Folder { get; }

    public PartyIdentity Unit { get; } = PartyIdentity.Create("fabrikam", PartyRole.Unit);

    public EvidenceContents Contents { get; private set; } = null!;

    public string Bundle => Folder.File("bundle");

    /// <summary>The auditor's trust: the keys the customer enrolled, nothing the unit says.</summary>
    public TrustStore AuditorTrust { get; private set; } = null!;

    public static async Task<EvidenceWorld> CreateAsync()
    {
        var world = new EvidenceWorld(new ConsentFixture(new DateTimeOffset(2026, 10, 14, 9, 0, 0, TimeSpan.Zero)), new TemporaryFolder());
        await world.LiveOctoberAsync();
        return world;
    }

    public Task<SignedEnvelope> WriteAsync() => EvidenceBundle.WriteAsync(Bundle, Contents, Unit, F.Time);

    /// <summary>Seals the bundle folder again as it now is, with <paramref name="signer"/> (the unit when null): what a lying exporter does.</summary>
    public Task<SignedEnvelope> ResealAsync(PartyIdentity? signer = null) =>
        EvidenceBundle.SealAsync(Bundle, "fabrikam", ConsentFixture.Unit, "contoso", Contents.From, Contents.Until, signer ?? Unit, F.Time, default);

    public Task<EvidenceVerification> VerifyAsync() => EvidenceVerifier.VerifyAsync(Bundle, AuditorTrust);

    public string UnitCheckpoint(string log, IReadOnlyList<byte[]> records) =>
        new Checkpoint($"fabrikam/{ConsentFixture.Unit}/{log}", records.Count, MerkleTree.Root([.. records.Select(r => MerkleTree.LeafHash(r))], records.Count))
            .Sign($"fabrikam/{ConsentFixture.Unit}", Unit);

    public async ValueTask DisposeAsync()
    {
        foreach (IAsyncDisposable journal in _journals)
        {
            await journal.DisposeAsync();
        }

        Unit.Dispose();
        F.Dispose();
        Folder.Dispose();
    }

    private async Task LiveOctoberAsync()
    {
        var trust = new TrustStore(F.Time);
        AuditorTrust = new TrustStore(F.Time);
        foreach (TrustStore store in new[] { trust, AuditorTrust })
        {
            store.Trust("fabrikam", PartyRole.Customer, F.Customer.PublicKey);
            store.Trust("contoso", PartyRole.Vendor, F.Vendor.PublicKey);
            store.Trust("contoso", PartyRole.Technician, F.Technician.PublicKey);
            store.Trust("fabrikam", PartyRole.Approver, 1, [F.ItApprover.PublicKey, F.OwnerApprover.PublicKey]);
            store.Trust("fabrikam", PartyRole.Unit, Unit.PublicKey);
        }

        AppendOnlyJournal auditJournal = await Open("audit.journal");
        var audit = new AuditLog(auditJournal, F.Time);
        var contract = await ContractState.OpenAsync(audit, trust, "fabrikam", F.Time);
        (await contract.AcceptAsync(F.Rules.ToEnvelope().Sign(F.Customer).Sign(F.Vendor))).IsAccepted.Should().BeTrue();
        (await contract.AcceptAsync(F.AuthorizationFor(contract.GroundRules.CurrentHash!).ToEnvelope().Sign(F.Customer))).IsAccepted.Should().BeTrue();
        (await contract.RevokeKeyAsync(F.OwnerApprover.PublicKey, "left the company")).Should().BeTrue();
        AppendOnlyJournal ledgerJournal = await Open("ledger.journal");
        ChargeLedger ledger = await ChargeLedger.OpenAsync(ledgerJournal, contract.GroundRules, F.Time);
        await contract.AttachLedgerAsync(ledger);

        // A view under the IT approver's signed approval.
        ConsentRequest request = F.Request();
        SignedEnvelope approval = F.Approve(request, [F.ItApprover]);
        ConsentDecision decision = await new ConsentGate(trust, contract.Authorizations, contract.GroundRules, contract, audit, F.Time).DecideAsync(request, [approval]);
        decision.IsGranted.Should().BeTrue(decision.Sentence);

        // Charges, audited first and linked both ways.
        foreach ((string key, ChargeKind kind, long amount) in new[] { ("session-1/setup", ChargeKind.CallSetup, 500L), ("session-1/connect", ChargeKind.ConnectTime, 720L) })
        {
            long record = await audit.RecordAsync(AuditEvents.ChargeRecorded(F.Time.GetUtcNow(), ConsentFixture.Session, key, kind, amount, "EUR"));
            await ledger.RecordAsync(new ChargeRequest
            {
                IdempotencyKey = key, CustomerId = "fabrikam", UnitId = ConsentFixture.Unit, SessionId = ConsentFixture.Session, Kind = kind,
                Quantity = 1, QuantityUnit = "call", Rate = amount, AmountMinor = amount, Currency = "EUR", IncurredAt = F.Time.GetUtcNow(),
                Description = kind.ToString(), AuditRecord = record,
            });
        }

        // A fix installed and the session closed, each with the unit's signed receipt in the audit journal.
        var install = new InstallReceipt { SessionId = ConsentFixture.Session, Outcome = InstallResult.Installed, Reason = "installed", At = F.Time.GetUtcNow(), PackageId = "ledger-fix-2.4.0", Version = "2.4.0" };
        SignedEnvelope installReceipt = SignedEnvelope.Create(InstallReceipt.DocumentType, DocumentJson.Serialize(install)).Sign(Unit);
        await audit.RecordAsync(AuditEvents.FixReceipt(install, installReceipt, Unit.PublicKey.KeyId));
        SignedEnvelope sessionReceipt = SessionReceiptFor(ConsentFixture.Session).ToEnvelope().Sign(Unit);
        await audit.RecordAsync(AuditEvents.SessionClosed(F.Time.GetUtcNow(), ConsentFixture.Session, "contoso/" + F.Technician.PublicKey.KeyId, "closed", 1, DocumentJson.Hash(sessionReceipt.Payload.Span)));

        // November 2: the vendor issues October's statement over the ledger, and checkpoints its issued statements.
        F.Time.SetUtcNow(new DateTimeOffset(2026, 11, 2, 9, 0, 0, TimeSpan.Zero));
        AppendOnlyJournal statementsJournal = await Open("statements.journal");
        using StatementIssuer issuer = await StatementIssuer.OpenAsync(statementsJournal, F.Time);
        string ledgerCheckpoint = new Checkpoint("contoso/ledger/fabrikam", ledgerJournal.Count, ledgerJournal.Root(ledgerJournal.Count)).Sign("contoso/billing", F.Vendor);
        SignedEnvelope statement = await issuer.IssueAsync(ledger, "fabrikam", 2026, 10, "Europe/Berlin", ledgerCheckpoint, F.Vendor);

        Contents = new EvidenceContents
        {
            CustomerId = "fabrikam",
            UnitId = ConsentFixture.Unit,
            VendorId = "contoso",
            From = new DateTimeOffset(2026, 9, 30, 22, 0, 0, TimeSpan.Zero),
            Until = new DateTimeOffset(2026, 10, 31, 23, 0, 0, TimeSpan.Zero),
            Trust = trust,
            Audit = new EvidenceJournal(auditJournal, UnitCheckpoint("audit", await RecordsAsync(auditJournal))),
            Ledger = new EvidenceJournal(ledgerJournal, UnitCheckpoint("ledger", await RecordsAsync(ledgerJournal))),
            StatementJournal = new EvidenceJournal(statementsJournal, await issuer.SignCheckpointAsync("contoso/statements", "contoso/billing", F.Vendor)),
        };
        Contents.Statements.Add(new EvidenceStatement(statement, MonthlyStatement.FromEnvelope(statement).ToCsv()));
        Contents.SessionReceipts.Add(sessionReceipt);
        Contents.InstallReceipts.Add(installReceipt);
        Contents.Approvals.Add(approval);
    }

    public SessionReceipt SessionReceiptFor(string sessionId) => new()
    {
        SessionId = sessionId, UnitId = ConsentFixture.Unit, CustomerId = "fabrikam", VendorId = "contoso", TechnicianKeyId = F.Technician.PublicKey.KeyId,
        OpenedAt = F.Time.GetUtcNow().AddMinutes(-5), ClosedAt = F.Time.GetUtcNow(), Ending = "closed", Operations = [], Charges = [],
    };

    private static async Task<List<byte[]>> RecordsAsync(IRecordJournal journal)
    {
        var records = new List<byte[]>();
        for (long i = 0; i < journal.Count; i++)
        {
            records.Add(await journal.ReadAsync(i));
        }

        return records;
    }

    private async Task<AppendOnlyJournal> Open(string name)
    {
        AppendOnlyJournal journal = await AppendOnlyJournal.OpenAsync(Folder.File(name));
        _journals.Add(journal);
        return journal;
    }
}
