using System.Text;

namespace RemoteSupport.Trust;

/// <summary>Why one signature of an envelope did not count.</summary>
public enum SignatureProblem
{
    /// <summary>The signature counts.</summary>
    None = 0,

    /// <summary>No trusted key has the signature's key id.</summary>
    UntrustedKey = 1,

    /// <summary>The signature does not verify: the payload, the payload type or the signature was altered, or it was forged.</summary>
    BadSignature = 2,

    /// <summary>The key was revoked before the time of verification.</summary>
    RevokedKey = 3,

    /// <summary>The key's validity ended before the time of verification (including keys rotated out).</summary>
    ExpiredKey = 4,

    /// <summary>The key's validity starts after the time of verification.</summary>
    KeyNotYetValid = 5,

    /// <summary>The same key already signed; it counts once.</summary>
    DuplicateSigner = 6,
}

/// <summary>Why an envelope as a whole failed verification.</summary>
public enum VerificationFailure
{
    /// <summary>The envelope is valid.</summary>
    None = 0,

    /// <summary>The envelope's payload type is not the one the policy expects.</summary>
    PayloadTypeMismatch = 1,

    /// <summary>At least one party's requirement has too few valid signatures.</summary>
    ThresholdNotMet = 2,
}

/// <summary>One signature's outcome.</summary>
/// <param name="Index">The signature's position in the envelope.</param>
/// <param name="KeyId">The key id the signature named.</param>
/// <param name="Problem">Why it did not count, or <see cref="SignatureProblem.None"/>.</param>
/// <param name="Key">The trusted key it matched, if any.</param>
public sealed record SignatureFinding(int Index, string KeyId, SignatureProblem Problem, TrustedKey? Key);

/// <summary>The outcome of verifying an envelope: which trusted keys signed and, if it failed, why.</summary>
public sealed class VerificationResult
{
    internal VerificationResult(
        VerificationFailure failure,
        IReadOnlyList<TrustedKey> signers,
        IReadOnlyList<SignatureFinding> findings,
        IReadOnlyList<SignatureRequirement> unmetRequirements,
        string message)
    {
        Reason = failure;
        Signers = signers;
        Findings = findings;
        UnmetRequirements = unmetRequirements;
        Sentence = message;
    }

    /// <summary>Gets a value indicating whether the envelope met the policy.</summary>
    public bool IsValid => Reason == VerificationFailure.None;

    /// <summary>Gets why the envelope failed, or <see cref="VerificationFailure.None"/>.</summary>
    public VerificationFailure Reason { get; }

    /// <summary>Gets the distinct trusted keys whose signatures verified and were valid at the time of verification.</summary>
    public IReadOnlyList<TrustedKey> Signers { get; }

    /// <summary>Gets one finding per signature in the envelope.</summary>
    public IReadOnlyList<SignatureFinding> Findings { get; }

    /// <summary>Gets the requirements that were not met.</summary>
    public IReadOnlyList<SignatureRequirement> UnmetRequirements { get; }

    /// <summary>Gets a sentence saying what was verified or what was wrong.</summary>
    public string Sentence { get; }

    /// <summary>Gets a value indicating whether any signature had <paramref name="problem"/>.</summary>
    public bool HasProblem(SignatureProblem problem) => Findings.Any(f => f.Problem == problem);

    /// <inheritdoc/>
    public override string ToString()
    {
        var text = new StringBuilder(Sentence);
        foreach (SignatureFinding finding in Findings.Where(f => f.Problem != SignatureProblem.None))
        {
            text.Append(" [signature ").Append(finding.Index).Append(' ').Append(finding.KeyId).Append(": ")
                .Append(finding.Problem).Append(']');
        }

        return text.ToString();
    }
}
