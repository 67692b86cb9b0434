using RemoteSupport.Journal;

namespace RemoteSupport.Tests
{
    /// <summary>A test of the store contract; the file store's always run (the PostgreSQL tests define their own, needing a server).</summary>
    [AttributeUsage(AttributeTargets.Method)]
    public sealed class StoreFactAttribute : FactAttribute;
}

namespace RemoteSupport.Tests.Journal
{
    /// <summary>The file store over a fresh temporary folder.</summary>
    public sealed class FileBacking : IStoreBacking
    {
        private readonly TemporaryFolder _folder = new();

        public Task InitializeAsync() => Task.CompletedTask;

        public IRecordJournalStore OpenStore() => new FileRecordJournalStore(_folder.File("books"));

        public ValueTask DisposeAsync()
        {
            _folder.Dispose();
            return ValueTask.CompletedTask;
        }
    }

    public sealed class FileVendorStoreTests : VendorStoreContract<FileBacking>
    {
        [Fact]
        public async Task AJournal_IsAFileNamedAfterIt_AndOneProcessHoldsIt()
        {
            await using IRecordJournalStore store = Backing.OpenStore();
            IRecordJournal journal = await store.OpenJournalAsync("ledger/fabrikam");
            await journal.AppendAsync("a"u8.ToArray());
            string path = ((FileRecordJournalStore)store).PathOf("ledger/fabrikam");

            File.Exists(path).Should().BeTrue();
            Path.GetFileName(path).Should().Be("fabrikam.journal");
            await using IRecordJournalStore second = Backing.OpenStore();
            Func<Task> sharing = () => second.OpenJournalAsync("ledger/fabrikam");
            (await sharing.Should().ThrowAsync<JournalException>()).Which.Message.Should().Contain("one writer at a time");
        }
    }
}

namespace RemoteSupport.Tests.Ledger
{
    public sealed class FileChargeLedgerTests : ChargeLedgerContract<Journal.FileBacking>;
}
