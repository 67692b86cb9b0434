using RemoteSupport.Documents;
using RemoteSupport.Identities;

namespace RemoteSupport.GroundRules;

/// <summary>What a vendor may do on the customer's units.</summary>
public enum SupportOperation
{
    /// <summary>Read a data file.</summary>
    ViewData = 1,

    /// <summary>Replace, create or delete a data file.</summary>
    ChangeData = 2,

    /// <summary>Install a software fix.</summary>
    InstallFix = 3,

    /// <summary>Run a diagnostic the integrator registered.</summary>
    RunDiagnostic = 4,
}

/// <summary>
/// The security ground rules the customer and the vendor set jointly (format in
/// docs/formats/ground-rules.md, version 1). Valid only when signed by both parties; an amendment
/// names the hash of the version it replaces and is signed by both again.
/// </summary>
public sealed record SecurityGroundRules
{
    /// <summary>The document type of ground rules.</summary>
    public static DocumentType DocumentType { get; } = new("ground-rules", 1);

    /// <summary>Gets the amendment number: 1 for the first version, one more for each amendment.</summary>
    public required int Version { get; init; }

    /// <summary>Gets the hash (<see cref="DocumentHash"/>) of the version this one replaces; null for version 1.</summary>
    public string? Replaces { get; init; }

    /// <summary>Gets the customer party.</summary>
    public required string CustomerId { get; init; }

    /// <summary>Gets the vendor party.</summary>
    public required string VendorId { get; init; }

    /// <summary>Gets the customer's IANA time zone (for example <c>Europe/Berlin</c>): hours and billing months are in it.</summary>
    public required string TimeZone { get; init; }

    /// <summary>Gets the rule for each operation; an operation without a rule is not permitted.</summary>
    public required IReadOnlyList<OperationRule> Operations { get; init; }

    /// <summary>Gets the longest validity an approval may have, in seconds.</summary>
    public required int MaxApprovalLifetimeSeconds { get; init; }

    /// <summary>Gets the data the vendor may touch: roots, path patterns and owners.</summary>
    public required IReadOnlyList<DataScope> DataScopes { get; init; }

    /// <summary>Gets the service hours in <see cref="TimeZone"/>.</summary>
    public required ServiceHours Hours { get; init; }

    /// <summary>Gets the longest session, in minutes.</summary>
    public required int MaxSessionMinutes { get; init; }

    /// <summary>Gets the toll charge policy the ledger applies.</summary>
    public required TollChargePolicy TollCharges { get; init; }

    /// <summary>
    /// Gets the diagnostics the vendor may run, by name, each with the approval it needs (none: it runs
    /// without one). When given, a diagnostic not listed is refused; when null, the
    /// <see cref="SupportOperation.RunDiagnostic"/> rule applies to every diagnostic.
    /// </summary>
    public IReadOnlyList<DiagnosticRule>? Diagnostics { get; init; }

    /// <summary>Gets the rule for <paramref name="operation"/>, or null when it is not permitted.</summary>
    public OperationRule? RuleFor(SupportOperation operation) => Operations.FirstOrDefault(r => r.Operation == operation && r.Permitted);

    /// <summary>Creates the unsigned envelope both parties sign.</summary>
    public SignedEnvelope ToEnvelope() => SignedEnvelope.Create(DocumentType, DocumentJson.Serialize(this));

    /// <summary>Reads ground rules from an envelope (signatures are checked by <see cref="GroundRulesBook"/>).</summary>
    /// <exception cref="EnvelopeFormatException">The payload is not ground rules of this version.</exception>
    public static SecurityGroundRules FromEnvelope(SignedEnvelope envelope)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        return DocumentJson.Deserialize<SecurityGroundRules>(envelope, DocumentType);
    }

    /// <summary>The hash that names a signed document: lowercase hex SHA-256 of its payload.</summary>
    public static string DocumentHash(SignedEnvelope envelope)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        return DocumentJson.Hash(envelope.Payload.Span);
    }
}

