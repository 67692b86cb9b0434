using System.Globalization;
using System.Text.Json;
using RemoteSupport.Audit;
using RemoteSupport.Authorization;
using RemoteSupport.Consent;
using RemoteSupport.Documents;
using RemoteSupport.Fixes;
using RemoteSupport.GroundRules;
using RemoteSupport.Identities;
using RemoteSupport.Journal;
using RemoteSupport.Ledger;
using RemoteSupport.Trust;

namespace RemoteSupport.Contract;

/// <summary>
/// The unit's contract state, durable and tamper-evident: every accepted document (authorizations and
/// revocations, ground rules and amendments, key rotations, vendor roots, charge approvals and disputes),
/// every key revocation and every use of an approval is a record of the unit's audit journal, inside its
/// Merkle tree, before it takes effect; <see cref="OpenAsync"/> rebuilds the state from those records
/// (docs/formats/contract-state.md). What only moves forward stays forward across restarts: a revocation
/// is permanent, a version never goes back, an approval's use count never resets.
/// </summary>
/// <remarks>
/// The books it keeps (<see cref="Authorizations"/>, <see cref="GroundRules"/>, the vendor root and the
/// rotations and revocations of <see cref="Trust"/>) refuse changes made on them directly: a change that
/// is not journaled would be lost at the next start. The first key sets of the trust store are the
/// integrator's configuration, given in code at every start, and are not journaled. Thread-safe.
/// </remarks>
public sealed partial class ContractState : IApprovalUseCounter, IDisposable
{
    private static readonly byte[][] ContractKinds = [.. new[] { AuditEventKind.DocumentAccepted, AuditEventKind.KeyRevoked, AuditEventKind.ApprovalUsed }
        .Select(kind => JsonSerializer.SerializeToUtf8Bytes(kind, DocumentJson.Options))];

    /// <summary>The vendor's compatibility specification (its type is defined with the rest of the protocol, in RemoteSupport.Transport).</summary>
    internal static readonly DocumentType SpecificationType = new("compatibility-specification", 1);

    private readonly AuditLog _audit;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, int> _uses = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _documents = new(StringComparer.Ordinal); // payload type + hash -> audit record
    private readonly List<(SignedEnvelope Document, DateTimeOffset At, string Record)> _chargeDocuments = [];
    private readonly List<SignedEnvelope> _accepted = [];
    private ChargeLedger? _ledger;

    private ContractState(AuditLog audit, TrustStore trust, string customerId, TimeProvider time)
    {
        _audit = audit;
        _time = time;
        Trust = trust;
        Authorizations = new AuthorizationBook(trust, time) { CustomerId = customerId, IsKept = true };
        GroundRules = new GroundRulesBook(trust) { CustomerId = customerId, IsKept = true };
    }

    /// <summary>Gets the trust store; its rotations and revocations go through <see cref="AcceptAsync"/> and <see cref="RevokeKeyAsync"/>.</summary>
    public TrustStore Trust { get; }

    /// <summary>Gets the customer's authorizations of vendors, rebuilt from the journal.</summary>
    public AuthorizationBook Authorizations { get; }

    /// <summary>Gets the ground rules in force, rebuilt from the journal.</summary>
    public GroundRulesBook GroundRules { get; }

    /// <summary>Gets the vendor root in force, or null before the first root is accepted.</summary>
    public FixTrust? VendorRoot { get; private set; }

    /// <summary>
    /// Gets the vendor's signed compatibility specification kept in writing (the latest accepted: signed by the vendor of
    /// the ground rules in force), or null. <c>RemoteSupport.Transport.Sessions.CompatibilitySpecification.FromEnvelope</c> reads it.
    /// </summary>
    public SignedEnvelope? CompatibilitySpecification { get; private set; }

    /// <summary>Gets the documents accepted, in journal order (the trust snapshot of an evidence bundle).</summary>
    public IReadOnlyList<SignedEnvelope> Documents
    {
        get
        {
            lock (_accepted)
            {
                return [.. _accepted];
            }
        }
    }

