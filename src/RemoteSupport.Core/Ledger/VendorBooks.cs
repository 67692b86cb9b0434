using RemoteSupport.GroundRules;
using RemoteSupport.Journal;
using RemoteSupport.Sessions;

namespace RemoteSupport.Ledger;

/// <summary>
/// The vendor's books on an <see cref="IRecordJournalStore"/>: a charge ledger and a receipt archive per customer, and
/// the journal of issued statements, each opened once and shared by everyone in the process who asks for it. On the
/// file store (the default, one host) they are files; on the PostgreSQL package's store they are shared by every
/// console host, with the same trees and checkpoints.
/// </summary>
/// <remarks>
/// Journal names: <c>ledger/{customer}</c>, <c>receipts/{customer}</c> and <c>statements</c>
/// (<see cref="LedgerJournalName"/>, <see cref="ReceiptsJournalName"/>, <see cref="StatementsJournalName"/>).
/// </remarks>
public sealed class VendorBooks : IAsyncDisposable
{
    /// <summary>The journal of the statements issued to every customer.</summary>
    public const string StatementsJournalName = "statements";

    private readonly Dictionary<string, Task<ChargeLedger>> _ledgers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Task<ReceiptArchive>> _receipts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Task<StatementIssuer>> _statements = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private bool _disposed;

    /// <summary>Initializes the books over <paramref name="journals"/> (the caller's: it stays open after the books).</summary>
    /// <param name="journals">Where the journals are.</param>
    /// <param name="timeProvider">The clock of the ledgers and the issuer; the system clock when null.</param>
    public VendorBooks(IRecordJournalStore journals, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(journals);
        Journals = journals;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Gets where the journals are.</summary>
    public IRecordJournalStore Journals { get; }

    /// <summary>Gets the name of <paramref name="customerId"/>'s ledger journal.</summary>
    /// <returns><c>ledger/{customer}</c>.</returns>
    /// <param name="customerId">The customer (ASCII letters, digits, '.', '_', '-').</param>
    public static string LedgerJournalName(string customerId) => "ledger/" + JournalName.Segment(customerId, nameof(customerId));

    /// <summary>Gets the name of <paramref name="customerId"/>'s receipts journal.</summary>
    /// <returns><c>receipts/{customer}</c>.</returns>
    /// <param name="customerId">The customer (ASCII letters, digits, '.', '_', '-').</param>
    public static string ReceiptsJournalName(string customerId) => "receipts/" + JournalName.Segment(customerId, nameof(customerId));

    /// <summary>
    /// Opens <paramref name="customerId"/>'s charge ledger (once: later calls return the same ledger), its caps and
    /// time zone those of the ground rules in force in <paramref name="groundRules"/>.
    /// </summary>
    /// <returns>The ledger.</returns>
    /// <param name="customerId">The customer.</param>
    /// <param name="groundRules">The customer's ground rules book; the same book at every call.</param>
    /// <param name="cancellationToken">Stops the open.</param>
    /// <exception cref="InvalidOperationException">The ledger is open under another ground rules book.</exception>
    public async Task<ChargeLedger> OpenLedgerAsync(string customerId, GroundRulesBook groundRules, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(groundRules);
        string name = LedgerJournalName(customerId);
        ChargeLedger ledger = await OpenOnceAsync(_ledgers, name, async () =>
            await ChargeLedger.OpenAsync(await Journals.OpenJournalAsync(name).ConfigureAwait(false), groundRules, _time).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
        if (!ReferenceEquals(ledger.GroundRules, groundRules))
        {
            throw new InvalidOperationException($"{customerId}'s ledger is open under another ground rules book; pass the same book each time.");
        }

        return ledger;
    }

    /// <summary>Opens <paramref name="customerId"/>'s receipt archive (once: later calls return the same archive).</summary>
    /// <returns>The archive.</returns>
    /// <param name="customerId">The customer.</param>
    /// <param name="cancellationToken">Stops the open.</param>
    public Task<ReceiptArchive> OpenReceiptsAsync(string customerId, CancellationToken cancellationToken = default)
    {
        string name = ReceiptsJournalName(customerId);
        return OpenOnceAsync(_receipts, name, async () =>
            await ReceiptArchive.OpenAsync(await Journals.OpenJournalAsync(name).ConfigureAwait(false), customerId).ConfigureAwait(false), cancellationToken);
    }

    /// <summary>Opens the issuer of every customer's statements (once: later calls return the same issuer).</summary>
    /// <returns>The issuer.</returns>
    /// <param name="cancellationToken">Stops the open.</param>
    public Task<StatementIssuer> OpenStatementsAsync(CancellationToken cancellationToken = default) =>
        OpenOnceAsync(_statements, StatementsJournalName, async () =>
            await StatementIssuer.OpenAsync(await Journals.OpenJournalAsync(StatementsJournalName).ConfigureAwait(false), _time).ConfigureAwait(false), cancellationToken);

    /// <summary>Releases the ledgers, archives and issuer it opened (their journals stay with the store).</summary>
    /// <returns>A task that completes when they are released.</returns>
    public async ValueTask DisposeAsync()
    {
        List<Task<IDisposable>> opened;
        lock (_ledgers)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            opened = [.. _ledgers.Values.Select(Widen), .. _receipts.Values.Select(Widen), .. _statements.Values.Select(Widen)];
        }

        foreach (Task<IDisposable> opening in opened)
        {
            try
            {
                (await opening.ConfigureAwait(false)).Dispose();
            }
            catch (Exception) when (!opening.IsCompletedSuccessfully)
            {
                // it failed to open: nothing to release, and the failure went to whoever opened it
            }
        }
    }

    private static async Task<IDisposable> Widen<T>(Task<T> opening)
        where T : IDisposable => await opening.ConfigureAwait(false);

    private Task<T> OpenOnceAsync<T>(Dictionary<string, Task<T>> opened, string name, Func<Task<T>> open, CancellationToken cancellationToken)
    {
        Task<T> opening;
        lock (_ledgers)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!opened.TryGetValue(name, out opening!) || opening.IsFaulted || opening.IsCanceled)
            {
                opening = Task.Run(open, CancellationToken.None); // not the caller's token: others may wait for the same open
                opened[name] = opening;
            }
        }

        return opening.WaitAsync(cancellationToken);
    }
}
