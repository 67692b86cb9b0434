namespace RemoteSupport.Journal;

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
}
