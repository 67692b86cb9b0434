using System.Globalization;
using NodaTime;
using NodaTime.Text;
using RemoteSupport.Authorization;
using RemoteSupport.DataFiles;
using RemoteSupport.Documents;
using RemoteSupport.GroundRules;
using RemoteSupport.Trust;

namespace RemoteSupport.Consent;

/// <summary>
/// The consent gate, on the customer's unit, default deny. Given a request it checks the
/// authorization, the jointly signed ground rules, the hours, the data scope and owner, and the
/// written approvals (signatures and quorum, session, technician, operation, path, owner, validity,
/// lifetime and uses), and answers Granted, Denied or NeedsApproval. Every decision is recorded in the
/// audit sink before it is returned.
/// </summary>
public sealed class ConsentGate
{
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<ConsentDecision, object> Issued = new();
    private static readonly object Marker = new();

    private static readonly LocalTimePattern HourPattern = LocalTimePattern.CreateWithInvariantCulture("HH:mm");
    private readonly TrustStore _trust;
    private readonly AuthorizationBook _authorizations;
    private readonly GroundRulesBook _groundRules;
    private readonly IApprovalUseCounter _uses;
    private readonly IConsentAuditSink _audit;
    private readonly TimeProvider _time;

    /// <summary>Creates the gate.</summary>
    public ConsentGate(
        TrustStore trust, AuthorizationBook authorizations, GroundRulesBook groundRules, IApprovalUseCounter uses,
        IConsentAuditSink audit, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(trust);
        ArgumentNullException.ThrowIfNull(authorizations);
        ArgumentNullException.ThrowIfNull(groundRules);
        ArgumentNullException.ThrowIfNull(uses);
        ArgumentNullException.ThrowIfNull(audit);
        _trust = trust;
        _authorizations = authorizations;
        _groundRules = groundRules;
        _uses = uses;
        _audit = audit;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Decides <paramref name="request"/>, given the approvals the vendor presents (possibly none).</summary>
    public async ValueTask<ConsentDecision> DecideAsync(
        ConsentRequest request, IReadOnlyList<SignedEnvelope>? approvals = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        DateTimeOffset now = _time.GetUtcNow();
        ConsentDecision decision = await EvaluateAsync(request, approvals ?? [], now, cancellationToken).ConfigureAwait(false);
        await _audit.RecordAsync(decision, cancellationToken).ConfigureAwait(false);
        if (decision.IsGranted)
        {
            Issued.AddOrUpdate(decision, Marker);
        }

        return decision;
    }

    /// <summary>
    /// Whether a gate issued this very decision object. The data store and the installer act only on
    /// such grants: a decision built by hand, or copied with <c>with</c>, is a different object.
    /// </summary>
    internal static bool IsIssued(ConsentDecision decision) => Issued.TryGetValue(decision, out _);

    /// <summary>Marks <paramref name="decision"/> as issued (tests that drive the installer without a gate).</summary>
    internal static ConsentDecision IssueForTest(ConsentDecision decision)
    {
        Issued.AddOrUpdate(decision, Marker);
        return decision;
    }

    private async ValueTask<ConsentDecision> EvaluateAsync(
        ConsentRequest request, IReadOnlyList<SignedEnvelope> approvals, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (VendorText.CheckFields(request.Operation, request.Reason, request.Ticket, request.Root, request.Owner, request.Diagnostic) is { } malformed)
        {
            return Decide(request, now, ConsentOutcome.Denied, ConsentReason.RequestMalformed, malformed);
        }

        SecurityGroundRules? rules = _groundRules.Current;
        if (rules is null)
        {
            return Decide(request, now, ConsentOutcome.Denied, ConsentReason.GroundRulesMissing, "No jointly signed ground rules are in force.");
        }

        AuthorizationCheck authorization = _authorizations.Check(request.VendorId, request.TechnicianKey, request.UnitId, _groundRules.CurrentHash);
        if (!authorization.IsAuthorized)
        {
            ConsentReason reason = authorization.Reason switch
            {
                AuthorizationFailure.Revoked => ConsentReason.AuthorizationRevoked,
                AuthorizationFailure.OutsideValidity => ConsentReason.AuthorizationOutsideValidity,
                AuthorizationFailure.GroundRulesMismatch => ConsentReason.GroundRulesMismatch,
                _ => ConsentReason.NotAuthorized,
            };
            return Decide(request, now, ConsentOutcome.Denied, reason, authorization.Sentence);
        }

        OperationRule? rule = rules.RuleFor(request.Operation);
        if (rule is null)
        {
            return Decide(request, now, ConsentOutcome.Denied, ConsentReason.OperationNotPermitted,
                $"The ground rules do not permit {request.Operation}.");
        }

        ApprovalRequirement? requirement = rule.Approval;
        if (request.Operation == SupportOperation.RunDiagnostic && rules.Diagnostics is { } listed)
        {
            DiagnosticRule? diagnostic = listed.FirstOrDefault(d => d.Name == request.Diagnostic);
            if (diagnostic is null)
            {
                return Decide(request, now, ConsentOutcome.Denied, ConsentReason.DiagnosticNotPermitted,
                    $"The ground rules do not allow the diagnostic '{request.Diagnostic}' (they allow {string.Join(", ", listed.Select(d => $"'{d.Name}'"))}).");
            }

            requirement = diagnostic.Approval;
        }

        if (!WithinHours(rules, now, out string hoursSentence))
        {
            return Decide(request, now, ConsentOutcome.Denied, ConsentReason.OutsideHours, hoursSentence);
        }

        string? canonical = null;
        IReadOnlyList<string>? scopePatterns = null;
        if (request.Operation is SupportOperation.ViewData or SupportOperation.ChangeData)
        {
            if (!DataPath.TryCanonicalize(request.Path, out canonical, out string pathError))
            {
                return Decide(request, now, ConsentOutcome.Denied, ConsentReason.PathRefused, pathError);
            }

            ConsentDecision? scopeDenial = CheckScope(rules, request, canonical, now, out scopePatterns);
            if (scopeDenial is not null)
            {
                return scopeDenial;
            }
        }

        if (requirement is null)
        {
            return Decide(request, now, ConsentOutcome.Granted, ConsentReason.None, $"{request.Operation} needs no approval under the ground rules.", canonical)
                with { Confinement = scopePatterns is null ? [] : [scopePatterns] };
        }

        if (approvals.Count == 0)
        {
            return Decide(request, now, ConsentOutcome.NeedsApproval, ConsentReason.ApprovalRequired,
                $"{request.Operation} needs a written approval by {string.Join(" and ", requirement.Groups.Select(g => $"{g.Quorum} of {g.Name}"))}.",
                canonical) with { ApprovalRequest = BuildRequest(request, canonical, now) };
        }

        (ConsentReason Reason, string Sentence)? firstFailure = null;
        foreach (SignedEnvelope envelope in approvals)
        {
            (ConsentReason reason, string sentence, Approval? approval) = CheckApproval(envelope, requirement, rules, request, canonical, now);
            if (approval is not null)
            {
                if (await _uses.TryConsumeAsync(approval.ApprovalId, approval.MaxUses, cancellationToken).ConfigureAwait(false))
                {
                    return Decide(request, now, ConsentOutcome.Granted, ConsentReason.None,
                        $"Granted under approval {approval.ApprovalId} (use {_uses.UsesOf(approval.ApprovalId)} of {approval.MaxUses}).", canonical)
                        with { ApprovalsUsed = [approval.ApprovalId], Confinement = scopePatterns is null ? [] : [scopePatterns, ListingCoverage(approval.PathPatterns, canonical!)] };
                }

                (reason, sentence) = (ConsentReason.ApprovalUsesExhausted, $"Approval {approval.ApprovalId} has used all {approval.MaxUses} of its uses.");
            }

            firstFailure ??= (reason, sentence);
        }

        return Decide(request, now, ConsentOutcome.Denied, firstFailure!.Value.Reason, firstFailure.Value.Sentence, canonical);
    }

    // patterns: those of every scope of the request's root and owner, which the entries of a listing must match too.
    private static ConsentDecision? CheckScope(SecurityGroundRules rules, ConsentRequest request, string canonical, DateTimeOffset now, out IReadOnlyList<string>? patterns)
    {
        patterns = [.. rules.DataScopes.Where(s => s.Root == request.Root && s.Owner == request.Owner).SelectMany(s => s.PathPatterns)];
        bool pathInScope = false;
        foreach (DataScope scope in rules.DataScopes)
        {
            if (scope.Root != request.Root || !scope.PathPatterns.Any(p => DataPath.Matches(p, canonical)))
            {
                continue;
            }

            pathInScope = true;
            if (scope.Owner == request.Owner)
            {
                return null;
            }
        }

        return pathInScope
            ? Decide(request, now, ConsentOutcome.Denied, ConsentReason.OwnerNotInScope,
                $"{request.Root}/{canonical} is in scope, but not as a file of {request.Owner}.")
            : Decide(request, now, ConsentOutcome.Denied, ConsentReason.OutOfScope,
                $"{request.Root}/{canonical} is outside every data scope of the ground rules.");
    }

    private (ConsentReason Reason, string Sentence, Approval? Approval) CheckApproval(
        SignedEnvelope envelope, ApprovalRequirement requirement, SecurityGroundRules rules, ConsentRequest request, string? canonical, DateTimeOffset now)
    {
        Approval approval;
        try
        {
            approval = Approval.FromEnvelope(envelope);
        }
        catch (EnvelopeFormatException ex)
        {
            return (ConsentReason.ApprovalMalformed, ex.Message, null);
        }

        var policy = new SignaturePolicy(Approval.DocumentType,
            [.. requirement.Groups.Select(g => new SignatureRequirement(g.PartyId, g.Role, g.Quorum))]);
        VerificationResult verified = _trust.Verify(envelope, policy);
        if (!verified.IsValid)
        {
            return (ConsentReason.ApprovalQuorumNotMet, $"Approval {approval.ApprovalId} is not signed as the ground rules require: {verified.Sentence}", null);
        }

        foreach (ApproverGroup group in requirement.Groups.Where(g => g.KeyIds is not null))
        {
            int signed = verified.Signers.Count(s => s.PartyId == group.PartyId && s.Role == group.Role && group.KeyIds!.Contains(s.Key.KeyId));
            if (signed < group.Quorum)
            {
                return (ConsentReason.ApprovalQuorumNotMet, $"Approval {approval.ApprovalId} has {signed} of the {group.Quorum} signatures {group.Name} must give.", null);
            }
        }

        if (approval.SessionId != request.SessionId)
        {
            return (ConsentReason.ApprovalWrongSession, $"Approval {approval.ApprovalId} is for session {approval.SessionId}, not {request.SessionId}.", null);
        }

        if (approval.TechnicianKeyId != request.TechnicianKey.KeyId)
        {
            return (ConsentReason.ApprovalWrongTechnician, $"Approval {approval.ApprovalId} is for technician key {approval.TechnicianKeyId}, not {request.TechnicianKey.KeyId}.", null);
        }

        if (!approval.Operations.Contains(request.Operation))
        {
            return (ConsentReason.ApprovalWrongOperation, $"Approval {approval.ApprovalId} allows {string.Join(", ", approval.Operations)}, not {request.Operation}.", null);
        }

        if (request.Operation == SupportOperation.RunDiagnostic && !approval.Diagnostics.Contains(request.Diagnostic ?? string.Empty))
        {
            return (ConsentReason.ApprovalWrongDiagnostic, $"Approval {approval.ApprovalId} allows the diagnostics {string.Join(", ", approval.Diagnostics.Select(d => $"'{d}'"))}, not '{request.Diagnostic}'.", null);
        }

        if (canonical is not null)
        {
            if (approval.Root != request.Root || !approval.PathPatterns.Any(p => DataPath.Matches(p, canonical)))
            {
                return (ConsentReason.ApprovalWrongPath,
                    $"Approval {approval.ApprovalId} covers {approval.Root}/{string.Join(", ", approval.PathPatterns)}, not {request.Root}/{canonical}.", null);
            }

            if (!approval.Owners.Contains(request.Owner ?? string.Empty))
            {
                return (ConsentReason.ApprovalWrongOwner, $"Approval {approval.ApprovalId} covers files of {string.Join(", ", approval.Owners)}, not of {request.Owner}.", null);
            }
        }

        if (request.Operation == SupportOperation.InstallFix
            ? request.PackageHash is null || approval.PackageHash != request.PackageHash
            : request.PackageHash is not null && approval.PackageHash != request.PackageHash)
        {
            return (ConsentReason.ApprovalMalformed, $"Approval {approval.ApprovalId} does not bind this fix package (an install approval must name the package hash).", null);
        }

        if (now < approval.ValidFrom || now >= approval.ValidUntil)
        {
            return (ConsentReason.ApprovalOutsideValidity, ValidityWindow.Outside($"Approval {approval.ApprovalId}", approval.ValidFrom, approval.ValidUntil, now), null);
        }

        if ((approval.ValidUntil - approval.ValidFrom).TotalSeconds > rules.MaxApprovalLifetimeSeconds)
        {
            return (ConsentReason.ApprovalTooLong, string.Create(CultureInfo.InvariantCulture,
                $"Approval {approval.ApprovalId} lives longer than the {rules.MaxApprovalLifetimeSeconds} s the ground rules allow."), null);
        }

        if (approval.MaxUses < 1)
        {
            return (ConsentReason.ApprovalUsesExhausted, $"Approval {approval.ApprovalId} allows no uses.", null);
        }

        return (ConsentReason.None, string.Empty, approval);
    }

    private static bool WithinHours(SecurityGroundRules rules, DateTimeOffset now, out string sentence)
    {
        DateTimeZone zone = DateTimeZoneProviders.Tzdb[rules.TimeZone];
        ZonedDateTime local = Instant.FromDateTimeOffset(now).InZone(zone);
        if (!TryParseHours(rules.Hours, out LocalTime from, out LocalTime to))
        {
            sentence = $"The ground rules' service hours '{rules.Hours.From}'-'{rules.Hours.To}' are not HH:mm times.";
            return false;
        }

        DayOfWeek day = (DayOfWeek)((int)local.DayOfWeek % 7); // NodaTime: Monday 1 .. Sunday 7; .NET: Sunday 0
        DayOfWeek yesterday = (DayOfWeek)(((int)day + 6) % 7);
        LocalTime time = local.TimeOfDay;
        IReadOnlyList<DayOfWeek> days = rules.Hours.Days;

        // From == To is the whole day; To before From runs overnight, into the morning after a listed day.
        bool inside = from == to ? days.Contains(day)
            : from < to ? days.Contains(day) && time >= from && time < to
            : (days.Contains(day) && time >= from) || (days.Contains(yesterday) && time < to);
        sentence = inside
            ? string.Empty
            : string.Create(CultureInfo.InvariantCulture,
                $"It is {local.DayOfWeek} {local.TimeOfDay:HH:mm} in {rules.TimeZone}; service hours are {string.Join(", ", rules.Hours.Days)} {rules.Hours.From}-{rules.Hours.To}.");
        return inside;
    }

    /// <summary>
    /// What an approval lets a listing of <paramref name="folder"/> show: a pattern that matches the folder
    /// itself approved listing it, so it covers what lies below (the scope still confines that); any other
    /// pattern covers the entries it matches.
    /// </summary>
    private static IReadOnlyList<string> ListingCoverage(IReadOnlyList<string> patterns, string folder) =>
        [.. patterns.Select(p => DataPath.Matches(p, folder) ? p + "/**" : p)];

    /// <summary>Parses the service hours' <c>HH:mm</c> times (also when ground rules are accepted).</summary>
    internal static bool TryParseHours(ServiceHours hours, out LocalTime from, out LocalTime to)
    {
        ParseResult<LocalTime> start = HourPattern.Parse(hours.From ?? string.Empty);
        ParseResult<LocalTime> end = HourPattern.Parse(hours.To ?? string.Empty);
        from = start.Success ? start.Value : default;
        to = end.Success ? end.Value : default;
        return start.Success && end.Success;
    }

    private static ApprovalRequest BuildRequest(ConsentRequest request, string? canonical, DateTimeOffset now) => new()
    {
        RequestId = "request-" + Guid.NewGuid().ToString("N"),
        SessionId = request.SessionId,
        TechnicianId = request.TechnicianId,
        TechnicianKeyId = request.TechnicianKey.KeyId,
        Operation = request.Operation,
        Diagnostic = request.Operation == SupportOperation.RunDiagnostic ? request.Diagnostic : null,
        Root = canonical is null ? null : request.Root,
        Paths = canonical is null ? [] : [canonical],
        Owner = canonical is null ? null : request.Owner,
        Reason = request.Reason,
        Ticket = request.Ticket,
        RequestedDurationSeconds = request.RequestedDurationSeconds,
        RequestedAt = now,
        PackageHash = request.PackageHash,
    };

    private static ConsentDecision Decide(
        ConsentRequest request, DateTimeOffset now, ConsentOutcome outcome, ConsentReason reason, string sentence, string? canonical = null) => new()
    {
        DecisionId = "decision-" + Guid.NewGuid().ToString("N"),
        DecidedAt = now,
        Request = request,
        Outcome = outcome,
        Reason = reason,
        Sentence = sentence,
        CanonicalPath = canonical,
    };
}
