using System.Globalization;
using System.Text.Json;
using NodaTime;
using RemoteSupport.Documents;
using RemoteSupport.GroundRules;
using RemoteSupport.Journal;

namespace RemoteSupport.Ledger;

/// <summary>
/// The charge ledger on an <see cref="IRecordJournal"/> (by default an <see cref="AppendOnlyJournal"/> file): append-only, idempotent by key,
/// corrections as reversal entries, entries beyond the ground rules' caps or approval threshold held
/// outside the totals. Totals per currency are sums of the entries' integer minor units.
/// </summary>
public sealed partial class ChargeLedger : IDisposable
{
    private readonly IRecordJournal _journal;
    private readonly Func<SecurityGroundRules?> _rules; // the ground rules in force, read at each charge
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, ChargeEntry> _byKey = new(StringComparer.Ordinal);
    private readonly List<ChargeEntry> _entries = [];
    // Journal record indexes: of each entry, and of the first approval, dispute and reversal of an entry,
    // so the status of any entry at any earlier ledger size can be told (statements rely on it).
    private readonly Dictionary<string, long> _indexOf = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _approved = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _disputed = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _reversed = new(StringComparer.Ordinal);
    private readonly HashSet<string> _annotationDocuments = new(StringComparer.Ordinal); // payload hashes of the approvals and disputes held
    private long _applied; // journal records applied to the state above (entries and annotations)

    // Due totals for the caps, kept up to date so recording stays O(1) however long the ledger is.
    private readonly Dictionary<(string Currency, string Session), long> _sessionDue = [];
    private readonly Dictionary<(string Currency, string Customer, YearMonth Month), long> _monthDue = [];

    private ChargeLedger(IRecordJournal journal, Func<SecurityGroundRules?> rules, GroundRulesBook? book, TimeProvider time)
    {
        _journal = journal;
        _rules = rules;
        GroundRules = book;
        _time = time;
    }

    /// <summary>Gets the journal the ledger's records are in (its checkpoints sign the ledger's state).</summary>
    public IRecordJournal Journal => _journal;

    /// <summary>Gets the ground rules book whose rules in force set the caps and the billing month's time zone.</summary>
    public GroundRulesBook? GroundRules { get; }

    private SecurityGroundRules Rules => _rules()
        ?? throw new InvalidOperationException("No ground rules are in force: the toll-charge policy (caps, approval threshold, time zone) is unknown.");

    private TollChargePolicy Policy => Rules.TollCharges;

    private DateTimeZone Zone => DateTimeZoneProviders.Tzdb[Rules.TimeZone];

    /// <summary>Gets the entries, in recording order.</summary>
    public IReadOnlyList<ChargeEntry> Entries
    {
        get
        {
            lock (_entries)
            {
                return [.. _entries];
            }
        }
    }

    /// <summary>
    /// Opens the ledger over <paramref name="journal"/>, replaying its entries. The caps, the approval
    /// threshold and the billing month's time zone are those of the ground rules in force in
    /// <paramref name="groundRules"/> when each charge is recorded: after amended ground rules are
    /// accepted, the next charge is judged by the amendment (one source of truth with the agent's rates).
    /// </summary>
    /// <returns>The ledger, with every entry, annotation and due total of the journal applied.</returns>
    /// <param name="journal">The ledger's journal (the caller's; it stays open after the ledger).</param>
    /// <param name="groundRules">The book whose ground rules in force set the policy.</param>
    /// <param name="timeProvider">The clock (recording times); the system clock when none.</param>
    /// <param name="cancellationToken">Stops the replay.</param>
    public static Task<ChargeLedger> OpenAsync(IRecordJournal journal, GroundRulesBook groundRules, TimeProvider? timeProvider = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(groundRules);
        return OpenAsync(journal, () => groundRules.Current, groundRules, timeProvider, cancellationToken);
    }

