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
    /// <returns>An empty string when accepted, otherwise a sentence saying why not.</returns>
    public string Accept(SignedEnvelope envelope)
    {
        if (!SignedDocumentReader.TryRead(envelope, SecurityGroundRules.DocumentType, _trust,
                r => [new SignatureRequirement(r.CustomerId, PartyRole.Customer), new SignatureRequirement(r.VendorId, PartyRole.Vendor)],
                "both parties", out SecurityGroundRules? rules, out string error))
        {
            return error;
        }

        try
        {
            _ = NodaTime.DateTimeZoneProviders.Tzdb[rules.TimeZone];
        }
        catch (NodaTime.TimeZones.DateTimeZoneNotFoundException)
        {
            return $"'{rules.TimeZone}' is not an IANA time zone.";
        }

        lock (_gate)
        {
            if (Current is null)
            {
                if (rules.Version != 1 || rules.Replaces is not null)
                {
                    return "The first ground rules must be version 1 and replace nothing.";
                }
            }
            else if (rules.Version != Current.Version + 1 || rules.Replaces != CurrentHash)
            {
                return $"An amendment must be version {Current.Version + 1} and replace {CurrentHash}.";
            }
            else if (rules.CustomerId != Current.CustomerId || rules.VendorId != Current.VendorId)
            {
                return "An amendment cannot change the parties.";
            }

            Current = rules;
            CurrentHash = SecurityGroundRules.DocumentHash(envelope);
            _currentEnvelope = envelope;
            return string.Empty;
        }
    }
}
