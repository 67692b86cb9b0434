using System.Buffers.Binary;
using System.Text;
using RemoteSupport.Journal;

namespace RemoteSupport.Tests.Journal;

/// <summary>The journal's guards, the sentences of its refusals, and records larger than its buffers.</summary>
public sealed class AppendOnlyJournalEdgeTests : IDisposable
{
    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private string JournalPath => _folder.File("edge.journal");

    private async Task<AppendOnlyJournal> JournalWithAsync(params string[] records)
    {
        AppendOnlyJournal journal = await AppendOnlyJournal.OpenAsync(JournalPath);
        foreach (string record in records)
        {
            await journal.AppendAsync(Encoding.UTF8.GetBytes(record));
        }

        return journal;
    }

    [Fact]
    public async Task ARecordOverTheLimit_IsRefused_AndNothingIsAppended()
    {
        await using AppendOnlyJournal journal = await JournalWithAsync("one");

        var append = async () => await journal.AppendAsync(new byte[AppendOnlyJournal.MaxRecordLength + 1]);

        (await append.Should().ThrowAsync<ArgumentException>()).Which.ParamName.Should().Be("payload");
        journal.Count.Should().Be(1);
    }

    [Fact]
    public async Task AnAppendAlreadyCanceled_WritesNothing()
    {
        await using AppendOnlyJournal journal = await JournalWithAsync("one");

        var append = async () => await journal.AppendAsync("two"u8.ToArray(), new CancellationToken(canceled: true));

        await append.Should().ThrowAsync<OperationCanceledException>();
        journal.Count.Should().Be(1);
        (await journal.AppendAsync("three"u8.ToArray())).Should().Be(1);
    }

    [Fact]
    public async Task ReadsOutsideTheRecords_Throw()
    {
        await using AppendOnlyJournal journal = await JournalWithAsync("zero", "one");

        await FluentActions.Awaiting(() => journal.ReadAsync(-1)).Should().ThrowAsync<ArgumentOutOfRangeException>();
        await FluentActions.Awaiting(() => journal.ReadAsync(2)).Should().ThrowAsync<ArgumentOutOfRangeException>();
        await FluentActions.Awaiting(() => journal.ReadRangeAsync(0, 2, null!)).Should().ThrowAsync<ArgumentNullException>();
        await FluentActions.Awaiting(() => journal.ReadRangeAsync(-1, 1, (_, _) => { })).Should().ThrowAsync<ArgumentOutOfRangeException>();
        await FluentActions.Awaiting(() => journal.ReadRangeAsync(0, 3, (_, _) => { })).Should().ThrowAsync<ArgumentOutOfRangeException>();
        await FluentActions.Awaiting(() => journal.ExportAsync("")).Should().ThrowAsync<ArgumentException>();
        await FluentActions.Awaiting(() => AppendOnlyJournal.OpenAsync("")).Should().ThrowAsync<ArgumentException>();
    }

    [Fact]
    public async Task ACanceledRangeRead_Throws()
    {
        await using AppendOnlyJournal journal = await JournalWithAsync("zero", "one");

        var read = () => journal.ReadRangeAsync(0, 2, (_, _) => { }, new CancellationToken(canceled: true));

        await read.Should().ThrowAsync<OperationCanceledException>();
    }

    [Fact]
    public async Task ARangeInTheMiddle_HandsExactlyItsRecords_WithTheirIndexes()
    {
        await using AppendOnlyJournal journal = await JournalWithAsync("r0", "r1", "r2", "r3", "r4");
        var seen = new List<(long, string)>();

        await journal.ReadRangeAsync(1, 3, (index, payload) => seen.Add((index, Encoding.UTF8.GetString(payload))));

        seen.Should().Equal((1L, "r1"), (2L, "r2"));
    }

