namespace RemoteSupport.Journal;

/// <summary>
/// An <see cref="IRecordJournal"/> that several writers (a vendor's console hosts) append to at once, such as a
/// database table. The ledger and the statement issuer keep one truth across hosts on it: each decides
/// (idempotency, caps, statement numbers) while no other writer can append, on the journal with every record
/// committed before, and appends what it decided (<see cref="AppendDecidedAsync"/>).
/// </summary>
public interface ISharedRecordJournal : IRecordJournal
{
    /// <summary>Takes in the records other writers appended since this instance last looked.</summary>
    /// <returns>A task that completes when <see cref="IRecordJournal.Count"/> covers every record committed before the call.</returns>
    /// <param name="cancellationToken">Stops the read.</param>
    Task RefreshAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Holds off every other writer of the journal, takes in what they appended, then calls <paramref name="decide"/>
    /// and appends the record it returns as the next one; completes once it is durable. <paramref name="decide"/>
    /// may run again when the attempt failed for a transient reason (a dropped connection): it must decide from
    /// the journal as it then is (a record of an attempt that did commit is in it).
    /// </summary>
    /// <returns>The appended record's index; null when <paramref name="decide"/> returned null (nothing to append).</returns>
    /// <param name="decide">Decides the record from the journal as it is (<see cref="IRecordJournal.Count"/> records); null appends nothing. An exception it throws appends nothing and is thrown.</param>
    /// <param name="cancellationToken">Stops waiting (the record may still become durable; a decision taken again finds it).</param>
    ValueTask<long?> AppendDecidedAsync(Func<CancellationToken, ValueTask<byte[]?>> decide, CancellationToken cancellationToken = default);
}
