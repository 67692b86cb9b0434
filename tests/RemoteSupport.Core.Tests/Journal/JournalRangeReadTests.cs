using RemoteSupport.Journal;

namespace RemoteSupport.Tests.Journal;

/// <summary>Reading a range of a journal as a stream, and the tree heads the journal keeps as it grows.</summary>
public sealed class JournalRangeReadTests : IDisposable
{
    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task ARange_ComesBackRecordByRecord_AsReadAsyncReadsThem_ALargeRecordToo()
    {
        await using AppendOnlyJournal journal = await AppendOnlyJournal.OpenAsync(_folder.File("range.journal"));
        var random = new Random(3);
        var records = new List<byte[]>();
        for (int i = 0; i < 300; i++)
        {
            byte[] record = new byte[i == 150 ? 3 * 1024 * 1024 : random.Next(1, 5_000)]; // one larger than the read's megabyte
            random.NextBytes(record);
            records.Add(record);
        }

        await Task.WhenAll(records.Select(r => journal.AppendAsync(r).AsTask())); // queued in order: made durable together

        var read = new List<(long Index, byte[] Payload)>();
        await journal.ReadRangeAsync(100, 260, (index, payload) => read.Add((index, payload.ToArray())));
        var none = new List<long>();
        await journal.ReadRangeAsync(7, 7, (index, _) => none.Add(index));
        IRecordJournal byDefault = new RecordByRecord(journal);
        var readByDefault = new List<byte[]>();
        await byDefault.ReadRangeAsync(100, 260, (_, payload) => readByDefault.Add(payload.ToArray()));

        read.Select(r => r.Index).Should().Equal(Enumerable.Range(100, 160).Select(i => (long)i));
        read.Select(r => Hash(r.Payload)).Should().Equal(records.Skip(100).Take(160).Select(Hash));
        readByDefault.Select(Hash).Should().Equal(records.Skip(100).Take(160).Select(Hash), "the interface's default reads record by record");
        none.Should().BeEmpty();
        await FluentActions.Awaiting(() => journal.ReadRangeAsync(0, 301, (_, _) => { })).Should().ThrowAsync<ArgumentOutOfRangeException>();
    }

    [Fact]
    public async Task TheTreeHeadKeptAsTheJournalGrows_IsTheRootOfItsLeaves_AtEverySize_AndAfterAReopen()
    {
        string path = _folder.File("heads.journal");
        var leaves = new List<byte[]>();
        await using (AppendOnlyJournal journal = await AppendOnlyJournal.OpenAsync(path))
        {
            journal.Root().Should().Equal(MerkleTree.EmptyRoot());
            for (int i = 0; i < 70; i++)
            {
                byte[] record = BitConverter.GetBytes(i * 7919);
                leaves.Add(MerkleTree.LeafHash(record));
                await journal.AppendAsync(record);
                journal.Root().Should().Equal(MerkleTree.Root(leaves, leaves.Count), $"size {leaves.Count}");
            }

            journal.Root(64).Should().Equal(MerkleTree.Root(leaves, 64));
            journal.Root(65).Should().Equal(MerkleTree.Root(leaves, 65));
        }

        await using AppendOnlyJournal reopened = await AppendOnlyJournal.OpenAsync(path);
        reopened.Root().Should().Equal(MerkleTree.Root(leaves, leaves.Count), "the heads are rebuilt from the file");
        reopened.Root(0).Should().Equal(MerkleTree.EmptyRoot());
        reopened.LeafHash(69).Should().Equal(leaves[69]);
    }

    private static string Hash(byte[] bytes) => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(bytes));

    /// <summary>A journal that implements only what the interface requires, so the default range read runs.</summary>
    private sealed class RecordByRecord(IRecordJournal inner) : IRecordJournal
    {
        public long Count => inner.Count;

        public ValueTask<long> AppendAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default) => inner.AppendAsync(payload, cancellationToken);

        public Task<byte[]> ReadAsync(long index, CancellationToken cancellationToken = default) => inner.ReadAsync(index, cancellationToken);

        public byte[] Root(long? size = null) => inner.Root(size);

        public Task<long> ExportAsync(string destination, CancellationToken cancellationToken = default) => inner.ExportAsync(destination, cancellationToken);
    }
}
