using System.Text.Json.Nodes;
using RemoteSupport.Identities;
using RemoteSupport.Journal;

namespace RemoteSupport.Cli.Tests;

/// <summary>The billing clerk's commands (charges in, the monthly statement out) and the auditor's verify of statements and journal exports.</summary>
[Collection(nameof(InstalledTool))]
public sealed class StatementCommandTests(InstalledTool tool) : IDisposable
{
    private readonly Workspace _work = new(tool);

    public void Dispose() => _work.Dispose();

    private Task<JsonObject> ChargeAsync(string kind, string quantity, string unit, string rate, string at, string evidence) => _work.JsonAsync(
        "ledger", "charge", "--ledger", "ledger.journal", "--rules", "rules.json", "--trust", "parties.trust", "--unit", "unit-7", "--session", "session-1",
        "--kind", kind, "--quantity", quantity, "--quantity-unit", unit, "--rate", rate, "--incurred-at", at, "--description", $"{kind} of unit-7", "--evidence", evidence);

    private Task<JsonObject> IssueAsync(string output, params string[] extra) => _work.JsonAsync([
        "statement", "issue", "--ledger", "ledger.journal", "--statements", "statements.journal", "--customer", "fabrikam", "--month", "2026-11",
        "--time-zone", "Europe/Berlin", "--key", "contoso.key", "--ledger-origin", "fabrikam/unit-7/ledger", "--out", output, .. extra]);

    [Fact]
    public async Task ChargesIssueShowExport_ItemizeTheMonth_AndTheStatementVerifies()
    {
        await _work.WithPartiesAsync();
        JsonObject setup = await ChargeAsync("call-setup", "1", "call", "500", "2026-11-14T09:58:00Z", "carrier-1-setup");
        JsonObject connect = await ChargeAsync("connect-time", "25", "minute", "120", "2026-11-14T10:00:00Z", "carrier-1");
        JsonObject again = await ChargeAsync("connect-time", "25", "minute", "120", "2026-11-14T10:00:00Z", "carrier-1");
        await ChargeAsync("connect-time", "5", "minute", "120", "2026-12-01T10:00:00+01:00", "carrier-2"); // December in Berlin

        JsonObject issued = await IssueAsync("statement.json");
        JsonObject shown = await _work.JsonAsync("statement", "show", "statement.json");
        ToolRun csv = await _work.OkAsync("statement", "export", "statement.json", "--format", "csv");
        ToolRun text = await _work.OkAsync("statement", "export", "statement.json", "--format", "text");
        JsonObject json = await _work.JsonAsync("statement", "export", "statement.json", "--format", "json");
        JsonObject verified = await _work.JsonAsync("verify", "statement.json", "--trust", "parties.trust");

        ((string)setup["amount"]!).Should().Be("EUR 5.00");
        ((string)connect["amount"]!).Should().Be("EUR 30.00");
        ((bool)again["recorded"]!).Should().BeFalse("the same evidence is the same entry");
        ((string)again["entryId"]!).Should().Be((string)connect["entryId"]!);
        ((int)issued["number"]!).Should().Be(1);
        ((int)issued["lineCount"]!).Should().Be(2);
        ((string)issued["totals"]!).Should().Be("EUR 35.00");
        shown["lines"]!.AsArray().Select(l => (string)l!["amount"]!).Should().BeEquivalentTo("EUR 5.00", "EUR 30.00");
        csv.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Should().HaveCount(3, "a header and two lines")
            .And.Subject.First().Should().StartWith("date,session,unit,kind");
        text.Stdout.Should().Contain("fabrikam").And.Contain("35.00");
        JsonNode.Parse((string)json["content"]!)!["number"]!.GetValue<long>().Should().Be(1);
        ((bool)verified["valid"]!).Should().BeTrue();
    }