    [Fact]
    public async Task RecordsLargerThanTheReadBuffers_ReadBackWhole_AfterReopening()
    {
        // 1 MiB is the range read's buffer, 4 KiB the recovery's first one; each record is larger, and records follow it.
        byte[][] records = [Filled(5_000, 1), Filled(3 * 1024 * 1024, 2), Filled(10_000, 3), Filled(1_500_000, 4), Filled(7, 5)];
        await using (AppendOnlyJournal writing = await AppendOnlyJournal.OpenAsync(JournalPath))
        {
            foreach (byte[] record in records)
            {
                await writing.AppendAsync(record);
            }
        }

        await using (AppendOnlyJournal journal = await AppendOnlyJournal.OpenAsync(JournalPath))
        {
            await ReadsBackAsync(journal, records);
        }

        (await AppendOnlyJournal.ReadAllRecordsAsync(JournalPath)).Select(r => r.Length).Should().Equal(records.Select(r => r.Length));
    }

    private static async Task ReadsBackAsync(AppendOnlyJournal journal, byte[][] records)
    {
        journal.Count.Should().Be(records.Length);
        journal.Root().Should().Equal(MerkleTree.Root(records.Select(r => MerkleTree.LeafHash(r)).ToList(), records.Length));
        var read = new List<byte[]>();
        var indexes = new List<long>();
        await journal.ReadRangeAsync(0, records.Length, (index, payload) =>
        {
            indexes.Add(index);
            read.Add(payload.ToArray());
        });
        indexes.Should().Equal(0, 1, 2, 3, 4);
        for (int i = 0; i < records.Length; i++)
        {
            read[i].Should().Equal(records[i], $"record {i}");
            (await journal.ReadAsync(i)).Should().Equal(records[i]);
        }
    }

    [Fact]
    public async Task AZeroFilledTail_IsCutOff_AndTheRecordsBeforeItStay()
    {
        await (await JournalWithAsync("first", "second")).DisposeAsync();
        long whole = new FileInfo(JournalPath).Length;
        await using (FileStream file = new(JournalPath, FileMode.Append))
        {
            file.Write(new byte[3000]);
        }

        await using AppendOnlyJournal journal = await AppendOnlyJournal.OpenAsync(JournalPath);

        journal.Count.Should().Be(2);
        journal.TruncatedBytesOnOpen.Should().Be(3000);
        new FileInfo(JournalPath).Length.Should().Be(whole);
        Encoding.UTF8.GetString(await journal.ReadAsync(1)).Should().Be("second");
    }

    [Fact]
    public async Task AnIncompleteLastRecord_IsAnErrorInAnExportedCopy()
    {
        await (await JournalWithAsync("first", "second, cut short")).DisposeAsync();
        byte[] bytes = await File.ReadAllBytesAsync(JournalPath);
        await File.WriteAllBytesAsync(JournalPath, bytes[..^3]);

        var read = async () => await AppendOnlyJournal.ReadAllRecordsAsync(JournalPath);

        (await read.Should().ThrowAsync<JournalException>()).Which.Message.Should()
            .Be($"Record 1 at offset {AppendOnlyJournal.FileHeaderLength + AppendOnlyJournal.RecordHeaderLength + 5} is incomplete: the file ends inside it.");
    }

    [Fact]
    public async Task DamageIsNamed_ByRecord_Offset_File_AndWhatIsWrong()
    {
        await (await JournalWithAsync("first", "second", "third")).DisposeAsync();
        byte[] bytes = await File.ReadAllBytesAsync(JournalPath);
        int second = AppendOnlyJournal.FileHeaderLength + AppendOnlyJournal.RecordHeaderLength + 5;

        byte[] header = (byte[])bytes.Clone();
        header[second + 1] ^= 1;
        await File.WriteAllBytesAsync(JournalPath, header);
        (await FluentActions.Awaiting(() => AppendOnlyJournal.OpenAsync(JournalPath)).Should().ThrowAsync<JournalException>()).Which.Message.Should()
            .Be($"Record 1 at offset {second} of '{JournalPath}' is damaged: its header does not match its check.");

        byte[] content = (byte[])bytes.Clone();
        content[second + AppendOnlyJournal.RecordHeaderLength] ^= 1;
        await File.WriteAllBytesAsync(JournalPath, content);
        (await FluentActions.Awaiting(() => AppendOnlyJournal.OpenAsync(JournalPath)).Should().ThrowAsync<JournalException>()).Which.Message.Should()
            .Be($"Record 1 at offset {second} of '{JournalPath}' is damaged: its checksum does not match its content.");
    }

