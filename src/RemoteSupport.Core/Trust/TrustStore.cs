using System.Globalization;
using RemoteSupport.Documents;
using RemoteSupport.Identities;

namespace RemoteSupport.Trust;

/// <summary>
/// Which keys speak for which party and role, from when until when, with k-of-n thresholds, key
/// rotation and revocation; verifies envelopes against a <see cref="SignaturePolicy"/>.
/// Thread-safe. Time comes from the <see cref="TimeProvider"/> given at construction.
/// </summary>
public sealed class TrustStore
{
    /// <summary>The most keys one key set may hold.</summary>
    public const int MaxKeysPerSet = 32;

    private readonly Dictionary<(string PartyId, PartyRole Role), KeySet> _sets = [];

    // Keys rotated out: kept so their signatures are reported as expired rather than unknown.
    private readonly List<TrustedKey> _retired = [];
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;

    /// <summary>Creates an empty trust store.</summary>
    /// <param name="timeProvider">The clock validity and revocation are judged by; <see cref="TimeProvider.System"/> when null.</param>
    public TrustStore(TimeProvider? timeProvider = null)
    {
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Gets the key sets, a snapshot.</summary>
    public IReadOnlyList<KeySet> KeySets
    {
        get
        {
            lock (_gate)
            {
                return [.. _sets.Values];
            }
        }
    }

    /// <summary>Trusts a first key set for a party and role (sequence 1). Later changes go through <see cref="Rotate"/>.</summary>
    /// <exception cref="InvalidOperationException">The party already has a key set in that role.</exception>
    public KeySet Trust(
        string partyId, PartyRole role, int threshold, IReadOnlyCollection<PartyKey> keys,
        DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null)
    {
        PartyIdentity.ValidatePartyId(partyId, nameof(partyId));
        PartyIdentity.ValidateRole(role, nameof(role));
        ArgumentNullException.ThrowIfNull(keys);
        ValidateThreshold(threshold, keys, nameof(threshold));
        if (notBefore is { } from && notAfter is { } until && until <= from)
        {
            Error.Argument(nameof(notAfter), "The validity must end after it starts.");
        }

        lock (_gate)
        {
            if (_sets.ContainsKey((partyId, role)))
            {
                throw new InvalidOperationException(
                    $"{partyId}/{role.ToText()} already has a key set; replace it with a signed key rotation.");
            }

            var set = new KeySet(partyId, role, threshold, 1, [.. keys.Select(k => new TrustedKey(k, partyId, role, notBefore, notAfter))]);
            _sets.Add((partyId, role), set);
            return set;
        }
    }

    /// <summary>Trusts one key for a party and role (a 1-of-1 key set).</summary>
    public KeySet Trust(string partyId, PartyRole role, PartyKey key) => Trust(partyId, role, 1, [key]);

    /// <summary>Gets the key set of a party in a role, or <see langword="null"/>.</summary>
    public KeySet? GetKeySet(string partyId, PartyRole role)
    {
        lock (_gate)
        {
            return _sets.GetValueOrDefault((partyId, role));
        }
    }

    /// <summary>Revokes a key from now on: its signatures no longer count, whenever they were made.</summary>
    /// <returns><see langword="true"/> when the key was trusted and is now revoked.</returns>
    /// <exception cref="InvalidOperationException">The store is kept by a <see cref="Contract.ContractState"/>: revoke through it, so the revocation is journaled.</exception>
    public bool Revoke(PartyKey key, string reason)
    {
        ThrowIfKept();
        return RevokeCore(key, reason);
    }

    /// <summary>Gets or sets a value indicating whether a contract state keeps this store (its changes go through the state's journal).</summary>
    internal bool IsKept { get; set; }

    /// <summary>Gets a value indicating whether <paramref name="key"/> is trusted somewhere and not yet revoked.</summary>
    internal bool IsRevocable(PartyKey key)
    {
        lock (_gate)
        {
            return AllKeys().Any(k => k.Key.Equals(key) && k.RevokedAt is null);
        }
    }

    /// <summary>Gets the key sets and the keys rotated out, a snapshot (an evidence bundle's trust).</summary>
    internal (IReadOnlyList<KeySet> Sets, IReadOnlyList<TrustedKey> Retired) Snapshot()
    {
        lock (_gate)
        {
            return ([.. _sets.Values], [.. _retired]);
        }
    }

    /// <summary>Gets a value indicating whether <paramref name="key"/> is trusted somewhere, revoked or not.</summary>
    internal bool IsKnown(PartyKey key)
    {
        lock (_gate)
        {
            return AllKeys().Any(k => k.Key.Equals(key));
        }
    }

    internal bool RevokeCore(PartyKey key, string reason)
    {
        ArgumentNullException.ThrowIfNull(key);
        Error.ThrowIfNullOrWhiteSpace(reason, nameof(reason));
        DateTimeOffset now = Contract.DecisionTime.Now(_time);
        bool found = false;
        lock (_gate)
        {
            foreach (TrustedKey trusted in AllKeys().Where(k => k.Key.Equals(key) && k.RevokedAt is null))
            {
                trusted.RevokedAt = now;
                trusted.RevocationReason = reason;
                found = true;
            }
        }

        return found;
    }

    /// <summary>
    /// Replaces a key set with the one in a signed <see cref="KeyRotation"/> document, when it carries the
    /// next sequence number and is signed by the current set's threshold and by the new set's threshold.
    /// Keys left out of the new set stop being valid now.
    /// </summary>
    /// <exception cref="InvalidOperationException">The store is kept by a <see cref="Contract.ContractState"/>: rotate through it, so the rotation is journaled.</exception>
    public KeyRotationResult Rotate(SignedEnvelope rotation)
    {
        ThrowIfKept();
        return RotateCore(rotation, commit: true);
    }

    /// <summary>Decides a rotation; replaces the key set only when <paramref name="commit"/> is true.</summary>
    internal KeyRotationResult RotateCore(SignedEnvelope rotation, bool commit)
    {
        ArgumentNullException.ThrowIfNull(rotation);
        if (rotation.PayloadType != KeyRotation.DocumentType.PayloadType)
        {
            return new KeyRotationResult(DocumentRefusal.Malformed, $"The envelope is a '{rotation.PayloadType}', not a key rotation.", null);
        }

        if (!KeyRotation.TryRead(rotation.Payload.Span, out string partyId, out PartyRole role, out long sequence,
                out int threshold, out List<PartyKey> newKeys, out string error))
        {
            return new KeyRotationResult(DocumentRefusal.Malformed, error, null);
        }

        lock (_gate)
        {
            if (!_sets.TryGetValue((partyId, role), out KeySet? current))
            {
                return new KeyRotationResult(DocumentRefusal.UnknownEntry, $"{partyId}/{role.ToText()} has no key set to rotate.", null);
            }

            if (sequence <= current.Sequence)
            {
                return new KeyRotationResult(DocumentRefusal.Superseded, string.Create(CultureInfo.InvariantCulture,
                    $"The rotation carries sequence {sequence}; {partyId}/{role.ToText()} is already at sequence {current.Sequence}, and the next is {current.Sequence + 1}."), current);
            }

            if (sequence != current.Sequence + 1)
            {
                return new KeyRotationResult(DocumentRefusal.OutOfSequence, string.Create(CultureInfo.InvariantCulture,
                    $"The rotation carries sequence {sequence}; the next for {partyId}/{role.ToText()} is {current.Sequence + 1}."), current);
            }

            DateTimeOffset now = Contract.DecisionTime.Now(_time);
            var policy = new SignaturePolicy(KeyRotation.DocumentType, new SignatureRequirement(partyId, role));
            VerificationResult byCurrent = VerifyLocked(rotation, policy, now);
            if (!byCurrent.IsValid)
            {
                return new KeyRotationResult(DocumentRefusal.NotSigned, "The rotation is not signed by the current key set's threshold: " + byCurrent.Sentence, current);
            }

            var candidate = new KeySet(partyId, role, threshold, sequence, [.. newKeys.Select(k => new TrustedKey(k, partyId, role, null, null))]);
            int newSigners = CountValidSigners(rotation, candidate, now, out _);
            if (newSigners < threshold)
            {
                return new KeyRotationResult(DocumentRefusal.NotSigned, string.Create(CultureInfo.InvariantCulture,
                    $"The rotation is signed by {newSigners} of the new keys; the new set needs {threshold}."), current);
            }

            if (!commit)
            {
                return new KeyRotationResult(DocumentRefusal.None, $"{candidate} replaced sequence {current.Sequence}.", candidate);
            }

            foreach (TrustedKey old in current.Keys.Where(k => !newKeys.Contains(k.Key)))
            {
                old.NotAfter = old.NotAfter is { } end && end < now ? end : now;
                _retired.Add(old);
            }

            _sets[(partyId, role)] = candidate;
            return new KeyRotationResult(DocumentRefusal.None, $"{candidate} replaced sequence {current.Sequence}.", candidate);
        }
    }

    /// <summary>
    /// Checks that <paramref name="key"/> is trusted now in <paramref name="role"/>, for
    /// <paramref name="partyId"/> (any party when null): used to authenticate a peer that proved it holds the key.
    /// </summary>
    /// <returns><see cref="SignatureProblem.None"/> with the trusted key, or why the key is not acceptable.</returns>
    public SignatureProblem CheckKey(PartyKey key, PartyRole role, string? partyId, out TrustedKey? trustedKey)
    {
        ArgumentNullException.ThrowIfNull(key);
        DateTimeOffset now = Contract.DecisionTime.Now(_time);
        trustedKey = null;
        SignatureProblem problem = SignatureProblem.UntrustedKey;
        lock (_gate)
        {
            foreach (TrustedKey candidate in AllKeys())
            {
                if (!candidate.Key.Equals(key) || candidate.Role != role || (partyId is not null && candidate.PartyId != partyId))
                {
                    continue;
                }

                SignatureProblem candidateProblem = candidate.CheckValidAt(now);
                if (candidateProblem == SignatureProblem.None)
                {
                    trustedKey = candidate;
                    return SignatureProblem.None;
                }

                problem = candidateProblem;
            }
        }

        return problem;
    }

    /// <summary>
    /// Verifies <paramref name="envelope"/> against <paramref name="policy"/> at the current time. Never throws
    /// for a bad envelope: the result says which trusted keys signed and why it failed.
    /// </summary>
    public VerificationResult Verify(SignedEnvelope envelope, SignaturePolicy policy)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        ArgumentNullException.ThrowIfNull(policy);
        lock (_gate)
        {
            return VerifyLocked(envelope, policy, Contract.DecisionTime.Now(_time));
        }
    }

