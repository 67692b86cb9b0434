using RemoteSupport.Documents;
using RemoteSupport.Identities;
using RemoteSupport.Trust;

namespace RemoteSupport.Authorization;

/// <summary>
/// The customer's authorization of the vendor's service (docs/formats/authorization.md, version 1),
/// valid when signed by the customer's threshold: it names the vendor and its keys, the units it
/// covers, its validity and the ground rules it rests on.
/// </summary>
public sealed record ServiceAuthorization
{
    /// <summary>The document type of a service authorization.</summary>
    public static DocumentType DocumentType { get; } = new("service-authorization", 1);

    /// <summary>Gets the authorization's id, named by revocations.</summary>
    public required string AuthorizationId { get; init; }

    /// <summary>Gets the customer party.</summary>
    public required string CustomerId { get; init; }

    /// <summary>Gets the vendor party.</summary>
    public required string VendorId { get; init; }

    /// <summary>Gets the vendor keys (text form) the customer accepts for the service.</summary>
    public required IReadOnlyList<string> VendorKeys { get; init; }

    /// <summary>Gets the unit ids covered; <c>*</c> covers every unit of the customer.</summary>
    public required IReadOnlyList<string> Units { get; init; }

    /// <summary>Gets the start of validity, inclusive.</summary>
    public required DateTimeOffset ValidFrom { get; init; }

    /// <summary>Gets the end of validity, exclusive.</summary>
    public required DateTimeOffset ValidUntil { get; init; }

    /// <summary>Gets the hash of the jointly signed ground rules this authorization rests on.</summary>
    public required string GroundRulesHash { get; init; }

    /// <summary>Creates the unsigned envelope the customer signs.</summary>
    public SignedEnvelope ToEnvelope() => SignedEnvelope.Create(DocumentType, DocumentJson.Serialize(this));

    /// <summary>Reads an authorization from an envelope (signatures are checked by <see cref="AuthorizationBook"/>).</summary>
    public static ServiceAuthorization FromEnvelope(SignedEnvelope envelope)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        return DocumentJson.Deserialize<ServiceAuthorization>(envelope, DocumentType);
    }
}

/// <summary>The customer's withdrawal of an authorization, effective at once (version 1).</summary>
public sealed record AuthorizationRevocation
{
    /// <summary>The document type of a revocation.</summary>
    public static DocumentType DocumentType { get; } = new("authorization-revocation", 1);

    /// <summary>Gets the revoked authorization's id.</summary>
    public required string AuthorizationId { get; init; }

    /// <summary>Gets the customer party.</summary>
    public required string CustomerId { get; init; }

    /// <summary>Gets why the customer withdrew it.</summary>
    public required string Reason { get; init; }

    /// <summary>Creates the unsigned envelope the customer signs.</summary>
    public SignedEnvelope ToEnvelope() => SignedEnvelope.Create(DocumentType, DocumentJson.Serialize(this));

    /// <summary>Reads a revocation from an envelope.</summary>
    public static AuthorizationRevocation FromEnvelope(SignedEnvelope envelope)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        return DocumentJson.Deserialize<AuthorizationRevocation>(envelope, DocumentType);
    }
}

/// <summary>The outcome of checking whether a vendor is authorized on a unit now.</summary>
/// <param name="IsAuthorized">Whether it is.</param>
/// <param name="Reason">Why not, as a code.</param>
/// <param name="Sentence">Why not, as a sentence; or which authorization applies.</param>
public sealed record AuthorizationCheck(bool IsAuthorized, AuthorizationFailure Reason, string Sentence);

/// <summary>Why a vendor is not authorized.</summary>
public enum AuthorizationFailure
{
    /// <summary>It is authorized.</summary>
    None = 0,

    /// <summary>No valid authorization names this vendor, key and unit.</summary>
    NotAuthorized = 1,

    /// <summary>The authorization was revoked.</summary>
    Revoked = 2,

    /// <summary>The authorization is not valid at this time.</summary>
    OutsideValidity = 3,

    /// <summary>The authorization rests on other ground rules than those in force.</summary>
    GroundRulesMismatch = 4,
}

/// <summary>
/// The authorizations a unit holds: accepts customer-signed authorizations and revocations (a
/// revocation takes effect at once) and answers whether a vendor key may be served now.
/// </summary>
public sealed class AuthorizationBook
{
    private readonly TrustStore _trust;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, ServiceAuthorization> _authorizations = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _revoked = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _hashes = new(StringComparer.Ordinal); // payload hash of the document in force per id