/// <summary>Whether an operation is permitted and whose approval it needs.</summary>
/// <param name="Operation">The operation.</param>
/// <param name="Permitted">Whether the vendor may do it at all.</param>
/// <param name="Approval">The approval it needs; null when none.</param>
public sealed record OperationRule(SupportOperation Operation, bool Permitted, ApprovalRequirement? Approval);

/// <summary>A diagnostic the ground rules name, and the approval it needs (null: none).</summary>
/// <param name="Name">The diagnostic's name, as the integrator registered it on the unit.</param>
/// <param name="Approval">The approval it needs; null when it runs without one.</param>
public sealed record DiagnosticRule(string Name, ApprovalRequirement? Approval);

/// <summary>The approvals an operation needs: every group must be met by the signers of one approval.</summary>
/// <param name="Groups">The approver groups, for example IT and the data owner.</param>
public sealed record ApprovalRequirement(IReadOnlyList<ApproverGroup> Groups);

/// <summary>
/// A group of approvers: keys trusted for <paramref name="PartyId"/> in <paramref name="Role"/>,
/// optionally only the listed key ids, of which <paramref name="Quorum"/> must sign.
/// </summary>
/// <param name="Name">A name people read, such as <c>IT</c> or <c>data owner</c>.</param>
/// <param name="PartyId">The party whose keys approve (the customer or an affiliate).</param>
/// <param name="Role">The role the keys must be trusted in (normally approver).</param>
/// <param name="KeyIds">Only these key ids count; null for any key of the party in the role.</param>
/// <param name="Quorum">How many distinct keys of the group must sign.</param>
public sealed record ApproverGroup(string Name, string PartyId, PartyRole Role, IReadOnlyList<string>? KeyIds, int Quorum);

/// <summary>Data the vendor may touch: a root, path patterns under it, and the owner of those files.</summary>
/// <param name="Root">The data root's name (the agent maps it to a folder).</param>
/// <param name="PathPatterns">Patterns relative to the root: <c>*</c> within a segment, <c>**</c> across segments.</param>
/// <param name="Owner">The owner: the customer's party id or an affiliate's.</param>
public sealed record DataScope(string Root, IReadOnlyList<string> PathPatterns, string Owner);

/// <summary>
/// Service hours: days of the week and a local time window, in the ground rules' time zone. A window
/// whose end is before its start runs overnight: <c>22:00</c>-<c>06:00</c> on a Monday lasts until
/// Tuesday 06:00.
/// </summary>
/// <param name="Days">Days such as <c>Monday</c>: the days a window starts on.</param>
/// <param name="From">Local start, <c>HH:mm</c>, inclusive.</param>
/// <param name="To">Local end, <c>HH:mm</c>, exclusive; before <paramref name="From"/> for an overnight window, equal to it for the whole day.</param>
public sealed record ServiceHours(IReadOnlyList<DayOfWeek> Days, string From, string To);

/// <summary>The toll charge policy: the rate card, caps and the approval threshold, in minor units of one currency.</summary>
/// <param name="Currency">ISO 4217 code.</param>
/// <param name="SetupFeeMinor">Charged once per call.</param>
/// <param name="PerMinuteMinor">Charged per minute of connect time.</param>
/// <param name="BillingIncrementSeconds">Connect time is rounded up to this increment.</param>
/// <param name="MinimumMinor">The least a call costs.</param>
/// <param name="SessionCapMinor">The most one session may cost without approval.</param>
/// <param name="MonthlyCapMinor">The most a month may cost without approval.</param>
/// <param name="ApprovalThresholdMinor">An entry above this is held until the customer approves it.</param>
public sealed record TollChargePolicy(
    string Currency, long SetupFeeMinor, long PerMinuteMinor, int BillingIncrementSeconds, long MinimumMinor,
    long SessionCapMinor, long MonthlyCapMinor, long ApprovalThresholdMinor);
