using System.Data;
using System.Runtime.CompilerServices;
using Npgsql;

namespace RemoteSupport.PostgreSql;

/// <summary>
/// The package's tables, created and migrated by the package (never by hand): each migration runs once, in
/// order, in one transaction under an advisory lock, so hosts starting together migrate once
/// (docs/formats/postgresql.md).
/// </summary>
internal static class PostgreSqlSchema
{
    /// <summary>The schema version this package writes.</summary>
    public const int Version = 2;

    /// <summary>The advisory lock migrations take (any constant; "RSSCHEMA" in ASCII).</summary>
    private const long MigrationLock = 0x5253534348454D41;

    private static readonly string[] Migrations =
    [
        // 1: record journals.
        """
        create table remotesupport_journal_records (
            journal text not null check (length(journal) between 1 and 200),
            record_index bigint not null check (record_index >= 0),
            payload bytea not null,
            leaf_hash bytea not null check (length(leaf_hash) = 32),
            primary key (journal, record_index)
        )
        """,
        // 2: the fleet's routing (which console host holds which unit).
        """
        create table remotesupport_unit_routes (
            customer text not null,
            unit text not null,
            host_id text not null,
            key_id text not null,
            connected_since timestamptz not null,
            primary key (customer, unit)
        );
        create index remotesupport_unit_routes_host on remotesupport_unit_routes (host_id)
        """,
    ];

    /// <summary>Brings the database to <see cref="Version"/>.</summary>
    /// <exception cref="InvalidOperationException">The database has a newer schema than this package knows.</exception>
    public static async Task MigrateAsync(NpgsqlDataSource database, CancellationToken cancellationToken)
    {
        using NpgsqlConnection connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        if (await CurrentVersionAsync(connection, null, cancellationToken).ConfigureAwait(false) == Version)
        {
            return; // up to date: no DDL, so a role without CREATE rights opens the journal too
        }

        NpgsqlTransaction transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken).ConfigureAwait(false);
        await using ConfiguredAsyncDisposable disposing = transaction.ConfigureAwait(false);
        await ExecuteAsync(connection, transaction, $"select pg_advisory_xact_lock({MigrationLock})", cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, transaction,
            "create table if not exists remotesupport_schema (version integer primary key, applied_at timestamptz not null default now())",
            cancellationToken).ConfigureAwait(false);
        int version = await CurrentVersionAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
        if (version > Version)
        {
            throw new InvalidOperationException(
                $"The database's RemoteSupport schema is version {version}; this package knows up to {Version}. Update the package.");
        }

        for (int next = version + 1; next <= Version; next++)
        {
            await ExecuteAsync(connection, transaction, Migrations[next - 1], cancellationToken).ConfigureAwait(false);
            await ExecuteAsync(connection, transaction, $"insert into remotesupport_schema (version) values ({next})", cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The schema version in the database; 0 when the package never migrated it.</summary>
    private static async Task<int> CurrentVersionAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken)
    {
        using (var exists = new NpgsqlCommand("select to_regclass('remotesupport_schema') is not null", connection, transaction))
        {
            if (!(bool)(await exists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!)
            {
                return 0; // a query naming a missing table fails when planned, so ask first
            }
        }

        using var current = new NpgsqlCommand("select coalesce(max(version), 0) from remotesupport_schema", connection, transaction);
        return (int)(await current.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, CancellationToken cancellationToken)
    {
        using var command = new NpgsqlCommand(sql, connection, transaction);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
