using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using NodaTime;
using RemoteSupport.Audit;
using RemoteSupport.Documents;
using RemoteSupport.GroundRules;
using RemoteSupport.Identities;
using RemoteSupport.Journal;
using RemoteSupport.Ledger;
using RemoteSupport.Tests.Consent;
using RemoteSupport.Trust;

namespace RemoteSupport.Tests.Ledger;

public sealed class MonthlyStatementTests : IAsyncLifetime
{
    private readonly ConsentFixture _f = new();
    private readonly TemporaryFolder _folder = new();
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (AppendOnlyJournal journal in _journals)
        {
            await journal.DisposeAsync();
        }

        _f.Dispose();
        _folder.Dispose();
    }

    [Fact]
    public void MonthStartingOnADstChange_NewYork_HasItsLocalMidnightBounds()
    {
        (DateTimeOffset start, DateTimeOffset end) = MonthlyStatement.MonthBounds(new YearMonth(2026, 11), DateTimeZoneProviders.Tzdb["America/New_York"]);

        start.Should().Be(new DateTimeOffset(2026, 11, 1, 4, 0, 0, TimeSpan.Zero), "November 1 2026 begins in daylight time (UTC-4)");
        end.Should().Be(new DateTimeOffset(2026, 12, 1, 5, 0, 0, TimeSpan.Zero), "December begins in standard time (UTC-5)");
    }

    [Fact]
    public async Task NewYork_ChargesEitherSideOfTheBoundary_GoToTheirMonths()
    {
        (ChargeLedger ledger, StatementIssuer issuer) = await OpenAsync("America/New_York");
        await ledger.RecordAsync(TestCharges.CallSetup("oct", 100, new DateTimeOffset(2026, 11, 1, 3, 59, 59, TimeSpan.Zero)));
        await ledger.RecordAsync(TestCharges.CallSetup("nov", 200, new DateTimeOffset(2026, 11, 1, 4, 0, 0, TimeSpan.Zero)));

        MonthlyStatement october = MonthlyStatement.FromEnvelope(await Issue(ledger, issuer, new YearMonth(2026, 10), "America/New_York"));
        MonthlyStatement november = MonthlyStatement.FromEnvelope(await Issue(ledger, issuer, new YearMonth(2026, 11), "America/New_York"));

        october.Lines.Should().ContainSingle().Which.Date.Should().Be("2026-10-31");
        november.Lines.Should().ContainSingle().Which.Date.Should().Be("2026-11-01");
        november.Number.Should().Be(2);
    }

    [Fact]
    public async Task Apia_TheDayThatDidNotExist_NoLineIsDatedOnIt()
    {
        (ChargeLedger ledger, StatementIssuer issuer) = await OpenAsync("Pacific/Apia");
        await ledger.RecordAsync(TestCharges.CallSetup("before", 100, new DateTimeOffset(2011, 12, 30, 9, 59, 59, TimeSpan.Zero)));
        await ledger.RecordAsync(TestCharges.CallSetup("after", 200, new DateTimeOffset(2011, 12, 30, 10, 0, 0, TimeSpan.Zero)));

        MonthlyStatement december = MonthlyStatement.FromEnvelope(await Issue(ledger, issuer, new YearMonth(2011, 12), "Pacific/Apia"));

        december.Lines.Select(l => l.Date).Should().Equal("2011-12-29", "2011-12-31");
        december.Totals["EUR"].Should().Be(300);
    }

    [Fact]
    public async Task LeapDay_BelongsToFebruary()
    {
        (ChargeLedger ledger, StatementIssuer issuer) = await OpenAsync("Europe/Berlin");
        await ledger.RecordAsync(TestCharges.CallSetup("leap", 100, new DateTimeOffset(2028, 2, 29, 12, 0, 0, TimeSpan.Zero)));
        await ledger.RecordAsync(TestCharges.CallSetup("march", 200, new DateTimeOffset(2028, 2, 29, 23, 0, 0, TimeSpan.Zero))); // March 1 00:00 CET

        MonthlyStatement february = MonthlyStatement.FromEnvelope(await Issue(ledger, issuer, new YearMonth(2028, 2), "Europe/Berlin"));

        february.Lines.Should().ContainSingle().Which.Date.Should().Be("2028-02-29");
        february.PeriodEnd.Should().Be(new DateTimeOffset(2028, 2, 29, 23, 0, 0, TimeSpan.Zero));
    }

    [Fact]
    public async Task IssuedMonthNeverChanges_LateChargeGoesOnTheNextStatement()
    {
        (ChargeLedger ledger, StatementIssuer issuer) = await OpenAsync("Europe/Berlin");
        await ledger.RecordAsync(TestCharges.CallSetup("nov-1", 500, new DateTimeOffset(2026, 11, 10, 9, 0, 0, TimeSpan.Zero)));
        await Issue(ledger, issuer, new YearMonth(2026, 11), "Europe/Berlin");

        await ledger.RecordAsync(TestCharges.CallSetup("nov-late", 700, new DateTimeOffset(2026, 11, 20, 9, 0, 0, TimeSpan.Zero)));
        await ledger.RecordAsync(TestCharges.CallSetup("dec-1", 300, new DateTimeOffset(2026, 12, 5, 9, 0, 0, TimeSpan.Zero)));
        var again = async () => await Issue(ledger, issuer, new YearMonth(2026, 11), "Europe/Berlin");
        MonthlyStatement december = MonthlyStatement.FromEnvelope(await Issue(ledger, issuer, new YearMonth(2026, 12), "Europe/Berlin"));

        (await again.Should().ThrowAsync<InvalidOperationException>()).Which.Message.Should().Contain("never changes");
        december.Number.Should().Be(2);
        december.Lines.Should().HaveCount(2);
        december.Lines.Single(l => l.PriorPeriod).Date.Should().Be("2026-11-20");
        december.Totals["EUR"].Should().Be(1000);
    }

    [Fact]
    public async Task Statement_IsSigned_TotalsFromLines_HeldApart_AndRendersCsvJsonText()
    {
        (ChargeLedger ledger, StatementIssuer issuer) = await OpenAsync("Europe/Berlin", threshold: 10_000);
        await ledger.RecordAsync(TestCharges.CallSetup("a", 1_234, new DateTimeOffset(2026, 11, 3, 9, 0, 0, TimeSpan.Zero), "Connect time, \"night\" rate"));
        await ledger.RecordAsync(TestCharges.CallSetup("b", 766, new DateTimeOffset(2026, 11, 4, 9, 0, 0, TimeSpan.Zero)));
        await ledger.RecordAsync(TestCharges.CallSetup("c", 50_000, new DateTimeOffset(2026, 11, 5, 9, 0, 0, TimeSpan.Zero)));

        SignedEnvelope signed = await Issue(ledger, issuer, new YearMonth(2026, 11), "Europe/Berlin");
        MonthlyStatement statement = MonthlyStatement.FromEnvelope(signed);

        _f.Trust.Verify(signed, new SignaturePolicy(MonthlyStatement.DocumentType, new SignatureRequirement("contoso", PartyRole.Vendor))).IsValid.Should().BeTrue();
        statement.LedgerCheckpoint.Should().StartWith("fabrikam.example/ledger\n3\n");
        statement.Totals["EUR"].Should().Be(2_000);
        statement.Subtotals["CallSetup/EUR"].Should().Be(2_000);
        statement.HeldLines.Should().ContainSingle().Which.AmountMinor.Should().Be(50_000);
        string csv = statement.ToCsv();
        csv.Should().Contain("\r\n").And.Contain("\"Connect time, \"\"night\"\" rate\"").And.Contain(",12.34,EUR,due,").And.Contain(",500.00,EUR,held,");
        statement.ToText().Should().Contain("TOTAL DUE").And.Contain("20.00 EUR").And.Contain("Held, not due");
        statement.ToJson().Should().Contain("\"number\": 1");
    }

    [Fact]
    public async Task DisputedLine_IsShownApart_AndNotInTheTotals()
    {
        (ChargeLedger ledger, StatementIssuer issuer) = await OpenAsync("Europe/Berlin");
        ChargeEntry disputed = await ledger.RecordAsync(TestCharges.CallSetup("x", 900, new DateTimeOffset(2026, 11, 3, 9, 0, 0, TimeSpan.Zero)));
        await ledger.RecordAsync(TestCharges.CallSetup("y", 100, new DateTimeOffset(2026, 11, 4, 9, 0, 0, TimeSpan.Zero)));
        (await ledger.DisputeAsync(new ChargeDispute { CustomerId = "fabrikam", EntryId = disputed.EntryId, Reason = "not ours" }.ToEnvelope().Sign(_f.Customer), _f.Trust))
            .IsAccepted.Should().BeTrue();

        MonthlyStatement statement = MonthlyStatement.FromEnvelope(await Issue(ledger, issuer, new YearMonth(2026, 11), "Europe/Berlin"));

        statement.DisputedLines.Should().ContainSingle().Which.EntryId.Should().Be(disputed.EntryId);
        statement.Totals["EUR"].Should().Be(100);
        statement.ToCsv().Should().Contain(",9.00,EUR,disputed,");
        statement.ToText().Should().Contain("Disputed by the customer");
    }

    [Fact]
    public async Task LargeStatement_CarriesItsLinesInACsvBoundByHash()
    {
        (ChargeLedger ledger, StatementIssuer issuer) = await OpenAsync("Europe/Berlin", inlineLimit: 5);
        for (int i = 0; i < 8; i++)
        {
            await ledger.RecordAsync(TestCharges.CallSetup($"k{i}", 100 + i, new DateTimeOffset(2026, 11, 3 + i, 9, 0, 0, TimeSpan.Zero)));
        }

        var noStream = async () => await Issue(ledger, issuer, new YearMonth(2026, 11), "Europe/Berlin");
        (await noStream.Should().ThrowAsync<InvalidOperationException>()).Which.Message.Should().Contain("stream");

        using var csv = new MemoryStream();
        MonthlyStatement statement = MonthlyStatement.FromEnvelope(await Issue(ledger, issuer, new YearMonth(2026, 11), "Europe/Berlin", csv));

        statement.LinesInline.Should().BeFalse();
        statement.Lines.Should().BeEmpty();
        statement.LineCount.Should().Be(8);
        statement.Totals["EUR"].Should().Be(8 * 100 + 28);
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(csv.ToArray())).Should().Be(statement.LinesSha256);
        System.Text.Encoding.UTF8.GetString(csv.ToArray()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Should().HaveCount(9, "a header and eight lines");
    }

    [Fact]
    public async Task IssuedStatementsSurviveARestart_AndTheNextStatementBillsOnlyWhatIsLeft()
    {
        string ledgerPath = _folder.File("ledger.journal");
        string statementsPath = _folder.File("statements.journal");
        SecurityGroundRules rules = _f.Rules with { TollCharges = _f.Rules.TollCharges with { ApprovalThresholdMinor = long.MaxValue, SessionCapMinor = long.MaxValue, MonthlyCapMinor = long.MaxValue } };
        await using (AppendOnlyJournal ledgerJournal = await AppendOnlyJournal.OpenAsync(ledgerPath))
        await using (AppendOnlyJournal statementJournal = await AppendOnlyJournal.OpenAsync(statementsPath))
        {
            using ChargeLedger ledger = await ChargeLedger.OpenAsync(ledgerJournal, rules, _clock);
            StatementIssuer issuer = await StatementIssuer.OpenAsync(statementJournal, _clock);
            await ledger.RecordAsync(TestCharges.CallSetup("a", 100, new DateTimeOffset(2026, 11, 3, 9, 0, 0, TimeSpan.Zero)));
            _ledgerJournal = ledgerJournal;
            await Issue(ledger, issuer, new YearMonth(2026, 11), "Europe/Berlin");
            await ledger.RecordAsync(TestCharges.CallSetup("late", 50, new DateTimeOffset(2026, 11, 20, 9, 0, 0, TimeSpan.Zero)));
        }

        await using (AppendOnlyJournal ledgerJournal = await AppendOnlyJournal.OpenAsync(ledgerPath))
        await using (AppendOnlyJournal statementJournal = await AppendOnlyJournal.OpenAsync(statementsPath))
        {
            using ChargeLedger ledger = await ChargeLedger.OpenAsync(ledgerJournal, rules, _clock);
            StatementIssuer issuer = await StatementIssuer.OpenAsync(statementJournal, _clock);
            _ledgerJournal = ledgerJournal;

            MonthlyStatement december = MonthlyStatement.FromEnvelope(await Issue(ledger, issuer, new YearMonth(2026, 12), "Europe/Berlin"));

            december.Number.Should().Be(2);
            december.Lines.Should().ContainSingle().Which.PriorPeriod.Should().BeTrue();
            december.Totals["EUR"].Should().Be(50);
        }
    }

    [Fact]
    public async Task AnIssuedStatement_IsRecordedInTheVendorsAuditLog()
    {
        await using AppendOnlyJournal ledgerJournal = await AppendOnlyJournal.OpenAsync(_folder.File("ledger.journal"));
        await using AppendOnlyJournal statementJournal = await AppendOnlyJournal.OpenAsync(_folder.File("statements.journal"));
        await using AppendOnlyJournal auditJournal = await AppendOnlyJournal.OpenAsync(_folder.File("vendor-audit.journal"));
        SecurityGroundRules rules = _f.Rules with { TollCharges = _f.Rules.TollCharges with { ApprovalThresholdMinor = long.MaxValue, SessionCapMinor = long.MaxValue, MonthlyCapMinor = long.MaxValue } };
        using ChargeLedger ledger = await ChargeLedger.OpenAsync(ledgerJournal, rules, _clock);
        using StatementIssuer issuer = await StatementIssuer.OpenAsync(statementJournal, _clock, audit: new AuditLog(auditJournal, _clock));
        await ledger.RecordAsync(TestCharges.CallSetup("a", 100, new DateTimeOffset(2026, 11, 3, 9, 0, 0, TimeSpan.Zero)));
        await ledger.RecordAsync(TestCharges.CallSetup("b", 250, new DateTimeOffset(2026, 11, 4, 9, 0, 0, TimeSpan.Zero)));
        _ledgerJournal = ledgerJournal;

        SignedEnvelope signed = await Issue(ledger, issuer, new YearMonth(2026, 11), "Europe/Berlin");

        AuditEvent issued = JsonSerializer.Deserialize<AuditEvent>(await auditJournal.ReadAsync(0), DocumentJson.Options)!;
        auditJournal.Count.Should().Be(1);
        issued.Kind.Should().Be(AuditEventKind.StatementIssued);
        issued.Details.Should().Contain(new Dictionary<string, string>
        {
            ["customer"] = "fabrikam", ["month"] = "2026-11", ["number"] = "1", ["lines"] = "2", ["totals"] = "EUR:350",
            ["statement-sha256"] = DocumentJson.Hash(signed.Payload.Span),
        });
    }

    [Fact]
    public async Task TheYearMonthOverload_IssuesTheSameMonth_AndRefusesAMonthOutOfRange()
    {
        (ChargeLedger ledger, StatementIssuer issuer) = await OpenAsync("Europe/Berlin");
        await ledger.RecordAsync(TestCharges.CallSetup("a", 100, new DateTimeOffset(2026, 11, 3, 9, 0, 0, TimeSpan.Zero)));
        string checkpoint = new Checkpoint("fabrikam.example/ledger", _ledgerJournal!.Count, _ledgerJournal.Root()).Sign("contoso-billing", _f.Vendor);

        var thirteenth = async () => await issuer.IssueAsync(ledger, "fabrikam", 2026, 13, "Europe/Berlin", checkpoint, _f.Vendor);
        MonthlyStatement november = MonthlyStatement.FromEnvelope(await issuer.IssueAsync(ledger, "fabrikam", 2026, 11, "Europe/Berlin", checkpoint, _f.Vendor));

        await thirteenth.Should().ThrowAsync<ArgumentOutOfRangeException>();
        (november.Month, november.Totals["EUR"]).Should().Be(("2026-11", 100L));
    }

    [Fact]
    public async Task ALedgerCheckpointThatIsNotOfTheLedgerRead_IsRefused_AndNothingIsIssued()
    {
        (ChargeLedger ledger, StatementIssuer issuer) = await OpenAsync("Europe/Berlin");
        await ledger.RecordAsync(TestCharges.CallSetup("a", 100, new DateTimeOffset(2026, 11, 3, 9, 0, 0, TimeSpan.Zero)));
        await ledger.RecordAsync(TestCharges.CallSetup("b", 200, new DateTimeOffset(2026, 11, 4, 9, 0, 0, TimeSpan.Zero)));
        using var stranger = PartyIdentity.Create("contoso", PartyRole.Vendor);
        long size = _ledgerJournal!.Count;
        string origin = "fabrikam.example/ledger";
        (string Claim, string Because)[] falseClaims =
        [
            ("hello", "not a signed note"),
            (new Checkpoint(origin, size - 1, _ledgerJournal.Root(size - 1)).Sign("contoso-billing", _f.Vendor), "covers 1 records; the ledger the statement reads holds 2"),
            (new Checkpoint(origin, size, new byte[32]).Sign("contoso-billing", _f.Vendor), "root is not the root of this ledger's 2 records"),
            (new Checkpoint(origin, size, _ledgerJournal.Root()).Sign("contoso-billing", stranger), "not one the statement's signer"),
        ];

        foreach ((string claim, string because) in falseClaims)
        {
            var issue = async () => await issuer.IssueAsync(ledger, "fabrikam", 2026, 11, "Europe/Berlin", claim, _f.Vendor);

            (await issue.Should().ThrowAsync<ArgumentException>(because)).Which.Message.Should().Contain(because);
        }

        issuer.Issued.Should().BeEmpty("a refused checkpoint issues nothing");
        string genuine = new Checkpoint(origin, size, _ledgerJournal.Root()).Sign("contoso-billing", _f.Vendor);
        MonthlyStatement.FromEnvelope(await issuer.IssueAsync(ledger, "fabrikam", 2026, 11, "Europe/Berlin", genuine, _f.Vendor)).Totals["EUR"].Should().Be(300);
    }

    [Fact]
    public async Task TheIssuedStatementsJournal_HasSignedCheckpoints_AndEachStatementNamesItsTzdb()
    {
        SecurityGroundRules rules = _f.Rules with { TollCharges = _f.Rules.TollCharges with { ApprovalThresholdMinor = long.MaxValue, SessionCapMinor = long.MaxValue, MonthlyCapMinor = long.MaxValue } };
        await using AppendOnlyJournal ledgerJournal = await AppendOnlyJournal.OpenAsync(_folder.File("ledger.journal"));
        await using AppendOnlyJournal statementJournal = await AppendOnlyJournal.OpenAsync(_folder.File("statements.journal"));
        using ChargeLedger ledger = await ChargeLedger.OpenAsync(ledgerJournal, rules, _clock);
        using StatementIssuer issuer = await StatementIssuer.OpenAsync(statementJournal, _clock);
        _ledgerJournal = ledgerJournal;
        await ledger.RecordAsync(TestCharges.CallSetup("a", 100, new DateTimeOffset(2026, 10, 3, 9, 0, 0, TimeSpan.Zero)));
        await Issue(ledger, issuer, new YearMonth(2026, 10), "Europe/Berlin");
        await ledger.RecordAsync(TestCharges.CallSetup("b", 200, new DateTimeOffset(2026, 11, 3, 9, 0, 0, TimeSpan.Zero)));
        await Issue(ledger, issuer, new YearMonth(2026, 11), "Europe/Berlin");

        string checkpoint = await issuer.SignCheckpointAsync("contoso.example/statements", "contoso-billing", _f.Vendor);
        string export = _folder.File("statements-export.journal");
        await statementJournal.ExportAsync(export);

        (await JournalVerifier.VerifyAsync(export, checkpoint, "contoso-billing", _f.Vendor.PublicKey)).IsValid.Should().BeTrue();
        MonthlyStatement[] issued = [.. (await AppendOnlyJournal.ReadAllRecordsAsync(export)).Select(r => MonthlyStatement.FromEnvelope(SignedEnvelope.Parse(r)))];
        issued.Select(s => s.Number).Should().Equal(1, 2);
        issued.Should().OnlyContain(s => s.TzdbVersion == DateTimeZoneProviders.Tzdb.VersionId.Replace("TZDB: ", string.Empty, StringComparison.Ordinal));
        issued[0].ToText().Should().Contain("(Europe/Berlin, TZDB " + issued[0].TzdbVersion + ")");

        // A statement removed from the export is found against the checkpoint.
        string shortened = _folder.File("statements-shortened.journal");
        await using (AppendOnlyJournal copy = await AppendOnlyJournal.OpenAsync(shortened))
        {
            await copy.AppendAsync(await statementJournal.ReadAsync(0));
        }

        (await JournalVerifier.VerifyAsync(shortened, checkpoint, "contoso-billing", _f.Vendor.PublicKey)).Reason.Should().Be(JournalVerificationFailure.TooFewRecords);
    }

    [Fact]
    public async Task TheCsv_ReadWithTheRulesAsWritten_HasRateAndAmountInMajorUnits_AndQuotesWhatNeedsIt()
    {
        (ChargeLedger ledger, StatementIssuer issuer) = await OpenAsync("Europe/Berlin");
        await ledger.RecordAsync(TestCharges.CallSetup("connect", 720, new DateTimeOffset(2026, 11, 3, 9, 0, 0, TimeSpan.Zero), "Connect time, \"long\"\nsecond line") with
        {
            Kind = ChargeKind.ConnectTime, Quantity = 300, QuantityUnit = "second", Rate = 2.4m,
        });
        MonthlyStatement statement = MonthlyStatement.FromEnvelope(await Issue(ledger, issuer, new YearMonth(2026, 11), "Europe/Berlin"));

        string csv = statement.ToCsv();
        List<string[]> records = ReadCsv(csv);

        records[0].Should().Equal("date", "session", "unit", "kind", "description", "quantity", "unit_of_quantity", "rate", "amount", "currency", "status", "entry");
        records.Should().HaveCount(2);
        string[] line = records[1];
        line[3].Should().Be("connect-time");
        line[4].Should().Be("Connect time, \"long\"\nsecond line", "a field with a comma, a quote or a line break is quoted, quotes doubled");
        (line[5], line[6], line[7], line[8], line[9], line[10]).Should().Be(("300", "second", "0.024", "7.20", "EUR", "due"),
            "rate and amount are both in major units of the currency");
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(csv))).Should().Be(statement.LinesSha256,
            "linesSha256 covers the whole CSV, header included");
    }

    /// <summary>RFC 4180 as ledger.md states it: CRLF between records, fields in quotes when they hold a comma, a quote, CR or LF, quotes doubled.</summary>
    private static List<string[]> ReadCsv(string csv)
    {
        var records = new List<string[]>();
        var fields = new List<string>();
        var field = new System.Text.StringBuilder();
        bool quoted = false;
        for (int i = 0; i < csv.Length; i++)
        {
            char c = csv[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < csv.Length && csv[i + 1] == '"')
                {
                    field.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    field.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == ',')
            {
                fields.Add(field.ToString());
                field.Clear();
            }
            else if (c == '\r' && i + 1 < csv.Length && csv[i + 1] == '\n')
            {
                fields.Add(field.ToString());
                field.Clear();
                records.Add([.. fields]);
                fields.Clear();
                i++;
            }
            else
            {
                c.Should().NotBe('\n', "outside quotes a record ends with CRLF only");
                field.Append(c);
            }
        }

        return records;
    }

    [Fact]
    public async Task MonthNotEnded_CannotBeIssued()
    {
        (ChargeLedger ledger, StatementIssuer issuer) = await OpenAsync("Europe/Berlin");

        var early = async () => await Issue(ledger, issuer, new YearMonth(2030, 1), "Europe/Berlin");

        (await early.Should().ThrowAsync<InvalidOperationException>()).Which.Message.Should().Contain("has not ended");
    }

    private async Task<(ChargeLedger Ledger, StatementIssuer Issuer)> OpenAsync(string zone, long threshold = long.MaxValue, int inlineLimit = StatementIssuer.InlineLineLimit)
    {
        SecurityGroundRules rules = _f.Rules with
        {
            TimeZone = zone,
            TollCharges = _f.Rules.TollCharges with { ApprovalThresholdMinor = threshold, SessionCapMinor = long.MaxValue, MonthlyCapMinor = long.MaxValue },
        };
        AppendOnlyJournal ledgerJournal = await AppendOnlyJournal.OpenAsync(_folder.File($"ledger-{Guid.NewGuid():N}.journal"));
        AppendOnlyJournal statementJournal = await AppendOnlyJournal.OpenAsync(_folder.File($"statements-{Guid.NewGuid():N}.journal"));
        _journals.Add(ledgerJournal);
        _journals.Add(statementJournal);
        _ledgerJournal = ledgerJournal;
        return (await ChargeLedger.OpenAsync(ledgerJournal, rules, _clock), await StatementIssuer.OpenAsync(statementJournal, _clock, inlineLimit));
    }

    private readonly List<AppendOnlyJournal> _journals = [];
    private AppendOnlyJournal? _ledgerJournal;

    private Task<SignedEnvelope> Issue(ChargeLedger ledger, StatementIssuer issuer, YearMonth month, string zone, Stream? lines = null)
    {
        string checkpoint = new Checkpoint("fabrikam.example/ledger", _ledgerJournal!.Count, _ledgerJournal.Root()).Sign("contoso-billing", _f.Vendor);
        return issuer.IssueAsync(ledger, "fabrikam", month, zone, checkpoint, _f.Vendor, lines, CancellationToken.None);
    }
}
