using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using NodaTime;
using RemoteSupport.Documents;
using RemoteSupport.Identities;
using RemoteSupport.Journal;
using RemoteSupport.Ledger;
using RemoteSupport.PostgreSql.Journal;
using RemoteSupport.Tests;

namespace RemoteSupport.PostgreSql.Tests.Journal;

/// <summary>Batched appends and streamed range reads against the real server, and a statement issued from either store.</summary>
[Trait(PostgreSqlTrait.Name, PostgreSqlTrait.Value)]
public sealed class RangeAndBatchTests
{
    [PostgreSqlFact]
    public async Task ABatch_IsAppendedAsConsecutiveRecords_AndARangeStreamsThemBackAsStored_LargeOnesToo()
    {
        await using PostgreSqlServer server = await PostgreSqlServer.CreateDatabaseAsync();
        await using PostgreSqlRecordJournal journal = await PostgreSqlRecordJournal.OpenAsync(server.Database, "ledger/fabrikam");
        await using PostgreSqlRecordJournal other = await PostgreSqlRecordJournal.OpenAsync(server.Database, "ledger/fabrikam");
        List<byte[]> records = [.. Enumerable.Range(0, 500).Select(i => RandomNumberGenerator.GetBytes(i == 250 ? 2 * 1024 * 1024 : RandomNumberGenerator.GetInt32(0, 2000)))];
        await other.AppendAsync(records[0]); // another host appended first

        long first = await journal.AppendBatchAsync([.. records.Skip(1).Select(r => (ReadOnlyMemory<byte>)r)]);
        var read = new List<(long Index, string Hash)>();
        await journal.ReadRangeAsync(0, journal.Count, (index, payload) => read.Add((index, Hash(payload))));
        var middle = new List<long>();
        await journal.ReadRangeAsync(240, 260, (index, _) => middle.Add(index));

        first.Should().Be(1, "after the other host's record");
        journal.Count.Should().Be(500);
        read.Select(r => r.Index).Should().Equal(Enumerable.Range(0, 500).Select(i => (long)i));
        read.Select(r => r.Hash).Should().Equal(records.Select(r => Hash(r)));
        middle.Should().Equal(Enumerable.Range(240, 20).Select(i => (long)i));
        journal.Root().Should().Equal(MerkleTree.Root([.. records.Select(r => MerkleTree.LeafHash(r))], 500));
        await other.RefreshAsync();
        other.Root().Should().Equal(journal.Root(), "the other host reads the batch's records in");
    }

    [PostgreSqlFact]
    public async Task ARangeOverADeletedRow_IsRefusedNamingTheRecord_ShortOrLong()
    {
        await using PostgreSqlServer server = await PostgreSqlServer.CreateDatabaseAsync();
        await using PostgreSqlRecordJournal journal = await PostgreSqlRecordJournal.OpenAsync(server.Database, "ledger/fabrikam");
        await journal.AppendBatchAsync([.. Enumerable.Range(0, 200).Select(i => (ReadOnlyMemory<byte>)BitConverter.GetBytes(i))]);
        await server.ExecuteAsync("delete from remotesupport_journal_records where record_index in (12, 150)");

        // A few records are one plain query; many are one copy: both refuse the gap the same way.
        foreach ((long from, long below, long missing) in new[] { (5L, 20L, 12L), (30L, 200L, 150L) })
        {
            var read = new List<long>();
            var reading = async () => await journal.ReadRangeAsync(from, below, (index, payload) =>
            {
                BitConverter.ToInt32(payload).Should().Be((int)index);
                read.Add(index);
            });

            (await reading.Should().ThrowAsync<JournalException>()).Which.Message.Should().Contain($"Record {missing} ").And.Contain("deleted");
            read.Should().Equal(Enumerable.Range((int)from, (int)(missing - from)).Select(i => (long)i), "every record before the gap was handed over");
        }
    }

