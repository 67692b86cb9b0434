using RemoteSupport.Documents;
using RemoteSupport.Identities;
using RemoteSupport.Trust;

namespace RemoteSupport.GroundRules;

/// <summary>
/// The ground rules in force on a unit: accepts the first version and each amendment only when
/// signed by both parties' thresholds and, for an amendment, naming the hash of the version in force.
/// </summary>
public sealed class GroundRulesBook
{
    private readonly TrustStore _trust;
    private readonly Lock _gate = new();
    private SignedEnvelope? _currentEnvelope;

    /// <summary>Creates an empty book checked against <paramref name="trust"/>.</summary>
    public GroundRulesBook(TrustStore trust)
    {
        ArgumentNullException.ThrowIfNull(trust);
        _trust = trust;
    }

    /// <summary>
    /// Gets the customer whose unit holds this book. When set, ground rules of any other customer are
    /// refused: with several customers' keys in one trust store, one customer's rules never apply to
    /// another's unit.
    /// </summary>
    public string? CustomerId { get; init; }

    /// <summary>Gets the ground rules in force, or null.</summary>
    public SecurityGroundRules? Current { get; private set; }

    /// <summary>Gets the hash of the ground rules in force, or null.</summary>
    public string? CurrentHash { get; private set; }

    /// <summary>Gets the signed ground rules in force, or null.</summary>
    public SignedEnvelope? CurrentEnvelope
    {
        get
        {
            lock (_gate)
            {
                return _currentEnvelope;
            }
        }
    }

    /// <summary>Accepts a signed version of the ground rules.</summary>
    /// <returns>Accepted, or why not (<see cref="DocumentAcceptance.Reason"/> and a sentence).</returns>
    /// <exception cref="InvalidOperationException">The book is kept by a <see cref="Contract.ContractState"/>: accept through it, so the version is journaled.</exception>
    public DocumentAcceptance Accept(SignedEnvelope envelope)
    {
        if (IsKept)
        {
            throw new InvalidOperationException(
                "This ground rules book is kept by the unit's contract state: accept ground rules through it (SupportAgent.AcceptAsync), so the version is journaled and survives a restart.");
        }

        return AcceptCore(envelope, commit: true);
    }

    /// <summary>Gets or sets a value indicating whether a contract state keeps this book.</summary>
    internal bool IsKept { get; set; }

    /// <summary>Decides a version; puts it in force only when <paramref name="commit"/> is true.</summary>
    internal DocumentAcceptance AcceptCore(SignedEnvelope envelope, bool commit)
    {
        if (!SignedDocumentReader.TryRead(envelope, SecurityGroundRules.DocumentType, _trust,
                r => [new SignatureRequirement(r.CustomerId, PartyRole.Customer), new SignatureRequirement(r.VendorId, PartyRole.Vendor)],
                "both parties", out SecurityGroundRules? rules, out DocumentAcceptance? refusal))
        {
            return refusal;
        }

        if (CustomerId is not null && rules.CustomerId != CustomerId)
        {
            return DocumentAcceptance.Refused(DocumentRefusal.OtherCustomer, $"These ground rules are for customer {rules.CustomerId}; this unit belongs to {CustomerId}.");
        }

        if (Check(rules) is { } problem)
        {
            return DocumentAcceptance.Refused(DocumentRefusal.Invalid, problem);
        }

        lock (_gate)
        {
            if (Current is null)
            {
                if (rules.Version != 1 || rules.Replaces is not null)
                {
                    return DocumentAcceptance.Refused(DocumentRefusal.OutOfSequence, "The first ground rules must be version 1 and replace nothing.");
                }
            }
            else if (rules.Version <= Current.Version)
            {
                return DocumentAcceptance.Refused(DocumentRefusal.Superseded,
                    $"These are ground rules version {rules.Version}; version {Current.Version} ({CurrentHash}) is in force, and a version never goes back.");
            }
            else if (rules.Version != Current.Version + 1 || rules.Replaces != CurrentHash)
            {
                return DocumentAcceptance.Refused(DocumentRefusal.OutOfSequence, $"An amendment must be version {Current.Version + 1} and replace {CurrentHash}.");
            }
            else if (rules.CustomerId != Current.CustomerId || rules.VendorId != Current.VendorId)
            {
                return DocumentAcceptance.Refused(DocumentRefusal.Invalid, "An amendment cannot change the parties.");
            }

            string hash = SecurityGroundRules.DocumentHash(envelope);
            if (commit)
            {
                Current = rules;
                CurrentHash = hash;
                _currentEnvelope = envelope;
            }

            return DocumentAcceptance.Accepted($"Ground rules version {rules.Version} of {rules.CustomerId} and {rules.VendorId} in force ({hash}).");
        }
    }

    /// <summary>Checks what every later decision relies on, so that a malformed document is refused here rather than failing then.</summary>
    private static string? Check(SecurityGroundRules rules)
    {
        if (rules.TimeZone is null || NodaTime.DateTimeZoneProviders.Tzdb.GetZoneOrNull(rules.TimeZone) is null)
        {
            return $"'{rules.TimeZone}' is not an IANA time zone.";
        }

        if (rules.Hours is null || !Consent.ConsentGate.TryParseHours(rules.Hours, out _, out _))
        {
            return $"The service hours must be HH:mm times from 00:00 to 23:59 ('{rules.Hours?.From}'-'{rules.Hours?.To}' given).";
        }

        if (rules.Hours.Days is null || rules.Hours.Days.Count == 0 || rules.Hours.Days.Any(d => !Enum.IsDefined(d)))
        {
            return "The service hours must name at least one day of the week.";
        }

        if (rules.MaxSessionMinutes < 1 || rules.MaxApprovalLifetimeSeconds < 1)
        {
            return "The longest session and the longest approval must each be at least 1 (minute, second).";
        }

        if (rules.Diagnostics is { } diagnostics)
        {
            foreach (DiagnosticRule diagnostic in diagnostics)
            {
                if (Consent.VendorText.CheckDiagnosticName(diagnostic.Name) is { } problem)
                {
                    return $"The ground rules name a diagnostic '{diagnostic.Name}': {problem}";
                }
            }

            if (diagnostics.Select(d => d.Name).Distinct(StringComparer.Ordinal).Count() != diagnostics.Count)
            {
                return "The ground rules name a diagnostic twice.";
            }
        }

        return null;
    }
}
