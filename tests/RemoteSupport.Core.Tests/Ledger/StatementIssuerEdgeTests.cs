using Microsoft.Extensions.Time.Testing;
using NodaTime;
using RemoteSupport.Documents;
using RemoteSupport.GroundRules;
using RemoteSupport.Journal;
using RemoteSupport.Ledger;
using RemoteSupport.Tests.Consent;

namespace RemoteSupport.Tests.Ledger;

/// <summary>The issuer's edges: a month issued at the very instant it ends, the checkpoint signed twice in a row, the argument checks; the vendor's books.</summary>
public sealed class StatementIssuerEdgeTests : IAsyncLifetime
{
    private readonly ConsentFixture _f = new();
    private readonly TemporaryFolder _folder = new();
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 30, 23, 0, 0, TimeSpan.Zero).AddTicks(-1)); // a tick before December in Berlin
    private AppendOnlyJournal _ledgerJournal = null!;
    private AppendOnlyJournal _statementJournal = null!;

    public async Task InitializeAsync()
    {
        _ledgerJournal = await AppendOnlyJournal.OpenAsync(_folder.File("ledger.journal"));
        _statementJournal = await AppendOnlyJournal.OpenAsync(_folder.File("statements.journal"));
    }

    public async Task DisposeAsync()
    {
        await _ledgerJournal.DisposeAsync();
        await _statementJournal.DisposeAsync();
        _f.Dispose();
        _folder.Dispose();
    }

    private string LedgerCheckpoint() => new Checkpoint("fabrikam.example/ledger", _ledgerJournal.Count, _ledgerJournal.Root()).Sign("contoso-billing", _f.Vendor);

    [Fact]
    public async Task AMonth_CanBeIssuedAtTheInstantItEnds_NotOneTickBefore()
    {
        using ChargeLedger ledger = await ChargeLedger.OpenAsync(_ledgerJournal, _f.Rules, _clock);
        using StatementIssuer issuer = await StatementIssuer.OpenAsync(_statementJournal, _clock);
        await ledger.RecordAsync(TestCharges.CallSetup("a", 100, new DateTimeOffset(2026, 11, 3, 9, 0, 0, TimeSpan.Zero)));

        var early = async () => await issuer.IssueAsync(ledger, "fabrikam", 2026, 11, "Europe/Berlin", LedgerCheckpoint(), _f.Vendor);
        (await early.Should().ThrowAsync<InvalidOperationException>()).Which.Message
            .Should().Be("2026-11 in Europe/Berlin has not ended; it ends at 2026-11-30T23:00:00.0000000+00:00.");
        _clock.Advance(TimeSpan.FromTicks(1));
        MonthlyStatement issued = MonthlyStatement.FromEnvelope(await issuer.IssueAsync(ledger, "fabrikam", 2026, 11, "Europe/Berlin", LedgerCheckpoint(), _f.Vendor));

        issued.Month.Should().Be("2026-11");
        issued.IssuedAt.Should().Be(_clock.GetUtcNow());
        var again = async () => await issuer.IssueAsync(ledger, "fabrikam", 2026, 11, "Europe/Berlin", LedgerCheckpoint(), _f.Vendor);
        (await again.Should().ThrowAsync<InvalidOperationException>()).Which.Message
            .Should().Be("The statement of fabrikam for 2026-11 was issued; an issued month never changes.");
    }

    [Fact]
    public async Task TheStatementsCheckpoint_SignedTwiceInARow_CoversTheSameJournal()
    {
        using StatementIssuer issuer = await StatementIssuer.OpenAsync(_statementJournal, _clock);

        string first = await issuer.SignCheckpointAsync("contoso.example/statements", "contoso-billing", _f.Vendor);
        string second = await issuer.SignCheckpointAsync("contoso.example/statements", "contoso-billing", _f.Vendor);

        RemoteSupport.Journal.Checkpoint.TryVerifyBy(second, _f.Vendor.PublicKey, out Checkpoint? read, out _, out _).Should().BeTrue();
        read!.Size.Should().Be(0);
        second.Should().Be(first, "Ed25519 signs the same note alike");
    }

    [Fact]
    public async Task Misuse_Throws_NamingTheArgument()
    {
        using ChargeLedger ledger = await ChargeLedger.OpenAsync(_ledgerJournal, _f.Rules, _clock);
        using StatementIssuer issuer = await StatementIssuer.OpenAsync(_statementJournal, _clock);
        string checkpoint = LedgerCheckpoint();

        (await FluentActions.Awaiting(() => StatementIssuer.OpenAsync(null!)).Should().ThrowAsync<ArgumentNullException>()).Which.ParamName.Should().Be("statements");
        (await FluentActions.Awaiting(() => StatementIssuer.OpenAsync(_statementJournal, inlineLineLimit: -1)).Should().ThrowAsync<ArgumentOutOfRangeException>()).Which.ParamName.Should().Be("inlineLineLimit");
        (await FluentActions.Awaiting(() => issuer.IssueAsync((ChargeLedger)null!, "fabrikam", 2026, 10, "Europe/Berlin", checkpoint, _f.Vendor)).Should().ThrowAsync<ArgumentNullException>()).Which.ParamName.Should().Be("ledger");
        (await FluentActions.Awaiting(() => issuer.IssueAsync((IRecordJournal)null!, "fabrikam", new YearMonth(2026, 10), "Europe/Berlin", checkpoint, _f.Vendor, null, default)).Should().ThrowAsync<ArgumentNullException>()).Which.ParamName.Should().Be("ledgerJournal");
        (await FluentActions.Awaiting(() => issuer.IssueAsync(ledger, "fabrikam", 2026, 10, "Europe/Berlin", checkpoint, null!)).Should().ThrowAsync<ArgumentNullException>()).Which.ParamName.Should().Be("signer");
        (await FluentActions.Awaiting(() => issuer.IssueAsync(ledger, "fabrikam", 2026, 10, "Europe/Berlin", null!, _f.Vendor)).Should().ThrowAsync<ArgumentNullException>()).Which.ParamName.Should().Be("ledgerCheckpoint");
        (await FluentActions.Awaiting(() => issuer.IssueAsync(ledger, "fabrikam", 2026, 0, "Europe/Berlin", checkpoint, _f.Vendor)).Should().ThrowAsync<ArgumentOutOfRangeException>()).Which.ParamName.Should().Be("month");
        (await FluentActions.Awaiting(() => issuer.IssueAsync(ledger, "fabrikam", 2026, 13, "Europe/Berlin", checkpoint, _f.Vendor)).Should().ThrowAsync<ArgumentOutOfRangeException>()).Which.ParamName.Should().Be("month");
        (await FluentActions.Awaiting(() => issuer.SignCheckpointAsync(" ", "k", _f.Vendor)).Should().ThrowAsync<ArgumentException>()).Which.ParamName.Should().Be("origin");
        FluentActions.Invoking(() => MonthlyStatement.MonthBounds(new YearMonth(2026, 11), null!)).Should().Throw<ArgumentNullException>().Which.ParamName.Should().Be("zone");
        FluentActions.Invoking(() => MonthlyStatement.FromEnvelope(null!)).Should().Throw<ArgumentNullException>().Which.ParamName.Should().Be("envelope");
        issuer.Issued.Should().BeEmpty();
    }

    [Fact]
    public async Task TheVendorsBooks_NameTheirJournals_OpenEachOnce_UnderOneBook_AndCloseWhatTheyOpened()
    {
        await using var store = new FileRecordJournalStore(_folder.File("books"));
        var books = new VendorBooks(store, _clock);
        ChargeLedger ledger = await books.OpenLedgerAsync("fabrikam", _f.GroundRules);
        ChargeLedger again = await books.OpenLedgerAsync("fabrikam", _f.GroundRules);
        var otherBook = new GroundRulesBook(_f.Trust);
        var underAnother = async () => await books.OpenLedgerAsync("fabrikam", otherBook);
        ChargeEntry entry = await ledger.RecordAsync(TestCharges.CallSetup("a", 100, _clock.GetUtcNow()));

        VendorBooks.LedgerJournalName("fabrikam").Should().Be("ledger/fabrikam");
        VendorBooks.ReceiptsJournalName("fabrikam").Should().Be("receipts/fabrikam");
        again.Should().BeSameAs(ledger);
        entry.RecordedAt.Should().Be(_clock.GetUtcNow(), "the books' clock is the ledger's");
        (await underAnother.Should().ThrowAsync<InvalidOperationException>()).Which.Message
            .Should().Be("fabrikam's ledger is open under another ground rules book; pass the same book each time.");
        (await FluentActions.Awaiting(() => books.OpenLedgerAsync("fabrikam", null!)).Should().ThrowAsync<ArgumentNullException>()).Which.ParamName.Should().Be("groundRules");
        FluentActions.Invoking(() => new VendorBooks(null!)).Should().Throw<ArgumentNullException>().Which.ParamName.Should().Be("journals");

        await books.DisposeAsync();
        await books.DisposeAsync(); // a second time does nothing

        await FluentActions.Awaiting(() => ledger.RecordAsync(TestCharges.CallSetup("b", 100, _clock.GetUtcNow()))).Should().ThrowAsync<ObjectDisposedException>("the books released the ledger");
        await FluentActions.Awaiting(() => books.OpenStatementsAsync()).Should().ThrowAsync<ObjectDisposedException>();
    }

    [Fact]
    public async Task Lines_RunByLocalDateThenEntryId_ALateChargeIsPriorPeriod_AndOneIncurredAtTheMonthsFirstInstantIsNot()
    {
        _clock.SetUtcNow(new DateTimeOffset(2027, 2, 1, 0, 0, 0, TimeSpan.Zero));
        using ChargeLedger ledger = await ChargeLedger.OpenAsync(_ledgerJournal, _f.Rules, _clock);
        using StatementIssuer issuer = await StatementIssuer.OpenAsync(_statementJournal, _clock);
        await ledger.RecordAsync(TestCharges.CallSetup("dec", 100, new DateTimeOffset(2026, 12, 10, 9, 0, 0, TimeSpan.Zero)));
        await issuer.IssueAsync(ledger, "fabrikam", 2026, 12, "Europe/Berlin", LedgerCheckpoint(), _f.Vendor);
        (DateTimeOffset januaryStart, _) = MonthlyStatement.MonthBounds(new YearMonth(2027, 1), DateTimeZoneProviders.Tzdb["Europe/Berlin"]);
        ChargeEntry later = await ledger.RecordAsync(TestCharges.CallSetup("jan-later", 100, new DateTimeOffset(2027, 1, 20, 9, 0, 0, TimeSpan.Zero)));
        ChargeEntry[] sameDay =
        [
            await ledger.RecordAsync(TestCharges.CallSetup("jan-a", 100, new DateTimeOffset(2027, 1, 5, 9, 0, 0, TimeSpan.Zero))),
            await ledger.RecordAsync(TestCharges.CallSetup("jan-b", 100, new DateTimeOffset(2027, 1, 5, 10, 0, 0, TimeSpan.Zero))),
            await ledger.RecordAsync(TestCharges.CallSetup("jan-c", 100, new DateTimeOffset(2027, 1, 5, 11, 0, 0, TimeSpan.Zero))),
        ];
        ChargeEntry first = await ledger.RecordAsync(TestCharges.CallSetup("jan-start", 100, januaryStart));
        ChargeEntry late = await ledger.RecordAsync(TestCharges.CallSetup("late", 100, new DateTimeOffset(2026, 12, 30, 10, 0, 0, TimeSpan.Zero)));
        ChargeEntry held = await ledger.RecordAsync(TestCharges.CallSetup("held", _f.Rules.TollCharges.ApprovalThresholdMinor + 1, new DateTimeOffset(2027, 1, 7, 9, 0, 0, TimeSpan.Zero)));

        MonthlyStatement january = MonthlyStatement.FromEnvelope(await issuer.IssueAsync(ledger, "fabrikam", 2027, 1, "Europe/Berlin", LedgerCheckpoint(), _f.Vendor));

        january.Lines.Select(l => l.EntryId).Should().Equal(
            [late.EntryId, first.EntryId, .. sameDay.Select(e => e.EntryId).Order(StringComparer.Ordinal), later.EntryId],
            "by local date (the late charge's December first, the year counting), then by entry id");
        january.Lines.Select(l => l.PriorPeriod).Should().Equal(true, false, false, false, false, false);
        january.Lines[1].Date.Should().Be("2027-01-01");
        january.HeldLines.Should().ContainSingle().Which.Should().Match<StatementLine>(l => l.EntryId == held.EntryId && !l.PriorPeriod);
    }

    [Fact]
    public async Task AStatementOfExactlyTheInlineLimit_IsInline_OneLineMoreNeedsAStream()
    {
        _clock.SetUtcNow(new DateTimeOffset(2027, 2, 1, 0, 0, 0, TimeSpan.Zero));
        using ChargeLedger ledger = await ChargeLedger.OpenAsync(_ledgerJournal, _f.Rules, _clock);
        using StatementIssuer issuer = await StatementIssuer.OpenAsync(_statementJournal, _clock, inlineLineLimit: 2);
        var november = new DateTimeOffset(2026, 11, 3, 9, 0, 0, TimeSpan.Zero);
        await ledger.RecordAsync(TestCharges.CallSetup("a", 100, november));
        await ledger.RecordAsync(TestCharges.CallSetup("b", 100, november));
        for (int i = 0; i < 3; i++)
        {
            await ledger.RecordAsync(TestCharges.CallSetup($"c{i}", 100, november) with { CustomerId = "contoso" });
        }

        MonthlyStatement two = MonthlyStatement.FromEnvelope(await issuer.IssueAsync(ledger, "fabrikam", 2026, 11, "Europe/Berlin", LedgerCheckpoint(), _f.Vendor));
        var three = async () => await issuer.IssueAsync(ledger, "contoso", 2026, 11, "Europe/Berlin", LedgerCheckpoint(), _f.Vendor);

        (two.LinesInline, two.Lines.Count).Should().Be((true, 2));
        (await three.Should().ThrowAsync<InvalidOperationException>()).Which.Message
            .Should().Be("The statement has 3 lines, more than 2; give a stream for its CSV lines.");
    }
}
