using System.Globalization;
using NodaTime;
using RemoteSupport.Documents;
using RemoteSupport.Identities;
using RemoteSupport.Journal;

namespace RemoteSupport.Ledger;

/// <summary>
/// Issues monthly statements from a ledger and keeps the issued ones in a journal of their own:
/// numbers are sequential per customer, an issued month never changes, and a charge recorded after
/// its month was issued goes onto the next statement as a prior-period adjustment.
/// </summary>
public sealed class StatementIssuer : IDisposable
{
    private readonly IRecordJournal _statements;
    private readonly TimeProvider _time;
    private readonly List<MonthlyStatement> _issued = [];
    private readonly SemaphoreSlim _issuing = new(1, 1); // one issue at a time: numbers and months stay unique

    private readonly int _inlineLineLimit;

    private readonly Audit.AuditLog? _audit;

    private StatementIssuer(IRecordJournal statements, TimeProvider time, int inlineLineLimit, Audit.AuditLog? audit)
    {
        _statements = statements;
        _time = time;
        _inlineLineLimit = inlineLineLimit;
        _audit = audit;
    }

    /// <summary>Gets or sets the memory the lines of a statement being issued keep before they spill to a temporary file (tests make it small).</summary>
    internal int SpoolMemoryBytes { get; set; } = StatementLineCollector.DefaultMemoryBytes;

    /// <summary>Gets the statements issued so far.</summary>
    public IReadOnlyList<MonthlyStatement> Issued => _issued;

    /// <summary>Opens the issuer over the journal of issued statements.</summary>
    /// <param name="statements">The journal of issued statements.</param>
    /// <param name="timeProvider">The clock; the system clock when null.</param>
    /// <param name="inlineLineLimit">The most lines carried inline; default <see cref="InlineLineLimit"/>.</param>
    /// <param name="audit">The vendor's audit log, where each issued statement is recorded (<c>statement-issued</c>); none records nothing.</param>
    /// <param name="cancellationToken">Cancels the replay.</param>
    public static async Task<StatementIssuer> OpenAsync(
        IRecordJournal statements, TimeProvider? timeProvider = null, int inlineLineLimit = InlineLineLimit, Audit.AuditLog? audit = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(statements);
        ArgumentOutOfRangeException.ThrowIfNegative(inlineLineLimit);
        var issuer = new StatementIssuer(statements, timeProvider ?? TimeProvider.System, inlineLineLimit, audit);
        await issuer.TakeInAsync(cancellationToken).ConfigureAwait(false);
        return issuer;
    }

    /// <summary>Reads the statements appended since this issuer last looked (by other hosts, on a shared journal).</summary>
    /// <returns>The statements taken in.</returns>
    private async Task TakeInAsync(CancellationToken cancellationToken)
    {
        for (long i = _issued.Count; i < _statements.Count; i++)
        {
            _issued.Add(MonthlyStatement.FromEnvelope(SignedEnvelope.Parse(await _statements.ReadAsync(i, cancellationToken).ConfigureAwait(false))));
        }
    }

