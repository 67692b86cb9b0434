using RemoteSupport.Audit;
using RemoteSupport.Consent;
using RemoteSupport.DataFiles;
using RemoteSupport.GroundRules;
using RemoteSupport.Journal;
using RemoteSupport.Tests.Consent;

namespace RemoteSupport.Tests.Audit;

public sealed class AuditLogTests : IDisposable
{
    private readonly ConsentFixture _f = new();
    private readonly TemporaryFolder _folder = new();

    public void Dispose()
    {
        _f.Dispose();
        _folder.Dispose();
    }

    [Fact]
    public async Task ConsentDecisionsAndFileViews_AreJournaled_BeforeTheOperation_AndVerifyOffline()
    {
        string dataRoot = Path.Combine(_folder.Path, "finance");
        Directory.CreateDirectory(Path.Combine(dataRoot, "ledger", "2026"));
        await File.WriteAllTextAsync(Path.Combine(dataRoot, "ledger", "2026", "ledger.db"), "balance=100");
        var store = new DataFileStore(new Dictionary<string, string> { ["finance"] = dataRoot });
        string export = _folder.File("audit-export.journal");
        string note;

        await using (AppendOnlyJournal journal = await AppendOnlyJournal.OpenAsync(_folder.File("audit.journal")))
        {
            var audit = new AuditLog(journal, _f.Time);
            ConsentGate gate = _f.Gate(audit: audit);
            ConsentRequest request = _f.Request();

            ConsentDecision needs = await gate.DecideAsync(request);
            journal.Count.Should().Be(1, "the decision is on disk before it is returned");
            ConsentDecision granted = await gate.DecideAsync(request, [_f.Approve(request, [_f.ItApprover])]);
            journal.Count.Should().Be(2);
            (_, DataFileEvidence evidence) = await store.ViewAsync(granted);
            await audit.RecordDataFileAsync(granted, evidence);

            note = new Checkpoint("fabrikam.example/unit-7/audit", journal.Count, journal.Root()).Sign("unit-7", _f.Customer);
            await journal.ExportAsync(export);
            needs.Outcome.Should().Be(ConsentOutcome.NeedsApproval);
        }

        IReadOnlyList<AuditEvent> events = await AuditLog.ReadExportAsync(export);
        events.Select(e => e.Kind).Should().Equal(AuditEventKind.ConsentDecided, AuditEventKind.ConsentDecided, AuditEventKind.DataFileViewed);
        events[0].Details["outcome"].Should().Be("needs-approval");
        events[1].Details["outcome"].Should().Be("granted");
        events[2].Details["path"].Should().Be("ledger/2026/ledger.db");
        events[2].Details["hash-before"].Should().HaveLength(64);
        events.Should().OnlyContain(e => e.SchemaVersion == 1 && e.SessionId == ConsentFixture.Session);
        (await JournalVerifier.VerifyAsync(export, note, "unit-7", _f.Customer.PublicKey)).IsValid.Should().BeTrue();
    }

    [Fact]
    public async Task WhenTheJournalCannotWrite_TheGateReturnsNoDecision()
    {
        AppendOnlyJournal journal = await AppendOnlyJournal.OpenAsync(_folder.File("audit.journal"));
        var audit = new AuditLog(journal, _f.Time);
        await journal.DisposeAsync();

        var decide = async () => await _f.Gate(audit: audit).DecideAsync(_f.Request(SupportOperation.RunDiagnostic));

        await decide.Should().ThrowAsync<ObjectDisposedException>();
    }
}
