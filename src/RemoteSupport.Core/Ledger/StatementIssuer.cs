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
    public async Task<SignedEnvelope> IssueAsync(
        ChargeLedger ledger, string customerId, YearMonth month, string timeZone, string ledgerCheckpoint, PartyIdentity signer,
        Stream? linesCsv, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentNullException.ThrowIfNull(signer);
        await _issuing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await IssueLockedAsync(ledger, customerId, month, timeZone, ledgerCheckpoint, signer, linesCsv, cancellationToken).ConfigureAwait(false);
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
        ChargeLedger ledger, string customerId, YearMonth month, string timeZone, string ledgerCheckpoint, PartyIdentity signer,
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

        // An entry was billed by an earlier statement S when S could see it (recorded before S's ledger
        // size), it was incurred before S's period end, and it was due at that time.
        List<MonthlyStatement> earlier = _issued.Where(s => s.CustomerId == customerId).ToList();
        (IReadOnlyList<ChargeEntry> entries, long ledgerSize) = ledger.Snapshot();
        CheckLedgerCheckpoint(ledger, ledgerCheckpoint, signer, ledgerSize);
        var lines = new List<StatementLine>();
        var held = new List<StatementLine>();
        var disputed = new List<StatementLine>();
        foreach (ChargeEntry entry in entries)
        {
            if (entry.Charge.CustomerId != customerId || entry.Charge.IncurredAt >= end)
            {
                continue;
            }

            long index = ledger.IndexOf(entry);
            if (earlier.Any(s => index < s.LedgerSize && entry.Charge.IncurredAt < s.PeriodEnd && ledger.StatusAt(entry, s.LedgerSize) == ChargeStatus.Due))
            {
                continue;
            }

            StatementLine line = Line(entry, zone, priorPeriod: entry.Charge.IncurredAt < start);
            (ledger.StatusAt(entry, ledgerSize) switch { ChargeStatus.Held => held, ChargeStatus.Disputed => disputed, _ => lines }).Add(line);
        }

        lines.Sort((a, b) => string.CompareOrdinal(a.Date, b.Date) is int c && c != 0 ? c : string.CompareOrdinal(a.EntryId, b.EntryId));
        long lineCount = lines.Count + held.Count + disputed.Count;
        bool inline = lineCount <= _inlineLineLimit;
        if (!inline && linesCsv is null)
        {
            throw new InvalidOperationException($"The statement has {lineCount} lines, more than {_inlineLineLimit}; give a stream for its CSV lines.");
        }

        string linesHash = await WriteLinesAsync(lines, held, disputed, inline ? null : linesCsv, cancellationToken).ConfigureAwait(false);
        var statement = new MonthlyStatement
        {
            Number = earlier.Count + 1,
            CustomerId = customerId,
            Month = monthText,
            TimeZone = timeZone,
            PeriodStart = start,
            PeriodEnd = end,
            Lines = inline ? lines : [],
            HeldLines = inline ? held : [],
            DisputedLines = inline ? disputed : [],
            Subtotals = Sum(lines, l => $"{l.Kind}/{l.Currency}"),
            Totals = Sum(lines, l => l.Currency),
            LedgerSize = ledgerSize,
            LineCount = lineCount,
            LinesSha256 = linesHash,
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
    /// The statement signs only a checkpoint of the ledger it read: signed by the statement's signer,
    /// covering exactly the records read, with the root of those records. Anything else is refused.
    /// </summary>
    private static void CheckLedgerCheckpoint(ChargeLedger ledger, string ledgerCheckpoint, PartyIdentity signer, long ledgerSize)
    {
        ArgumentNullException.ThrowIfNull(ledgerCheckpoint);
        if (!Checkpoint.TryVerifyBy(ledgerCheckpoint, signer.PublicKey, out Checkpoint? checkpoint, out _, out string error))
        {
            Error.Argument(nameof(ledgerCheckpoint), $"The ledger checkpoint is not one the statement's signer ({signer.PublicKey.KeyId}) signed: {error}");
        }

        if (checkpoint.Size != ledgerSize)
        {
            Error.Argument(nameof(ledgerCheckpoint), string.Create(CultureInfo.InvariantCulture,
                $"The ledger checkpoint covers {checkpoint.Size} records; the ledger the statement reads holds {ledgerSize}. Sign a checkpoint of the ledger as it is now."));
        }

        if (!checkpoint.Root.AsSpan().SequenceEqual(ledger.Journal.Root(ledgerSize)))
        {
            Error.Argument(nameof(ledgerCheckpoint), string.Create(CultureInfo.InvariantCulture,
                $"The ledger checkpoint's root is not the root of this ledger's {ledgerSize} records."));
        }
    }

    private static Dictionary<string, long> Sum(List<StatementLine> lines, Func<StatementLine, string> key)
    {
        var sums = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (StatementLine line in lines)
        {
            string k = key(line);
            sums[k] = checked(sums.GetValueOrDefault(k) + line.AmountMinor);
        }

        return sums;
    }

    /// <summary>Renders every line as CSV, hashing it; writes it to <paramref name="output"/> when given.</summary>
    private static async Task<string> WriteLinesAsync(
        List<StatementLine> due, List<StatementLine> held, List<StatementLine> disputed, Stream? output, CancellationToken cancellationToken)
    {
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        var chunk = new System.Text.StringBuilder(MonthlyStatement.CsvHeader);
        foreach ((StatementLine line, string status) in MonthlyStatement.AllLines(due, held, disputed))
        {
            chunk.Append(MonthlyStatement.CsvRow(line, status));
            if (chunk.Length > 1 << 20)
            {
                await FlushChunkAsync(chunk, hash, output, cancellationToken).ConfigureAwait(false);
            }
        }

        await FlushChunkAsync(chunk, hash, output, cancellationToken).ConfigureAwait(false);
        return Sha256Hex.Finish(hash);
    }

    private static async Task FlushChunkAsync(System.Text.StringBuilder chunk, System.Security.Cryptography.IncrementalHash hash, Stream? output, CancellationToken cancellationToken)
    {
        byte[] bytes = System.Text.Encoding.UTF8.GetBytes(chunk.ToString());
        hash.AppendData(bytes);
        if (output is not null)
        {
            await output.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
        }

        chunk.Clear();
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
