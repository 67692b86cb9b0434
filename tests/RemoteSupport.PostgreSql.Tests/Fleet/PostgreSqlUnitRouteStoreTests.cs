using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;
using RemoteSupport.Identities;
using RemoteSupport.Journal;
using RemoteSupport.Ledger;
using RemoteSupport.PostgreSql.Fleet;
using RemoteSupport.PostgreSql.Journal;
using RemoteSupport.Tests.Consent;
using RemoteSupport.Tests.Ledger;
using RemoteSupport.Transport.Fleet;
using RemoteSupport.Transport.Sessions;

namespace RemoteSupport.PostgreSql.Tests.Fleet;

[Trait(PostgreSqlTrait.Name, PostgreSqlTrait.Value)]
public sealed class PostgreSqlUnitRouteStoreTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 2, 9, 0, 0, TimeSpan.Zero);

    [PostgreSqlFact]
    public async Task TheNewestConnectionHoldsTheUnit_WhicheverHostWritesFirst_AndAnEndedOneRemovesOnlyItself()
    {
        await using PostgreSqlServer server = await PostgreSqlServer.CreateDatabaseAsync();
        var hostA = new PostgreSqlUnitRouteStore(server.Database);
        var hostB = new PostgreSqlUnitRouteStore(server.Database);
        UnitRoute onA = Route("host-a", T0.AddTicks(1234567)); // below a microsecond: kept to the microsecond
        UnitRoute onB = Route("host-b", T0.AddSeconds(5));

        await hostA.ApplyAsync([Online(onA), Online(Route("host-a", T0, unit: "unit-8"))]);
        (await hostB.FindAsync("fabrikam", "unit-7")).Should().Be(onA with { ConnectedSince = T0.AddTicks(1234560) });
        await hostB.ApplyAsync([Online(onB)]);
        await hostA.ApplyAsync([Online(Route("host-a", T0.AddSeconds(-30)))]); // a claim written late, of an older connection
        (await hostA.FindAsync("fabrikam", "unit-7"))!.HostId.Should().Be("host-b", "the unit's newest connection is on host-b");

        await hostA.ApplyAsync([new UnitRouteChange(onA, false)]);
        (await hostA.FindAsync("fabrikam", "unit-7"))!.HostId.Should().Be("host-b", "host-a's ended connection does not end host-b's");
        await hostB.ApplyAsync([Online(Route("host-b", T0.AddSeconds(6))), new UnitRouteChange(Route("host-b", T0.AddSeconds(6)), false)]);
        (await hostA.FindAsync("fabrikam", "unit-7")).Should().BeNull("the last change of a unit in a batch decides");

        (await hostA.ReleaseHostAsync("host-a")).Should().Be(1, "unit-8 was host-a's");
        (await hostA.FindAsync("fabrikam", "unit-8")).Should().BeNull();
        await hostA.ApplyAsync([]);
    }

    [PostgreSqlFact]
    public async Task OneLine_MovesTheVendorsBooksAndTheFleetsRoutingToPostgreSql()
    {
        await using PostgreSqlServer server = await PostgreSqlServer.CreateDatabaseAsync();
        using var folder = new RemoteSupport.Tests.TemporaryFolder();
        using var f = new ConsentFixture();
        using var vendor = PartyIdentity.Create("contoso", PartyRole.Vendor);
        string connectionString = new NpgsqlConnectionStringBuilder(PostgreSqlServer.ConnectionString) { Database = server.DatabaseName }.ConnectionString;
        var services = new ServiceCollection();
        services.AddRemoteSupportVendorBooks(folder.Path); // the file default...
        services.AddRemoteSupportPostgreSql(connectionString); // ...moved to PostgreSQL
        services.AddRemoteSupportUnitDirectory(o =>
        {
            o.Identity = vendor; o.Trust = f.Trust; o.Customers.Add("fabrikam"); o.Listen = "127.0.0.1:0";
        });

        await using (ServiceProvider provider = services.BuildServiceProvider())
        {
            provider.GetRequiredService<IRecordJournalStore>().Should().BeOfType<PostgreSqlRecordJournalStore>();
            provider.GetRequiredService<IOptions<UnitDirectoryOptions>>().Value.Routes.Should().BeOfType<PostgreSqlUnitRouteStore>();
            ChargeLedger ledger = await provider.GetRequiredService<VendorBooks>().OpenLedgerAsync("fabrikam", f.GroundRules);
            await ledger.RecordAsync(TestCharges.CallSetup("s1/setup", 500, f.Time.GetUtcNow()));
        }

        Directory.EnumerateFileSystemEntries(folder.Path).Should().BeEmpty("no journal file was written");
        await using PostgreSqlRecordJournal written = await PostgreSqlRecordJournal.OpenAsync(server.Database, VendorBooks.LedgerJournalName("fabrikam"));
        written.Count.Should().Be(1);

        var malformed = () => new ServiceCollection().AddRemoteSupportPostgreSql("Host=;Port=no");
        malformed.Should().Throw<ArgumentException>();
    }

    private static UnitRouteChange Online(UnitRoute route) => new(route, true);

    private static UnitRoute Route(string host, DateTimeOffset since, string unit = "unit-7") => new("fabrikam", unit, host, "key-" + host, since);
}
