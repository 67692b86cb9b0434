using System.Buffers.Binary;
using System.Data;
using System.Globalization;
using System.Runtime.CompilerServices;
using Npgsql;
using RemoteSupport.Journal;

namespace RemoteSupport.PostgreSql.Journal;

/// <summary>Streaming a range of records out of the database: one binary <c>COPY</c>, parsed in one reused buffer.</summary>
public sealed partial class PostgreSqlRecordJournal
{
    private const int CopyBuffer = 1 << 20;
    private const int ShortRange = 64;

    // PostgreSQL's binary COPY format (the "COPY" page of its manual): an 11-byte signature, 32-bit flags and header
    // extension length; then per row a 16-bit field count (-1 ends the data) and per field a 32-bit length and its bytes.
    private static ReadOnlySpan<byte> CopySignature => [0x50, 0x47, 0x43, 0x4F, 0x50, 0x59, 0x0A, 0xFF, 0x0D, 0x0A, 0x00]; // "PGCOPY\n\377\r\n\0"

    /// <summary>
    /// Reads the records from <paramref name="from"/> below <paramref name="below"/> with one binary <c>COPY</c> of
    /// the rows in index order, parsed in one reused buffer (no object per row), handing each to <paramref name="handler"/>:
    /// a range of any length in constant memory, at the speed the server sends.
    /// </summary>
    /// <exception cref="JournalException">A row of the range was deleted, or its payload nulled, behind the package's back, or the server sent something else than the rows asked for.</exception>
    public async Task ReadRangeAsync(long from, long below, JournalRecordHandler handler, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(handler);
        ArgumentOutOfRangeException.ThrowIfNegative(from);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(below, Count);
        if (from >= below)
        {
            return;
        }

        if (below - from <= ShortRange)
        {
            await ReadShortRangeAsync(from, below, handler, cancellationToken).ConfigureAwait(false);
            return;
        }

        if (await CopyColumnAsync(PayloadColumn, from, below, handler, cancellationToken).ConfigureAwait(false) is var next && next != below)
        {
            throw new JournalException(string.Create(CultureInfo.InvariantCulture,
                $"Record {next} of journal '{Name}' is missing from the database: a row was deleted behind the package's back."));
        }
    }

    /// <summary>
    /// Streams one column (<see cref="PayloadColumn"/> or <see cref="LeafColumn"/>) of the rows from <paramref name="from"/>
    /// below <paramref name="below"/> (<see cref="long.MaxValue"/>: to the end) as one binary <c>COPY</c>, parsed in one
    /// reused buffer: no object per row.
    /// </summary>
    /// <returns>The index after the last row handled (where a gap, if any, is).</returns>
    private async Task<long> CopyColumnAsync(string column, long from, long below, JournalRecordHandler handler, CancellationToken cancellationToken)
    {
        var state = new CopyState(from);
                byte[] buffer = new byte[CopyBuffer];
        using (NpgsqlConnection connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false))
        {
            NpgsqlTransaction transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken).ConfigureAwait(false);
            await using ConfiguredAsyncDisposable disposing = transaction.ConfigureAwait(false);
            using (var range = new NpgsqlCommand(
                """
                select set_config('remotesupport.journal', @journal, true), set_config('remotesupport.from', @from, true), set_config('remotesupport.below', @below, true),
                       set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true), set_config('jit', 'off', true)
                """,
                connection, transaction))
            {
                // COPY takes no parameters: the range goes as settings of this transaction. The rows stream in index order
                // from the primary key: with many journals in the table the planner would rather scan it all and sort.
                range.Parameters.AddWithValue("journal", Name);
                range.Parameters.AddWithValue("from", from.ToString(CultureInfo.InvariantCulture));
                range.Parameters.AddWithValue("below", below.ToString(CultureInfo.InvariantCulture));
                await range.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            Stream copy = await connection.BeginRawBinaryCopyAsync(
                $"""
                copy (select record_index, {column} from remotesupport_journal_records
                      where journal = current_setting('remotesupport.journal')
                        and record_index >= current_setting('remotesupport.from')::bigint
                        and record_index < current_setting('remotesupport.below')::bigint
                      order by record_index) to stdout (format binary)
                """, cancellationToken).ConfigureAwait(false);
            await using (copy.ConfigureAwait(false))
            {
                int at = 0;
                int filled = 0;
                while (!state.Ended)
                {
                    int need = HandleCopyRows(buffer.AsSpan(at, filled - at), ref state, below, handler, out int consumed);
                    at += consumed;
                    if (state.Ended)
                    {
                        break;
                    }

                    int remaining = filled - at;
                    if (need > buffer.Length)
                    {
                        Array.Resize(ref buffer, need); // a record larger than the buffer: up to the record limit
                    }

                    buffer.AsSpan(at, remaining).CopyTo(buffer);
                    (at, filled) = (0, remaining);
                    cancellationToken.ThrowIfCancellationRequested();
                    // Read in place: the server sends a message per row and the stream hands back one at a time, so an
                    // asynchronous read per call allocated about 50 bytes a row (50 MB to open a million records, all of it
                    // resident before the first collection); most reads only take bytes already received.
                    int read = copy.Read(buffer.AsSpan(filled));
                    if (read == 0)
                    {
                        throw Unexpected("the copy ended without its trailer");
                    }

                    filled += read;
                }

                // Drain the copy's end so the connection is clean for the pool.
                while (await copy.ReadAsync(buffer, cancellationToken).ConfigureAwait(false) > 0)
                {
                }
            }
        }

