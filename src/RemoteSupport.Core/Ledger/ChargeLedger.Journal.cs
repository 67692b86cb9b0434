using System.Globalization;
using System.Text.Json;
using RemoteSupport.Documents;
using RemoteSupport.Journal;

namespace RemoteSupport.Ledger;

/// <summary>The ledger's journal side: replaying records, and on a shared journal taking in and deciding under its lock.</summary>
public sealed partial class ChargeLedger
{
    /// <summary>Applies journal record <paramref name="index"/> (an entry or an annotation).</summary>
    /// <returns>True when the due totals must be counted again (an annotation or a reversal).</returns>
    private bool ApplyRecord(byte[] record, long index)
    {
        using (JsonDocument shape = JsonDocument.Parse(record))
        {
            if (shape.RootElement.TryGetProperty("annotation", out _))
            {
                Apply(JsonSerializer.Deserialize<ChargeAnnotation>(record, DocumentJson.Options)!, index);
                return true;
            }
        }

        ChargeEntry entry = JsonSerializer.Deserialize<ChargeEntry>(record, DocumentJson.Options)
            ?? throw new JournalException(string.Create(CultureInfo.InvariantCulture, $"Ledger record {index} is empty."));
        Track(entry, index);
        return entry.Charge.Reverses is not null;
    }

    /// <summary>
    /// Takes in the charges, approvals and disputes other hosts recorded since this ledger last looked (on an
    /// <see cref="ISharedRecordJournal"/>; a ledger that is its journal's only writer has seen everything). Call it
    /// before signing a checkpoint of the ledger for a statement, so the statement bills what every host recorded.
    /// </summary>
    /// <returns>A task that completes when the ledger reflects every record committed before the call.</returns>
    /// <param name="cancellationToken">Stops waiting for the ledger's lock or the journal.</param>
    public async Task RefreshAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await CatchUpAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task CatchUpAsync(CancellationToken cancellationToken)
    {
        if (_journal is not ISharedRecordJournal shared)
        {
            return; // this ledger is the journal's only writer: it has seen everything
        }

        await shared.RefreshAsync(cancellationToken).ConfigureAwait(false);
        await TakeInAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Applies the journal's records this ledger has not applied yet.</summary>
    private async Task TakeInAsync(CancellationToken cancellationToken)
    {
        bool recount = false;
        try
        {
            await _journal.ReadRangeAsync(RecordCount, _journal.Count, (i, record) =>
            {
                if (ApplyRecord(record.ToArray(), i))
                {
                    recount = true;
                }
                else if (!recount)
                {
                    ChargeEntry entry;
                    lock (_entries)
                    {
                        entry = _entries[^1];
                    }

                    if (StatusOf(entry) == ChargeStatus.Due)
                    {
                        AddDue(entry);
                    }
                }
            }, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // Even when the read failed partway: an approval or reversal applied is counted before the next decision.
            if (recount)
            {
                Recount();
            }
        }
    }

    /// <summary>
    /// Appends the record <paramref name="decide"/> returns (none when null), decided on the ledger as it is: on a
    /// shared journal under its lock, after taking in what other hosts appended.
    /// </summary>
    /// <returns>The record's index; null when nothing was appended.</returns>
    private async ValueTask<long?> AppendDecidedAsync(Func<byte[]?> decide, CancellationToken cancellationToken)
    {
        if (_journal is ISharedRecordJournal shared)
        {
            return await shared.AppendDecidedAsync(async ct =>
            {
                await TakeInAsync(ct).ConfigureAwait(false); // the journal has taken in every committed record
                return decide();
            }, cancellationToken).ConfigureAwait(false);
        }

        return decide() is byte[] record ? await _journal.AppendAsync(record, cancellationToken).ConfigureAwait(false) : null;
    }
}