    /// <summary>
    /// Rebuilds the contract state from the contract records of <paramref name="audit"/>'s journal, each
    /// judged again at the time its record was written, exactly as when it was accepted.
    /// </summary>
    /// <returns>The state.</returns>
    /// <param name="audit">The unit's audit log.</param>
    /// <param name="trust">The trust store holding the integrator's first key sets.</param>
    /// <param name="customerId">The customer the unit belongs to: other customers' documents are refused.</param>
    /// <param name="timeProvider">The clock decisions are taken by; <see cref="TimeProvider.System"/> when null.</param>
    /// <param name="cancellationToken">Stops the rebuild.</param>
    /// <exception cref="JournalException">A contract record does not replay (its record index, and offset for a file journal, are named): the state is never silently reset.</exception>
    public static async Task<ContractState> OpenAsync(AuditLog audit, TrustStore trust, string customerId, TimeProvider? timeProvider = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(audit);
        ArgumentNullException.ThrowIfNull(trust);
        PartyIdentity.ValidatePartyId(customerId, nameof(customerId));
        if (trust.IsKept)
        {
            throw new InvalidOperationException("This trust store is already kept by another contract state.");
        }

        var state = new ContractState(audit, trust, customerId, timeProvider ?? TimeProvider.System);
        IRecordJournal journal = audit.Journal;
        for (long i = 0; i < journal.Count; i++)
        {
            byte[] record = await journal.ReadAsync(i, cancellationToken).ConfigureAwait(false);
            if (!ContractKinds.Any(kind => record.AsSpan().IndexOf(kind) >= 0))
            {
                continue;
            }

            AuditEvent? auditEvent;
            try
            {
                auditEvent = JsonSerializer.Deserialize<AuditEvent>(record, DocumentJson.Options);
            }
            catch (JsonException ex)
            {
                throw new JournalException($"{Named(journal, i)} is not an audit event: {ex.Message}", ex);
            }

            if (auditEvent?.Details is null)
            {
                throw new JournalException(Named(journal, i) + " is not an audit event: it is empty or has no details.");
            }

            if (state.Replay(auditEvent, i) is { } problem)
            {
                throw new JournalException($"{Named(journal, i)} ({DocumentJson.Kebab(auditEvent.Kind)} at {auditEvent.At:O}) does not replay: {problem} "
                    + "The unit's contract state cannot be rebuilt from its journal; it is refused rather than reset.");
            }
        }

        trust.IsKept = true;
        return state;
    }

    /// <summary>
    /// Accepts a signed contract document by its payload type: a service authorization or revocation,
    /// ground rules, a key rotation, a vendor root (the first is pinned, later ones must chain), or, once
    /// a ledger is attached, a charge approval or dispute. An accepted document is journaled before it takes
    /// effect. A document already journaled is not journaled again: it is accepted while it is in force, and
    /// refused as <see cref="DocumentRefusal.Superseded"/> once the state has moved past it.
    /// </summary>
    /// <returns>Accepted, or why not.</returns>
    /// <param name="document">The signed document.</param>
    /// <param name="cancellationToken">Stops waiting for the journal.</param>
    /// <exception cref="InvalidOperationException">A charge document is given and no ledger is attached.</exception>
    public async Task<DocumentAcceptance> AcceptAsync(SignedEnvelope document, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(document);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_documents.TryGetValue(Key(document), out long record))
            {
                // Answered from the journal, without judging the signatures again: a document accepted once stays accepted
                // after its signer's key is rotated out or revoked (the options offer it at every start).
                return IsInForce(document)
                    ? DocumentAcceptance.Accepted(string.Create(CultureInfo.InvariantCulture, $"Already in force: accepted in audit record {record}."))
                    : DocumentAcceptance.Refused(DocumentRefusal.Superseded, string.Create(CultureInfo.InvariantCulture,
                        $"Accepted in audit record {record}, and the unit's state has moved past it since: {MovedPast(document)}"));
            }

            DateTimeOffset at = _time.GetUtcNow();
            using DecisionTime.Scope pinned = DecisionTime.PinAt(at);
            DocumentAcceptance decision = Decide(document, commit: false);
            if (!decision.IsAccepted)
            {
                return decision;
            }

