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
public sealed class StatementIssuer
{
    private readonly AppendOnlyJournal _statements;
    private readonly TimeProvider _time;
    private readonly List<MonthlyStatement> _issued = [];

    private StatementIssuer(AppendOnlyJournal statements, TimeProvider time)
    {
        _statements = statements;
        _time = time;
    }

    /// <summary>Gets the statements issued so far.</summary>
    public IReadOnlyList<MonthlyStatement> Issued => _issued;

    /// <summary>Opens the issuer over the journal of issued statements.</summary>
    public static async Task<StatementIssuer> OpenAsync(AppendOnlyJournal statements, TimeProvider? timeProvider = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(statements);
        var issuer = new StatementIssuer(statements, timeProvider ?? TimeProvider.System);
        for (long i = 0; i < statements.Count; i++)
        {
            issuer._issued.Add(MonthlyStatement.FromEnvelope(SignedEnvelope.Parse(await statements.ReadAsync(i, cancellationToken).ConfigureAwait(false))));
        }

        return issuer;
    }

    /// <summary>
    /// Issues <paramref name="customerId"/>'s statement for <paramref name="month"/> (in <paramref name="timeZone"/>),
    /// signed by <paramref name="signer"/>, embedding <paramref name="ledgerCheckpoint"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The month was already issued, or has not ended.</exception>
    public async Task<SignedEnvelope> IssueAsync(
        ChargeLedger ledger, string customerId, YearMonth month, string timeZone, string ledgerCheckpoint, PartyIdentity signer,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentNullException.ThrowIfNull(signer);
        DateTimeZone zone = DateTimeZoneProviders.Tzdb[timeZone];
        string monthText = month.ToString("yyyy-MM", CultureInfo.InvariantCulture);
        (DateTimeOffset start, DateTimeOffset end) = MonthlyStatement.MonthBounds(month, zone);
        DateTimeOffset now = _time.GetUtcNow();
        if (now < end)
        {
            throw new InvalidOperationException($"{monthText} in {timeZone} has not ended; it ends at {end:O}.");
        }

        if (_issued.Any(s => s.CustomerId == customerId && s.Month == monthText))
        {
            throw new InvalidOperationException($"The statement of {customerId} for {monthText} was issued; an issued month never changes.");
        }

        var billed = new HashSet<string>(_issued.Where(s => s.CustomerId == customerId)
            .SelectMany(s => s.Lines).Select(l => l.EntryId), StringComparer.Ordinal);
        var lines = new List<StatementLine>();
        var held = new List<StatementLine>();
        var disputed = new List<StatementLine>();
        foreach (ChargeEntry entry in ledger.Entries.Where(e => e.Charge.CustomerId == customerId && !billed.Contains(e.EntryId)))
        {
            bool inMonth = entry.Charge.IncurredAt >= start && entry.Charge.IncurredAt < end;
            bool priorPeriod = entry.Charge.IncurredAt < start;
            if (!inMonth && !priorPeriod)
            {
                continue; // a later month's charge
            }

            StatementLine line = Line(entry, zone, priorPeriod);
            (ledger.StatusOf(entry) switch { ChargeStatus.Held => held, ChargeStatus.Disputed => disputed, _ => lines }).Add(line);
        }

        lines.Sort((a, b) => string.CompareOrdinal(a.Date + a.EntryId, b.Date + b.EntryId));
        var statement = new MonthlyStatement
        {
            Number = _issued.Count(s => s.CustomerId == customerId) + 1,
            CustomerId = customerId,
            Month = monthText,
            TimeZone = timeZone,
            PeriodStart = start,
            PeriodEnd = end,
            Lines = lines,
            HeldLines = held,
            DisputedLines = disputed,
            Subtotals = lines.GroupBy(l => $"{l.Kind}/{l.Currency}").ToDictionary(g => g.Key, g => g.Sum(l => l.AmountMinor), StringComparer.Ordinal),
            Totals = lines.GroupBy(l => l.Currency).ToDictionary(g => g.Key, g => g.Sum(l => l.AmountMinor), StringComparer.Ordinal),
            LedgerCheckpoint = ledgerCheckpoint,
            IssuedAt = now,
        };
        SignedEnvelope signed = statement.ToEnvelope().Sign(signer);
        await _statements.AppendAsync(signed.ToUtf8Json(), cancellationToken).ConfigureAwait(false);
        _issued.Add(statement);
        return signed;
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
