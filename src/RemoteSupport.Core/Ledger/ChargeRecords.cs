using RemoteSupport.Documents;

namespace RemoteSupport.Ledger;

/// <summary>What a toll charge is for.</summary>
public enum ChargeKind
{
    /// <summary>The fee for setting up a call.</summary>
    CallSetup = 1,

    /// <summary>Connect time.</summary>
    ConnectTime = 2,

    /// <summary>Data volume.</summary>
    DataVolume = 3,

    /// <summary>Anything else, described.</summary>
    Other = 4,
}

/// <summary>Whether a charge counts towards the totals.</summary>
public enum ChargeStatus
{
    /// <summary>Due: in the totals.</summary>
    Due = 1,

    /// <summary>Held outside the totals: beyond the ground rules' caps or approval threshold, until the customer approves it.</summary>
    Held = 2,

    /// <summary>Disputed by the customer (signed): not due until resolved by new entries (a reversal).</summary>
    Disputed = 3,
}

/// <summary>The customer's signed approval of held charges (version 1): they become due.</summary>
public sealed record ChargeApproval
{
    /// <summary>The document type.</summary>
    public static DocumentType DocumentType { get; } = new("charge-approval", 1);

    /// <summary>Gets the customer.</summary>
    public required string CustomerId { get; init; }

    /// <summary>Gets the approved entries.</summary>
    public required IReadOnlyList<string> EntryIds { get; init; }

    /// <summary>Creates the unsigned envelope the customer signs.</summary>
    public SignedEnvelope ToEnvelope() => SignedEnvelope.Create(DocumentType, DocumentJson.Serialize(this));
}

/// <summary>The customer's signed dispute of a charge (version 1): shown as disputed, not due, until reversed.</summary>
public sealed record ChargeDispute
{
    /// <summary>The document type.</summary>
    public static DocumentType DocumentType { get; } = new("charge-dispute", 1);

    /// <summary>Gets the customer.</summary>
    public required string CustomerId { get; init; }

    /// <summary>Gets the disputed entry.</summary>
    public required string EntryId { get; init; }

    /// <summary>Gets why.</summary>
    public required string Reason { get; init; }

    /// <summary>Creates the unsigned envelope the customer signs.</summary>
    public SignedEnvelope ToEnvelope() => SignedEnvelope.Create(DocumentType, DocumentJson.Serialize(this));
}

/// <summary>A customer's approval or dispute, as recorded in the ledger's journal (schema version 1).</summary>
public sealed record ChargeAnnotation
{
    /// <summary>Gets the schema version.</summary>
    public int SchemaVersion { get; init; } = 1;

    /// <summary>Gets <c>approved</c> or <c>disputed</c>.</summary>
    public required string Annotation { get; init; }

    /// <summary>Gets the entries it concerns.</summary>
    public required IReadOnlyList<string> EntryIds { get; init; }

    /// <summary>Gets the customer-signed document, in its JSON form.</summary>
    public required string Document { get; init; }

    /// <summary>Gets when it was recorded.</summary>
    public required DateTimeOffset RecordedAt { get; init; }
}

/// <summary>A charge to record; the ledger adds the entry id, the recording time and the status.</summary>
public sealed record ChargeRequest
{
    /// <summary>Gets the key that makes recording idempotent: the same key and content return the original entry.</summary>
    public required string IdempotencyKey { get; init; }

    /// <summary>Gets the customer.</summary>
    public required string CustomerId { get; init; }

    /// <summary>Gets the unit.</summary>
    public required string UnitId { get; init; }

    /// <summary>Gets the session.</summary>
    public required string SessionId { get; init; }

    /// <summary>Gets the kind.</summary>
    public required ChargeKind Kind { get; init; }

    /// <summary>Gets the quantity (seconds, calls, bytes …).</summary>
    public required decimal Quantity { get; init; }

    /// <summary>Gets the quantity's unit, for example <c>second</c>.</summary>
    public required string QuantityUnit { get; init; }

    /// <summary>Gets the rate in minor units per quantity unit (may be fractional).</summary>
    public required decimal Rate { get; init; }

    /// <summary>Gets the amount in integer minor units.</summary>
    public required long AmountMinor { get; init; }

    /// <summary>Gets the ISO 4217 currency.</summary>
    public required string Currency { get; init; }

    /// <summary>Gets when the charge was incurred.</summary>
    public required DateTimeOffset IncurredAt { get; init; }

    /// <summary>Gets the line's description.</summary>
    public required string Description { get; init; }

    /// <summary>Gets the evidence: a carrier call record id or an invoice's hash.</summary>
    public string? EvidenceReference { get; init; }

    /// <summary>Gets the index of the audit record backing the charge (for a metered session charge, its <c>charge-recorded</c> record, written first).</summary>
    public long? AuditRecord { get; init; }

    /// <summary>Gets the entry this one reverses (a correction), if any.</summary>
    public string? Reverses { get; init; }
}

/// <summary>A recorded charge (schema version 1): the request plus id, recording time and status.</summary>
public sealed record ChargeEntry
{
    /// <summary>Gets the schema version.</summary>
    public int SchemaVersion { get; init; } = 1;

    /// <summary>Gets the entry's id.</summary>
    public required string EntryId { get; init; }

    /// <summary>Gets the charge as requested.</summary>
    public required ChargeRequest Charge { get; init; }

    /// <summary>Gets when it was recorded.</summary>
    public required DateTimeOffset RecordedAt { get; init; }

    /// <summary>Gets whether it is due or held.</summary>
    public required ChargeStatus Status { get; init; }

    /// <summary>Gets why it is held, if it is.</summary>
    public string? HeldBecause { get; init; }
}

/// <summary>The same idempotency key came with different content; nothing was recorded.</summary>
public sealed class IdempotencyConflictException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public IdempotencyConflictException(string idempotencyKey, IReadOnlyList<string> differingFields)
        : base($"Idempotency key '{idempotencyKey}' was recorded with different content: {string.Join(", ", differingFields)} differ.")
    {
        IdempotencyKey = idempotencyKey;
        DifferingFields = differingFields;
    }

    /// <summary>Gets the key.</summary>
    public string IdempotencyKey { get; }

    /// <summary>Gets the names of the fields that differ.</summary>
    public IReadOnlyList<string> DifferingFields { get; }
}
