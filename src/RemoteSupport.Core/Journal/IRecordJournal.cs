namespace RemoteSupport.Journal;

/// <summary>Handles one record of a range read: its index and its bytes, valid only during the call.</summary>
/// <param name="index">The record's index.</param>
/// <param name="payload">The record's bytes (the journal reuses the memory after the call returns).</param>
public delegate void JournalRecordHandler(long index, ReadOnlySpan<byte> payload);

/// <summary>
/// The store under the audit log, the charge ledger and the statement issuer: an append-only sequence of
/// records, durable when an append completes, hashed into an RFC 6962 Merkle tree whose root signed
/// checkpoints commit to. <see cref="AppendOnlyJournal"/> (a file with fsync) is the default; a vendor's
/// database store implements the same contract and exports the same format, so the same verifier checks it.
/// </summary>
public interface IRecordJournal
{
    /// <summary>Gets how many records are durable.</summary>
    long Count { get; }

    /// <summary>Appends a record; completes once it is durable, with the record's index.</summary>
    /// <returns>The record's index (0-based).</returns>
    /// <param name="payload">The record's bytes.</param>
    /// <param name="cancellationToken">Stops waiting (the record may still become durable).</param>
    ValueTask<long> AppendAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default);

    /// <summary>Reads record <paramref name="index"/>.</summary>
    /// <returns>The record's bytes.</returns>
    /// <param name="index">The record's index.</param>
    /// <param name="cancellationToken">Stops the read.</param>
    Task<byte[]> ReadAsync(long index, CancellationToken cancellationToken = default);

    /// <summary>Gets the RFC 6962 tree head over the first <paramref name="size"/> records (all when null).</summary>
    /// <returns>The 32-byte root.</returns>
    /// <param name="size">How many records the tree covers.</param>
    byte[] Root(long? size = null);

    /// <summary>Writes every durable record to a new file at <paramref name="destination"/> in the journal format (docs/formats/journal.md), the copy a customer verifies offline.</summary>
    /// <returns>The number of records exported.</returns>
    /// <param name="destination">The file to create.</param>
    /// <param name="cancellationToken">Stops the export.</param>
    Task<long> ExportAsync(string destination, CancellationToken cancellationToken = default);

    /// <summary>
    /// Reads the records from <paramref name="from"/> below <paramref name="below"/> in index order, handing each to
    /// <paramref name="handler"/> in memory the journal reuses: a range of any length is read in constant memory.
    /// The default reads record by record with <see cref="ReadAsync"/>; the package's journals stream.
    /// </summary>
    /// <returns>A task that completes after the last record was handled.</returns>
    /// <param name="from">The first record's index.</param>
    /// <param name="below">The index after the last record; at most <see cref="Count"/>.</param>
    /// <param name="handler">Called once per record, in order.</param>
    /// <param name="cancellationToken">Stops the read.</param>
    async Task ReadRangeAsync(long from, long below, JournalRecordHandler handler, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(handler);
        ArgumentOutOfRangeException.ThrowIfNegative(from);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(below, Count);
        for (long index = from; index < below; index++)
        {
            handler(index, await ReadAsync(index, cancellationToken).ConfigureAwait(false));
        }
    }
}
