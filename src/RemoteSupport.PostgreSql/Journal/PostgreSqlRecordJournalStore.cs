using Npgsql;
using RemoteSupport.Journal;

namespace RemoteSupport.PostgreSql.Journal;

/// <summary>
/// The vendor's named journals in PostgreSQL (<see cref="PostgreSqlRecordJournal"/>, one table for all), shared by
/// every console host on the database: the store <c>AddRemoteSupportPostgreSql</c> registers.
/// </summary>
/// <param name="database">The database (the caller's: it stays open after the store).</param>
public sealed class PostgreSqlRecordJournalStore(NpgsqlDataSource database) : IRecordJournalStore
{
    private readonly OpenJournals<PostgreSqlRecordJournal> _open = Journals(database ?? throw new ArgumentNullException(nameof(database)));

    /// <inheritdoc/>
    /// <exception cref="NpgsqlException">The database could not be reached.</exception>
    public async Task<IRecordJournal> OpenJournalAsync(string name, CancellationToken cancellationToken = default)
    {
        JournalName.Check(name, nameof(name));
        return await _open.GetAsync(name, this, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Closes every journal the store opened.</summary>
    /// <returns>A task that completes when they are closed.</returns>
    public ValueTask DisposeAsync() => _open.DisposeAsync();

    private static OpenJournals<PostgreSqlRecordJournal> Journals(NpgsqlDataSource database) =>
        new(name => PostgreSqlRecordJournal.OpenAsync(database, name, CancellationToken.None));
}
