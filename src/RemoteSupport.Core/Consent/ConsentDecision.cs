using RemoteSupport.GroundRules;
using RemoteSupport.Identities;

namespace RemoteSupport.Consent;

/// <summary>A request to the consent gate: who wants to do what to which file of whom.</summary>
public sealed record ConsentRequest
{
    /// <summary>Gets the session.</summary>
    public required string SessionId { get; init; }

    /// <summary>Gets the unit the operation runs on.</summary>
    public required string UnitId { get; init; }

    /// <summary>Gets the vendor party.</summary>
    public required string VendorId { get; init; }

    /// <summary>Gets the technician's party.</summary>
    public required string TechnicianId { get; init; }

    /// <summary>Gets the technician's key, as the secure channel authenticated it.</summary>
    public required PartyKey TechnicianKey { get; init; }

    /// <summary>Gets the operation.</summary>
    public required SupportOperation Operation { get; init; }

    /// <summary>Gets the data root, for data operations.</summary>
    public string? Root { get; init; }

    /// <summary>Gets the file, relative to the root, for data operations.</summary>
    public string? Path { get; init; }

    /// <summary>Gets the owner of the file: the customer or an affiliate.</summary>
    public string? Owner { get; init; }

    /// <summary>Gets the diagnostic's name, for <see cref="SupportOperation.RunDiagnostic"/>: the approval grants only this one.</summary>
    public string? Diagnostic { get; init; }

    /// <summary>Gets why, for the approval request (the vendor's words: 1 to 280 characters, no control or format characters).</summary>
    public string Reason { get; init; } = "troubleshooting";

    /// <summary>Gets the ticket, for the approval request (the vendor's words: 1 to 64 characters, no control or format characters).</summary>
    public string? Ticket { get; init; }

    /// <summary>Gets how long an approval is asked for, in seconds.</summary>
    public int RequestedDurationSeconds { get; init; } = 3600;

    /// <summary>Gets the fix package's hash, for fix installs.</summary>
    public string? PackageHash { get; init; }
}

/// <summary>The gate's answer.</summary>
public enum ConsentOutcome
{
    /// <summary>The operation may run now.</summary>
    Granted = 1,

    /// <summary>The operation must not run.</summary>
    Denied = 2,

    /// <summary>The operation needs a written approval first; route <see cref="ConsentDecision.ApprovalRequest"/>.</summary>
    NeedsApproval = 3,
}

/// <summary>Why the gate denied (or asked for approval).</summary>
public enum ConsentReason
{
    /// <summary>Granted.</summary>
    None = 0,

    /// <summary>No valid authorization names this vendor key and unit.</summary>
    NotAuthorized,

    /// <summary>The customer revoked the authorization.</summary>
    AuthorizationRevoked,

    /// <summary>The authorization is not valid now.</summary>
    AuthorizationOutsideValidity,

    /// <summary>The authorization rests on other ground rules.</summary>
    GroundRulesMismatch,

    /// <summary>No jointly signed ground rules are in force.</summary>
    GroundRulesMissing,

    /// <summary>The ground rules do not permit the operation.</summary>
    OperationNotPermitted,

    /// <summary>Outside the service hours.</summary>
    OutsideHours,

    /// <summary>The path was refused (escape, encoding, look-alikes).</summary>
    PathRefused,

    /// <summary>The file is outside every data scope.</summary>
    OutOfScope,

    /// <summary>The file's owner is not the owner of the matching scope.</summary>
    OwnerNotInScope,

    /// <summary>A written approval is required.</summary>
    ApprovalRequired,

    /// <summary>The approval's signatures do not meet the ground rules' approver groups.</summary>
    ApprovalQuorumNotMet,

    /// <summary>The approval is for another session.</summary>
    ApprovalWrongSession,

    /// <summary>The approval is for another technician.</summary>
    ApprovalWrongTechnician,

    /// <summary>The approval does not allow this operation (for example a view approval used to change).</summary>
    ApprovalWrongOperation,

    /// <summary>The approval does not cover this file.</summary>
    ApprovalWrongPath,

    /// <summary>The approval does not cover this owner.</summary>
    ApprovalWrongOwner,

    /// <summary>The approval is expired or not yet valid.</summary>
    ApprovalOutsideValidity,

    /// <summary>The approval's validity is longer than the ground rules allow.</summary>
    ApprovalTooLong,

    /// <summary>The approval's uses are exhausted.</summary>
    ApprovalUsesExhausted,

    /// <summary>The approval is malformed or binds another package.</summary>
    ApprovalMalformed,

    /// <summary>A vendor-supplied field of the request is refused (control or format characters, too long, a bad diagnostic name).</summary>
    RequestMalformed,

    /// <summary>The ground rules list the diagnostics allowed, and this one is not among them.</summary>
    DiagnosticNotPermitted,

    /// <summary>The approval is for another diagnostic.</summary>
    ApprovalWrongDiagnostic,
}

/// <summary>The consent gate's decision, recorded in the audit sink before it is returned.</summary>
public sealed record ConsentDecision
{
    /// <summary>Gets the decision's id.</summary>
    public required string DecisionId { get; init; }

    /// <summary>Gets when it was decided.</summary>
    public required DateTimeOffset DecidedAt { get; init; }

    /// <summary>Gets the request decided.</summary>
    public required ConsentRequest Request { get; init; }

    /// <summary>Gets the outcome.</summary>
    public required ConsentOutcome Outcome { get; init; }

    /// <summary>Gets why, as a code.</summary>
    public required ConsentReason Reason { get; init; }

    /// <summary>Gets why, as a sentence.</summary>
    public required string Sentence { get; init; }

    /// <summary>Gets the approvals used for a grant.</summary>
    public IReadOnlyList<string> ApprovalsUsed { get; init; } = [];

    /// <summary>Gets the request to route, when <see cref="ConsentOutcome.NeedsApproval"/>.</summary>
    public ApprovalRequest? ApprovalRequest { get; init; }

    /// <summary>Gets the canonical path decided on, for data operations.</summary>
    public string? CanonicalPath { get; init; }

    /// <summary>Gets a value indicating whether the operation may run.</summary>
    public bool IsGranted => Outcome == ConsentOutcome.Granted;

    /// <summary>
    /// Gets the path patterns a granted data operation is confined to, each set of which must match a
    /// path below it (a listing): the matching scope's patterns, and the approval's when one was used.
    /// </summary>
    internal IReadOnlyList<IReadOnlyList<string>> Confinement { get; init; } = [];

    /// <summary>Whether <paramref name="canonicalPath"/> lies within every pattern set of <see cref="Confinement"/>.</summary>
    internal bool Covers(string canonicalPath) =>
        Confinement.All(patterns => patterns.Any(p => RemoteSupport.DataFiles.DataPath.Matches(p, canonicalPath)));
}

/// <summary>Where consent decisions are recorded before the operation runs (the audit journal in production).</summary>
public interface IConsentAuditSink
{
    /// <summary>Records a decision durably; the gate returns it only after this completes.</summary>
    ValueTask RecordAsync(ConsentDecision decision, CancellationToken cancellationToken = default);
}