            long index = await _audit.RecordAsync(AuditEvents.DocumentAccepted(at, document, decision.Sentence), cancellationToken).ConfigureAwait(false);
            DocumentAcceptance applied = await ApplyAsync(document, index, cancellationToken).ConfigureAwait(false);
            return applied.IsAccepted ? decision : throw new InvalidOperationException("A document decided as accepted was refused when applied: " + applied.Sentence);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Revokes a trusted key from now on, journaled first; the revocation survives a restart.</summary>
    /// <returns><see langword="true"/> when the key was trusted and is now revoked; <see langword="false"/> (nothing journaled) when it was not trusted or already revoked.</returns>
    /// <param name="key">The key.</param>
    /// <param name="reason">Why (recorded).</param>
    /// <param name="cancellationToken">Stops waiting for the journal.</param>
    public async Task<bool> RevokeKeyAsync(PartyKey key, string reason, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        Error.ThrowIfNullOrWhiteSpace(reason, nameof(reason));
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!Trust.IsRevocable(key))
            {
                return false;
            }

            DateTimeOffset at = _time.GetUtcNow();
            await _audit.RecordAsync(AuditEvents.KeyRevoked(at, key, reason), cancellationToken).ConfigureAwait(false);
            using DecisionTime.Scope pinned = DecisionTime.PinAt(at);
            return Trust.RevokeCore(key, reason);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc/>
    public int UsesOf(string approvalId)
    {
        lock (_uses)
        {
            return _uses.GetValueOrDefault(approvalId);
        }
    }

