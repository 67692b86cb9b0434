using System.Data;
using System.Runtime.CompilerServices;
using Npgsql;
using NpgsqlTypes;
using RemoteSupport.Journal;

namespace RemoteSupport.PostgreSql.Journal;

/// <summary>Appends many records in one transaction: a backfill, an import, a migration from the file journal.</summary>
public sealed partial class PostgreSqlRecordJournal
{
    /// <summary>The most payload bytes one statement of a batch carries.</summary>
    private const long ChunkBytes = 16L * 1024 * 1024;

    /// <summary>
    /// Appends <paramref name="payloads"/> as consecutive records in one transaction (the journal's advisory lock,
    /// one <c>unnest</c> insert per 16 MiB of payloads, one commit): all of them or none. Completes once they are committed, with the first one's index.
    /// </summary>
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

            // Chunks of at most ChunkBytes, each one statement of arrays (the ceiling's own form: one message, no per-row
            // protocol), all in the one transaction.
            for (int start = 0; start < payloads.Count;)
            {
                int end = start;
                long bytes = 0;
                while (end < payloads.Count && (end == start || bytes + payloads[end].Length <= ChunkBytes))
                {
                    bytes += payloads[end].Length;
                    end++;
                }

                var chunk = new byte[end - start][];
                for (int i = start; i < end; i++)
                {
                    chunk[i - start] = payloads[i].ToArray();
                }

                using var insert = new NpgsqlCommand(
                    """
                    insert into remotesupport_journal_records (journal, record_index, payload, leaf_hash)
                    select @journal, @first + ordinal - 1, payload, leaf_hash from unnest(@payloads, @leaves) with ordinality as r(payload, leaf_hash, ordinal)
                    """, connection, transaction);
                insert.Parameters.AddWithValue("journal", Name);
                insert.Parameters.AddWithValue("first", first + start);
                insert.Parameters.Add(new NpgsqlParameter("payloads", NpgsqlDbType.Array | NpgsqlDbType.Bytea) { Value = chunk });
                insert.Parameters.Add(new NpgsqlParameter("leaves", NpgsqlDbType.Array | NpgsqlDbType.Bytea) { Value = leaves[start..end] });
                await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                start = end;
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }

        for (int i = 0; i < leaves.Length; i++)
        {
            await TakeInOwnAsync(first + i, leaves[i]).ConfigureAwait(false); // the first may read back what other hosts appended before
        }

        return first;
    }
}
