using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using NodaTime;
using RemoteSupport.Documents;
using RemoteSupport.GroundRules;
using RemoteSupport.Journal;
using RemoteSupport.Ledger;
using RemoteSupport.Tests.Consent;

namespace RemoteSupport.Tests.Ledger;

/// <summary>Statements issued straight from the ledger's journal, streamed, spilled and merged: the same statement as before, byte for byte.</summary>
public sealed class StreamedStatementTests : IAsyncLifetime
{
    private const string Zone = "Europe/Berlin";
    private static readonly YearMonth November = new(2026, 11);
    private static readonly YearMonth December = new(2026, 12);
    private readonly ConsentFixture _f = new();
    private readonly TemporaryFolder _folder = new();
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2027, 1, 15, 0, 0, 0, TimeSpan.Zero));
    private readonly List<AppendOnlyJournal> _journals = [];
    private AppendOnlyJournal _ledgerJournal = null!;
    private ChargeLedger _ledger = null!;

    public async Task InitializeAsync()
    {
        SecurityGroundRules rules = _f.Rules with
        {
            TimeZone = Zone,
            TollCharges = _f.Rules.TollCharges with { ApprovalThresholdMinor = 10_000, SessionCapMinor = long.MaxValue, MonthlyCapMinor = long.MaxValue },
        };
        _ledgerJournal = await Journal("ledger");
        _ledger = await ChargeLedger.OpenAsync(_ledgerJournal, rules, _clock);
    }

    public async Task DisposeAsync()
    {
        _ledger.Dispose();
        foreach (AppendOnlyJournal journal in _journals)
        {
            await journal.DisposeAsync();
        }

        _f.Dispose();
        _folder.Dispose();
    }

    [Fact]
    public async Task ALedgerOfEveryKindOfLine_SpilledThroughATinySpool_IsTheStatementIssuedInMemory_ByteForByte()
    {
        await RecordEveryKindOfLineAsync();
        StatementIssuer inMemory = await OpenIssuerAsync();
        StatementIssuer spilled = await OpenIssuerAsync(inlineLimit: 0);
        spilled.SpoolMemoryBytes = 2048; // a few lines a run: dozens of runs merged
        MonthlyStatement november = MonthlyStatement.FromEnvelope(await IssueAsync(inMemory, November, null));
        await IssueAsync(spilled, November, Stream.Null);
        ChargeEntry late = await _ledger.RecordAsync(TestCharges.CallSetup("late", 400, new DateTimeOffset(2026, 11, 29, 9, 0, 0, TimeSpan.Zero)));
        ChargeEntry held = _ledger.Entries.Single(e => e.Charge.IdempotencyKey == "held");
        (await _ledger.ApproveAsync(new ChargeApproval { CustomerId = "fabrikam", EntryIds = [held.EntryId] }.ToEnvelope().Sign(_f.Customer), _f.Trust)).IsAccepted.Should().BeTrue();

        MonthlyStatement inline = MonthlyStatement.FromEnvelope(await IssueAsync(inMemory, December, null));
        using var csv = new MemoryStream();
        MonthlyStatement streamed = MonthlyStatement.FromEnvelope(await IssueAsync(spilled, December, csv));

        inline.LinesInline.Should().BeTrue();
        streamed.LinesInline.Should().BeFalse();
        Encoding.UTF8.GetString(csv.ToArray()).Should().Be(inline.ToCsv(), "the streamed lines are the inline lines rendered");
        Convert.ToHexStringLower(SHA256.HashData(csv.ToArray())).Should().Be(streamed.LinesSha256).And.Be(inline.LinesSha256);
        streamed.LineCount.Should().Be(inline.LineCount).And.Be(inline.Lines.Count + inline.HeldLines.Count + inline.DisputedLines.Count);
        streamed.Totals.Should().Equal(inline.Totals);
        streamed.Subtotals.Should().Equal(inline.Subtotals);
        Rows(november).Should().Equal(Expected(November, november.LedgerSize, earlier: null), "November bills what the ledger's statuses say, in the documented order");
        Rows(inline).Should().Equal(Expected(December, inline.LedgerSize, november), "December bills what November left");
        inline.Lines.Where(l => l.PriorPeriod).Select(l => l.EntryId).Should().BeEquivalentTo([late.EntryId, held.EntryId], "the late charge and the charge approved after November");
        inline.Totals.Keys.Should().BeEquivalentTo(["EUR"], "the other currencies were billed in November");
        november.Totals.Keys.Should().BeEquivalentTo(["EUR", "JPY", "KWD"]);
    }

    [Fact]
    public async Task IssuedFromTheJournalAlone_IsTheStatementIssuedFromTheLedger()
    {
        await RecordEveryKindOfLineAsync();
        string checkpoint = Checkpoint();

        MonthlyStatement fromLedger = MonthlyStatement.FromEnvelope(
            await (await OpenIssuerAsync()).IssueAsync(_ledger, "fabrikam", November, Zone, checkpoint, _f.Vendor, null, CancellationToken.None));
        MonthlyStatement fromJournal = MonthlyStatement.FromEnvelope(
            await (await OpenIssuerAsync()).IssueAsync(_ledgerJournal, "fabrikam", November, Zone, checkpoint, _f.Vendor, null, CancellationToken.None));

        fromJournal.Should().BeEquivalentTo(fromLedger, o => o.Excluding(s => s.IssuedAt));
        fromJournal.Lines.Should().NotBeEmpty();
        fromJournal.HeldLines.Should().NotBeEmpty();
        fromJournal.DisputedLines.Should().NotBeEmpty();
    }

    [Fact]
    public async Task FromTheJournal_TheCheckpointDecidesWhatIsBilled_NotTheJournalsSize()
    {
        await _ledger.RecordAsync(TestCharges.CallSetup("first", 100, new DateTimeOffset(2026, 11, 3, 9, 0, 0, TimeSpan.Zero)));
        string checkpoint = Checkpoint();
        await _ledger.RecordAsync(TestCharges.CallSetup("later", 200, new DateTimeOffset(2026, 11, 4, 9, 0, 0, TimeSpan.Zero)));

        MonthlyStatement statement = MonthlyStatement.FromEnvelope(
            await (await OpenIssuerAsync()).IssueAsync(_ledgerJournal, "fabrikam", November, Zone, checkpoint, _f.Vendor, null, CancellationToken.None));

        statement.LedgerSize.Should().Be(1);
        statement.Lines.Should().ContainSingle().Which.AmountMinor.Should().Be(100);
    }

    [Fact]
    public async Task FromTheJournal_ACheckpointBeyondIt_OrOfAnotherRoot_IsRefused_AndNothingIsIssued()
    {
        await _ledger.RecordAsync(TestCharges.CallSetup("first", 100, new DateTimeOffset(2026, 11, 3, 9, 0, 0, TimeSpan.Zero)));
        StatementIssuer issuer = await OpenIssuerAsync();
        string beyond = new Checkpoint("fabrikam.example/ledger", 5, _ledgerJournal.Root()).Sign("contoso-billing", _f.Vendor);
        string otherRoot = new Checkpoint("fabrikam.example/ledger", 1, new byte[32]).Sign("contoso-billing", _f.Vendor);

        var tooLarge = async () => await issuer.IssueAsync(_ledgerJournal, "fabrikam", November, Zone, beyond, _f.Vendor, null, CancellationToken.None);
        var wrongRoot = async () => await issuer.IssueAsync(_ledgerJournal, "fabrikam", November, Zone, otherRoot, _f.Vendor, null, CancellationToken.None);

        (await tooLarge.Should().ThrowAsync<ArgumentException>()).Which.Message.Should().Contain("covers 5 records").And.Contain("holds 1");
        (await wrongRoot.Should().ThrowAsync<ArgumentException>()).Which.Message.Should().Contain("root");
        issuer.Issued.Should().BeEmpty();
    }

    [Fact]
    public async Task ALargeStatementWithoutAStream_IsRefused_NamingItsLineCount()
    {
        for (int i = 0; i < 12; i++)
        {
            await _ledger.RecordAsync(TestCharges.CallSetup($"k{i}", 100, new DateTimeOffset(2026, 11, 3, 9, i, 0, TimeSpan.Zero)));
        }

        StatementIssuer issuer = await OpenIssuerAsync(inlineLimit: 10);
        var noStream = async () => await IssueAsync(issuer, November, null);

        (await noStream.Should().ThrowAsync<InvalidOperationException>()).Which.Message.Should().Contain("12 lines").And.Contain("more than 10");
        issuer.Issued.Should().BeEmpty();
    }

    [Fact]
    public async Task ALedgerOfManyBatches_ReadByTheWorkers_BillsEveryEntryOnce_InOrder()
    {
        var start = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
        List<byte[]> records = [.. Enumerable.Range(0, 9_000).Select(n => DocumentJson.Serialize(Entry(n, start.AddMinutes(n * 4))))];
        await Task.WhenAll(records.Select(r => _ledgerJournal.AppendAsync(r).AsTask())); // about four megabytes: several batches, several workers
        StatementIssuer issuer = await OpenIssuerAsync(inlineLimit: 0);
        using var csv = new MemoryStream();

        MonthlyStatement statement = MonthlyStatement.FromEnvelope(
            await issuer.IssueAsync(_ledgerJournal, "fabrikam", November, Zone, Checkpoint(), _f.Vendor, csv, CancellationToken.None));

        string[] lines = Encoding.UTF8.GetString(csv.ToArray()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries)[1..];
        statement.LineCount.Should().Be(9_000);
        lines.Select(l => l[(l.LastIndexOf(',') + 1)..]).Should().OnlyHaveUniqueItems();
        lines.Select(l => (l[..10], l[(l.LastIndexOf(',') + 1)..])).Should().BeInAscendingOrder(Comparer<(string, string)>.Create(
            (a, b) => string.CompareOrdinal(a.Item1, b.Item1) is int c && c != 0 ? c : string.CompareOrdinal(a.Item2, b.Item2)));
        statement.Totals["EUR"].Should().Be(Enumerable.Range(0, 9_000).Sum(n => 100L + n));
    }

    [Fact]
    public async Task AMalformedRecordAmongMany_FailsTheIssue_NamingIt_AndIssuesNothing()
    {
        var start = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
        List<byte[]> records = [.. Enumerable.Range(0, 6_000).Select(n => DocumentJson.Serialize(Entry(n, start.AddMinutes(n))))];
        records[4_321] = Encoding.UTF8.GetBytes("{\"entryId\":\"charge-x\",\"charge\":{\"kind\":\"not-a-kind\"}}");
        await Task.WhenAll(records.Select(r => _ledgerJournal.AppendAsync(r).AsTask()));
        StatementIssuer issuer = await OpenIssuerAsync(inlineLimit: 0);

        var issuing = async () => await issuer.IssueAsync(_ledgerJournal, "fabrikam", November, Zone, Checkpoint(), _f.Vendor, Stream.Null, CancellationToken.None);

        await issuing.Should().ThrowAsync<System.Text.Json.JsonException>();
        issuer.Issued.Should().BeEmpty();
    }

    private static ChargeEntry Entry(int n, DateTimeOffset incurred) => new()
    {
        EntryId = "charge-" + Guid.NewGuid().ToString("N"),
        RecordedAt = incurred,
        Status = ChargeStatus.Due,
        Charge = TestCharges.CallSetup("k" + n, 100 + n, incurred, n % 2 == 0 ? "Connect time, \"night\"" : "Verbindung – Nacht"),
    };

    /// <summary>Due lines on several dates, held, approved, disputed, a dispute resolved by a reversal, other currencies, other customers, quoting, escapes, a late charge.</summary>
    private async Task RecordEveryKindOfLineAsync()
    {
        var day = new DateTimeOffset(2026, 11, 1, 9, 0, 0, TimeSpan.Zero);
        for (int i = 0; i < 40; i++)
        {
            await _ledger.RecordAsync(TestCharges.CallSetup($"due-{i}", 100 + i, day.AddDays(i % 7).AddMinutes(i), (i % 3) switch
            {
                0 => "Connect time, \"night\" rate",
                1 => "Verbindung – Nacht ✓ <&>",
                _ => "Line one\r\nline two",
            }));
        }

        await _ledger.RecordAsync(TestCharges.CallSetup("yen", 1_500, day.AddDays(2)) with { Currency = "JPY", Rate = 2.5m, Quantity = 600 });
        await _ledger.RecordAsync(TestCharges.CallSetup("dinar", 1_234, day.AddDays(3)) with { Currency = "KWD", Rate = 2.0m });
        await _ledger.RecordAsync(TestCharges.CallSetup("other-customer", 999, day) with { CustomerId = "northwind" });
        await _ledger.RecordAsync(TestCharges.CallSetup("december", 300, new DateTimeOffset(2026, 12, 2, 9, 0, 0, TimeSpan.Zero)));
        ChargeEntry held = await _ledger.RecordAsync(TestCharges.CallSetup("held", 50_000, day.AddDays(4)));
        ChargeEntry approved = await _ledger.RecordAsync(TestCharges.CallSetup("approved", 60_000, day.AddDays(5)));
        ChargeEntry disputed = await _ledger.RecordAsync(TestCharges.CallSetup("disputed", 900, day.AddDays(6)));
        ChargeEntry resolved = await _ledger.RecordAsync(TestCharges.CallSetup("resolved", 800, day.AddDays(6)));
        (await _ledger.ApproveAsync(new ChargeApproval { CustomerId = "fabrikam", EntryIds = [approved.EntryId] }.ToEnvelope().Sign(_f.Customer), _f.Trust)).IsAccepted.Should().BeTrue();
        foreach (ChargeEntry entry in new[] { disputed, resolved })
        {
            (await _ledger.DisputeAsync(new ChargeDispute { CustomerId = "fabrikam", EntryId = entry.EntryId, Reason = "not ours" }.ToEnvelope().Sign(_f.Customer), _f.Trust)).IsAccepted.Should().BeTrue();
        }

        await _ledger.ReverseAsync(resolved.EntryId, "reverse-resolved", "agreed with the customer");
        held.Status.Should().Be(ChargeStatus.Held);
    }

    /// <summary>A month's lines as the ledger's own statuses say, worked out here from its entries (the rules of docs/formats/ledger.md, not the issuer's code).</summary>
    private List<string> Expected(YearMonth month, long size, MonthlyStatement? earlier)
    {
        DateTimeZone zone = DateTimeZoneProviders.Tzdb[Zone];
        (DateTimeOffset start, DateTimeOffset end) = MonthlyStatement.MonthBounds(month, zone);
        var due = new List<(string Date, string Id, bool Prior)>();
        var apart = new List<(ChargeStatus Status, long Index, string Id)>();
        foreach (ChargeEntry entry in _ledger.Entries.Where(e => e.Charge.CustomerId == "fabrikam" && e.Charge.IncurredAt < end))
        {
            long index = _ledger.IndexOf(entry);
            if (index >= size)
            {
                continue; // recorded after the statement's checkpoint
            }

            if (earlier is not null && index < earlier.LedgerSize && entry.Charge.IncurredAt < earlier.PeriodEnd && _ledger.StatusAt(entry, earlier.LedgerSize) == ChargeStatus.Due)
            {
                continue;
            }

            ChargeStatus status = _ledger.StatusAt(entry, size);
            string date = Instant.FromDateTimeOffset(entry.Charge.IncurredAt).InZone(zone).Date.ToString("yyyy-MM-dd", null);
            if (status == ChargeStatus.Due)
            {
                due.Add((date, entry.EntryId, entry.Charge.IncurredAt < start));
            }
            else
            {
                apart.Add((status, index, entry.EntryId));
            }
        }

        return
        [
            .. due.OrderBy(l => l.Date, StringComparer.Ordinal).ThenBy(l => l.Id, StringComparer.Ordinal).Select(l => $"due {l.Date} {l.Id} {l.Prior}"),
            .. apart.Where(l => l.Status == ChargeStatus.Held).OrderBy(l => l.Index).Select(l => $"held {l.Id}"),
            .. apart.Where(l => l.Status == ChargeStatus.Disputed).OrderBy(l => l.Index).Select(l => $"disputed {l.Id}"),
        ];
    }

    private static List<string> Rows(MonthlyStatement statement) =>
    [
        .. statement.Lines.Select(l => $"due {l.Date} {l.EntryId} {l.PriorPeriod}"),
        .. statement.HeldLines.Select(l => $"held {l.EntryId}"),
        .. statement.DisputedLines.Select(l => $"disputed {l.EntryId}"),
    ];

    private string Checkpoint() => new Checkpoint("fabrikam.example/ledger", _ledgerJournal.Count, _ledgerJournal.Root()).Sign("contoso-billing", _f.Vendor);

    private Task<SignedEnvelope> IssueAsync(StatementIssuer issuer, YearMonth month, Stream? lines) =>
        issuer.IssueAsync(_ledger, "fabrikam", month, Zone, Checkpoint(), _f.Vendor, lines, CancellationToken.None);

    private async Task<StatementIssuer> OpenIssuerAsync(int inlineLimit = StatementIssuer.InlineLineLimit) =>
        await StatementIssuer.OpenAsync(await Journal("statements"), _clock, inlineLimit);

    private async Task<AppendOnlyJournal> Journal(string name)
    {
        AppendOnlyJournal journal = await AppendOnlyJournal.OpenAsync(_folder.File($"{name}-{Guid.NewGuid():N}.journal"));
        _journals.Add(journal);
        return journal;
    }
}