    /// <summary>Consumes one use of an approval: an <c>approval-used</c> audit record, durable before it returns true.</summary>
    /// <returns>True when a use was left and is now consumed.</returns>
    /// <param name="approvalId">The approval.</param>
    /// <param name="maxUses">Its use limit.</param>
    /// <param name="cancellationToken">Stops waiting for the journal.</param>
    public async ValueTask<bool> TryConsumeAsync(string approvalId, int maxUses, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(approvalId);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            int used = UsesOf(approvalId);
            if (used >= maxUses)
            {
                return false;
            }

            await _audit.RecordAsync(AuditEvents.ApprovalUsed(_time.GetUtcNow(), approvalId, used + 1, maxUses), cancellationToken).ConfigureAwait(false);
            lock (_uses)
            {
                _uses[approvalId] = used + 1;
            }

            return true;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Attaches the unit's charge ledger: charge approvals and disputes the journal holds but the ledger
    /// does not (a crash between the two appends) are applied to it now; from then on
    /// <see cref="AcceptAsync"/> takes charge approvals and disputes.
    /// </summary>
    /// <returns>How many journaled charge documents were applied to the ledger now.</returns>
    /// <param name="ledger">The ledger.</param>
    /// <param name="cancellationToken">Stops waiting for the ledger's journal.</param>
    public async Task<int> AttachLedgerAsync(ChargeLedger ledger, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_ledger is not null)
            {
                throw new InvalidOperationException("A ledger is already attached.");
            }

            _ledger = ledger;
            int applied = 0;
            foreach ((SignedEnvelope document, DateTimeOffset at, string record) in _chargeDocuments)
            {
                if (!ledger.HoldsDocument(DocumentJson.Hash(document.Payload.Span)))
                {
                    using DecisionTime.Scope pinned = DecisionTime.PinAt(at);
                    DocumentAcceptance result = await AnnotateAsync(ledger, document, cancellationToken).ConfigureAwait(false);
                    if (!result.IsAccepted)
                    {
                        throw new JournalException($"{record} (a charge document journaled at {at:O}) cannot be applied to the ledger: {result.Sentence}");
                    }

                    applied++;
                }
            }

            _chargeDocuments.Clear();
            return applied;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Runs <paramref name="work"/> while no contract record can be appended (an evidence export: the trust snapshot and the journals agree).</summary>
    internal async Task<T> ExclusiveAsync<T>(Func<Task<T>> work, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await work().ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Adds uses counted elsewhere (the side file of 1.0.0-rc.1) as <c>approval-used</c> records, so none is forgotten.</summary>
    internal async Task ImportUsesAsync(IReadOnlyDictionary<string, int> uses, CancellationToken cancellationToken)
    {
        foreach ((string approvalId, int count) in uses)
        {
            while (UsesOf(approvalId) < count)
            {
                await TryConsumeAsync(approvalId, count, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Releases the trust store (a new state may keep it, as after a restart in the same process); the audit log is left open.</summary>
    public void Dispose()
    {
        Trust.IsKept = false;
        _gate.Dispose();
    }

    private static string Named(IRecordJournal journal, long index) => journal is AppendOnlyJournal file
        ? string.Create(CultureInfo.InvariantCulture, $"Audit record {index} at offset {file.OffsetOf(index)} of '{file.Path}'")
        : string.Create(CultureInfo.InvariantCulture, $"Audit record {index}");

    private static string Key(SignedEnvelope document) => document.PayloadType + " " + DocumentJson.Hash(document.Payload.Span);

    private static bool IsCharge(SignedEnvelope document) =>
        document.PayloadType == ChargeApproval.DocumentType.PayloadType || document.PayloadType == ChargeDispute.DocumentType.PayloadType;

    private Task<DocumentAcceptance> AnnotateAsync(ChargeLedger ledger, SignedEnvelope document, CancellationToken cancellationToken) =>
        document.PayloadType == ChargeApproval.DocumentType.PayloadType
            ? ledger.ApproveAsync(document, Trust, cancellationToken)
            : ledger.DisputeAsync(document, Trust, cancellationToken);

    /// <summary>Replays one contract record; returns why it does not replay, or null.</summary>
    private string? Replay(AuditEvent auditEvent, long index)
    {
        using DecisionTime.Scope pinned = DecisionTime.PinAt(auditEvent.At);
        IReadOnlyDictionary<string, string> details = auditEvent.Details;
        switch (auditEvent.Kind)
        {
            case AuditEventKind.DocumentAccepted:
                if (!details.TryGetValue("document", out string? json) || !SignedEnvelope.TryParse(System.Text.Encoding.UTF8.GetBytes(json), out SignedEnvelope? document, out string? error))
                {
                    return "its document is missing or not an envelope.";
                }

                if (details.GetValueOrDefault("document-sha256") != DocumentJson.Hash(document.Payload.Span) || details.GetValueOrDefault("payload-type") != document.PayloadType)
                {
                    return "its document does not match the hash and payload type recorded beside it.";
                }

                if (IsCharge(document))
                {
                    _chargeDocuments.Add((document, auditEvent.At, Named(_audit.Journal, index)));
                    Remember(document, index);
                    return null;
                }

                // A trust store kept across an in-process restart already holds its rotations: one it is at or past is replayed.
                DocumentAcceptance decision = Decide(document, commit: true);
                if (!decision.IsAccepted && !(decision.Reason == DocumentRefusal.Superseded && IsRotationAlreadyHeld(document)))
                {
                    return decision.Sentence;
                }

                Remember(document, index);
                return null;

            case AuditEventKind.KeyRevoked:
                if (!details.TryGetValue("key", out string? text) || !PartyKey.TryParse(text, out PartyKey? key) || !details.TryGetValue("reason", out string? reason))
                {
                    return "it does not name a key and a reason.";
                }

                return Trust.RevokeCore(key, reason) || (Trust.IsKnown(key) && !Trust.IsRevocable(key)) ? null : $"key {key.KeyId} is not trusted.";

            case AuditEventKind.ApprovalUsed:
                string? approvalId = details.GetValueOrDefault("approval-id");
                if (string.IsNullOrEmpty(approvalId) || !int.TryParse(details.GetValueOrDefault("use"), NumberStyles.None, CultureInfo.InvariantCulture, out int use))
                {
                    return "it does not name an approval and a use number.";
                }

                if (use != UsesOf(approvalId) + 1)
                {
                    return string.Create(CultureInfo.InvariantCulture, $"it counts use {use} of approval {approvalId}, after {UsesOf(approvalId)} uses.");
                }

                lock (_uses)
                {
                    _uses[approvalId] = use;
                }

                return null;

            default:
                return null; // another audit event that happens to mention a contract kind
        }
    }

    private async Task<DocumentAcceptance> ApplyAsync(SignedEnvelope document, long index, CancellationToken cancellationToken)
    {
        DocumentAcceptance applied = IsCharge(document)
            ? await AnnotateAsync(_ledger!, document, cancellationToken).ConfigureAwait(false)
            : Decide(document, commit: true);
        if (applied.IsAccepted)
        {
            Remember(document, index);
        }

        return applied;
    }

    private void Remember(SignedEnvelope document, long index)
    {
        _documents[Key(document)] = index;
        lock (_accepted)
        {
            _accepted.Add(document);
        }
    }
}
