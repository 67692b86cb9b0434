using System.Data;
using System.Runtime.CompilerServices;
using Npgsql;
using NpgsqlTypes;
using RemoteSupport.Journal;

namespace RemoteSupport.PostgreSql.Journal;

/// <summary>Appends many records in one transaction: a backfill, an import, a migration from the file journal.</summary>
public sealed partial class PostgreSqlRecordJournal
{
    /// <summary>
    /// Appends <paramref name="payloads"/> as consecutive records in one transaction (the journal's advisory lock,
    /// one binary <c>COPY</c>, one commit): all of them or none. Completes once they are committed, with the first one's index.
    /// </summary>
    /// <remarks>
    /// The rows are written to the copy synchronously (the calling thread waits while the socket takes them, a buffer
    /// at a time): per field, an asynchronous write cost more than the server's insert of the row. Meant for imports and
    /// backfills; a host's charges go one at a time through <see cref="AppendDecidedAsync"/>.
    /// </remarks>
    /// <returns>The index of the first record appended (the others follow it in order).</returns>
    /// <param name="payloads">The records' bytes, each at most <see cref="AppendOnlyJournal.MaxRecordLength"/>; at least one.</param>
    /// <param name="cancellationToken">Stops waiting; the records are appended only if the commit happened.</param>
    public async Task<long> AppendBatchAsync(IReadOnlyList<ReadOnlyMemory<byte>> payloads, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(payloads);
        ArgumentOutOfRangeException.ThrowIfZero(payloads.Count);
        var leaves = new byte[payloads.Count][];
        for (int i = 0; i < payloads.Count; i++)
        {
            if (payloads[i].Length > AppendOnlyJournal.MaxRecordLength)
            {
                throw new ArgumentException($"A record is at most {AppendOnlyJournal.MaxRecordLength} bytes (record {i} of the batch has {payloads[i].Length}).", nameof(payloads));
            }

            leaves[i] = MerkleTree.LeafHash(payloads[i].Span);
        }

        long first = await WritingAsync(() => CopyBatchAsync(payloads, leaves, cancellationToken), cancellationToken).ConfigureAwait(false);
        for (int i = 0; i < leaves.Length; i++)
        {
            await TakeInOwnAsync(first + i, leaves[i]).ConfigureAwait(false); // the first may read back what other hosts appended before
        }

        return first;
    }

    private async Task<long> CopyBatchAsync(IReadOnlyList<ReadOnlyMemory<byte>> payloads, byte[][] leaves, CancellationToken cancellationToken)
    {
        long first;
        using (NpgsqlConnection connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false))
        {
            NpgsqlTransaction transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken).ConfigureAwait(false);
            await using ConfiguredAsyncDisposable disposing = transaction.ConfigureAwait(false);
            using (var next = new NpgsqlCommand(
                """
                set local synchronous_commit = on;
                select pg_advisory_xact_lock(hashtextextended(@journal, 0));
                select coalesce(max(record_index) + 1, 0) from remotesupport_journal_records where journal = @journal;
                """, connection, transaction))
            {
                next.Parameters.AddWithValue("journal", Name);
                using NpgsqlDataReader reader = await next.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await reader.NextResultAsync(cancellationToken).ConfigureAwait(false); // past the lock's row
                await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                first = reader.GetInt64(0);
            }

            using (NpgsqlBinaryImporter copy = await connection.BeginBinaryImportAsync(
                "copy remotesupport_journal_records (journal, record_index, payload, leaf_hash) from stdin (format binary)", cancellationToken).ConfigureAwait(false))
            {
                // Synchronous per row: most writes only fill the importer's buffer (see the remarks).
                for (int i = 0; i < payloads.Count; i++)
                {
                    copy.StartRow();
                    copy.Write(Name, NpgsqlDbType.Text);
                    copy.Write(first + i, NpgsqlDbType.Bigint);
                    copy.Write(payloads[i], NpgsqlDbType.Bytea);
                    copy.Write(leaves[i], NpgsqlDbType.Bytea);
                }

                await copy.CompleteAsync(cancellationToken).ConfigureAwait(false);
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }

        return first;
    }
}
