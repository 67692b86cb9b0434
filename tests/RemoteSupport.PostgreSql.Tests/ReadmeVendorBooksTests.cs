using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using RemoteSupport.Documents;
using RemoteSupport.Identities;
using RemoteSupport.Ledger;
using RemoteSupport.PostgreSql;
using RemoteSupport.PostgreSql.Journal;
using RemoteSupport.Sessions;
using RemoteSupport.Tests;
using RemoteSupport.Tests.Consent;
using RemoteSupport.Tests.Ledger;
using RemoteSupport.Transport.Sessions;
using RemoteSupport.Trust;

namespace RemoteSupport.PostgreSql.Tests;

/// <summary>The README's vendor books block, compiled here, run against the server, and compared with the README text.</summary>
public sealed class ReadmeVendorBooksTests
{
    private const string ThisFile = "tests/RemoteSupport.PostgreSql.Tests/ReadmeVendorBooksTests.cs";

    [Fact]
    public void TheBlock_IsTheCodeInTheReadme()
    {
        (string[] imports, string[] statements, string[] classes) = ReadmeBlocks.Read("<!-- vendor-books -->");

        statements.Should().Equal(ReadmeBlocks.Between(ThisFile, "// README vendor books: begin", "// README vendor books: end", indent: 8));
        classes.Should().BeEmpty();
        ReadmeBlocks.ImportsInclude(ThisFile, imports);
    }

    [PostgreSqlFact]
    [Trait(PostgreSqlTrait.Name, PostgreSqlTrait.Value)]
    public async Task TheBlock_KeepsTheBooksInPostgreSql()
    {
        await using PostgreSqlServer server = await PostgreSqlServer.CreateDatabaseAsync();
        using var folder = new TemporaryFolder();
        using var f = new ConsentFixture();
        using var unit = PartyIdentity.Create("fabrikam", PartyRole.Unit);
        string booksFolder = folder.File("books");
        string connectionString = new NpgsqlConnectionStringBuilder(PostgreSqlServer.ConnectionString) { Database = server.DatabaseName }.ConnectionString;
        GroundRules.GroundRulesBook groundRules = f.GroundRules;
        ChargeRequest charge = TestCharges.CallSetup("session-1/setup", 500, f.Time.GetUtcNow());
        var unitKeys = new TrustStore();
        unitKeys.Trust("fabrikam", PartyRole.Unit, unit.PublicKey);
        SignedEnvelope sessionReceipt = new SessionReceipt
        {
            SessionId = "session-1", UnitId = "unit-7", CustomerId = "fabrikam", VendorId = "contoso", TechnicianKeyId = f.Technician.PublicKey.KeyId,
            OpenedAt = f.Time.GetUtcNow().AddMinutes(-5), ClosedAt = f.Time.GetUtcNow(), Ending = "closed", Operations = [], Charges = [],
        }.ToEnvelope().Sign(unit);
        Console.Lines.Clear();

        // README vendor books: begin
        var services = new ServiceCollection();
        services.AddRemoteSupportVendorBooks(booksFolder); // one console host: journal files
        services.AddRemoteSupportPostgreSql(connectionString); // several hosts: the same books in PostgreSQL
        await using ServiceProvider provider = services.BuildServiceProvider();

        VendorBooks books = provider.GetRequiredService<VendorBooks>();
        ChargeLedger ledger = await books.OpenLedgerAsync("fabrikam", groundRules);
        await ledger.RecordAsync(charge); // the same charge from two hosts at once is one entry
        ReceiptArchive receipts = await books.OpenReceiptsAsync("fabrikam");
        await receipts.KeepAsync(sessionReceipt, unitKeys); // kept once, if a fabrikam unit signed it
        StatementIssuer statements = await books.OpenStatementsAsync();
        Console.WriteLine($"{ledger.Entries.Count} entries, {receipts.Receipts.Count} receipts, {statements.Issued.Count} statements");
        // README vendor books: end

        Console.Lines.Should().Equal("1 entries, 1 receipts, 0 statements");
        Directory.Exists(booksFolder).Should().BeFalse("the books are in the database, not in files");
        await using PostgreSqlRecordJournal receiptsInDatabase = await PostgreSqlRecordJournal.OpenAsync(server.Database, VendorBooks.ReceiptsJournalName("fabrikam"));
        (await receiptsInDatabase.ReadAsync(0)).Should().Equal(sessionReceipt.ToUtf8Json());
    }

    /// <summary>What the README's block prints, captured.</summary>
    private static class Console
    {
        public static List<string> Lines { get; } = [];

        public static void WriteLine(string line) => Lines.Add(line);
    }
}
