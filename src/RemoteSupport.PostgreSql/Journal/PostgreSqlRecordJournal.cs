using System.Data;
using System.Globalization;
using System.Runtime.CompilerServices;
using Npgsql;
using NpgsqlTypes;
using RemoteSupport.Journal;

namespace RemoteSupport.PostgreSql.Journal;

/// <summary>
/// An <see cref="IRecordJournal"/> in PostgreSQL, for a vendor's side shared by several console hosts. An append is
/// durable when its transaction commits; appends to one journal are serialized by an advisory lock, so indexes
/// have no gaps or duplicates however many hosts append at once. Each row keeps the record's RFC 6962 leaf hash,
/// so the tree head, the signed checkpoints and the exported journal file are those of <see cref="AppendOnlyJournal"/>
/// for the same records, and the same verifier checks them. A payload edited in SQL behind the package's back no
/// longer hashes to its leaf: <see cref="FindAlteredRecordsAsync"/> names it, and an export of it fails the
/// checkpoint's verification.
/// </summary>
/// <remarks>
/// <see cref="Count"/> and <see cref="Root"/> cover the records this instance has seen: its own appends and
/// everything before them. <see cref="RefreshAsync(CancellationToken)"/> takes in what other hosts appended since.
/// </remarks>
public sealed partial class PostgreSqlRecordJournal : ISharedRecordJournal, IAsyncDisposable
{
    private const int ReadBatch = 4096;
    private const long ExportBatchBytes = 64L * 1024 * 1024;
    private const string LeafColumn = "leaf_hash";
    private const string PayloadColumn = "payload";

    private readonly NpgsqlDataSource _database;
    private readonly LeafHashes _leafHashes = new();
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _refreshing = new(1, 1);
    private int _contended; // decided appends left that take the lock before deciding (another host was seen appending)

    private PostgreSqlRecordJournal(NpgsqlDataSource database, string name)
    {
        _database = database;
        Name = name;
        _leafHashes.Loader = LoadLeaves; // a complete block's leaves, read again for an older root or a comparison
    }

    /// <summary>Gets the journal's name (for example <c>ledger/fabrikam</c>); one table holds every journal.</summary>
    public string Name { get; }

    /// <summary>Gets how many records this instance has seen (its own appends and all before them).</summary>
    public long Count
    {
        get
        {
            lock (_gate)
            {
                return _leafHashes.Count;
            }
        }
    }

    /// <summary>Migrates the schema when needed and opens the journal <paramref name="name"/>, reading its leaf hashes.</summary>
    /// <returns>The open journal.</returns>
    /// <param name="database">The database (the caller owns it).</param>
    /// <param name="name">The journal's name (<see cref="JournalName"/>: segments of ASCII letters, digits, '.', '_', '-' separated by '/').</param>
    /// <param name="cancellationToken">Stops the open.</param>
    /// <exception cref="InvalidOperationException">The database's schema is newer than this package.</exception>
    /// <exception cref="NpgsqlException">The database could not be reached.</exception>
    public static async Task<PostgreSqlRecordJournal> OpenAsync(NpgsqlDataSource database, string name, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(database);
        JournalName.Check(name, nameof(name));

        await PostgreSqlSchema.MigrateAsync(database, cancellationToken).ConfigureAwait(false);
        var journal = new PostgreSqlRecordJournal(database, name);
        await journal.LoadLeavesAsync(cancellationToken).ConfigureAwait(false);
        return journal;
    }

    /// <summary>Appends a record; completes once its transaction has committed, with the record's index.</summary>
    /// <returns>The record's index (0-based), the next after every record any host appended before it.</returns>
    /// <param name="payload">The record's bytes, at most <see cref="AppendOnlyJournal.MaxRecordLength"/>.</param>
    /// <param name="cancellationToken">Stops waiting; the record is appended only if the commit happened.</param>
    public async ValueTask<long> AppendAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        (byte[] bytes, byte[] leaf) = Prepare(payload);
        // Not retried: had a lost commit happened, a second insert would append the record twice.
        long index = await InsertAsync(bytes, leaf, expectedAt: null, cancellationToken).ConfigureAwait(false);
        if (index < 0)
        {
            throw new JournalException($"The append to journal '{Name}' returned no index.");
        }