        return state.Next;
    }

    /// <summary>
    /// A few records (a host catching up under the lock): one plain query, one round trip, rather than the copy's
    /// settings, copy and buffer.
    /// </summary>
    private async Task ReadShortRangeAsync(long from, long below, JournalRecordHandler handler, CancellationToken cancellationToken)
    {
        long next = from;
        using (NpgsqlConnection connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false))
        using (var range = new NpgsqlCommand(
            "select record_index, payload from remotesupport_journal_records where journal = @journal and record_index >= @from and record_index < @below order by record_index",
            connection))
        {
            range.Parameters.AddWithValue("journal", Name);
            range.Parameters.AddWithValue("from", from);
            range.Parameters.AddWithValue("below", below);
            using NpgsqlDataReader reader = await range.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false) && reader.GetInt64(0) == next && !reader.IsDBNull(1))
            {
                handler(next, reader.GetFieldValue<byte[]>(1));
                next++;
            }
        }

        if (next != below)
        {
            throw new JournalException(string.Create(CultureInfo.InvariantCulture,
                $"Record {next} of journal '{Name}' is missing from the database or has no payload: the row was deleted or edited behind the package's back."));
        }
    }

    /// <summary>Hands every whole row at the start of <paramref name="bytes"/> to the handler.</summary>
    /// <returns>The bytes the next piece needs whole (its header or row); 0 once the trailer is read.</returns>
    private int HandleCopyRows(ReadOnlySpan<byte> bytes, ref CopyState state, long below, JournalRecordHandler handler, out int consumed)
    {
        consumed = 0;
        if (!state.PastHeader)
        {
            const int Fixed = 11 + 4 + 4;
            if (bytes.Length < Fixed)
            {
                return Fixed;
            }

            int extension = BinaryPrimitives.ReadInt32BigEndian(bytes[15..]);
            if (!bytes[..11].SequenceEqual(CopySignature) || extension < 0 || extension > 1024)
            {
                throw Unexpected("the copy does not start with PostgreSQL's binary signature");
            }

            if (bytes.Length < Fixed + extension)
            {
                return Fixed + extension;
            }

            consumed = Fixed + extension;
            state.PastHeader = true;
        }

        while (true)
        {
            ReadOnlySpan<byte> rest = bytes[consumed..];
            if (rest.Length < 2)
            {
                return 2;
            }

            short fields = BinaryPrimitives.ReadInt16BigEndian(rest);
            if (fields == -1)
            {
                consumed += 2;
                state.Ended = true;
                return 0;
            }

            const int IndexPart = 2 + 4 + 8 + 4; // field count, the index's length and value, the payload's length
            if (rest.Length < IndexPart)
            {
                return IndexPart;
            }

            long index = BinaryPrimitives.ReadInt64BigEndian(rest[6..]);
            int length = BinaryPrimitives.ReadInt32BigEndian(rest[14..]);
            if (fields != 2 || BinaryPrimitives.ReadInt32BigEndian(rest[2..]) != 8)
            {
                throw Unexpected("a row is not an index and a payload");
            }

            if (index != state.Next || length < 0 || index >= below)
            {
                throw new JournalException(string.Create(CultureInfo.InvariantCulture,
                    $"Record {state.Next} of journal '{Name}' is missing from the database or has a null value: the row was deleted or edited behind the package's back."));
            }

            if (length > AppendOnlyJournal.MaxRecordLength)
            {
                throw Unexpected(string.Create(CultureInfo.InvariantCulture, $"record {index} is {length} bytes, over the record limit"));
            }

            if (rest.Length < IndexPart + length)
            {
                return IndexPart + length;
            }

            handler(index, rest.Slice(IndexPart, length));
            state.Next++;
            consumed += IndexPart + length;
        }
    }

    private JournalException Unexpected(string what) => new($"Reading journal '{Name}' from the database: {what}.");

    /// <summary>Where the parse of the copy stands.</summary>
    private struct CopyState(long next)
    {
        public long Next = next;
        public bool PastHeader;
        public bool Ended;
    }
}
