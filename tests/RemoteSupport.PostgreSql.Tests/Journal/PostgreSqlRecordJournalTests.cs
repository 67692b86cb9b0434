using System.Security.Cryptography;
using RemoteSupport.Journal;
using RemoteSupport.PostgreSql.Journal;
using RemoteSupport.Tests;

namespace RemoteSupport.PostgreSql.Tests.Journal;

[Trait(PostgreSqlTrait.Name, PostgreSqlTrait.Value)]
public sealed class PostgreSqlRecordJournalTests
{
    [PostgreSqlFact]
    public async Task TheSameRecords_GiveTheSameRoots_AndTheSameExportedFile_AsTheFileJournal()
    {
        await using PostgreSqlServer server = await PostgreSqlServer.CreateDatabaseAsync();
        using var folder = new TemporaryFolder();
        await using PostgreSqlRecordJournal database = await PostgreSqlRecordJournal.OpenAsync(server.Database, "ledger/fabrikam");
        await using AppendOnlyJournal file = await AppendOnlyJournal.OpenAsync(folder.File("ledger.journal"));
        var roots = new List<byte[]>();
        for (int i = 0; i < 70; i++)
        {
            byte[] record = RandomNumberGenerator.GetBytes(RandomNumberGenerator.GetInt32(0, 3000));
            (await database.AppendAsync(record)).Should().Be(i);
            (await file.AppendAsync(record)).Should().Be(i);
            roots.Add(file.Root());
        }

        database.Count.Should().Be(70);
        for (int size = 1; size <= 70; size++)
        {
            database.Root(size).Should().Equal(roots[size - 1], $"the tree over {size} records");
        }

        (await database.ReadAsync(41)).Should().Equal(await file.ReadAsync(41));
        (await database.ExportAsync(folder.File("from-database.journal"))).Should().Be(70);
        (await file.ExportAsync(folder.File("from-file.journal"))).Should().Be(70);
        (await File.ReadAllBytesAsync(folder.File("from-database.journal"))).Should().Equal(await File.ReadAllBytesAsync(folder.File("from-file.journal")));
    }

    [PostgreSqlFact]
    public async Task TwoHostsAppendingAtOnce_GetEveryIndexOnce_AndAgreeOnTheTree()
    {
        await using PostgreSqlServer server = await PostgreSqlServer.CreateDatabaseAsync();
        await using PostgreSqlRecordJournal first = await PostgreSqlRecordJournal.OpenAsync(server.Database, "ledger/fabrikam");
        await using PostgreSqlRecordJournal second = await PostgreSqlRecordJournal.OpenAsync(server.Database, "ledger/fabrikam");

        long[] indexes = await Task.WhenAll(Enumerable.Range(0, 300).Select(async i =>
            await (i % 2 == 0 ? first : second).AppendAsync(BitConverter.GetBytes(i))));

        indexes.Should().BeEquivalentTo(Enumerable.Range(0, 300).Select(i => (long)i), "no gap and no index twice");
        await first.RefreshAsync();
        await second.RefreshAsync();
        first.Count.Should().Be(300);
        second.Root().Should().Equal(first.Root());
        var leaves = new List<byte[]>();
        for (int i = 0; i < 300; i++)
        {
            leaves.Add(MerkleTree.LeafHash(await first.ReadAsync(i)));
        }

        first.Root().Should().Equal(MerkleTree.Root(leaves, 300), "the tree is over the records as stored, in index order");
    }

    [PostgreSqlFact]
    public async Task ARecordEditedInSql_IsNamed_AndItsExportNoLongerMatchesTheRoot()
    {
        await using PostgreSqlServer server = await PostgreSqlServer.CreateDatabaseAsync();
        using var folder = new TemporaryFolder();
        await using PostgreSqlRecordJournal journal = await PostgreSqlRecordJournal.OpenAsync(server.Database, "statements/fabrikam");
        for (int i = 0; i < 10; i++)
        {
            await journal.AppendAsync(BitConverter.GetBytes(i));
        }

        byte[] signed = journal.Root();
        (await journal.FindAlteredRecordsAsync()).Should().BeEmpty();

        await server.ExecuteAsync("update remotesupport_journal_records set payload = '\\x00ff' where record_index = 3");

        (await journal.FindAlteredRecordsAsync()).Should().Equal(3L);
        await journal.ExportAsync(folder.File("export.journal"));
        await using AppendOnlyJournal exported = await AppendOnlyJournal.OpenAsync(folder.File("export.journal"));
        exported.Root().Should().NotEqual(signed, "a checkpoint signed over the true records no longer verifies the export");
    }