        await TakeInOwnAsync(index, leaf).ConfigureAwait(false);
        return index;
    }

    /// <summary>
    /// Takes the journal's advisory lock in a transaction (every other host's append waits), takes in what other hosts
    /// appended, calls <paramref name="decide"/> and inserts the record it returns as the next one; commits. A
    /// transient failure (a dropped connection, a serialization failure, a deadlock, the server shutting the session)
    /// is retried up to <see cref="MaxTransientAttempts"/> times, deciding again: safe, because a decision taken after a
    /// commit whose answer was lost sees that record in the journal.
    /// </summary>
    /// <returns>The appended record's index; null when <paramref name="decide"/> returned null.</returns>
    /// <param name="decide">Decides the record from the journal as it is (<see cref="Count"/> records, all committed); null appends nothing.</param>
    /// <param name="cancellationToken">Stops waiting; the record is appended only if the commit happened.</param>
    public async ValueTask<long?> AppendDecidedAsync(Func<CancellationToken, ValueTask<byte[]?>> decide, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(decide);
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return await AppendDecidedOnceAsync(decide, cancellationToken).ConfigureAwait(false);
            }
            catch (NpgsqlException failure) when (attempt < MaxTransientAttempts && IsTransient(failure) && !cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(10 << attempt), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Decides on the journal as this instance has seen it, then inserts under the lock only if no other host appended
    /// since (two round trips, as a plain insert); otherwise, or when the decision appends nothing or throws (it may
    /// rest on records not seen yet), decides again under the lock after taking in the other hosts' records.
    /// </summary>
    private async Task<long?> AppendDecidedOnceAsync(Func<CancellationToken, ValueTask<byte[]?>> decide, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _contended) > 0)
        {
            Interlocked.Decrement(ref _contended);
            return await AppendDecidedUnderLockAsync(decide, cancellationToken).ConfigureAwait(false);
        }

        long at = Count;
        byte[]? decided;
        try
        {
            decided = await decide(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            decided = null; // perhaps refused on a stale view: decided again below, where a refusal stands
        }

        if (decided is not null)
        {
            (byte[] bytes, byte[] leaf) = Prepare(decided);
            if (await InsertAsync(bytes, leaf, expectedAt: at, cancellationToken).ConfigureAwait(false) == at)
            {
                await TakeInOwnAsync(at, leaf).ConfigureAwait(false);
                return at;
            }

            Volatile.Write(ref _contended, ContendedAppends); // another host appends too: take the lock first for a while
        }

        return await AppendDecidedUnderLockAsync(decide, cancellationToken).ConfigureAwait(false);
    }

    private Task<long?> AppendDecidedUnderLockAsync(Func<CancellationToken, ValueTask<byte[]?>> decide, CancellationToken cancellationToken) =>
        WritingAsync(() => AppendDecidedUnderLockCoreAsync(decide, cancellationToken), cancellationToken);

    private async Task<long?> AppendDecidedUnderLockCoreAsync(Func<CancellationToken, ValueTask<byte[]?>> decide, CancellationToken cancellationToken)
    {
        using NpgsqlConnection connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        NpgsqlTransaction transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken).ConfigureAwait(false);
        await using ConfiguredAsyncDisposable disposing = transaction.ConfigureAwait(false);
        using (var locking = new NpgsqlBatch(connection, transaction))
        {
            locking.BatchCommands.Add(new NpgsqlBatchCommand("set local synchronous_commit = on"));
            var lockCommand = new NpgsqlBatchCommand("select pg_advisory_xact_lock(hashtextextended(@journal, 0))");
            lockCommand.Parameters.AddWithValue("journal", Name);
            locking.BatchCommands.Add(lockCommand);
            await locking.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await RefreshAsync(through: null, cancellationToken).ConfigureAwait(false); // every record committed before the lock
        long at = Count;
        if (await decide(cancellationToken).ConfigureAwait(false) is not byte[] payload)
        {
            return null; // the transaction rolls back when disposed, releasing the lock
        }

        (byte[] bytes, byte[] leaf) = Prepare(payload);
        using (var insert = new NpgsqlCommand(
            """
            insert into remotesupport_journal_records (journal, record_index, payload, leaf_hash)
            select @journal, @at, @payload, @leaf
            where (select coalesce(max(record_index) + 1, 0) from remotesupport_journal_records where journal = @journal) = @at
            """, connection, transaction))
        {
            insert.Parameters.AddWithValue("journal", Name);
            insert.Parameters.AddWithValue("at", at);
            insert.Parameters.Add(new NpgsqlParameter("payload", NpgsqlDbType.Bytea) { Value = bytes });
            insert.Parameters.Add(new NpgsqlParameter("leaf", NpgsqlDbType.Bytea) { Value = leaf });
            if (await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) != 1)
            {
                throw new JournalException($"Journal '{Name}' does not end at record {at} under its lock: rows were added or deleted behind the package's back.");
            }
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        await TakeInOwnAsync(at, leaf).ConfigureAwait(false);
        return at;
    }

    /// <summary>How many decided appends take the lock first after another host was seen appending.</summary>
    private const int ContendedAppends = 16;

    /// <summary>The most attempts of a decided append that failed for a transient reason.</summary>
    public const int MaxTransientAttempts = 4;

    /// <summary>A failure after which the transaction rolled back, or committed and the decision taken again finds it.</summary>
    private static bool IsTransient(NpgsqlException failure) =>
        failure.IsTransient || failure is PostgresException
        {
            SqlState: PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CannotConnectNow,
        };

    private static (byte[] Bytes, byte[] Leaf) Prepare(ReadOnlyMemory<byte> payload)
    {
        if (payload.Length > AppendOnlyJournal.MaxRecordLength)
        {
            throw new ArgumentException($"A record is at most {AppendOnlyJournal.MaxRecordLength} bytes ({payload.Length} given).", nameof(payload));
        }

        byte[] bytes = payload.ToArray();
        return (bytes, MerkleTree.LeafHash(bytes));
    }

    /// <summary>Inserts the record, under the journal's advisory lock, as the next one (only at <paramref name="expectedAt"/> when given); commits.</summary>
    /// <returns>The committed record's index; -1 when nothing was inserted (the journal did not end at <paramref name="expectedAt"/>).</returns>
    private Task<long> InsertAsync(byte[] bytes, byte[] leaf, long? expectedAt, CancellationToken cancellationToken) =>
        WritingAsync(() => InsertCoreAsync(bytes, leaf, expectedAt, cancellationToken), cancellationToken);

    private async Task<long> InsertCoreAsync(byte[] bytes, byte[] leaf, long? expectedAt, CancellationToken cancellationToken)
    {
        using NpgsqlConnection connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        // Read committed, whatever the server's default: the max below must see the last holder's committed row.
        NpgsqlTransaction transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken).ConfigureAwait(false);
        await using ConfiguredAsyncDisposable disposing = transaction.ConfigureAwait(false);
        long index = -1;
        // One round trip for the three statements, one for the commit.
        using (var append = new NpgsqlBatch(connection, transaction))
        {
            append.BatchCommands.Add(new NpgsqlBatchCommand("set local synchronous_commit = on"));
            var locking = new NpgsqlBatchCommand("select pg_advisory_xact_lock(hashtextextended(@journal, 0))");
            locking.Parameters.AddWithValue("journal", Name);
            append.BatchCommands.Add(locking);
            var insert = new NpgsqlBatchCommand(expectedAt is null
                ? """
                  insert into remotesupport_journal_records (journal, record_index, payload, leaf_hash)
                  select @journal, coalesce(max(record_index) + 1, 0), @payload, @leaf
                  from remotesupport_journal_records where journal = @journal
                  returning record_index
                  """
                : """
                  insert into remotesupport_journal_records (journal, record_index, payload, leaf_hash)
                  select @journal, coalesce(max(record_index) + 1, 0), @payload, @leaf
                  from remotesupport_journal_records where journal = @journal
                  having coalesce(max(record_index) + 1, 0) = @at
                  returning record_index
                  """);
            insert.Parameters.AddWithValue("journal", Name);
            if (expectedAt is long at)
            {
                insert.Parameters.AddWithValue("at", at);
            }

            insert.Parameters.Add(new NpgsqlParameter("payload", NpgsqlDbType.Bytea) { Value = bytes });
            insert.Parameters.Add(new NpgsqlParameter("leaf", NpgsqlDbType.Bytea) { Value = leaf });
            append.BatchCommands.Add(insert);
            await append.PrepareAsync(cancellationToken).ConfigureAwait(false); // kept on the pooled connection: parsed and planned once
            using NpgsqlDataReader reader = await append.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            do
            {
                // The results in order: the set (none), the lock's row, then the insert's index.
                if (reader.FieldCount == 1 && reader.GetName(0) == "record_index" && await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    index = reader.GetInt64(0);
                }
            }
            while (await reader.NextResultAsync(cancellationToken).ConfigureAwait(false));
        }

        if (index < 0)
        {
            return -1; // the transaction rolls back when disposed
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return index;
    }

    /// <summary>Takes this instance's own committed record <paramref name="index"/> in (reading back what came before it, if anything).</summary>
    private async Task TakeInOwnAsync(long index, byte[] leaf)
    {
        // Committed: the record is durable, so its index is returned whatever happens to the wait from here.
        lock (_gate)
        {
            if (index == _leafHashes.Count)
            {
                _leafHashes.Add(leaf); // the next one, as this instance expected: nothing to read back
                return;
            }
        }

        await RefreshAsync(through: index, CancellationToken.None).ConfigureAwait(false);
        lock (_gate)
        {
            if (!_leafHashes.Leaf((int)index).SequenceEqual(leaf))
            {
                throw new JournalException($"Record {index} of journal '{Name}' was appended where this instance had already seen another record: rows were deleted behind the package's back.");
            }
        }
    }

    /// <summary>Takes in the records other hosts appended since this instance last looked.</summary>
    /// <returns>A task that completes when <see cref="Count"/> covers every record committed before the call.</returns>
    /// <param name="cancellationToken">Stops the read.</param>
    public Task RefreshAsync(CancellationToken cancellationToken = default) => RefreshAsync(through: null, cancellationToken);

    /// <summary>Reads record <paramref name="index"/>.</summary>
    /// <returns>The record's bytes.</returns>
    /// <param name="index">The record's index, below <see cref="Count"/>.</param>
    /// <param name="cancellationToken">Stops the read.</param>
    public async Task<byte[]> ReadAsync(long index, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        using NpgsqlConnection connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        using var read = new NpgsqlCommand("select payload from remotesupport_journal_records where journal = @journal and record_index = @index", connection);
        read.Parameters.AddWithValue("journal", Name);
        read.Parameters.AddWithValue("index", index);
        return await read.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as byte[]
            ?? throw new JournalException($"Record {index} of journal '{Name}' is missing from the database: a row was deleted behind the package's back.");
    }

    /// <summary>Gets the RFC 6962 tree head over the first <paramref name="size"/> records (all seen when null).</summary>
    /// <returns>The 32-byte root.</returns>
    /// <param name="size">How many records the tree covers.</param>
    public byte[] Root(long? size = null)
    {
        lock (_gate)
        {
            return _leafHashes.Root(size);
        }
    }

    /// <summary>
    /// Reads every record seen and returns the indexes whose payload no longer hashes to the leaf the tree holds
    /// (edited in SQL behind the package's back); empty when none was. The tree keeps one root per 64 records: when
    /// a block's stored leaf hashes no longer make its root either (a leaf hash rewritten with its payload, or a row
    /// deleted), which of its records changed cannot be told, and every record of the block is named.
    /// </summary>
    /// <returns>The altered records' indexes, in order.</returns>
    /// <param name="cancellationToken">Stops the check.</param>
    public async Task<IReadOnlyList<long>> FindAlteredRecordsAsync(CancellationToken cancellationToken = default)
    {
        var altered = new List<long>();
        byte[] leaves = new byte[LeafHashes.BlockLeaves * MerkleTree.HashLength]; // one block's leaves, from the payloads
        long first = 0;
        long count = Count;
        await foreach ((long index, byte[] payload) in ReadRecordsAsync(count, cancellationToken).ConfigureAwait(false))
        {
            for (; index >= first + LeafHashes.BlockLeaves; first += LeafHashes.BlockLeaves)
            {
                CollectAltered(first, leaves, count, altered);
            }

            MerkleTree.LeafHash(payload, leaves.AsSpan((int)(index - first) * MerkleTree.HashLength, MerkleTree.HashLength));
        }

        for (; first < count; first += LeafHashes.BlockLeaves)
        {
            CollectAltered(first, leaves, count, altered);
        }

        return altered;
    }

    /// <summary>Compares one block's leaves, computed from the payloads read (a deleted row's left zero), with the tree, and clears them.</summary>
    private void CollectAltered(long first, byte[] leaves, long count, List<long> altered)
    {
        int length = (int)Math.Min(LeafHashes.BlockLeaves, count - first) * MerkleTree.HashLength;
        lock (_gate)
        {
            _leafHashes.CollectAltered(first, leaves.AsSpan(0, length), altered);
        }

        Array.Clear(leaves);
    }

    /// <summary>Reads the leaf hashes of one block of records again (under the gate, as <see cref="LeafHashes"/> asks for them).</summary>
    private void LoadLeaves(long first, int count, byte[] destination)
    {
        using NpgsqlConnection connection = _database.OpenConnection();
        using var read = new NpgsqlCommand(
            "select record_index, leaf_hash from remotesupport_journal_records where journal = @journal and record_index >= @from and record_index < @below order by record_index",
            connection);
        read.Parameters.AddWithValue("journal", Name);
        read.Parameters.AddWithValue("from", first);
        read.Parameters.AddWithValue("below", first + count);
        int rows = 0;
        using NpgsqlDataReader reader = read.ExecuteReader();
        while (reader.Read())
        {
            if (reader.GetInt64(0) != first + rows)
            {
                break;
            }

            if (reader.IsDBNull(1) || reader.GetBytes(1, 0, null, 0, 0) != MerkleTree.HashLength)
            {
                throw new JournalException(string.Create(CultureInfo.InvariantCulture,
                    $"Record {first + rows} of journal '{Name}' has no {MerkleTree.HashLength}-byte leaf hash: the row was edited behind the package's back."));
            }

            reader.GetBytes(1, 0, destination, rows * MerkleTree.HashLength, MerkleTree.HashLength);
            rows++;
        }

        if (rows != count)
        {
            throw new JournalException(string.Create(CultureInfo.InvariantCulture,
                $"Record {first + rows} of journal '{Name}' is missing from the database: a row was deleted behind the package's back."));
        }
    }

    /// <summary>
    /// Writes every record seen to a new file at <paramref name="destination"/> in the journal format
    /// (docs/formats/journal.md): the same bytes <see cref="AppendOnlyJournal"/> holds for the same records.
    /// </summary>
    /// <returns>The number of records exported.</returns>
    /// <param name="destination">The file to create; it must not exist (<see cref="IOException"/>).</param>
    /// <param name="cancellationToken">Stops the export (the partial file is deleted).</param>
    public async Task<long> ExportAsync(string destination, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(destination);
        new FileStream(destination, FileMode.CreateNew, FileAccess.Write).Dispose(); // never over an existing file; empty, the journal writes its header
        long count = Count;
        long written = 0;
        try
        {
            AppendOnlyJournal file = await AppendOnlyJournal.OpenAsync(destination, cancellationToken).ConfigureAwait(false);
            await using ConfiguredAsyncDisposable closing = file.ConfigureAwait(false);
            var pending = new List<Task<long>>();
            long pendingBytes = 0;
            await foreach ((long index, byte[] payload) in ReadRecordsAsync(count, cancellationToken).ConfigureAwait(false))
            {
                if (index != written + pending.Count)
                {
                    throw new JournalException($"Record {written + pending.Count} of journal '{Name}' is missing from the database: a row was deleted behind the package's back.");
                }

                pending.Add(file.AppendAsync(payload, cancellationToken).AsTask()); // appended in order; durable together
                pendingBytes += payload.Length;
                if (pending.Count == ReadBatch || pendingBytes >= ExportBatchBytes)
                {
                    await Task.WhenAll(pending).ConfigureAwait(false);
                    written += pending.Count;
                    pending.Clear();
                    pendingBytes = 0;
                }
            }

            await Task.WhenAll(pending).ConfigureAwait(false);
            written += pending.Count;
            if (written != count)
            {
                throw new JournalException($"Journal '{Name}' has {written} of its {count} records in the database: rows were deleted behind the package's back.");
            }
        }
        catch
        {
            File.Delete(destination); // this call created it
            throw;
        }

        return written;
    }

    /// <summary>Releases nothing the caller owns: the data source stays open.</summary>
    /// <returns>A completed task.</returns>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask; // the semaphores have no handle to release

    /// <summary>Reads every leaf hash of a journal just opened: one copy into the compact leaves, no array per row.</summary>
    private async Task LoadLeavesAsync(CancellationToken cancellationToken)
    {
        await CopyColumnAsync(LeafColumn, 0, long.MaxValue, (index, leaf) =>
        {
            if (leaf.Length != MerkleTree.HashLength)
            {
                throw new JournalException($"Record {index} of journal '{Name}' has a leaf hash of {leaf.Length} bytes, not {MerkleTree.HashLength}: the row was edited behind the package's back.");
            }

            lock (_gate)
            {
                _leafHashes.Add(leaf); // the copy refuses a gap: each row is the next
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    private async Task RefreshAsync(long? through, CancellationToken cancellationToken)
    {
        await _refreshing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (through is { } last && last < Count)
            {
                return; // a concurrent refresh already took it in
            }

            await foreach ((long index, byte[]? stored) in ReadRowsAsync(LeafColumn, Count, long.MaxValue, cancellationToken).ConfigureAwait(false))
            {
                byte[] leaf = stored ?? [];
                if (leaf.Length != MerkleTree.HashLength)
                {
                    throw new JournalException($"Record {index} of journal '{Name}' has a leaf hash of {leaf.Length} bytes, not {MerkleTree.HashLength}: the row was edited behind the package's back.");
                }

                lock (_gate)
                {
                    if (index > _leafHashes.Count)
                    {
                        throw new JournalException($"Record {_leafHashes.Count} of journal '{Name}' is missing from the database: a row was deleted behind the package's back.");
                    }

                    if (index == _leafHashes.Count)
                    {
                        _leafHashes.Add(leaf);
                    }
                    else if (!_leafHashes.Leaf((int)index).SequenceEqual(leaf))
                    {
                        // Taken in already (an append of this instance, meanwhile): it must be the same record.
                        throw new JournalException($"Record {index} of journal '{Name}' changed in the database after this instance took it in: the row was edited behind the package's back.");
                    }
                }
            }

            if (through is { } appended && Count <= appended)
            {
                throw new JournalException($"Record {appended} of journal '{Name}' committed but cannot be read back.");
            }
        }
        finally
        {
            _refreshing.Release();
        }
    }

    /// <summary>The records below <paramref name="count"/> in index order, their payload null when a row's is (an edit).</summary>
    private async IAsyncEnumerable<(long Index, byte[] Payload)> ReadRecordsAsync(long count, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach ((long index, byte[]? payload) in ReadRowsAsync(PayloadColumn, 0, count, cancellationToken).ConfigureAwait(false))
        {
            yield return (index, payload ?? []); // an empty payload hashes to another leaf
        }
    }

    /// <summary>Streams one column (<see cref="LeafColumn"/> or <see cref="PayloadColumn"/>) of the rows from <paramref name="from"/> below <paramref name="below"/>, in index order, a batch at a time.</summary>
    private async IAsyncEnumerable<(long Index, byte[]? Value)> ReadRowsAsync(
        string column, long from, long below, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using NpgsqlConnection connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        while (from < below)
        {
            using var read = new NpgsqlCommand(
                $"""
                select record_index, {column} from remotesupport_journal_records
                where journal = @journal and record_index >= @from and record_index < @below order by record_index limit @limit
                """, connection);
            read.Parameters.AddWithValue("journal", Name);
            read.Parameters.AddWithValue("from", from);
            read.Parameters.AddWithValue("below", below);
            read.Parameters.AddWithValue("limit", ReadBatch);
            int rows = 0;
            using (NpgsqlDataReader reader = await read.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    long index = reader.GetInt64(0);
                    rows++;
                    from = index + 1;
                    yield return (index, reader.IsDBNull(1) ? null : (byte[])reader.GetValue(1));
                }
            }

            if (rows < ReadBatch)
            {
                yield break;
            }
        }
    }
}