    [Fact]
    public async Task Verify_ATamperedStatement_IsRefusedNamingTheFile_AndTheSameMonthIsNotIssuedTwice()
    {
        await _work.WithPartiesAsync();
        await ChargeAsync("connect-time", "25", "minute", "120", "2026-11-14T10:00:00Z", "carrier-1");
        await IssueAsync("statement.json");
        string original = await File.ReadAllTextAsync(_work.File("statement.json"));
        JsonObject envelope = JsonNode.Parse(original)!.AsObject();
        string payload = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(Base64Url((string)envelope["payload"]!)));
        string cheaper = payload.Replace("\"amountMinor\":3000", "\"amountMinor\":300", StringComparison.Ordinal);
        cheaper.Should().NotBe(payload, "the payload holds the line's amount");
        envelope["payload"] = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(cheaper)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        await File.WriteAllTextAsync(_work.File("tampered.json"), envelope.ToJsonString(new System.Text.Json.JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));

        string refused = await _work.FailsAsync(1, "verify", "tampered.json", "--trust", "parties.trust");
        ToolRun twice = await _work.RunAsync("statement", "issue", "--ledger", "ledger.journal", "--statements", "statements.journal", "--customer", "fabrikam", "--month", "2026-11",
            "--time-zone", "Europe/Berlin", "--key", "contoso.key", "--ledger-origin", "fabrikam/unit-7/ledger", "--out", "again.json");

