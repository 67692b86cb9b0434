namespace RemoteSupport.Documents;

/// <summary>One signature of a <see cref="SignedEnvelope"/>: the signer's key id and the Ed25519 signature.</summary>
public sealed class EnvelopeSignature
{
    private readonly byte[] _signature;

    /// <summary>Creates a signature entry.</summary>
    /// <param name="keyId">The key id of the signing key (a hint for finding it; the signature decides).</param>
    /// <param name="signature">The signature bytes over the pre-authentication encoding.</param>
    public EnvelopeSignature(string keyId, ReadOnlySpan<byte> signature)
    {
        ArgumentNullException.ThrowIfNull(keyId);
        if (keyId.Length > SignedEnvelope.MaxKeyIdLength)
        {
            Error.Argument(nameof(keyId), $"A key id is at most {SignedEnvelope.MaxKeyIdLength} characters.");
        }

        KeyId = keyId;
        _signature = signature.ToArray();
    }

    /// <summary>Gets the key id named by the signer.</summary>
    public string KeyId { get; }

    /// <summary>Gets the signature bytes.</summary>
    public ReadOnlyMemory<byte> Signature => _signature;
}