    /// <summary>Creates an empty book.</summary>
    public AuthorizationBook(TrustStore trust, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(trust);
        _trust = trust;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>
    /// Gets the customer whose unit holds this book. When set, authorizations and revocations of any
    /// other customer are refused.
    /// </summary>
    public string? CustomerId { get; init; }

    /// <summary>Accepts a customer-signed authorization.</summary>
    /// <returns>Accepted, or why not (<see cref="DocumentAcceptance.Reason"/> and a sentence).</returns>
    /// <exception cref="InvalidOperationException">The book is kept by a <see cref="Contract.ContractState"/>: accept through it, so the authorization is journaled.</exception>
    public DocumentAcceptance Accept(SignedEnvelope envelope)
    {
        ThrowIfKept();
        return AcceptCore(envelope, commit: true);
    }

    /// <summary>Gets or sets a value indicating whether a contract state keeps this book.</summary>
    internal bool IsKept { get; set; }

    /// <summary>Gets the payload hash of the document in force under <paramref name="authorizationId"/>; null when none is, or it was revoked.</summary>
    internal string? InForceHash(string authorizationId)
    {
        lock (_gate)
        {
            return _revoked.ContainsKey(authorizationId) ? null : _hashes.GetValueOrDefault(authorizationId);
        }
    }

    /// <summary>Decides an authorization; records it only when <paramref name="commit"/> is true.</summary>
    internal DocumentAcceptance AcceptCore(SignedEnvelope envelope, bool commit)
    {
        if (!SignedDocumentReader.TryRead(envelope, ServiceAuthorization.DocumentType, _trust,
                a => [new SignatureRequirement(a.CustomerId, PartyRole.Customer)], "the customer", out ServiceAuthorization? authorization, out DocumentAcceptance? refusal))
        {
            return refusal;
        }

        if (CustomerId is not null && authorization.CustomerId != CustomerId)
        {
            return DocumentAcceptance.Refused(DocumentRefusal.OtherCustomer,
                $"Authorization {authorization.AuthorizationId} is from customer {authorization.CustomerId}; this unit belongs to {CustomerId}.");
        }

        if (authorization.ValidUntil <= authorization.ValidFrom || authorization.VendorKeys.Count == 0 || authorization.Units.Count == 0)
        {
            return DocumentAcceptance.Refused(DocumentRefusal.Invalid, "The authorization must name vendor keys, units and a validity that ends after it starts.");
        }

        lock (_gate)
        {
            if (_revoked.TryGetValue(authorization.AuthorizationId, out string? reason))
            {
                return DocumentAcceptance.Refused(DocumentRefusal.Superseded,
                    $"Authorization {authorization.AuthorizationId} was revoked by the customer ({reason}); a revocation is permanent, so a new authorization needs a new id.");
            }

            if (commit)
            {
                _authorizations[authorization.AuthorizationId] = authorization;
                _hashes[authorization.AuthorizationId] = DocumentJson.Hash(envelope.Payload.Span);
            }
        }

        return DocumentAcceptance.Accepted($"Authorization {authorization.AuthorizationId} of {authorization.CustomerId} for {authorization.VendorId} accepted.");
    }

    /// <summary>Accepts a customer-signed revocation; from now on the authorization no longer applies.</summary>
    /// <returns>Accepted, or why not (<see cref="DocumentAcceptance.Reason"/> and a sentence).</returns>
    /// <exception cref="InvalidOperationException">The book is kept by a <see cref="Contract.ContractState"/>: revoke through it, so the revocation is journaled.</exception>
    public DocumentAcceptance Revoke(SignedEnvelope envelope)
    {
        ThrowIfKept();
        return RevokeCore(envelope, commit: true);
    }

    /// <summary>Decides a revocation; records it only when <paramref name="commit"/> is true.</summary>
    internal DocumentAcceptance RevokeCore(SignedEnvelope envelope, bool commit)
    {
        if (!SignedDocumentReader.TryRead(envelope, AuthorizationRevocation.DocumentType, _trust,
                r => [new SignatureRequirement(r.CustomerId, PartyRole.Customer)], "the customer", out AuthorizationRevocation? revocation, out DocumentAcceptance? refusal))
        {
            return refusal;
        }

        if (CustomerId is not null && revocation.CustomerId != CustomerId)
        {
            return DocumentAcceptance.Refused(DocumentRefusal.OtherCustomer, $"The revocation is from customer {revocation.CustomerId}; this unit belongs to {CustomerId}.");
        }

        lock (_gate)
        {
            if (_authorizations.TryGetValue(revocation.AuthorizationId, out ServiceAuthorization? revoked) && revoked.CustomerId != revocation.CustomerId)
            {
                return DocumentAcceptance.Refused(DocumentRefusal.OtherCustomer, "A customer can revoke only its own authorizations.");
            }

            if (commit)
            {
                _revoked.TryAdd(revocation.AuthorizationId, revocation.Reason);
            }
        }

        return DocumentAcceptance.Accepted($"Authorization {revocation.AuthorizationId} revoked: {revocation.Reason}");
    }

    private void ThrowIfKept()
    {
        if (IsKept)
        {
            throw new InvalidOperationException(
                "This authorization book is kept by the unit's contract state: accept authorizations and revocations through it (SupportAgent.AcceptAsync), so they are journaled and survive a restart.");
        }
    }

    /// <summary>Whether any authorization in force now covers <paramref name="unitId"/> under the ground rules in force; otherwise why not.</summary>
    internal bool OffersService(string unitId, string? groundRulesHash, out string why)
    {
        DateTimeOffset now = Contract.DecisionTime.Now(_time);
        why = $"No customer authorization names unit {unitId}.";
        lock (_gate)
        {
            foreach (ServiceAuthorization authorization in _authorizations.Values.Where(a => a.Units.Contains("*") || a.Units.Contains(unitId)))
            {
                if (_revoked.TryGetValue(authorization.AuthorizationId, out string? reason))
                {
                    why = $"Authorization {authorization.AuthorizationId} was revoked by the customer: {reason}";
                }
                else if (now < authorization.ValidFrom || now >= authorization.ValidUntil)
                {
                    why = ValidityWindow.Outside($"Authorization {authorization.AuthorizationId}", authorization.ValidFrom, authorization.ValidUntil, now);
                }
                else if (authorization.GroundRulesHash != groundRulesHash)
                {
                    why = $"Authorization {authorization.AuthorizationId} rests on ground rules other than those in force.";
                }
                else
                {
                    why = $"Authorized by {authorization.AuthorizationId}.";
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>Checks whether <paramref name="vendorKey"/> of <paramref name="vendorId"/> may be served on <paramref name="unitId"/> now.</summary>
    public AuthorizationCheck Check(string vendorId, PartyKey vendorKey, string unitId, string? groundRulesHash)
    {
        ArgumentNullException.ThrowIfNull(vendorKey);
        DateTimeOffset now = _time.GetUtcNow();
        string key = vendorKey.ToString();
        AuthorizationCheck best = new(false, AuthorizationFailure.NotAuthorized,
            $"No authorization names vendor {vendorId} with key {vendorKey.KeyId} for unit {unitId}.");
        lock (_gate)
        {
            foreach (ServiceAuthorization authorization in _authorizations.Values)
            {
                if (authorization.VendorId != vendorId || !authorization.VendorKeys.Contains(key)
                    || !(authorization.Units.Contains("*") || authorization.Units.Contains(unitId)))
                {
                    continue;
                }

                if (_revoked.TryGetValue(authorization.AuthorizationId, out string? reason))
                {
                    best = new(false, AuthorizationFailure.Revoked, $"Authorization {authorization.AuthorizationId} was revoked by the customer: {reason}");
                    continue;
                }

                if (now < authorization.ValidFrom || now >= authorization.ValidUntil)
                {
                    best = new(false, AuthorizationFailure.OutsideValidity,
                        ValidityWindow.Outside($"Authorization {authorization.AuthorizationId}", authorization.ValidFrom, authorization.ValidUntil, now));
                    continue;
                }

                if (authorization.GroundRulesHash != groundRulesHash)
                {
                    best = new(false, AuthorizationFailure.GroundRulesMismatch,
                        $"Authorization {authorization.AuthorizationId} rests on ground rules {authorization.GroundRulesHash}, not on those in force ({groundRulesHash ?? "none"}).");
                    continue;
                }

                return new(true, AuthorizationFailure.None, $"Authorized by {authorization.AuthorizationId}.");
            }
        }

        return best;
    }
}