    private void ThrowIfKept()
    {
        if (IsKept)
        {
            throw new InvalidOperationException(
                "This trust store is kept by the unit's contract state: rotate and revoke keys through it (SupportAgent.AcceptAsync, RevokeKeyAsync), so the change is journaled and survives a restart.");
        }
    }

    internal static void ValidateThreshold(int threshold, IReadOnlyCollection<PartyKey> keys, string paramName)
    {
        if (keys.Count is 0 or > MaxKeysPerSet)
        {
            Error.Argument(nameof(keys), $"A key set holds 1 to {MaxKeysPerSet} keys.");
        }

        if (keys.Distinct().Count() != keys.Count)
        {
            Error.Argument(nameof(keys), "A key set lists each key once.");
        }

        if (threshold < 1 || threshold > keys.Count)
        {
            Error.ArgumentOutOfRange(paramName, $"The threshold must be within [1, {keys.Count}] (the number of keys).");
        }
    }

    private VerificationResult VerifyLocked(SignedEnvelope envelope, SignaturePolicy policy, DateTimeOffset now)
    {
        byte[] pae = envelope.PreAuthenticationEncoding();
        var findings = new List<SignatureFinding>(envelope.Signatures.Count);
        var signers = new List<TrustedKey>();
        for (int i = 0; i < envelope.Signatures.Count; i++)
        {
            EnvelopeSignature signature = envelope.Signatures[i];
            findings.Add(Judge(i, signature, pae, now, signers));
        }

        var unmet = new List<SignatureRequirement>();
        foreach (SignatureRequirement requirement in policy.Requirements)
        {
            KeySet? set = _sets.GetValueOrDefault((requirement.PartyId, requirement.Role));
            int needed = requirement.Threshold ?? set?.Threshold ?? 1;
            int have = set is null ? 0 : signers.Count(s => s.PartyId == requirement.PartyId && s.Role == requirement.Role);
            if (set is null || have < needed)
            {
                unmet.Add(requirement);
            }
        }

        VerificationFailure failure = envelope.PayloadType != policy.DocumentType.PayloadType
            ? VerificationFailure.PayloadTypeMismatch
            : unmet.Count > 0 ? VerificationFailure.ThresholdNotMet : VerificationFailure.None;
        string message = failure switch
        {
            VerificationFailure.None => $"Valid {policy.DocumentType.Kind} signed by {string.Join(", ", signers)}.",
            VerificationFailure.PayloadTypeMismatch => $"The envelope is a '{envelope.PayloadType}', not a '{policy.DocumentType.PayloadType}'.",
            _ => $"Not enough valid signatures: {string.Join("; ", unmet.Select(u => DescribeUnmet(u, signers)))}.",
        };
        return new VerificationResult(failure, signers, findings, unmet, message);
    }