    [PostgreSqlFact]
    public async Task InAJournalOfManyBlocks_AnEditedPayloadIsNamed_AndARewrittenLeafNamesItsBlock()
    {
        await using PostgreSqlServer server = await PostgreSqlServer.CreateDatabaseAsync();
        var leaves = new List<byte[]>();
        await using (PostgreSqlRecordJournal writing = await PostgreSqlRecordJournal.OpenAsync(server.Database, "ledger/contoso"))
        {
            await writing.AppendBatchAsync([.. Enumerable.Range(0, 200).Select(i => (ReadOnlyMemory<byte>)BitConverter.GetBytes(i))]);
        }

        for (int i = 0; i < 200; i++)
        {
            leaves.Add(MerkleTree.LeafHash(BitConverter.GetBytes(i)));
        }

        await using PostgreSqlRecordJournal journal = await PostgreSqlRecordJournal.OpenAsync(server.Database, "ledger/contoso");
        journal.Root(100).Should().Equal(MerkleTree.Root(leaves, 100), "an older head reads one block's leaves again");
        await server.ExecuteAsync("update remotesupport_journal_records set payload = '\\x00ff' where record_index = 70");
        (await journal.FindAlteredRecordsAsync()).Should().Equal(70L);

        await server.ExecuteAsync("update remotesupport_journal_records set leaf_hash = sha256('\\x00'::bytea || payload) where record_index = 70");
        (await journal.FindAlteredRecordsAsync()).Should().Equal(Enumerable.Range(64, 64).Select(i => (long)i));
        journal.Root().Should().Equal(MerkleTree.Root(leaves, 200), "the tree this instance took in stands");
        Func<byte[]> older = () => journal.Root(90);
        older.Should().Throw<JournalException>().WithMessage("Records 64 to 127 changed*");
    }

    [PostgreSqlFact]
    public async Task AReopenedJournal_HasEveryCommittedRecord_AndADeletedRowIsFound()
    {
        await using PostgreSqlServer server = await PostgreSqlServer.CreateDatabaseAsync();
        byte[] root;
        await using (PostgreSqlRecordJournal journal = await PostgreSqlRecordJournal.OpenAsync(server.Database, "ledger/contoso"))
        {
            for (int i = 0; i < 25; i++)
            {
                await journal.AppendAsync(BitConverter.GetBytes(i));
            }

            root = journal.Root();
        }

        await using (PostgreSqlRecordJournal reopened = await PostgreSqlRecordJournal.OpenAsync(server.Database, "ledger/contoso"))
        {
            reopened.Count.Should().Be(25);
            reopened.Root().Should().Equal(root);
        }

        await server.ExecuteAsync("delete from remotesupport_journal_records where record_index = 7");
        Func<Task> opening = () => PostgreSqlRecordJournal.OpenAsync(server.Database, "ledger/contoso");
        (await opening.Should().ThrowAsync<JournalException>()).Which.Message.Should().Contain("Record 7").And.Contain("deleted");
    }

    [PostgreSqlFact]
    public async Task RowsEditedPastTheTableChecks_AreRefusedWithTheirIndex_NotTakenIn()
    {
        await using PostgreSqlServer server = await PostgreSqlServer.CreateDatabaseAsync();
        await using PostgreSqlRecordJournal journal = await PostgreSqlRecordJournal.OpenAsync(server.Database, "ledger/fabrikam");
        for (int i = 0; i < 5; i++)
        {
            await journal.AppendAsync(BitConverter.GetBytes(i));
        }

        // The last row deleted behind this instance's back: the next append takes its index again.
        await server.ExecuteAsync("delete from remotesupport_journal_records where record_index = 4");
        Func<Task> appending = async () => await journal.AppendAsync(new byte[] { 9 });
        (await appending.Should().ThrowAsync<JournalException>()).Which.Message.Should().Contain("Record 4").And.Contain("deleted");

        // A leaf hash of the wrong length, once its check is dropped.
        await server.ExecuteAsync("alter table remotesupport_journal_records drop constraint remotesupport_journal_records_leaf_hash_check");
        await server.ExecuteAsync("update remotesupport_journal_records set leaf_hash = '\\x00' where record_index = 2");
        Func<Task> opening = () => PostgreSqlRecordJournal.OpenAsync(server.Database, "ledger/fabrikam");
        (await opening.Should().ThrowAsync<JournalException>()).Which.Message.Should().Contain("Record 2").And.Contain("1 bytes");
    }

    [PostgreSqlFact]
    public async Task TheSchema_IsMigratedOnce_AndANewerOneIsRefused()
    {
        await using PostgreSqlServer server = await PostgreSqlServer.CreateDatabaseAsync();
        await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ => await (await PostgreSqlRecordJournal.OpenAsync(server.Database, "a")).DisposeAsync()));
        await using (var connection = await server.Database.OpenConnectionAsync())
        await using (var versions = new Npgsql.NpgsqlCommand("select count(*), max(version) from remotesupport_schema", connection))
        await using (var reader = await versions.ExecuteReaderAsync())
        {
            (await reader.ReadAsync()).Should().BeTrue();
            reader.GetInt64(0).Should().Be(PostgreSqlSchema.Version, "four hosts opening at once run each migration once");
            reader.GetInt32(1).Should().Be(PostgreSqlSchema.Version);
        }

        // A database left at version 1 (journals only) is brought to the current version, its journals kept.
        await using (PostgreSqlRecordJournal journal = await PostgreSqlRecordJournal.OpenAsync(server.Database, "a"))
        {
            await journal.AppendAsync("kept"u8.ToArray());
        }

        await server.ExecuteAsync("drop table remotesupport_unit_routes; delete from remotesupport_schema where version > 1");
        await using (PostgreSqlRecordJournal upgraded = await PostgreSqlRecordJournal.OpenAsync(server.Database, "a"))
        {
            upgraded.Count.Should().Be(1);
            await server.ExecuteAsync("select count(*) from remotesupport_unit_routes"); // the table is back
        }

        await server.ExecuteAsync("insert into remotesupport_schema (version) values (99)");
        Func<Task> opening = () => PostgreSqlRecordJournal.OpenAsync(server.Database, "a");
        (await opening.Should().ThrowAsync<InvalidOperationException>()).Which.Message.Should().Contain("version 99");
    }
}
