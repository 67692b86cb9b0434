using System.Text;
using RemoteSupport.Journal;

namespace RemoteSupport.Tests.Journal;

public sealed class AppendOnlyJournalTests : IDisposable
{
    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private string JournalPath => _folder.File("audit.journal");

    [Fact]
    public void Crc32C_MatchesTheStandardCheckValue()
    {
        Crc32C.Compute("123456789"u8).Should().Be(0xE3069283);
    }

    [Fact]
    public async Task Appends_SurviveReopen_InOrder_WithTheSameTreeHead()
    {
        byte[] root;
        await using (AppendOnlyJournal journal = await AppendOnlyJournal.OpenAsync(JournalPath))
        {
            for (int i = 0; i < 10; i++)
            {
                (await journal.AppendAsync(Encoding.UTF8.GetBytes($"record {i}"))).Should().Be(i);
            }

            root = journal.Root();
        }

        await using AppendOnlyJournal reopened = await AppendOnlyJournal.OpenAsync(JournalPath);
        reopened.Count.Should().Be(10);
        reopened.Root().Should().Equal(root);
        Encoding.UTF8.GetString(await reopened.ReadAsync(7)).Should().Be("record 7");
        string export = _folder.File("export.journal");
        (await reopened.ExportAsync(export)).Should().Be(10);
        (await AppendOnlyJournal.ReadAllRecordsAsync(export)).Select(r => Encoding.UTF8.GetString(r)).Should().Equal(Enumerable.Range(0, 10).Select(i => $"record {i}"));
    }

    [Fact]
    public async Task TruncatedAtEveryOffsetOfTheLastRecord_ReopensToTheValidPrefix()
    {
        await using (AppendOnlyJournal journal = await AppendOnlyJournal.OpenAsync(JournalPath))
        {
            await journal.AppendAsync("first, acknowledged"u8.ToArray());
            await journal.AppendAsync("second, acknowledged"u8.ToArray());
            await journal.AppendAsync("third, being written when the power went"u8.ToArray());
        }

        byte[] whole = await File.ReadAllBytesAsync(JournalPath);
        int lastStart = whole.Length - (AppendOnlyJournal.RecordHeaderLength + "third, being written when the power went".Length);
        for (int cut = lastStart; cut < whole.Length; cut++)
        {
            await File.WriteAllBytesAsync(JournalPath, whole[..cut]);

            await using AppendOnlyJournal reopened = await AppendOnlyJournal.OpenAsync(JournalPath);

            reopened.Count.Should().Be(2, $"cut at {cut}");
            reopened.TruncatedBytesOnOpen.Should().Be(cut - lastStart);
            Encoding.UTF8.GetString(await reopened.ReadAsync(1)).Should().Be("second, acknowledged");
        }
    }

    [Fact]
    public async Task FlippedByteInAnEarlierRecord_RefusesToOpen_NamingTheRecord()
    {
        await using (AppendOnlyJournal journal = await AppendOnlyJournal.OpenAsync(JournalPath))
        {
            for (int i = 0; i < 3; i++)
            {
                await journal.AppendAsync(Encoding.UTF8.GetBytes($"record number {i}"));
            }
        }

        byte[] bytes = await File.ReadAllBytesAsync(JournalPath);
        int second = AppendOnlyJournal.FileHeaderLength + AppendOnlyJournal.RecordHeaderLength + "record number 0".Length;
        for (int position = second; position < second + AppendOnlyJournal.RecordHeaderLength + "record number 1".Length; position++)
        {
            byte[] damaged = (byte[])bytes.Clone();
            damaged[position] ^= 0x20;
            await File.WriteAllBytesAsync(JournalPath, damaged);

            var open = async () => await AppendOnlyJournal.OpenAsync(JournalPath);
            var read = async () => await AppendOnlyJournal.ReadAllRecordsAsync(JournalPath);

            (await open.Should().ThrowAsync<JournalException>()).Which.Message.Should().Contain("Record 1", $"byte {position} was flipped");
            (await read.Should().ThrowAsync<JournalException>()).Which.Message.Should().Contain("Record 1");
        }
    }

    [Fact]
    public async Task ConcurrentAppenders_AreSerialized_AndNoneIsLost()
    {
        await using (AppendOnlyJournal journal = await AppendOnlyJournal.OpenAsync(JournalPath))
        {
            Task<long>[] appends = Enumerable.Range(0, 400)
                .Select(i => Task.Run(async () => await journal.AppendAsync(Encoding.UTF8.GetBytes($"entry {i}"))))
                .ToArray();
            long[] indexes = await Task.WhenAll(appends);

            indexes.Should().OnlyHaveUniqueItems().And.HaveCount(400);
            indexes.Should().BeEquivalentTo(Enumerable.Range(0, 400).Select(i => (long)i));
        }

        IReadOnlyList<byte[]> records = await AppendOnlyJournal.ReadAllRecordsAsync(JournalPath);
        records.Select(r => Encoding.UTF8.GetString(r)).Should().BeEquivalentTo(Enumerable.Range(0, 400).Select(i => $"entry {i}"));
    }