    private SignatureFinding Judge(int index, EnvelopeSignature signature, byte[] pae, DateTimeOffset now, List<TrustedKey> signers)
    {
        // A key may be trusted in several roles (a customer key that also approves): a valid signature
        // counts for every set that holds the key.
        SignatureFinding? best = null;
        string? verifiedKeyId = null;
        bool verified = false;
        foreach (TrustedKey candidate in AllKeys())
        {
            if (signature.KeyId.Length > 0 && candidate.Key.KeyId != signature.KeyId)
            {
                continue;
            }

            // One Ed25519 verification per distinct key (a key trusted in several roles appears several times).
            if (verifiedKeyId != candidate.Key.KeyId)
            {
                verifiedKeyId = candidate.Key.KeyId;
                verified = candidate.Key.Verify(pae, signature.Signature.Span);
            }

            if (signature.KeyId.Length == 0 && !verified)
            {
                continue; // without a key id, only a key the signature verifies under is a candidate
            }

            SignatureProblem problem = verified ? candidate.CheckValidAt(now) : SignatureProblem.BadSignature;
            if (problem == SignatureProblem.None && signers.Contains(candidate))
            {
                problem = SignatureProblem.DuplicateSigner;
            }

            if (problem == SignatureProblem.None)
            {
                signers.Add(candidate);
            }

            if (best is null || (best.Problem != SignatureProblem.None && problem == SignatureProblem.None))
            {
                best = new SignatureFinding(index, signature.KeyId, problem, candidate);
            }
        }

        return best ?? new SignatureFinding(index, signature.KeyId, SignatureProblem.UntrustedKey, null);
    }

