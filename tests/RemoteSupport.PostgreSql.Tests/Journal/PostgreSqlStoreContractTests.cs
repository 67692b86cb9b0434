using RemoteSupport.Journal;
using RemoteSupport.PostgreSql.Journal;
using RemoteSupport.PostgreSql.Tests;

namespace RemoteSupport.Tests
{
    /// <summary>A test of the store contract, here against PostgreSQL: not run, with the reason, without a server.</summary>
    [AttributeUsage(AttributeTargets.Method)]
    public sealed class StoreFactAttribute : FactAttribute
    {
        public StoreFactAttribute() => Skip = new PostgreSqlFactAttribute().Skip;
    }
}

namespace RemoteSupport.PostgreSql.Tests.Journal
{
    /// <summary>The PostgreSQL store over a fresh database; each store opened is another host's (its own journals).</summary>
    public sealed class PostgreSqlBacking : RemoteSupport.Tests.Journal.IStoreBacking
    {
        private PostgreSqlServer? _server;

        public async Task InitializeAsync()
        {
            if (PostgreSqlServer.ConnectionString is not null)
            {
                _server = await PostgreSqlServer.CreateDatabaseAsync();
            }
        }

        public IRecordJournalStore OpenStore() => new PostgreSqlRecordJournalStore(
            (_server ?? throw new InvalidOperationException("No PostgreSQL server.")).Database);

        public async ValueTask DisposeAsync()
        {
            if (_server is not null)
            {
                await _server.DisposeAsync();
            }
        }
    }

    [Trait(PostgreSqlTrait.Name, PostgreSqlTrait.Value)]
    public sealed class PostgreSqlVendorStoreTests : RemoteSupport.Tests.Journal.VendorStoreContract<PostgreSqlBacking>;

    [Trait(PostgreSqlTrait.Name, PostgreSqlTrait.Value)]
    public sealed class PostgreSqlChargeLedgerTests : RemoteSupport.Tests.Ledger.ChargeLedgerContract<PostgreSqlBacking>;
}