    /// <summary>
    /// Appends the issued statement. On a shared journal under its lock, after taking in what other hosts issued:
    /// refused when that includes one of this customer's statements (its number and its lines were decided without it).
    /// </summary>
    private async Task AppendIssuedAsync(SignedEnvelope signed, MonthlyStatement statement, CancellationToken cancellationToken)
    {
        byte[] record = signed.ToUtf8Json();
        if (_statements is not ISharedRecordJournal shared)
        {
            await _statements.AppendAsync(record, cancellationToken).ConfigureAwait(false);
            return;
        }

        int known = _issued.Count;
        await shared.AppendDecidedAsync(async ct =>
        {
            await TakeInAsync(ct).ConfigureAwait(false);
            if (_issued.Skip(known).FirstOrDefault(s => s.CustomerId == statement.CustomerId) is { } other)
            {
                throw new InvalidOperationException(other.Month == statement.Month
                    ? $"The statement of {statement.CustomerId} for {statement.Month} was issued by another host meanwhile (number {other.Number}); nothing was issued here."
                    : $"Another host issued {statement.CustomerId}'s statement for {other.Month} meanwhile (number {other.Number}); nothing was issued here: issue {statement.Month} again.");
            }

            return record;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The most lines a statement carries inline; a larger one writes them to a CSV stream.</summary>
    public const int InlineLineLimit = 10_000;

    /// <summary>
    /// Issues <paramref name="customerId"/>'s statement for <paramref name="month"/> (in <paramref name="timeZone"/>),
    /// signed by <paramref name="signer"/>, embedding <paramref name="ledgerCheckpoint"/>. A statement with more than
    /// <see cref="InlineLineLimit"/> lines writes them as CSV to <paramref name="linesCsv"/>, bound into the signed document by hash.
    /// </summary>
    /// <exception cref="InvalidOperationException">The month was already issued, or has not ended, or a large statement has no lines stream.</exception>
    /// <exception cref="ArgumentException"><paramref name="ledgerCheckpoint"/> is not signed by <paramref name="signer"/>, or does not cover exactly the ledger's records with their root.</exception>
    public Task<SignedEnvelope> IssueAsync(
        ChargeLedger ledger, string customerId, YearMonth month, string timeZone, string ledgerCheckpoint, PartyIdentity signer,
        Stream? linesCsv, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        return IssueAsync(ledger.Journal, ledger.RecordCount, customerId, month, timeZone, ledgerCheckpoint, signer, linesCsv, cancellationToken);
    }

    /// <summary>
    /// Issues <paramref name="customerId"/>'s statement for <paramref name="month"/> (in <paramref name="timeZone"/>) straight
    /// from the ledger's journal, reading its records as a stream in bounded memory: the records the signed
    /// <paramref name="ledgerCheckpoint"/> covers are billed, whatever the journal's size (no <see cref="ChargeLedger"/> is
    /// needed, nor its entries in memory). A statement with more than <see cref="InlineLineLimit"/> lines writes them as
    /// CSV to <paramref name="linesCsv"/>, bound into the signed document by hash; the lines wait in a temporary file
    /// while the journal is read (approvals, disputes and reversals come after the entries they change).
    /// </summary>
    /// <returns>The signed statement.</returns>
    /// <param name="ledgerJournal">The ledger's journal, file or database.</param>
    /// <param name="customerId">The customer billed.</param>
    /// <param name="month">The month billed.</param>
    /// <param name="timeZone">The customer's IANA time zone (the month's start and end are local midnights there).</param>
    /// <param name="ledgerCheckpoint">The signed checkpoint of the ledger journal the statement embeds and bills.</param>
    /// <param name="signer">The vendor's billing key.</param>
    /// <param name="linesCsv">Where the CSV lines of a statement above the inline limit are written; none for a small statement.</param>
    /// <param name="cancellationToken">Stops the issue.</param>
    /// <exception cref="InvalidOperationException">The month was already issued, or has not ended, or a large statement has no lines stream.</exception>
    /// <exception cref="ArgumentException"><paramref name="ledgerCheckpoint"/> is not signed by <paramref name="signer"/>, covers more records than the journal holds, or another root.</exception>
    public Task<SignedEnvelope> IssueAsync(
        IRecordJournal ledgerJournal, string customerId, YearMonth month, string timeZone, string ledgerCheckpoint, PartyIdentity signer,
        Stream? linesCsv, CancellationToken cancellationToken) =>
        IssueAsync(ledgerJournal, requiredSize: null, customerId, month, timeZone, ledgerCheckpoint, signer, linesCsv, cancellationToken);

    private async Task<SignedEnvelope> IssueAsync(
        IRecordJournal ledgerJournal, long? requiredSize, string customerId, YearMonth month, string timeZone, string ledgerCheckpoint, PartyIdentity signer,
        Stream? linesCsv, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ledgerJournal);
        ArgumentNullException.ThrowIfNull(signer);
        await _issuing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await IssueLockedAsync(ledgerJournal, requiredSize, customerId, month, timeZone, ledgerCheckpoint, signer, linesCsv, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _issuing.Release();
        }
    }

    /// <summary>
    /// Issues <paramref name="customerId"/>'s statement for the calendar month <paramref name="year"/>-<paramref name="month"/>
    /// in <paramref name="timeZone"/>, as the <see cref="YearMonth"/> overload does.
    /// </summary>
    /// <returns>The signed statement.</returns>
    /// <param name="ledger">The ledger whose entries are billed.</param>
    /// <param name="customerId">The customer billed.</param>
    /// <param name="year">The year of the month billed.</param>
    /// <param name="month">The month billed, 1 to 12.</param>
    /// <param name="timeZone">The customer's IANA time zone (the month's start and end are local midnights there).</param>
    /// <param name="ledgerCheckpoint">The signed checkpoint of the ledger the statement embeds.</param>
    /// <param name="signer">The vendor's billing key.</param>
    /// <param name="cancellationToken">Stops the issue.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="month"/> is not 1 to 12.</exception>
    /// <exception cref="InvalidOperationException">The month was already issued, or has not ended, or a large statement has no lines stream.</exception>
    /// <param name="linesCsv">Where the CSV lines of a statement above the inline limit are written; none for a small statement.</param>
    public Task<SignedEnvelope> IssueAsync(
        ChargeLedger ledger, string customerId, int year, int month, string timeZone, string ledgerCheckpoint, PartyIdentity signer,
        Stream? linesCsv = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(month, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(month, 12);
        return IssueAsync(ledger, customerId, new YearMonth(year, month), timeZone, ledgerCheckpoint, signer, linesCsv, cancellationToken);
    }

    /// <summary>
    /// Signs a checkpoint of the issued-statements journal (docs/formats/journal.md): with it and an export
    /// of the journal, an auditor checks that no statement was removed, replaced or slipped in, and that
    /// each customer's numbers run from 1 without a gap.
    /// </summary>
    /// <returns>The signed note.</returns>
    /// <param name="origin">The journal's origin line (for example <c>contoso.example/statements</c>).</param>
    /// <param name="keyName">The signature line's key name.</param>
    /// <param name="signer">The vendor's billing key (the one that signs the statements).</param>
    /// <param name="cancellationToken">Stops waiting for a statement being issued.</param>
    public async Task<string> SignCheckpointAsync(string origin, string keyName, PartyIdentity signer, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(origin);
        await _issuing.WaitAsync(cancellationToken).ConfigureAwait(false); // no statement is appended between the size and the root
        try
        {
            long size = _statements.Count;
            return new Checkpoint(origin, size, _statements.Root(size)).Sign(keyName, signer);
        }
        finally
        {
            _issuing.Release();
        }
    }

    /// <summary>Releases the issuing lock (the journal is the caller's).</summary>
    public void Dispose() => _issuing.Dispose();

    private async Task<SignedEnvelope> IssueLockedAsync(
        IRecordJournal journal, long? requiredSize, string customerId, YearMonth month, string timeZone, string ledgerCheckpoint, PartyIdentity signer,
        Stream? linesCsv, CancellationToken cancellationToken)
    {
        DateTimeZone zone = DateTimeZoneProviders.Tzdb[timeZone];
        string monthText = month.ToString("yyyy-MM", CultureInfo.InvariantCulture);
        (DateTimeOffset start, DateTimeOffset end) = MonthlyStatement.MonthBounds(month, zone);
        DateTimeOffset now = _time.GetUtcNow();
        if (_statements is ISharedRecordJournal shared)
        {
            await shared.RefreshAsync(cancellationToken).ConfigureAwait(false); // what other hosts issued
            await TakeInAsync(cancellationToken).ConfigureAwait(false);
        }

        if (now < end)
        {
            throw new InvalidOperationException($"{monthText} in {timeZone} has not ended; it ends at {end:O}.");
        }

        if (_issued.Any(s => s.CustomerId == customerId && s.Month == monthText))
        {
            throw new InvalidOperationException($"The statement of {customerId} for {monthText} was issued; an issued month never changes.");
        }

        long ledgerSize = await CheckLedgerCheckpointAsync(journal, requiredSize, ledgerCheckpoint, signer, cancellationToken).ConfigureAwait(false);

        // An entry was billed by an earlier statement S when S could see it (recorded before S's ledger
        // size), it was incurred before S's period end, and it was due at that time.
        List<MonthlyStatement> earlier = _issued.Where(s => s.CustomerId == customerId).ToList();
        CollectedLines collected;
        using (var collector = new StatementLineCollector(customerId, start, end, zone, earlier, ledgerSize, SpoolMemoryBytes))
        {
            await collector.ReadAsync(journal, ledgerSize, cancellationToken).ConfigureAwait(false);
            collected = await collector.WriteAsync(linesCsv, _inlineLineLimit, cancellationToken).ConfigureAwait(false);
        }

        bool inline = collected.Inline is not null;
        if (!inline && linesCsv is null)
        {
            throw new InvalidOperationException($"The statement has {collected.LineCount} lines, more than {_inlineLineLimit}; give a stream for its CSV lines.");
        }

        (List<StatementLine> lines, List<StatementLine> held, List<StatementLine> disputed) =
            inline ? await ReadInlineLinesAsync(journal, collected.Inline!, zone, cancellationToken).ConfigureAwait(false) : ([], [], []);
        var statement = new MonthlyStatement
        {
            Number = earlier.Count + 1,
            CustomerId = customerId,
            Month = monthText,
            TimeZone = timeZone,
            PeriodStart = start,
            PeriodEnd = end,
            Lines = lines,
            HeldLines = held,
            DisputedLines = disputed,
            Subtotals = collected.Subtotals,
            Totals = collected.Totals,
            LedgerSize = ledgerSize,
            LineCount = collected.LineCount,
            LinesSha256 = collected.LinesSha256,
            LinesInline = inline,
            LedgerCheckpoint = ledgerCheckpoint,
            IssuedAt = now,
            TzdbVersion = DateTimeZoneProviders.Tzdb.VersionId.Replace("TZDB: ", string.Empty, StringComparison.Ordinal),
        };
        SignedEnvelope signed = statement.ToEnvelope().Sign(signer);
        await AppendIssuedAsync(signed, statement, cancellationToken).ConfigureAwait(false);
        _issued.Add(statement);
        if (_audit is not null)
        {
            await _audit.RecordAsync(Audit.AuditEvents.StatementIssued(now, statement, signed), cancellationToken).ConfigureAwait(false);
        }

        return signed;
    }

    /// <summary>
    /// The statement signs only a checkpoint of the ledger it reads: signed by the statement's signer, covering no
    /// more records than the journal holds (exactly the ledger's, for a <see cref="ChargeLedger"/>), with the root
    /// of those records. Anything else is refused.
    /// </summary>
    /// <returns>The number of records the checkpoint covers: what the statement bills.</returns>
    private static async Task<long> CheckLedgerCheckpointAsync(
        IRecordJournal journal, long? requiredSize, string ledgerCheckpoint, PartyIdentity signer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ledgerCheckpoint);
        if (!Checkpoint.TryVerifyBy(ledgerCheckpoint, signer.PublicKey, out Checkpoint? checkpoint, out _, out string error))
        {
            Error.Argument(nameof(ledgerCheckpoint), $"The ledger checkpoint is not one the statement's signer ({signer.PublicKey.KeyId}) signed: {error}");
        }

        if (requiredSize is long size && checkpoint.Size != size)
        {
            Error.Argument(nameof(ledgerCheckpoint), string.Create(CultureInfo.InvariantCulture,
                $"The ledger checkpoint covers {checkpoint.Size} records; the ledger the statement reads holds {size}. Sign a checkpoint of the ledger as it is now."));
        }

        if (checkpoint.Size > journal.Count && journal is ISharedRecordJournal shared)
        {
            await shared.RefreshAsync(cancellationToken).ConfigureAwait(false); // signed on another host, after this one last looked
        }

        if (checkpoint.Size > journal.Count)
        {
            Error.Argument(nameof(ledgerCheckpoint), string.Create(CultureInfo.InvariantCulture,
                $"The ledger checkpoint covers {checkpoint.Size} records; the ledger journal holds {journal.Count}."));
        }

        if (!checkpoint.Root.AsSpan().SequenceEqual(journal.Root(checkpoint.Size)))
        {
            Error.Argument(nameof(ledgerCheckpoint), string.Create(CultureInfo.InvariantCulture,
                $"The ledger checkpoint's root is not the root of this ledger's {checkpoint.Size} records."));
        }

        return checkpoint.Size;
    }

    /// <summary>Reads the lines of an inline statement (a few thousand at most) as documents, in the order collected.</summary>
    private static async Task<(List<StatementLine> Due, List<StatementLine> Held, List<StatementLine> Disputed)> ReadInlineLinesAsync(
        IRecordJournal journal, IReadOnlyList<CollectedLine> collected, DateTimeZone zone, CancellationToken cancellationToken)
    {
        (List<StatementLine> due, List<StatementLine> held, List<StatementLine> disputed) = ([], [], []);
        foreach (CollectedLine line in collected)
        {
            byte[] record = await journal.ReadAsync(line.RecordIndex, cancellationToken).ConfigureAwait(false);
            ChargeEntry entry = System.Text.Json.JsonSerializer.Deserialize<ChargeEntry>(record, DocumentJson.Options)
                ?? throw new JournalException(string.Create(CultureInfo.InvariantCulture, $"Ledger record {line.RecordIndex} is empty."));
            (line.Status switch { ChargeStatus.Held => held, ChargeStatus.Disputed => disputed, _ => due }).Add(Line(entry, zone, line.PriorPeriod));
        }

        return (due, held, disputed);
    }

    private static StatementLine Line(ChargeEntry entry, DateTimeZone zone, bool priorPeriod) => new()
    {
        Date = Instant.FromDateTimeOffset(entry.Charge.IncurredAt).InZone(zone).Date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        SessionId = entry.Charge.SessionId,
        UnitId = entry.Charge.UnitId,
        Kind = entry.Charge.Kind,
        Description = entry.Charge.Description,
        Quantity = entry.Charge.Quantity,
        QuantityUnit = entry.Charge.QuantityUnit,
        Rate = entry.Charge.Rate,
        AmountMinor = entry.Charge.AmountMinor,
        Currency = entry.Charge.Currency,
        EntryId = entry.EntryId,
        PriorPeriod = priorPeriod,
    };
}
