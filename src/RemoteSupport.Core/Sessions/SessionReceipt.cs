using RemoteSupport.Documents;
using RemoteSupport.GroundRules;
using RemoteSupport.Ledger;

namespace RemoteSupport.Sessions;

/// <summary>
/// What happened in a session, signed by the unit at its close, kept in the audit log and returned to
/// the vendor (docs/protocol/session.md).
/// </summary>
public sealed record SessionReceipt
{
    /// <summary>Gets the document type of a session receipt.</summary>
    public static DocumentType DocumentType { get; } = new("session-receipt", 1);

    /// <summary>Gets the session.</summary>
    public required string SessionId { get; init; }

    /// <summary>Gets the unit that ran the session.</summary>
    public required string UnitId { get; init; }

    /// <summary>Gets the customer that owns the unit.</summary>
    public required string CustomerId { get; init; }

    /// <summary>Gets the vendor.</summary>
    public required string VendorId { get; init; }

    /// <summary>Gets the key id of the technician the secure channel authenticated.</summary>
    public required string TechnicianKeyId { get; init; }

    /// <summary>Gets when the session opened.</summary>
    public required DateTimeOffset OpenedAt { get; init; }

    /// <summary>Gets when the session ended: its close, or the last message heard before the connection dropped.</summary>
    public required DateTimeOffset ClosedAt { get; init; }

    /// <summary>Gets how the session ended: <c>closed</c> (the console closed it) or <c>dropped</c>.</summary>
    public required string Ending { get; init; }

    /// <summary>Gets every operation asked for, in order, with its outcome and the file hashes.</summary>
    public required IReadOnlyList<SessionOperation> Operations { get; init; }

    /// <summary>Gets the charges the session incurred.</summary>
    public required IReadOnlyList<SessionCharge> Charges { get; init; }

    /// <summary>Returns the receipt as an unsigned envelope.</summary>
    public SignedEnvelope ToEnvelope() => SignedEnvelope.Create(DocumentType, DocumentJson.Serialize(this));

    /// <summary>Reads a receipt from an envelope (check the unit's signature with the trust store).</summary>
    public static SessionReceipt FromEnvelope(SignedEnvelope envelope)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        return DocumentJson.Deserialize<SessionReceipt>(envelope, DocumentType);
    }
}

/// <summary>One operation of a session.</summary>
/// <param name="RequestId">The console's id for the request.</param>
/// <param name="Operation">What was asked.</param>
/// <param name="Target">The data file (<c>root:path</c>), the diagnostic, or the package.</param>
/// <param name="Succeeded">Whether it was carried out.</param>
/// <param name="Code">The consent reason or failure code (<c>none</c> when carried out).</param>
/// <param name="HashBefore">The file's SHA-256 before (data operations).</param>
/// <param name="HashAfter">The file's SHA-256 after (data operations).</param>
public sealed record SessionOperation(
    string RequestId, SupportOperation Operation, string Target, bool Succeeded, string Code, string? HashBefore, string? HashAfter);

/// <summary>One charge of a session.</summary>
/// <param name="EntryId">The ledger entry.</param>
/// <param name="Kind">Call setup or connect time.</param>
/// <param name="AmountMinor">The amount in minor units.</param>
/// <param name="Currency">The currency.</param>
/// <param name="Status">Due, or held for the customer's approval.</param>
public sealed record SessionCharge(string EntryId, ChargeKind Kind, long AmountMinor, string Currency, ChargeStatus Status);
