using RemoteSupport.Documents;
using RemoteSupport.Identities;
using RemoteSupport.Trust;

namespace RemoteSupport.Cli;

/// <summary>A document's signatures checked against a trust and a policy, shown as a table and what is still missing.</summary>
internal static class Signatures
{
    public static VerificationResult Check(SignedEnvelope envelope, TrustStore trust, SignaturePolicy policy) => trust.Verify(envelope, policy);

    /// <summary>Adds the signature table and the missing signers to a report.</summary>
    public static Report Describe(Report report, SignedEnvelope envelope, VerificationResult result, string? trustHint)
    {
        var rows = new List<IReadOnlyList<string?>>();
        for (int i = 0; i < envelope.Signatures.Count; i++)
        {
            EnvelopeSignature signature = envelope.Signatures[i];
            SignatureFinding? finding = result.Findings.FirstOrDefault(f => f.Index == i);
            TrustedKey? signer = finding?.Key ?? result.Signers.FirstOrDefault(s => s.Key.KeyId == signature.KeyId);
            string status = finding is null || finding.Problem == SignatureProblem.None
                ? "valid"
                : finding.Problem switch
                {
                    SignatureProblem.UntrustedKey => trustHint is null ? "not a trusted key" : $"not a trusted key ({trustHint})",
                    SignatureProblem.BadSignature => "BAD SIGNATURE",
                    SignatureProblem.RevokedKey => "key revoked",
                    SignatureProblem.ExpiredKey => "key expired",
                    SignatureProblem.KeyNotYetValid => "key not yet valid",
                    SignatureProblem.DuplicateSigner => "the same signer again",
                    _ => finding.Problem.ToString(),
                };
            rows.Add([signature.KeyId, signer is null ? null : $"{signer.PartyId}/{Roles.Name(signer.Role)}", status]);
        }

        report.Table("signatures", "Signatures", [("keyId", "key id"), ("signer", "signer"), ("status", "status")], rows);
        string[] missing = [.. result.UnmetRequirements.Select(Name)];
        report.Field("missing", "still missing", new System.Text.Json.Nodes.JsonArray([.. missing.Select(m => (System.Text.Json.Nodes.JsonNode)m)]));
        return report;
    }

    public static string Name(SignatureRequirement requirement) =>
        $"{requirement.PartyId}/{Roles.Name(requirement.Role)}" + (requirement.Threshold is > 1 ? $" ({requirement.Threshold} keys)" : string.Empty);

    /// <summary>A trust of the given file (when given) and the signer's own key.</summary>
    public static async Task<TrustStore> TrustWithAsync(string? trustFile, PartyIdentity? signer, CancellationToken cancellationToken)
    {
        var file = trustFile is null ? TrustFile.Empty : await TrustFile.ReadAsync(trustFile, cancellationToken).ConfigureAwait(false);
        if (signer is not null)
        {
            file = file.With(signer.PartyId, signer.Role, signer.PublicKey, threshold: null);
        }

        var store = new TrustStore();
        foreach (TrustFileKeySet set in file.KeySets)
        {
            store.Trust(set.PartyId, Roles.Parse(set.Role), Math.Min(set.Threshold, set.Keys.Count), [.. set.Keys.Select(PartyKey.Parse)]);
        }

        return store;
    }
}
