using System.Text.Json;
using RemoteSupport.Authorization;
using RemoteSupport.Documents;
using RemoteSupport.Fixes;
using RemoteSupport.GroundRules;
using RemoteSupport.Identities;
using RemoteSupport.Ledger;
using RemoteSupport.Trust;

namespace RemoteSupport.Contract;

/// <summary>How each kind of contract document is decided, and whether a journaled one is still in force.</summary>
public sealed partial class ContractState
{
    /// <summary>Decides a non-charge document (and checks a charge document against the attached ledger); changes the state only when <paramref name="commit"/> is true.</summary>
    private DocumentAcceptance Decide(SignedEnvelope document, bool commit)
    {
        string type = document.PayloadType;
        if (type == ServiceAuthorization.DocumentType.PayloadType)
        {
            return Authorizations.AcceptCore(document, commit);
        }

        if (type == AuthorizationRevocation.DocumentType.PayloadType)
        {
            return Authorizations.RevokeCore(document, commit);
        }

        if (type == SecurityGroundRules.DocumentType.PayloadType)
        {
            return GroundRules.AcceptCore(document, commit);
        }

        if (type == KeyRotation.DocumentType.PayloadType)
        {
            KeyRotationResult rotated = Trust.RotateCore(document, commit);
            return rotated.IsAccepted ? DocumentAcceptance.Accepted(rotated.Sentence) : DocumentAcceptance.Refused(rotated.Reason, rotated.Sentence);
        }

        if (type == Fixes.VendorRoot.DocumentType.PayloadType)
        {
            return DecideRoot(document, commit);
        }

        if (type == SpecificationType.PayloadType)
        {
            return DecideSpecification(document, commit);
        }

        if (IsCharge(document))
        {
            ChargeLedger ledger = _ledger ?? throw new InvalidOperationException("Charge approvals and disputes need the unit's ledger: attach it first (AttachLedgerAsync).");
            return ledger.CheckAnnotation(document, Trust, out _);
        }

        return DocumentAcceptance.Refused(DocumentRefusal.Malformed, $"A '{type}' is not a document of the unit's contract state.");
    }

    /// <summary>The vendor's compatibility specification: kept when signed by the vendor of the ground rules in force.</summary>
    private DocumentAcceptance DecideSpecification(SignedEnvelope document, bool commit)
    {
        string? vendorId;
        try
        {
            using JsonDocument payload = JsonDocument.Parse(document.Payload);
            vendorId = payload.RootElement.ValueKind == JsonValueKind.Object && payload.RootElement.TryGetProperty("vendorId", out JsonElement vendor)
                && vendor.ValueKind == JsonValueKind.String ? vendor.GetString() : null;
        }
        catch (JsonException ex)
        {
            return DocumentAcceptance.Refused(DocumentRefusal.Malformed, "The compatibility specification is not JSON: " + ex.Message);
        }

        if (vendorId is null)
        {
            return DocumentAcceptance.Refused(DocumentRefusal.Malformed, "The compatibility specification names no vendorId.");
        }

        if (GroundRules.Current is not { } rules || rules.VendorId != vendorId)
        {
            return DocumentAcceptance.Refused(DocumentRefusal.Invalid,
                $"The compatibility specification is {vendorId}'s; the unit's ground rules are with {GroundRules.Current?.VendorId ?? "no vendor yet"}.");
        }

        VerificationResult verified = Trust.Verify(document, new SignaturePolicy(SpecificationType, new SignatureRequirement(vendorId, PartyRole.Vendor)));
        if (!verified.IsValid)
        {
            return DocumentAcceptance.Refused(DocumentRefusal.NotSigned, "The compatibility specification is not signed by the vendor: " + verified.Sentence);
        }

        if (commit)
        {
            CompatibilitySpecification = document;
        }

        return DocumentAcceptance.Accepted($"The compatibility specification of {vendorId}, signed by the vendor, kept in writing.");
    }

    private DocumentAcceptance DecideRoot(SignedEnvelope document, bool commit)
    {
        if (VendorRoot is { } current)
        {
            return current.RotateCore(document, commit);
        }

        Fixes.VendorRoot root;
        try
        {
            root = Fixes.VendorRoot.FromEnvelope(document);
        }
        catch (EnvelopeFormatException ex)
        {
            return DocumentAcceptance.Refused(DocumentRefusal.Malformed, ex.Message);
        }

        if (root.CountSigners(document) < root.Threshold)
        {
            return DocumentAcceptance.Refused(DocumentRefusal.NotSigned, "The first vendor root is not signed by its own threshold of release keys.");
        }

        if (commit)
        {
            VendorRoot = new FixTrust(document, _time) { IsKept = true };
        }

        return DocumentAcceptance.Accepted($"Vendor root version {root.Version} of {root.VendorId} pinned.");
    }

    /// <summary>Says what replaced a journaled document that is no longer in force.</summary>
    private string MovedPast(SignedEnvelope document)
    {
        string type = document.PayloadType;
        if (type == ServiceAuthorization.DocumentType.PayloadType)
        {
            string id = ServiceAuthorization.FromEnvelope(document).AuthorizationId;
            return Authorizations.InForceHash(id) is null
                ? $"authorization {id} was revoked by the customer, and a revocation is permanent."
                : $"a later document under authorization id {id} is in force.";
        }

        return type == SecurityGroundRules.DocumentType.PayloadType ? $"ground rules version {GroundRules.Current?.Version} is in force, and a version never goes back."
            : type == Fixes.VendorRoot.DocumentType.PayloadType ? $"vendor root version {VendorRoot?.Root.Version} is in force, and a root never goes back."
            : type == SpecificationType.PayloadType ? "a later compatibility specification is kept."
            : "a later key rotation of its key set is in force.";
    }

    private bool IsRotationAlreadyHeld(SignedEnvelope document) =>
        document.PayloadType == KeyRotation.DocumentType.PayloadType
        && KeyRotation.TryRead(document.Payload.Span, out string party, out PartyRole role, out long sequence, out _, out _, out _)
        && Trust.GetKeySet(party, role)?.Sequence >= sequence;

    /// <summary>Whether a journaled document is still in force: not revoked, not replaced by a later version, rotation or specification.</summary>
    private bool IsInForce(SignedEnvelope document)
    {
        string type = document.PayloadType;
        string hash = DocumentJson.Hash(document.Payload.Span);
        if (type == ServiceAuthorization.DocumentType.PayloadType)
        {
            return Authorizations.InForceHash(ServiceAuthorization.FromEnvelope(document).AuthorizationId) == hash;
        }

        if (type == AuthorizationRevocation.DocumentType.PayloadType || IsCharge(document))
        {
            return true; // a revocation, an approval or a dispute, once applied, stays applied
        }

        if (type == SecurityGroundRules.DocumentType.PayloadType)
        {
            return GroundRules.CurrentHash == hash;
        }

        if (type == Fixes.VendorRoot.DocumentType.PayloadType)
        {
            return VendorRoot?.RootHash == hash;
        }

        if (type == SpecificationType.PayloadType)
        {
            return CompatibilitySpecification is { } held && DocumentJson.Hash(held.Payload.Span) == hash;
        }

        if (type == KeyRotation.DocumentType.PayloadType)
        {
            return KeyRotation.TryRead(document.Payload.Span, out string party, out PartyRole role, out long sequence, out _, out _, out _)
                && Trust.GetKeySet(party, role)?.Sequence == sequence;
        }

        return false;
    }
}