    /// <summary>Opens the ledger under fixed ground rules (tests and benchmarks; a unit's ledger follows its book).</summary>
    internal static Task<ChargeLedger> OpenAsync(IRecordJournal journal, SecurityGroundRules rules, TimeProvider? timeProvider = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rules);
        return OpenAsync(journal, () => rules, null, timeProvider, cancellationToken);
    }

    private static async Task<ChargeLedger> OpenAsync(
        IRecordJournal journal, Func<SecurityGroundRules?> rules, GroundRulesBook? book, TimeProvider? timeProvider, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(journal);
        var ledger = new ChargeLedger(journal, rules, book, timeProvider ?? TimeProvider.System);
        // One streamed read (a database journal: one query, not one per record).
        await journal.ReadRangeAsync(0, journal.Count, (i, record) => ledger.ApplyRecord(record.ToArray(), i), cancellationToken).ConfigureAwait(false);

        ledger.Recount();
        return ledger;
    }

    /// <summary>
    /// Records a charge durably. The same key with the same content returns the original entry; the
    /// same key with different content throws <see cref="IdempotencyConflictException"/> naming the fields.
    /// </summary>
    public async Task<ChargeEntry> RecordAsync(ChargeRequest charge, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(charge);
        Validate(charge);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await RecordLockedAsync(() => charge, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Corrects an entry by recording its reversal (the negated amount), referencing it. The checks and
    /// the record happen under the ledger's lock: of two reversals of one entry at once, one is recorded
    /// and the other throws.
    /// </summary>
    /// <returns>The reversal entry (the same one for a retry with the same <paramref name="idempotencyKey"/>).</returns>
    /// <param name="entryId">The entry to reverse.</param>
    /// <param name="idempotencyKey">The reversal's idempotency key.</param>
    /// <param name="reason">Why, in the reversal's description.</param>
    /// <param name="cancellationToken">Stops waiting for the ledger's lock or the journal.</param>
    /// <exception cref="ArgumentException">No entry <paramref name="entryId"/>.</exception>
    /// <exception cref="InvalidOperationException">The entry is a reversal, already reversed, or held.</exception>
    public async Task<ChargeEntry> ReverseAsync(string entryId, string idempotencyKey, string reason, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(idempotencyKey);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Decided again on each attempt: another host may have reversed the entry meanwhile.
            return await RecordLockedAsync(() => Reversal(entryId, idempotencyKey, reason), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The reversal of <paramref name="entryId"/> as the ledger stands (the recorded one again for a retry).</summary>
    private ChargeRequest Reversal(string entryId, string idempotencyKey, string reason)
    {
        ChargeEntry original;
        lock (_entries)
        {
            original = _entries.FirstOrDefault(e => e.EntryId == entryId)
                ?? throw new ArgumentException($"No entry '{entryId}' in the ledger.", nameof(entryId));
            if (_byKey.TryGetValue(idempotencyKey, out ChargeEntry? retried) && retried.Charge.Reverses == entryId)
            {
                return retried.Charge; // a retry of this reversal: the same request, so the same entry
            }

            if (original.Charge.Reverses is not null || _reversed.ContainsKey(entryId))
            {
                throw new InvalidOperationException($"Entry {entryId} is a reversal or is already reversed; it cannot be reversed again.");
            }
        }

        // Held (and never approved), whatever its dispute: it was never due, so a reversal would credit
        // money never billed.
        if (original.Status == ChargeStatus.Held && !_approved.ContainsKey(entryId))
        {
            throw new InvalidOperationException($"Entry {entryId} is held, not due: there is nothing to reverse.");
        }

        return original.Charge with
        {
            IdempotencyKey = idempotencyKey,
            AmountMinor = -original.Charge.AmountMinor,
            Quantity = -original.Charge.Quantity,
            Description = $"Reversal of {entryId}: {reason}",
            Reverses = entryId,
            IncurredAt = _time.GetUtcNow(),
        };
    }

    /// <summary>
    /// Decides and records the charge <paramref name="decide"/> gives, on the ledger as it stands; on a shared
    /// journal while no other host can append, after taking in what they recorded.
    /// </summary>
    private async Task<ChargeEntry> RecordLockedAsync(Func<ChargeRequest> decide, CancellationToken cancellationToken)
    {
        ChargeEntry? decided = null;
        byte[]? Decide()
        {
            ChargeRequest charge = decide();
            if (_byKey.TryGetValue(charge.IdempotencyKey, out ChargeEntry? existing))
            {
                List<string> differing = Differences(existing.Charge, charge);
                decided = differing.Count == 0 ? existing : throw new IdempotencyConflictException(charge.IdempotencyKey, differing);
                return null; // recorded already (by this host or another)
            }

            (ChargeStatus status, string? heldBecause) = Judge(charge);
            decided = new ChargeEntry
            {
                EntryId = "charge-" + Guid.NewGuid().ToString("N"),
                Charge = charge,
                RecordedAt = _time.GetUtcNow(),
                Status = status,
                HeldBecause = heldBecause,
            };
            return DocumentJson.Serialize(decided);
        }

        if (await AppendDecidedAsync(Decide, cancellationToken).ConfigureAwait(false) is long index)
        {
            Track(decided!, index);
            if (decided!.Charge.Reverses is not null)
            {
                Recount(); // a reversal may resolve a dispute
            }
            else if (StatusOf(decided) == ChargeStatus.Due)
            {
                AddDue(decided);
            }
        }

        return decided!;
    }

    /// <summary>Finds the entry recorded under <paramref name="idempotencyKey"/>, if any.</summary>
    internal ChargeEntry? Find(string idempotencyKey)
    {
        lock (_entries)
        {
            return _byKey.GetValueOrDefault(idempotencyKey);
        }
    }

    /// <summary>Gets an entry's status now: disputed (until reversed), held (until approved), or due.</summary>
    public ChargeStatus StatusOf(ChargeEntry entry) => StatusAt(entry, long.MaxValue);

    /// <summary>Gets an entry's status as it was when the ledger held <paramref name="ledgerSize"/> records.</summary>
    public ChargeStatus StatusAt(ChargeEntry entry, long ledgerSize)
    {
        ArgumentNullException.ThrowIfNull(entry);
        lock (_entries)
        {
            if (Before(_disputed, entry.EntryId, ledgerSize) && !Before(_reversed, entry.EntryId, ledgerSize))
            {
                return ChargeStatus.Disputed;
            }

            return entry.Status == ChargeStatus.Held && !Before(_approved, entry.EntryId, ledgerSize) ? ChargeStatus.Held : ChargeStatus.Due;
        }
    }

    /// <summary>Gets the journal record index of <paramref name="entry"/>.</summary>
    public long IndexOf(ChargeEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        lock (_entries)
        {
            return _indexOf[entry.EntryId];
        }
    }

    /// <summary>Gets the number of journal records (entries, approvals and disputes) applied to the ledger.</summary>
    public long RecordCount
    {
        get
        {
            lock (_entries)
            {
                return _applied;
            }
        }
    }

    /// <summary>Gets the entries and the number of records they reflect, taken together (a consistent snapshot).</summary>
    public (IReadOnlyList<ChargeEntry> Entries, long RecordCount) Snapshot()
    {
        lock (_entries)
        {
            return ([.. _entries], _applied);
        }
    }

    private static bool Before(Dictionary<string, long> marks, string entryId, long ledgerSize) =>
        marks.TryGetValue(entryId, out long index) && index < ledgerSize;

    /// <summary>Accepts the customer's signed approval of held entries; they become due.</summary>
    /// <returns>Accepted, or why not (<see cref="DocumentAcceptance.Reason"/> and a sentence).</returns>
    public Task<DocumentAcceptance> ApproveAsync(SignedEnvelope approval, Trust.TrustStore trust, CancellationToken cancellationToken = default) =>
        AnnotateAsync(approval, ChargeApproval.DocumentType, trust, cancellationToken);

    /// <summary>Accepts the customer's signed dispute of an entry; it is not due until reversed.</summary>
    /// <returns>Accepted, or why not (<see cref="DocumentAcceptance.Reason"/> and a sentence).</returns>
    public Task<DocumentAcceptance> DisputeAsync(SignedEnvelope dispute, Trust.TrustStore trust, CancellationToken cancellationToken = default) =>
        AnnotateAsync(dispute, ChargeDispute.DocumentType, trust, cancellationToken);

    /// <summary>Gets a value indicating whether the ledger holds the approval or dispute whose payload hashes to <paramref name="documentSha256"/>.</summary>
    internal bool HoldsDocument(string documentSha256)
    {
        lock (_entries)
        {
            return _annotationDocuments.Contains(documentSha256);
        }
    }

    /// <summary>Decides a charge approval or dispute (by its payload type) without recording it.</summary>
    internal DocumentAcceptance CheckAnnotation(SignedEnvelope signed, Trust.TrustStore trust, out ChargeAnnotation? annotation)
    {
        ArgumentNullException.ThrowIfNull(signed);
        annotation = null;
        string customerId;
        IReadOnlyList<string> entryIds;
        string kind;
        DocumentAcceptance? refusal;
        if (signed.PayloadType == ChargeDispute.DocumentType.PayloadType)
        {
            if (!Trust.SignedDocumentReader.TryRead(signed, ChargeDispute.DocumentType, trust,
                    d => [new Trust.SignatureRequirement(d.CustomerId, Identities.PartyRole.Customer)], "the customer", out ChargeDispute? dispute, out refusal))
            {
                return refusal;
            }

            (kind, customerId, entryIds) = ("disputed", dispute.CustomerId, [dispute.EntryId]);
        }
        else
        {
            if (!Trust.SignedDocumentReader.TryRead(signed, ChargeApproval.DocumentType, trust,
                    a => [new Trust.SignatureRequirement(a.CustomerId, Identities.PartyRole.Customer)], "the customer", out ChargeApproval? approval, out refusal))
            {
                return refusal;
            }

            (kind, customerId, entryIds) = ("approved", approval.CustomerId, approval.EntryIds);
        }

        List<ChargeEntry> entries = Entries.Where(e => entryIds.Contains(e.EntryId)).ToList();
        if (entries.Count != entryIds.Count || entries.Any(e => e.Charge.CustomerId != customerId))
        {
            return DocumentAcceptance.Refused(DocumentRefusal.UnknownEntry, $"The {kind} document names entries that are not {customerId}'s.");
        }

        annotation = new ChargeAnnotation { Annotation = kind, EntryIds = entryIds, Document = signed.ToJson(), RecordedAt = _time.GetUtcNow() };
        return DocumentAcceptance.Accepted($"{entryIds.Count} {(entryIds.Count == 1 ? "entry" : "entries")} of {customerId} {kind}.");
    }

    private async Task<DocumentAcceptance> AnnotateAsync(SignedEnvelope signed, DocumentType type, Trust.TrustStore trust, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(signed);
        if (signed.PayloadType != type.PayloadType)
        {
            return DocumentAcceptance.Refused(DocumentRefusal.Malformed, $"The envelope is a '{signed.PayloadType}', not a '{type.PayloadType}'.");
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            DocumentAcceptance? decision = null;
            ChargeAnnotation? record = null;
            long? index = await AppendDecidedAsync(() =>
            {
                decision = CheckAnnotation(signed, trust, out record); // the entries named may have been recorded by another host
                return record is null ? null : DocumentJson.Serialize(record);
            }, cancellationToken).ConfigureAwait(false);
            if (index is long at)
            {
                Apply(record!, at);
                Recount();
            }

            return decision!;
        }
        finally
        {
            _gate.Release();
        }
    }

    private void Apply(ChargeAnnotation annotation, long index)
    {
        lock (_entries)
        {
            _applied++;
            _annotationDocuments.Add(DocumentJson.Hash(SignedEnvelope.Parse(annotation.Document).Payload.Span));
            Dictionary<string, long> target = annotation.Annotation == "approved" ? _approved : _disputed;
            foreach (string id in annotation.EntryIds)
            {
                target.TryAdd(id, index);
            }
        }
    }

    private void Track(ChargeEntry entry, long index)
    {
        lock (_entries)
        {
            _applied++;
            _entries.Add(entry);
            _byKey[entry.Charge.IdempotencyKey] = entry;
            _indexOf[entry.EntryId] = index;
            if (entry.Charge.Reverses is not null)
            {
                _reversed.TryAdd(entry.Charge.Reverses, index);
            }
        }
    }

    private void Recount()
    {
        lock (_entries)
        {
            _sessionDue.Clear();
            _monthDue.Clear();
            foreach (ChargeEntry entry in _entries)
            {
                if (StatusOf(entry) == ChargeStatus.Due)
                {
                    AddDue(entry);
                }
            }
        }
    }

    private void AddDue(ChargeEntry entry)
    {
        lock (_entries)
        {
            ChargeRequest c = entry.Charge;
            (string, string) session = (c.Currency, c.SessionId);
            (string, string, YearMonth) month = (c.Currency, c.CustomerId, MonthOf(c.IncurredAt));
            _sessionDue[session] = _sessionDue.GetValueOrDefault(session) + c.AmountMinor;
            _monthDue[month] = _monthDue.GetValueOrDefault(month) + c.AmountMinor;
        }
    }

    /// <summary>Releases the ledger's lock (the journal is the caller's).</summary>
    public void Dispose() => _gate.Dispose();

    /// <summary>Gets the totals of due entries per currency, in minor units.</summary>
    public IReadOnlyDictionary<string, long> DueTotals() =>
        Entries.Where(e => StatusOf(e) == ChargeStatus.Due).GroupBy(e => e.Charge.Currency)
            .ToDictionary(g => g.Key, g => g.Sum(e => e.Charge.AmountMinor), StringComparer.Ordinal);

    private (ChargeStatus Status, string? Because) Judge(ChargeRequest charge)
    {
        if (charge.Reverses is not null || charge.AmountMinor <= 0)
        {
            return (ChargeStatus.Due, null);
        }

        TollChargePolicy policy = Policy;
        if (charge.AmountMinor > policy.ApprovalThresholdMinor)
        {
            return (ChargeStatus.Held, string.Create(CultureInfo.InvariantCulture,
                $"{charge.AmountMinor} is above the approval threshold of {policy.ApprovalThresholdMinor}."));
        }

        long session;
        long monthly;
        YearMonth month = MonthOf(charge.IncurredAt);
        lock (_entries)
        {
            session = _sessionDue.GetValueOrDefault((charge.Currency, charge.SessionId));
            monthly = _monthDue.GetValueOrDefault((charge.Currency, charge.CustomerId, month));
        }

        if (session + charge.AmountMinor > policy.SessionCapMinor)
        {
            return (ChargeStatus.Held, string.Create(CultureInfo.InvariantCulture,
                $"The session would total {session + charge.AmountMinor}, above its cap of {policy.SessionCapMinor}."));
        }

        if (monthly + charge.AmountMinor > policy.MonthlyCapMinor)
        {
            return (ChargeStatus.Held, string.Create(CultureInfo.InvariantCulture,
                $"{month} would total {monthly + charge.AmountMinor}, above the monthly cap of {policy.MonthlyCapMinor}."));
        }

        return (ChargeStatus.Due, null);
    }

    private YearMonth MonthOf(DateTimeOffset instant)
    {
        LocalDate date = Instant.FromDateTimeOffset(instant).InZone(Zone).Date;
        return new YearMonth(date.Year, date.Month);
    }

    private static void Validate(ChargeRequest charge)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(charge.IdempotencyKey, nameof(charge));
        if (charge.Currency.Length != 3 || !charge.Currency.All(char.IsAsciiLetterUpper))
        {
            Error.Argument(nameof(charge), $"'{charge.Currency}' is not an ISO 4217 currency code.");
        }
    }

    private static List<string> Differences(ChargeRequest a, ChargeRequest b)
    {
        var differing = new List<string>();
        void Check<T>(string name, T x, T y)
        {
            if (!EqualityComparer<T>.Default.Equals(x, y))
            {
                differing.Add(name);
            }
        }

        Check(nameof(a.CustomerId), a.CustomerId, b.CustomerId);
        Check(nameof(a.UnitId), a.UnitId, b.UnitId);
        Check(nameof(a.SessionId), a.SessionId, b.SessionId);
        Check(nameof(a.Kind), a.Kind, b.Kind);
        Check(nameof(a.Quantity), a.Quantity, b.Quantity);
        Check(nameof(a.QuantityUnit), a.QuantityUnit, b.QuantityUnit);
        Check(nameof(a.Rate), a.Rate, b.Rate);
        Check(nameof(a.AmountMinor), a.AmountMinor, b.AmountMinor);
        Check(nameof(a.Currency), a.Currency, b.Currency);
        Check(nameof(a.IncurredAt), a.IncurredAt, b.IncurredAt);
        Check(nameof(a.Description), a.Description, b.Description);
        Check(nameof(a.EvidenceReference), a.EvidenceReference, b.EvidenceReference);
        Check(nameof(a.AuditRecord), a.AuditRecord, b.AuditRecord);
        Check(nameof(a.Reverses), a.Reverses, b.Reverses);
        return differing;
    }
}
