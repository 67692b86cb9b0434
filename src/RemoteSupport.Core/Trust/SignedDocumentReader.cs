using System.Diagnostics.CodeAnalysis;
using RemoteSupport.Documents;

namespace RemoteSupport.Trust;

/// <summary>Reads a signed document's payload and verifies its signatures against the parties the document itself names.</summary>
internal static class SignedDocumentReader
{
    /// <summary>
    /// Reads a <typeparamref name="T"/> from <paramref name="envelope"/> and verifies it against
    /// <paramref name="signers"/> (computed from the document, e.g. its customer).
    /// </summary>
    /// <param name="envelope">The envelope.</param>
    /// <param name="type">The document type expected.</param>
    /// <param name="trust">The trust store.</param>
    /// <param name="signers">The signature requirements, from the document.</param>
    /// <param name="whose">Who must have signed, for the error sentence (<c>the customer</c>).</param>
    /// <param name="document">The document, when valid.</param>
    /// <param name="refusal">Why not, otherwise (<see cref="DocumentRefusal.Malformed"/> or <see cref="DocumentRefusal.NotSigned"/>).</param>
    public static bool TryRead<T>(
        SignedEnvelope envelope, DocumentType type, TrustStore trust, Func<T, SignatureRequirement[]> signers, string whose,
        [NotNullWhen(true)] out T? document, [NotNullWhen(false)] out DocumentAcceptance? refusal)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(envelope);
        ArgumentNullException.ThrowIfNull(trust);
        try
        {
            document = DocumentJson.Deserialize<T>(envelope, type);
        }
        catch (EnvelopeFormatException ex)
        {
            document = null;
            refusal = DocumentAcceptance.Refused(DocumentRefusal.Malformed, ex.Message);
            return false;
        }

        VerificationResult verified = trust.Verify(envelope, new SignaturePolicy(type, signers(document)));
        if (!verified.IsValid)
        {
            document = null;
            refusal = DocumentAcceptance.Refused(DocumentRefusal.NotSigned, $"The {type.Kind} document is not signed by {whose}: {verified.Sentence}");
            return false;
        }

        refusal = null;
        return true;
    }
}