    [PostgreSqlFact]
    public async Task AStatementIssuedFromPostgreSql_IsTheStatementIssuedFromTheFileJournal_ByteForByte()
    {
        await using PostgreSqlServer server = await PostgreSqlServer.CreateDatabaseAsync();
        using var folder = new TemporaryFolder();
        using PartyIdentity vendor = PartyIdentity.Create("contoso", PartyRole.Vendor);
        await using PostgreSqlRecordJournal database = await PostgreSqlRecordJournal.OpenAsync(server.Database, "ledger/fabrikam");
        await using AppendOnlyJournal file = await AppendOnlyJournal.OpenAsync(folder.File("ledger.journal"));
        var start = new DateTimeOffset(2026, 10, 31, 23, 0, 0, TimeSpan.Zero);
        List<ReadOnlyMemory<byte>> records = [.. Enumerable.Range(0, 3_000).Select(n => (ReadOnlyMemory<byte>)JsonSerializer.SerializeToUtf8Bytes(new ChargeEntry
        {
            EntryId = "charge-" + Guid.NewGuid().ToString("N"),
            RecordedAt = start.AddMinutes(n),
            Status = n % 10 == 0 ? ChargeStatus.Held : ChargeStatus.Due,
            Charge = new ChargeRequest
            {
                IdempotencyKey = "k" + n, CustomerId = n % 7 == 0 ? "northwind" : "fabrikam", UnitId = "unit-" + (n % 5), SessionId = "session-" + (n / 3),
                Kind = ChargeKind.ConnectTime, Quantity = 60 + n, QuantityUnit = "second", Rate = 2.5m, AmountMinor = 150 + n, Currency = "EUR",
                IncurredAt = start.AddMinutes(n * 13), Description = n % 2 == 0 ? "Connect time, \"night\"" : "Verbindung – Nacht",
            },
        }, LedgerJson))];
        await database.AppendBatchAsync(records);
        await Task.WhenAll(records.Select(r => file.AppendAsync(r).AsTask()));

        (byte[] Csv, MonthlyStatement Statement) fromDatabase = await IssueAsync(database, folder, vendor);
        (byte[] Csv, MonthlyStatement Statement) fromFile = await IssueAsync(file, folder, vendor);

        fromDatabase.Statement.LineCount.Should().BeGreaterThan(2_000);
        fromDatabase.Csv.Should().Equal(fromFile.Csv);
        fromDatabase.Statement.LinesSha256.Should().Be(fromFile.Statement.LinesSha256).And.Be(Hash(fromFile.Csv));
        fromDatabase.Statement.Totals.Should().Equal(fromFile.Statement.Totals);
        fromDatabase.Statement.LedgerCheckpoint.Should().Be(fromFile.Statement.LedgerCheckpoint, "the same records, the same root");
    }

    private static async Task<(byte[] Csv, MonthlyStatement Statement)> IssueAsync(IRecordJournal ledger, TemporaryFolder folder, PartyIdentity vendor)
    {
        string checkpoint = new Checkpoint("fabrikam.example/ledger", ledger.Count, ledger.Root()).Sign("contoso-billing", vendor);
        await using AppendOnlyJournal statements = await AppendOnlyJournal.OpenAsync(folder.File($"statements-{Guid.NewGuid():N}.journal"));
        using StatementIssuer issuer = await StatementIssuer.OpenAsync(statements, new FixedClock(), inlineLineLimit: 100);
        using var csv = new MemoryStream();
        SignedEnvelope signed = await issuer.IssueAsync(ledger, "fabrikam", new YearMonth(2026, 11), "Europe/Berlin", checkpoint, vendor, csv, CancellationToken.None);
        return (csv.ToArray(), MonthlyStatement.FromEnvelope(signed));
    }

    // As the ledger writes its records (docs/formats/ledger.md).
    private static readonly JsonSerializerOptions LedgerJson = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private static string Hash(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private sealed class FixedClock : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => new(2027, 1, 15, 0, 0, 0, TimeSpan.Zero);
    }
}