    [Fact]
    public async Task ALengthOverTheLimit_WithAValidCheck_IsDamage()
    {
        await (await JournalWithAsync("first")).DisposeAsync();
        byte[] header = new byte[AppendOnlyJournal.RecordHeaderLength];
        BinaryPrimitives.WriteUInt32BigEndian(header, AppendOnlyJournal.MaxRecordLength + 1);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4), Crc32C.Compute(header.AsSpan(0, 4)));
        long offset = new FileInfo(JournalPath).Length;
        await using (FileStream file = new(JournalPath, FileMode.Append))
        {
            file.Write(header);
            file.Write("not zero"u8);
        }

        var open = async () => await AppendOnlyJournal.OpenAsync(JournalPath);

        (await open.Should().ThrowAsync<JournalException>()).Which.Message.Should()
            .Be($"Record 1 at offset {offset} of '{JournalPath}' is damaged: its length is over the limit.");
    }

    [Fact]
    public async Task AShortFileThatIsNotATornHeader_IsNotAJournal()
    {
        await File.WriteAllTextAsync(JournalPath, "short text");

        var open = async () => await AppendOnlyJournal.OpenAsync(JournalPath);

        (await open.Should().ThrowAsync<JournalException>()).Which.Message.Should()
            .Be($"'{JournalPath}' is not a journal: it is shorter than the 16-byte header.");
        (await File.ReadAllTextAsync(JournalPath)).Should().Be("short text", "a file that is not a journal is left as it was");
    }

    [Fact]
    public async Task TheRightMagicWithAnotherVersion_IsRefused()
    {
        await (await AppendOnlyJournal.OpenAsync(JournalPath)).DisposeAsync();
        byte[] header = await File.ReadAllBytesAsync(JournalPath);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(8), 2);
        await File.WriteAllBytesAsync(JournalPath, header);

        var open = async () => await AppendOnlyJournal.OpenAsync(JournalPath);

        (await open.Should().ThrowAsync<JournalException>()).Which.Message.Should().Be($"'{JournalPath}' is not a version 1 journal.");
    }

    [Fact]
    public async Task AJournalInAMissingFolder_IsAMissingFolder_NotAnotherWriter()
    {
        var open = async () => await AppendOnlyJournal.OpenAsync(_folder.File("missing/edge.journal"));

        await open.Should().ThrowAsync<DirectoryNotFoundException>();
    }

    [Fact]
    public async Task TheFileStore_RefusesBadNames_AndCreatesNestedFolders()
    {
        await using var store = new FileRecordJournalStore(_folder.File("store"));

        FluentActions.Invoking(() => new FileRecordJournalStore("")).Should().Throw<ArgumentException>();
        FluentActions.Invoking(() => store.PathOf("../escape")).Should().Throw<ArgumentException>().Which.ParamName.Should().Be("name");
        await FluentActions.Awaiting(() => store.OpenJournalAsync("a/../b")).Should().ThrowAsync<ArgumentException>();
        IRecordJournal journal = await store.OpenJournalAsync("ledger/customers/fabrikam");
        await journal.AppendAsync("one"u8.ToArray());

        File.Exists(Path.Combine(_folder.File("store"), "ledger", "customers", "fabrikam.journal")).Should().BeTrue();
        store.PathOf("ledger/customers/fabrikam").Should().Be(Path.Combine(store.Folder, "ledger", "customers", "fabrikam.journal"));
    }

    [Theory]
    [InlineData("a", true)]
    [InlineData("a.b_c-d/E9", true)]
    [InlineData("a,b", false)]
    [InlineData("a//b", false)]
    [InlineData("./a", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void JournalNames_AreLettersDigitsDotUnderscoreAndDash(string? name, bool valid)
    {
        JournalName.IsValid(name).Should().Be(valid);
    }

    [Fact]
    public void AJournalName_IsAtMostItsMaximumLength()
    {
        JournalName.IsValid(new string('a', JournalName.MaxLength)).Should().BeTrue();
        JournalName.IsValid(new string('a', JournalName.MaxLength + 1)).Should().BeFalse();
    }

    private static byte[] Filled(int length, int seed)
    {
        byte[] bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
