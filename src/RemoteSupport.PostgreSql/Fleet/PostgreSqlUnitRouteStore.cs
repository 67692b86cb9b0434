using System.Data;
using System.Runtime.CompilerServices;
using Npgsql;
using NpgsqlTypes;
using RemoteSupport.Transport.Fleet;

namespace RemoteSupport.PostgreSql.Fleet;

/// <summary>
/// The fleet's routing in PostgreSQL (<c>remotesupport_unit_routes</c>, docs/formats/postgresql.md): one row per unit
/// online on some console host. A batch of changes is one transaction of two statements (the claims, then the ended
/// connections), so a host restart's herd of reconnects costs a few round trips, not one per unit.
/// </summary>
/// <param name="database">The database (the caller's: it stays open after the store).</param>
public sealed class PostgreSqlUnitRouteStore(NpgsqlDataSource database) : IUnitRouteStore
{
    private readonly NpgsqlDataSource _database = database ?? throw new ArgumentNullException(nameof(database));
    private int _migrated;

    /// <inheritdoc/>
    /// <exception cref="NpgsqlException">The database could not be reached (nothing was applied).</exception>
    public async Task ApplyAsync(IReadOnlyList<UnitRouteChange> changes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(changes);
        if (changes.Count == 0)
        {
            return;
        }

        // The last change of each unit decides (one statement cannot change a row twice).
        var last = new Dictionary<(string Customer, string Unit), UnitRouteChange>();
        foreach (UnitRouteChange change in changes)
        {
            ArgumentNullException.ThrowIfNull(change);
            last[(change.Route.CustomerId, change.Route.UnitId)] = change;
        }

        // In key order: two hosts' batches touching the same units lock their rows in one order (no deadlock).
        UnitRouteChange[] ordered = [.. last.OrderBy(c => c.Key.Customer, StringComparer.Ordinal).ThenBy(c => c.Key.Unit, StringComparer.Ordinal).Select(c => c.Value)];
        UnitRouteChange[] online = [.. ordered.Where(c => c.IsOnline)];
        UnitRouteChange[] ended = [.. ordered.Where(c => !c.IsOnline)];
        await MigrateAsync(cancellationToken).ConfigureAwait(false);
        using NpgsqlConnection connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        NpgsqlTransaction transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken).ConfigureAwait(false);
        await using ConfiguredAsyncDisposable disposing = transaction.ConfigureAwait(false);
        using var batch = new NpgsqlBatch(connection, transaction);
        if (online.Length > 0)
        {
            var claim = new NpgsqlBatchCommand(
                """
                insert into remotesupport_unit_routes (customer, unit, host_id, key_id, connected_since)
                select * from unnest(@customers, @units, @hosts, @keys, @since)
                on conflict (customer, unit) do update
                set host_id = excluded.host_id, key_id = excluded.key_id, connected_since = excluded.connected_since
                where remotesupport_unit_routes.connected_since <= excluded.connected_since
                """);
            AddColumns(claim, online, withKeys: true);
            batch.BatchCommands.Add(claim);
        }

        if (ended.Length > 0)
        {
            var release = new NpgsqlBatchCommand(
                """
                delete from remotesupport_unit_routes r
                using unnest(@customers, @units, @hosts, @since) as g(customer, unit, host_id, since)
                where r.customer = g.customer and r.unit = g.unit and r.host_id = g.host_id and r.connected_since <= g.since
                """);
            AddColumns(release, ended, withKeys: false);
            batch.BatchCommands.Add(release);
        }

        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    /// <exception cref="NpgsqlException">The database could not be reached.</exception>
    public async Task<int> ReleaseHostAsync(string hostId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(hostId);
        await MigrateAsync(cancellationToken).ConfigureAwait(false);
        using NpgsqlConnection connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        using var release = new NpgsqlCommand("delete from remotesupport_unit_routes where host_id = @host", connection);
        release.Parameters.AddWithValue("host", hostId);
        return await release.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    /// <exception cref="NpgsqlException">The database could not be reached.</exception>
    public async Task<UnitRoute?> FindAsync(string customerId, string unitId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(customerId);
        ArgumentNullException.ThrowIfNull(unitId);
        await MigrateAsync(cancellationToken).ConfigureAwait(false);
        using NpgsqlConnection connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        using var find = new NpgsqlCommand(
            "select host_id, key_id, connected_since from remotesupport_unit_routes where customer = @customer and unit = @unit", connection);
        find.Parameters.AddWithValue("customer", customerId);
        find.Parameters.AddWithValue("unit", unitId);
        using NpgsqlDataReader reader = await find.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        return new UnitRoute(customerId, unitId, reader.GetString(0), reader.GetString(1),
            new DateTimeOffset(DateTime.SpecifyKind(reader.GetDateTime(2), DateTimeKind.Utc)));
    }

    private static void AddColumns(NpgsqlBatchCommand command, UnitRouteChange[] changes, bool withKeys)
    {
        command.Parameters.Add(Column("customers", NpgsqlDbType.Text, changes.Select(c => c.Route.CustomerId)));
        command.Parameters.Add(Column("units", NpgsqlDbType.Text, changes.Select(c => c.Route.UnitId)));
        command.Parameters.Add(Column("hosts", NpgsqlDbType.Text, changes.Select(c => c.Route.HostId)));
        if (withKeys)
        {
            command.Parameters.Add(Column("keys", NpgsqlDbType.Text, changes.Select(c => c.Route.KeyId)));
        }

        // timestamptz keeps microseconds: the instant is written in UTC, rounded down to one.
        command.Parameters.Add(Column("since", NpgsqlDbType.TimestampTz,
            changes.Select(c => new DateTime(c.Route.ConnectedSince.UtcTicks - (c.Route.ConnectedSince.UtcTicks % 10), DateTimeKind.Utc))));
    }

    private static NpgsqlParameter Column<T>(string name, NpgsqlDbType type, IEnumerable<T> values) =>
        new(name, NpgsqlDbType.Array | type) { Value = values.ToArray() };

    private async Task MigrateAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _migrated) == 0)
        {
            await PostgreSqlSchema.MigrateAsync(_database, cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _migrated, 1);
        }
    }
}