        refused.Should().Contain("tampered.json: ");
        twice.ExitCode.Should().Be(1, twice.ToString());
        Workspace.OneSentence(twice).Should().Contain("2026-11");
        File.Exists(_work.File("again.json")).Should().BeFalse();
    }

    [Fact]
    public async Task Verify_AJournalExport_AgainstItsSignedCheckpoint_AndRefusesAnAlteredOne()
    {
        await _work.WithPartiesAsync();
        await ChargeAsync("connect-time", "25", "minute", "120", "2026-11-14T10:00:00Z", "carrier-1");
        await ChargeAsync("connect-time", "3", "minute", "120", "2026-11-15T10:00:00Z", "carrier-2");
        using PartyIdentity vendor = await KeyFile.LoadAsync(_work.File("contoso.key"), null);
        await using (AppendOnlyJournal journal = await AppendOnlyJournal.OpenAsync(_work.File("ledger.journal")))
        {
            await journal.ExportAsync(_work.File("ledger.export"));
            await File.WriteAllTextAsync(_work.File("ledger.checkpoint"), new Checkpoint("fabrikam/unit-7/ledger", journal.Count, journal.Root()).Sign("contoso-billing", vendor));
        }

        JsonObject valid = await _work.JsonAsync("verify", "ledger.export", "--checkpoint", "ledger.checkpoint", "--key-name", "contoso-billing", "--trust", "parties.trust");
        byte[] export = await File.ReadAllBytesAsync(_work.File("ledger.export"));
        export[^20] ^= 0x01;
        await File.WriteAllBytesAsync(_work.File("altered.export"), export);
        string altered = await _work.FailsAsync(1, "verify", "altered.export", "--checkpoint", "ledger.checkpoint", "--key-name", "contoso-billing", "--trust", "parties.trust");
        string noCheckpoint = await _work.FailsAsync(1, "verify", "ledger.export", "--trust", "parties.trust");

        valid["findings"]!.AsArray().Single()!["kind"]!.GetValue<string>().Should().Be("journal export");
        altered.Should().Contain("altered.export: ");
        noCheckpoint.Should().Contain("needs its signed checkpoint (--checkpoint)");
    }

    [Fact]
    public async Task Verify_AnEvidenceBundle_IsValid_AndAnAlteredFileInItIsNamed()
    {
        await _work.WithPartiesAsync();
        await _work.OkAsync("key", "new", "--party", "fabrikam", "--role", "unit", "--out", "unit.key");
        await _work.OkAsync("trust", "add", "--trust", "parties.trust", "unit.key");
        await ChargeAsync("connect-time", "25", "minute", "120", "2026-11-14T10:00:00Z", "carrier-1");
        await IssueAsync("statement.json");
        using PartyIdentity unit = await KeyFile.LoadAsync(_work.File("unit.key"), null);
        using PartyIdentity vendor = await KeyFile.LoadAsync(_work.File("contoso.key"), null);
        using PartyIdentity customer = await KeyFile.LoadAsync(_work.File("fabrikam.key"), Workspace.Passphrase);
        var unitTrust = new RemoteSupport.Trust.TrustStore();
        unitTrust.Trust("fabrikam", PartyRole.Customer, customer.PublicKey);
        unitTrust.Trust("contoso", PartyRole.Vendor, vendor.PublicKey);
        unitTrust.Trust("fabrikam", PartyRole.Unit, unit.PublicKey);
        RemoteSupport.Documents.SignedEnvelope statement = RemoteSupport.Documents.SignedEnvelope.Parse(await File.ReadAllBytesAsync(_work.File("statement.json")));
        await using (AppendOnlyJournal audit = await AppendOnlyJournal.OpenAsync(_work.File("audit.journal")))
        await using (AppendOnlyJournal ledger = await AppendOnlyJournal.OpenAsync(_work.File("ledger.journal")))
        {
            var contents = new RemoteSupport.Evidence.EvidenceContents
            {
                CustomerId = "fabrikam", UnitId = "unit-7", VendorId = "contoso",
                From = new DateTimeOffset(2026, 10, 31, 23, 0, 0, TimeSpan.Zero), Until = new DateTimeOffset(2026, 11, 30, 23, 0, 0, TimeSpan.Zero),
                Trust = unitTrust,
                Audit = new RemoteSupport.Evidence.EvidenceJournal(audit, new Checkpoint("fabrikam/unit-7/audit", audit.Count, audit.Root()).Sign("fabrikam/unit-7", unit)),
                Ledger = new RemoteSupport.Evidence.EvidenceJournal(ledger, new Checkpoint("fabrikam/unit-7/ledger", ledger.Count, ledger.Root()).Sign("fabrikam/unit-7", unit)),
            };
            contents.Statements.Add(new RemoteSupport.Evidence.EvidenceStatement(statement, RemoteSupport.Ledger.MonthlyStatement.FromEnvelope(statement).ToCsv()));
            await RemoteSupport.Evidence.EvidenceBundle.WriteAsync(_work.File("evidence-2026-11"), contents, unit);
        }

        JsonObject valid = await _work.JsonAsync("verify", "evidence-2026-11", "--trust", "parties.trust");
        string csv = Directory.GetFiles(_work.File("evidence-2026-11"), "*.csv", SearchOption.AllDirectories).Should().ContainSingle().Subject;
        await File.AppendAllTextAsync(csv, "2026-11-30,session-9,unit-7,other,free lunch,1,item,0,0.00,EUR,due,x\r\n");
        string altered = await _work.FailsAsync(1, "verify", "evidence-2026-11", "--trust", "parties.trust");

        valid["findings"]!.AsArray().Single()!["kind"]!.GetValue<string>().Should().Be("evidence bundle");
        altered.Should().Contain(Path.GetFileName(csv)).And.Contain("HashMismatch");
    }

    [Fact]
    public async Task TheVendorsBooksFolder_HoldsTheLedgerAndTheStatements_AndOneLedgerSourceIsGiven()
    {
        await _work.WithPartiesAsync();
        string[] charge = ["ledger", "charge", "--books", "books", "--rules", "rules.json", "--trust", "parties.trust", "--unit", "unit-7", "--session", "session-1",
            "--kind", "connect-time", "--quantity", "25", "--quantity-unit", "minute", "--rate", "120", "--incurred-at", "2026-11-14T10:00:00Z", "--description", "call", "--evidence", "carrier-1"];

        await _work.JsonAsync(charge);
        JsonObject issued = await _work.JsonAsync("statement", "issue", "--books", "books", "--customer", "fabrikam", "--month", "2026-11", "--time-zone", "Europe/Berlin",
            "--key", "contoso.key", "--ledger-origin", "fabrikam/unit-7/ledger", "--out", "statement.json");
        string both = await _work.FailsAsync(2, [.. charge, "--ledger", "ledger.journal"]);
        string half = await _work.FailsAsync(2, "statement", "issue", "--ledger", "ledger.journal", "--customer", "fabrikam", "--month", "2026-11", "--time-zone", "Europe/Berlin",
            "--key", "contoso.key", "--ledger-origin", "o", "--out", "s.json");

        ((int)issued["lineCount"]!).Should().Be(1);
        ((string)issued["totals"]!).Should().Be("EUR 30.00");
        Directory.EnumerateFiles(_work.File("books"), "*", SearchOption.AllDirectories).Should().HaveCountGreaterThanOrEqualTo(2, "the ledger and the statement journal are files of the books");
        (await _work.JsonAsync("verify", "statement.json", "--trust", "parties.trust"))["valid"]!.GetValue<bool>().Should().BeTrue();
        both.Should().StartWith("Give the ledger one way");
        half.Should().StartWith("--ledger and --statements go together");
    }

    [RemoteSupport.PostgreSql.Tests.PostgreSqlFact]
    public async Task StatementIssue_FromTheVendorsBooksInPostgreSql_NumbersAcrossRuns_AndNeverReadsTheConnectionStringFromArgv()
    {
        await using RemoteSupport.PostgreSql.Tests.PostgreSqlServer server = await RemoteSupport.PostgreSql.Tests.PostgreSqlServer.CreateDatabaseAsync();
        await _work.WithPartiesAsync();
        var environment = new Dictionary<string, string> { ["VENDOR_BOOKS"] = server.Database.ConnectionString };
        async Task<ToolRun> RunAsync(params string[] arguments)
        {
            ToolRun run = await _work.Tool.RunAsync(_work.Path, null, environment, [.. arguments, "--json"]);
            run.ExitCode.Should().Be(0, run.ToString());
            return run;
        }

        foreach ((string evidence, string at) in new[] { ("carrier-1", "2026-10-14T10:00:00Z"), ("carrier-2", "2026-11-14T10:00:00Z") })
        {
            await RunAsync("ledger", "charge", "--books-database-env", "VENDOR_BOOKS", "--rules", "rules.json", "--trust", "parties.trust", "--unit", "unit-7", "--session", evidence,
                "--kind", "connect-time", "--quantity", "25", "--quantity-unit", "minute", "--rate", "120", "--incurred-at", at, "--description", "call", "--evidence", evidence);
        }

        JsonObject october = (await RunAsync("statement", "issue", "--books-database-env", "VENDOR_BOOKS", "--customer", "fabrikam", "--month", "2026-10",
            "--time-zone", "Europe/Berlin", "--key", "contoso.key", "--ledger-origin", "fabrikam/unit-7/ledger", "--out", "october.json")).Json();
        JsonObject november = (await RunAsync("statement", "issue", "--books-database-env", "VENDOR_BOOKS", "--customer", "fabrikam", "--month", "2026-11",
            "--time-zone", "Europe/Berlin", "--key", "contoso.key", "--ledger-origin", "fabrikam/unit-7/ledger", "--out", "november.json")).Json();
        ToolRun december = await _work.Tool.RunAsync(_work.Path, null, environment, "statement", "issue", "--books-database-env", "VENDOR_BOOKS", "--customer", "fabrikam",
            "--month", "2026-12", "--time-zone", "Europe/Berlin", "--key", "contoso.key", "--ledger-origin", "fabrikam/unit-7/ledger", "--out", "december.json");
        string unset = await _work.FailsAsync(2, "statement", "issue", "--books-database-env", "NOT_SET_ANYWHERE", "--customer", "fabrikam", "--month", "2026-11",
            "--time-zone", "Europe/Berlin", "--key", "contoso.key", "--ledger-origin", "o", "--out", "x.json");

        ((int)october["number"]!).Should().Be(1);
        ((int)october["lineCount"]!).Should().Be(1);
        ((int)november["number"]!).Should().Be(2, "the statement journal in the database numbers without gaps across runs");
        ((long)november["ledgerSize"]!).Should().Be(2);
        december.ExitCode.Should().Be(1, december.ToString());
        Workspace.OneSentence(december).Should().Contain("has not ended");
        File.Exists(_work.File("december.json")).Should().BeFalse();
        (await _work.JsonAsync("verify", "october.json", "november.json", "--trust", "parties.trust"))["valid"]!.GetValue<bool>().Should().BeTrue();
        unset.Should().Be("--books-database-env NOT_SET_ANYWHERE: the environment variable is not set.");
    }

    private static string Base64Url(string text)
    {
        string padded = text.Replace('-', '+').Replace('_', '/');
        return padded + new string('=', (4 - (padded.Length % 4)) % 4);
    }
}
