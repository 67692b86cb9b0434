using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Npgsql;
using RemoteSupport.Journal;
using RemoteSupport.Ledger;
using RemoteSupport.PostgreSql.Fleet;
using RemoteSupport.PostgreSql.Journal;
using RemoteSupport.Transport.Fleet;

namespace RemoteSupport.PostgreSql;

/// <summary>Moves the vendor's side to PostgreSQL: the books (<see cref="VendorBooks"/>) and the fleet's routing, shared by every console host on the database.</summary>
public static class PostgreSqlServiceCollectionExtensions
{
    /// <summary>
    /// Registers the vendor's stores in PostgreSQL at <paramref name="connectionString"/>: a data source the container
    /// owns, <see cref="IRecordJournalStore"/> (in place of the journal files of <c>AddRemoteSupportVendorBooks</c>,
    /// whichever is registered first), <see cref="VendorBooks"/> on it, and <see cref="IUnitRouteStore"/>, which the
    /// unit directory (<c>AddRemoteSupportUnitDirectory</c>) writes its units' routes to. The schema is created and
    /// migrated by the package when a store first opens.
    /// </summary>
    /// <returns>The services, for chaining.</returns>
    /// <param name="services">The host's services.</param>
    /// <param name="connectionString">An Npgsql connection string.</param>
    public static IServiceCollection AddRemoteSupportPostgreSql(this IServiceCollection services, string connectionString)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(connectionString);
        _ = new NpgsqlConnectionStringBuilder(connectionString); // a malformed string fails here, not at the first charge
        services.TryAddSingleton(_ => NpgsqlDataSource.Create(connectionString));
        return AddStores(services, provider => provider.GetRequiredService<NpgsqlDataSource>());
    }

    /// <summary>Registers the vendor's stores in PostgreSQL on <paramref name="database"/> (the caller's: the container does not dispose it).</summary>
    /// <returns>The services, for chaining.</returns>
    /// <param name="services">The host's services.</param>
    /// <param name="database">The data source.</param>
    public static IServiceCollection AddRemoteSupportPostgreSql(this IServiceCollection services, NpgsqlDataSource database)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(database);
        return AddStores(services, _ => database);
    }

    private static IServiceCollection AddStores(IServiceCollection services, Func<IServiceProvider, NpgsqlDataSource> database)
    {
        services.Replace(ServiceDescriptor.Singleton<IRecordJournalStore>(provider => new PostgreSqlRecordJournalStore(database(provider))));
        services.Replace(ServiceDescriptor.Singleton<IUnitRouteStore>(provider => new PostgreSqlUnitRouteStore(database(provider))));
        services.TryAddSingleton(provider => new VendorBooks(provider.GetRequiredService<IRecordJournalStore>(), provider.GetService<TimeProvider>()));
        return services;
    }
}
