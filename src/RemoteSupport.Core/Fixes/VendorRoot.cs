using RemoteSupport.Documents;
using RemoteSupport.Identities;

namespace RemoteSupport.Fixes;

/// <summary>
/// The vendor's root of trust for fixes, TUF-style (docs/formats/fix-package.md, version 1): the
/// release keys, how many must sign a package, a version and an expiry.
/// </summary>
public sealed record VendorRoot
{
    /// <summary>The document type of a vendor root.</summary>
    public static DocumentType DocumentType { get; } = new("vendor-root", 1);

    /// <summary>Gets the vendor.</summary>
    public required string VendorId { get; init; }

    /// <summary>Gets the root's version: 1, then one more per rotation.</summary>
    public required long Version { get; init; }

    /// <summary>Gets when the root expires; packages are not accepted under an expired root.</summary>
    public required DateTimeOffset Expires { get; init; }

    /// <summary>Gets the release keys (text form).</summary>
    public required IReadOnlyList<string> ReleaseKeys { get; init; }

    /// <summary>Gets how many distinct release keys must sign a package (and the next root).</summary>
    public required int Threshold { get; init; }

    /// <summary>Creates the unsigned envelope the release keys sign.</summary>
    public SignedEnvelope ToEnvelope() => SignedEnvelope.Create(DocumentType, DocumentJson.Serialize(this));

    /// <summary>Reads a root from an envelope (signatures are checked by <see cref="FixTrust"/>).</summary>
    public static VendorRoot FromEnvelope(SignedEnvelope envelope)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        return DocumentJson.Deserialize<VendorRoot>(envelope, DocumentType);
    }

    internal IReadOnlyList<PartyKey> Keys() => [.. ReleaseKeys.Select(PartyKey.Parse)];

    /// <summary>Counts the distinct keys of this root whose signatures on <paramref name="envelope"/> verify.</summary>
    internal int CountSigners(SignedEnvelope envelope) => CheckSigners(envelope).Signers;

    /// <summary>Counts the distinct listed release keys whose signatures verify, and names the signatures that do not count: by keys the root does not list, and bad ones by listed keys.</summary>
    internal (int Signers, IReadOnlyList<string> Unlisted, IReadOnlyList<string> Bad) CheckSigners(SignedEnvelope envelope)
    {
        byte[] pae = envelope.PreAuthenticationEncoding();
        var signers = new HashSet<string>(StringComparer.Ordinal);
        var unlisted = new List<string>();
        var bad = new List<string>();
        IReadOnlyList<PartyKey> keys = Keys();
        foreach (EnvelopeSignature signature in envelope.Signatures)
        {
            PartyKey? key = keys.FirstOrDefault(k => k.KeyId == signature.KeyId);
            if (key is null)
            {
                unlisted.Add(signature.KeyId);
            }
            else if (key.Verify(pae, signature.Signature.Span))
            {
                signers.Add(key.KeyId);
            }
            else
            {
                bad.Add(signature.KeyId);
            }
        }

        return (signers.Count, unlisted, bad);
    }
}

/// <summary>
/// The unit's current vendor root: starts from a root the integrator pins, and accepts a new root
/// only when it carries the next version, has not expired, and is signed by the threshold of the
/// current root's keys and by its own threshold.
/// </summary>
public sealed class FixTrust
{
    private readonly TimeProvider _time;

    /// <summary>Pins <paramref name="initialRoot"/> (as delivered with the agent) as the root of trust.</summary>
    public FixTrust(SignedEnvelope initialRoot, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(initialRoot);
        Root = VendorRoot.FromEnvelope(initialRoot);
        RootHash = DocumentJson.Hash(initialRoot.Payload.Span);
        if (Root.CountSigners(initialRoot) < Root.Threshold)
        {
            Error.Argument(nameof(initialRoot), "The initial root is not signed by its own threshold of release keys.");
        }

        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Gets the root in force.</summary>
    public VendorRoot Root { get; private set; }

    /// <summary>Accepts a rotated root.</summary>
    /// <returns>Accepted, or why not (<see cref="DocumentAcceptance.Reason"/> and a sentence).</returns>
    /// <exception cref="InvalidOperationException">The root is kept by a <see cref="Contract.ContractState"/>: rotate through it, so the new root is journaled.</exception>
    public DocumentAcceptance Rotate(SignedEnvelope newRoot)
    {
        if (IsKept)
        {
            throw new InvalidOperationException(
                "This vendor root is kept by the unit's contract state: accept a new root through it (SupportAgent.AcceptAsync), so it is journaled and never goes back after a restart.");
        }

        return RotateCore(newRoot, commit: true);
    }

    /// <summary>Gets the payload hash of the root in force.</summary>
    internal string RootHash { get; private set; }

    /// <summary>Gets or sets a value indicating whether a contract state keeps this root.</summary>
    internal bool IsKept { get; set; }

    /// <summary>Decides a rotated root; puts it in force only when <paramref name="commit"/> is true.</summary>
    internal DocumentAcceptance RotateCore(SignedEnvelope newRoot, bool commit)
    {
        ArgumentNullException.ThrowIfNull(newRoot);
        VendorRoot candidate;
        try
        {
            candidate = VendorRoot.FromEnvelope(newRoot);
        }
        catch (EnvelopeFormatException ex)
        {
            return DocumentAcceptance.Refused(DocumentRefusal.Malformed, ex.Message);
        }

        if (candidate.VendorId == Root.VendorId && candidate.Version <= Root.Version)
        {
            return DocumentAcceptance.Refused(DocumentRefusal.Superseded,
                $"This is root version {candidate.Version} of {candidate.VendorId}; version {Root.Version} is in force, and a root never goes back.");
        }

        if (candidate.VendorId != Root.VendorId || candidate.Version != Root.Version + 1)
        {
            return DocumentAcceptance.Refused(DocumentRefusal.OutOfSequence, $"The new root must be version {Root.Version + 1} of {Root.VendorId}.");
        }

        if (candidate.Expires <= Contract.DecisionTime.Now(_time))
        {
            return DocumentAcceptance.Refused(DocumentRefusal.Invalid, "The new root has already expired.");
        }

        int byOld = Root.CountSigners(newRoot);
        int byNew = candidate.CountSigners(newRoot);
        if (byOld < Root.Threshold || byNew < candidate.Threshold)
        {
            return DocumentAcceptance.Refused(DocumentRefusal.NotSigned,
                $"The new root is signed by {byOld} of the current keys (needs {Root.Threshold}) and {byNew} of its own (needs {candidate.Threshold}).");
        }

        if (commit)
        {
            Root = candidate;
            RootHash = DocumentJson.Hash(newRoot.Payload.Span);
        }

        return DocumentAcceptance.Accepted($"Vendor root version {candidate.Version} of {candidate.VendorId} in force.");
    }
}