    [Fact]
    public async Task SecondWriter_IsRefusedClearly()
    {
        await using AppendOnlyJournal first = await AppendOnlyJournal.OpenAsync(JournalPath);

        var second = async () => await AppendOnlyJournal.OpenAsync(JournalPath);

        (await second.Should().ThrowAsync<JournalException>()).Which.Message.Should().Contain("one writer at a time");
    }

    [Fact]
    public async Task SecondProcessHoldingTheJournal_IsRefusedClearly()
    {
        await (await AppendOnlyJournal.OpenAsync(JournalPath)).DisposeAsync();
        using var holder = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("flock", ["--exclusive", JournalPath, "sleep", "30"])
        {
            RedirectStandardOutput = true,
        })!;
        try
        {
            // Wait until the other process holds the lock (bounded: 10 s).
            bool locked = false;
            for (int attempt = 0; attempt < 200 && !locked; attempt++)
            {
                try
                {
                    await using var probe = new FileStream(JournalPath, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
                }
                catch (IOException)
                {
                    locked = true;
                    break;
                }

                await Task.Delay(50);
            }

            locked.Should().BeTrue("the flock process takes the journal's lock");
            var open = async () => await AppendOnlyJournal.OpenAsync(JournalPath);
            (await open.Should().ThrowAsync<JournalException>()).Which.Message.Should().Contain("another process");
        }
        finally
        {
            holder.Kill();
            await holder.WaitForExitAsync();
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(15)]
    public async Task TornFileHeader_OpensAsAnEmptyJournal(int headerBytes)
    {
        await (await AppendOnlyJournal.OpenAsync(JournalPath)).DisposeAsync();
        byte[] header = await File.ReadAllBytesAsync(JournalPath);
        await File.WriteAllBytesAsync(JournalPath, header[..headerBytes]);

        await using AppendOnlyJournal reopened = await AppendOnlyJournal.OpenAsync(JournalPath);

        reopened.Count.Should().Be(0);
        (await reopened.AppendAsync("after the crash"u8.ToArray())).Should().Be(0);
    }

    [Fact]
    public async Task NotAJournal_IsRefused()
    {
        await File.WriteAllTextAsync(JournalPath, "this is a text file, not a journal");

        var open = async () => await AppendOnlyJournal.OpenAsync(JournalPath);

        (await open.Should().ThrowAsync<JournalException>()).Which.Message.Should().Contain("not a version 1 journal");
    }

    [Fact]
    public async Task ProofsFromTheJournal_Verify()
    {
        await using AppendOnlyJournal journal = await AppendOnlyJournal.OpenAsync(JournalPath);
        for (int i = 0; i < 13; i++)
        {
            await journal.AppendAsync(Encoding.UTF8.GetBytes($"r{i}"));
        }

        byte[] root7 = journal.Root(7);
        byte[] root13 = journal.Root();
        MerkleTree.VerifyInclusion(4, 13, journal.LeafHash(4), journal.InclusionProof(4, 13), root13).Should().BeTrue();
        MerkleTree.VerifyConsistency(7, 13, journal.ConsistencyProof(7, 13), root7, root13).Should().BeTrue();
        MerkleTree.LeafHash("r4"u8).Should().Equal(journal.LeafHash(4));
    }

    [Fact]
    public async Task AReopenedJournalOfManyBlocks_GivesTheRootsAndProofsOfItsRecords()
    {
        var leaves = new List<byte[]>();
        await using (AppendOnlyJournal writing = await AppendOnlyJournal.OpenAsync(JournalPath))
        {
            for (int i = 0; i < 200; i++)
            {
                byte[] record = Encoding.UTF8.GetBytes($"record {i}");
                leaves.Add(MerkleTree.LeafHash(record));
                await writing.AppendAsync(record);
            }
        }

        await using AppendOnlyJournal journal = await AppendOnlyJournal.OpenAsync(JournalPath);
        journal.Root().Should().Equal(MerkleTree.Root(leaves, 200));
        journal.Root(100).Should().Equal(MerkleTree.Root(leaves, 100), "an older head reads its last block's records from the file");
        journal.LeafHash(70).Should().Equal(leaves[70]);
        MerkleTree.VerifyInclusion(70, 200, leaves[70], journal.InclusionProof(70, 200), journal.Root()).Should().BeTrue();
        MerkleTree.VerifyConsistency(100, 200, journal.ConsistencyProof(100, 200), journal.Root(100), journal.Root()).Should().BeTrue();
    }
}
