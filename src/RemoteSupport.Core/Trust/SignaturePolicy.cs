using RemoteSupport.Documents;
using RemoteSupport.Identities;

namespace RemoteSupport.Trust;

/// <summary>Signatures a document needs from one party in one role.</summary>
/// <param name="PartyId">The party whose key set must sign.</param>
/// <param name="Role">The role of that key set.</param>
/// <param name="Threshold">How many distinct keys must sign; <see langword="null"/> takes the key set's own threshold.</param>
public sealed record SignatureRequirement(string PartyId, PartyRole Role, int? Threshold = null)
{
    /// <inheritdoc/>
    public override string ToString() =>
        Threshold is { } k ? $"{k} key(s) of {PartyId}/{Role.ToText()}" : $"the threshold of {PartyId}/{Role.ToText()}";
}

/// <summary>What makes an envelope valid: its document type and every party's signatures.</summary>
public sealed class SignaturePolicy
{
    /// <summary>Creates a policy; every requirement must be met (a jointly signed document names both parties).</summary>
    public SignaturePolicy(DocumentType documentType, params SignatureRequirement[] requirements)
    {
        ArgumentNullException.ThrowIfNull(documentType);
        ArgumentNullException.ThrowIfNull(requirements);
        if (requirements.Length == 0)
        {
            Error.Argument(nameof(requirements), "A policy requires at least one party's signatures.");
        }

        foreach (SignatureRequirement requirement in requirements)
        {
            ArgumentNullException.ThrowIfNull(requirement, nameof(requirements));
            if (requirement.Threshold is < 1)
            {
                Error.ArgumentOutOfRange(nameof(requirements), "A threshold is 1 or more.");
            }
        }

        DocumentType = documentType;
        Requirements = requirements.ToArray();
    }

    /// <summary>Gets the document type the envelope must carry.</summary>
    public DocumentType DocumentType { get; }

    /// <summary>Gets the signature requirements, all of which must be met.</summary>
    public IReadOnlyList<SignatureRequirement> Requirements { get; }
}
