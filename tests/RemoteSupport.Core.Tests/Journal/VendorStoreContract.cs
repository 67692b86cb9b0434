using RemoteSupport.Documents;
using RemoteSupport.Fixes;
using RemoteSupport.Identities;
using RemoteSupport.Journal;
using RemoteSupport.Ledger;
using RemoteSupport.Sessions;
using RemoteSupport.Tests.Consent;
using RemoteSupport.Tests.Ledger;

namespace RemoteSupport.Tests.Journal;

/// <summary>What a contract suite runs on: a backing (a folder, a database) that stores are opened over.</summary>
public interface IStoreBacking : IAsyncDisposable
{
    /// <summary>Creates the backing, empty.</summary>
    Task InitializeAsync();

    /// <summary>Opens a store over the backing; a store opened after an earlier one was disposed is a restart.</summary>
    IRecordJournalStore OpenStore();
}

/// <summary>
/// The vendor's stores' contract: named journals, the receipt archive and the books on them. The file store passes it
/// in the Core tests, the PostgreSQL store in its own test project (this file is linked there): one suite, two stores.
/// </summary>
public abstract class VendorStoreContract<TBacking> : IAsyncLifetime
    where TBacking : IStoreBacking, new()
{
    private readonly ConsentFixture _f = new();
    private readonly PartyIdentity _unit = PartyIdentity.Create("fabrikam", PartyRole.Unit);

    protected VendorStoreContract() => _f.Trust.Trust("fabrikam", PartyRole.Unit, _unit.PublicKey);

    protected TBacking Backing { get; } = new();

    public Task InitializeAsync() => Backing.InitializeAsync();

    public async Task DisposeAsync()
    {
        _unit.Dispose();
        _f.Dispose();
        await Backing.DisposeAsync();
    }

    [StoreFact]
    public async Task AName_OpensOneJournal_OtherNamesOthers_AndBadNamesAreRefused()
    {
        IRecordJournalStore store = Backing.OpenStore();
        IRecordJournal ledger = await store.OpenJournalAsync("ledger/fabrikam");
        (await store.OpenJournalAsync("ledger/fabrikam")).Should().BeSameAs(ledger, "one name is one journal in a process");
        IRecordJournal other = await store.OpenJournalAsync("ledger/northwind");
        await ledger.AppendAsync("a"u8.ToArray());

        other.Count.Should().Be(0);
        foreach (string bad in new[] { "", "/ledger", "ledger/", "ledger//x", "ledger/../x", "./x", "ledger/fab rikam", "ledger\\x", "lédger", new string('a', JournalName.MaxLength + 1) })
        {
            Func<Task> open = () => store.OpenJournalAsync(bad);
            (await open.Should().ThrowAsync<ArgumentException>($"'{bad}' is not a journal name")).Which.Message.Should().Contain("not a journal name");
        }

        await store.DisposeAsync();
        Func<Task> afterDispose = () => store.OpenJournalAsync("ledger/fabrikam");
        await afterDispose.Should().ThrowAsync<ObjectDisposedException>();
    }

    [StoreFact]
    public async Task Records_SurviveARestart_AsTheSameTree_AndTheExportVerifiesAgainstASignedCheckpoint()
    {
        var records = Enumerable.Range(0, 130).Select(i => Enumerable.Range(0, (i * 37) % 2000).Select(b => (byte)(b + i)).ToArray()).ToList();
        await using (IRecordJournalStore store = Backing.OpenStore())
        {
            IRecordJournal journal = await store.OpenJournalAsync("statements");
            for (int i = 0; i < records.Count; i++)
            {
                (await journal.AppendAsync(records[i])).Should().Be(i);
            }
        }

        await using IRecordJournalStore restarted = Backing.OpenStore();
        IRecordJournal reopened = await restarted.OpenJournalAsync("statements");
        var leaves = records.Select(r => MerkleTree.LeafHash(r)).ToList();

        reopened.Count.Should().Be(records.Count);
        reopened.Root().Should().Equal(MerkleTree.Root(leaves, leaves.Count));
        reopened.Root(77).Should().Equal(MerkleTree.Root(leaves, 77));
        (await reopened.ReadAsync(99)).Should().Equal(records[99]);
        var ranged = new List<byte[]>();
        await reopened.ReadRangeAsync(10, 120, (index, payload) => ranged.Add(payload.ToArray()));
        ranged.Should().HaveCount(110);
        ranged.Select((r, i) => r.AsSpan().SequenceEqual(records[10 + i])).Should().AllBeEquivalentTo(true);

        using var folder = new TemporaryFolder();
        string export = folder.File("statements.journal");
        (await reopened.ExportAsync(export)).Should().Be(records.Count);
        string checkpoint = new Checkpoint("contoso/statements", reopened.Count, reopened.Root()).Sign("contoso/billing", _f.Vendor);
        JournalVerification verified = await JournalVerifier.VerifyAsync(export, checkpoint, "contoso/billing", _f.Vendor.PublicKey);
        verified.IsValid.Should().BeTrue(verified.Sentence);
    }

    [StoreFact]
    public async Task Receipts_AreKeptOnce_OnlyTheCustomersUnitsOnes_AndSurviveARestart()
    {
        SignedEnvelope session = SessionReceipt("session-1", "fabrikam").ToEnvelope().Sign(_unit);
        SignedEnvelope install = SignedEnvelope.Create(InstallReceipt.DocumentType, DocumentJson.Serialize(new InstallReceipt
        {
            SessionId = "session-1", Outcome = InstallResult.Installed, Reason = "installed", At = _f.Time.GetUtcNow(), PackageId = "ledger-fix", Version = "2.4.0",
        })).Sign(_unit);
        await using (IRecordJournalStore store = Backing.OpenStore())
        {
            await using var books = new VendorBooks(store, _f.Time);
            ReceiptArchive archive = await books.OpenReceiptsAsync("fabrikam");
            (await books.OpenReceiptsAsync("fabrikam")).Should().BeSameAs(archive);

            (await archive.KeepAsync(session, _f.Trust)).IsAccepted.Should().BeTrue();
            (await archive.KeepAsync(install, _f.Trust)).IsAccepted.Should().BeTrue();
            DocumentAcceptance again = await archive.KeepAsync(SignedEnvelope.Parse(session.ToUtf8Json()), _f.Trust);
            DocumentAcceptance otherCustomer = await archive.KeepAsync(SessionReceipt("session-2", "northwind").ToEnvelope().Sign(_unit), _f.Trust);
            DocumentAcceptance byTheVendor = await archive.KeepAsync(SessionReceipt("session-3", "fabrikam").ToEnvelope().Sign(_f.Vendor), _f.Trust);
            DocumentAcceptance notAReceipt = await archive.KeepAsync(new ChargeApproval { CustomerId = "fabrikam", EntryIds = ["e1"] }.ToEnvelope().Sign(_f.Customer), _f.Trust);

            again.IsAccepted.Should().BeTrue();
            again.Sentence.Should().Contain("kept before");
            otherCustomer.Reason.Should().Be(DocumentRefusal.OtherCustomer);
            otherCustomer.Sentence.Should().Contain("northwind");
            byTheVendor.Reason.Should().Be(DocumentRefusal.NotSigned);
            notAReceipt.Reason.Should().Be(DocumentRefusal.Malformed);
            archive.Journal.Count.Should().Be(2, "each receipt once, nothing refused");
        }

        await using IRecordJournalStore restarted = Backing.OpenStore();
        await using var reopened = new VendorBooks(restarted, _f.Time);
        ReceiptArchive kept = await reopened.OpenReceiptsAsync("fabrikam");
        kept.Receipts.Select(r => DocumentJson.Hash(r.Payload.Span)).Should().Equal(DocumentJson.Hash(session.Payload.Span), DocumentJson.Hash(install.Payload.Span));
        (await kept.KeepAsync(install, _f.Trust)).Sentence.Should().Contain("kept before", "the archive remembers across a restart");
        kept.Journal.Count.Should().Be(2);
    }

    [StoreFact]
    public async Task TheBooks_OpenEachLedgerOnce_IssueFromIt_AndReopenWhereTheyWere()
    {
        string entryId;
        await using (IRecordJournalStore store = Backing.OpenStore())
        {
            await using var books = new VendorBooks(store, _f.Time);
            ChargeLedger ledger = await books.OpenLedgerAsync("fabrikam", _f.GroundRules);
            (await books.OpenLedgerAsync("fabrikam", _f.GroundRules)).Should().BeSameAs(ledger);
            using var otherFixture = new ConsentFixture();
            Func<Task> otherBook = () => books.OpenLedgerAsync("fabrikam", otherFixture.GroundRules);
            Func<Task> badCustomer = () => books.OpenLedgerAsync("fab/rikam", _f.GroundRules);
            await otherBook.Should().ThrowAsync<InvalidOperationException>().WithMessage("*another ground rules book*");
            await badCustomer.Should().ThrowAsync<ArgumentException>().WithMessage("*cannot name a journal*");

            entryId = (await ledger.RecordAsync(TestCharges.CallSetup("session-1/setup", 500, _f.Time.GetUtcNow()))).EntryId;
            NodaTime.LocalDate day = NodaTime.Instant.FromDateTimeOffset(_f.Time.GetUtcNow()).InZone(NodaTime.DateTimeZoneProviders.Tzdb[_f.Rules.TimeZone]).Date;
            _f.Time.Advance(TimeSpan.FromDays(40)); // the month has ended
            StatementIssuer issuer = await books.OpenStatementsAsync();
            var month = new NodaTime.YearMonth(day.Year, day.Month);
            string checkpoint = new Checkpoint("contoso/ledger/fabrikam", ledger.Journal.Count, ledger.Journal.Root()).Sign("contoso/billing", _f.Vendor);
            await issuer.IssueAsync(ledger, "fabrikam", month.Year, month.Month, _f.Rules.TimeZone, checkpoint, _f.Vendor);
        }

        await using IRecordJournalStore restarted = Backing.OpenStore();
        await using var reopened = new VendorBooks(restarted, _f.Time);
        ChargeLedger replayed = await reopened.OpenLedgerAsync("fabrikam", _f.GroundRules);
        StatementIssuer statements = await reopened.OpenStatementsAsync();

        replayed.Entries.Should().ContainSingle().Which.EntryId.Should().Be(entryId);
        statements.Issued.Should().ContainSingle().Which.Lines.Should().ContainSingle(l => l.EntryId == entryId);
    }

    private SessionReceipt SessionReceipt(string sessionId, string customerId) => new()
    {
        SessionId = sessionId, UnitId = ConsentFixture.Unit, CustomerId = customerId, VendorId = "contoso", TechnicianKeyId = _f.Technician.PublicKey.KeyId,
        OpenedAt = _f.Time.GetUtcNow().AddMinutes(-5), ClosedAt = _f.Time.GetUtcNow(), Ending = "closed", Operations = [], Charges = [],
    };
}