    private IEnumerable<TrustedKey> AllKeys() => _sets.Values.SelectMany(s => s.Keys).Concat(_retired);

    private static int CountValidSigners(SignedEnvelope envelope, KeySet set, DateTimeOffset now, out List<TrustedKey> signers)
    {
        byte[] pae = envelope.PreAuthenticationEncoding();
        signers = [];
        foreach (EnvelopeSignature signature in envelope.Signatures)
        {
            foreach (TrustedKey key in set.Keys)
            {
                if ((signature.KeyId.Length == 0 || key.Key.KeyId == signature.KeyId)
                    && !signers.Contains(key) && key.CheckValidAt(now) == SignatureProblem.None
                    && key.Key.Verify(pae, signature.Signature.Span))
                {
                    signers.Add(key);
                    break;
                }
            }
        }

        return signers.Count;
    }

    private string DescribeUnmet(SignatureRequirement requirement, List<TrustedKey> signers)
    {
        KeySet? set = _sets.GetValueOrDefault((requirement.PartyId, requirement.Role));
        if (set is null)
        {
            return $"no keys are trusted for {requirement.PartyId}/{requirement.Role.ToText()}";
        }

        int needed = requirement.Threshold ?? set.Threshold;
        int have = signers.Count(s => s.PartyId == requirement.PartyId && s.Role == requirement.Role);
        return string.Create(CultureInfo.InvariantCulture, $"{requirement.PartyId}/{requirement.Role.ToText()} needs {needed}, has {have}");
    }
}
