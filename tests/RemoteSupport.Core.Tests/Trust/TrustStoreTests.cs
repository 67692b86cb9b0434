using Microsoft.Extensions.Time.Testing;
using RemoteSupport.Documents;
using RemoteSupport.Identities;
using RemoteSupport.Trust;

namespace RemoteSupport.Tests.Trust;

public sealed class TrustStoreTests : IDisposable
{
    private static readonly DocumentType Agreement = new("agreement", 1);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 27, 9, 0, 0, TimeSpan.Zero));
    private readonly TrustStore _trust;
    private readonly PartyIdentity _vendor = PartyIdentity.Create("contoso", PartyRole.Vendor);
    private readonly PartyIdentity _customer = PartyIdentity.Create("fabrikam", PartyRole.Customer);
    private readonly PartyIdentity[] _board = [.. Enumerable.Range(0, 3).Select(_ => PartyIdentity.Create("fabrikam", PartyRole.Approver))];

    public TrustStoreTests()
    {
        _trust = new TrustStore(_time);
        _trust.Trust("contoso", PartyRole.Vendor, _vendor.PublicKey);
        _trust.Trust("fabrikam", PartyRole.Customer, _customer.PublicKey);
        _trust.Trust("fabrikam", PartyRole.Approver, 2, [.. _board.Select(b => b.PublicKey)]);
    }

    public void Dispose()
    {
        _vendor.Dispose();
        _customer.Dispose();
        foreach (PartyIdentity member in _board)
        {
            member.Dispose();
        }
    }

    private static SignaturePolicy Joint => new(Agreement,
        new SignatureRequirement("contoso", PartyRole.Vendor),
        new SignatureRequirement("fabrikam", PartyRole.Customer));

    private static SignaturePolicy Board => new(Agreement, new SignatureRequirement("fabrikam", PartyRole.Approver));

    private static SignedEnvelope Draft() => SignedEnvelope.Create(Agreement, "{\"hours\":\"08:00-18:00\",\"viewData\":\"approval\"}"u8);

    [Fact]
    public void JointlySigned_IsValid_AndNamesBothSigners()
    {
        VerificationResult result = _trust.Verify(Draft().Sign(_vendor).Sign(_customer), Joint);

        result.IsValid.Should().BeTrue(result.ToString());
        result.Signers.Select(s => s.PartyId).Should().BeEquivalentTo(["contoso", "fabrikam"]);
        result.Findings.Should().OnlyContain(f => f.Problem == SignatureProblem.None);
    }

    [Fact]
    public void SignedByOneParty_OfAJointDocument_FailsNamingTheMissingParty()
    {
        VerificationResult result = _trust.Verify(Draft().Sign(_vendor), Joint);

        result.IsValid.Should().BeFalse();
        result.Reason.Should().Be(VerificationFailure.ThresholdNotMet);
        result.UnmetRequirements.Should().ContainSingle().Which.PartyId.Should().Be("fabrikam");
        result.Sentence.Should().Contain("fabrikam/customer needs 1, has 0");
    }

    [Fact]
    public void EverySingleByteFlip_OfPayload_FailsVerification()
    {
        SignedEnvelope signed = Draft().Sign(_vendor).Sign(_customer);
        byte[] payload = signed.Payload.ToArray();

        for (int i = 0; i < payload.Length; i++)
        {
            foreach (byte mask in new byte[] { 0x01, 0x80, 0xff })
            {
                byte[] tampered = (byte[])payload.Clone();
                tampered[i] ^= mask;
                SignedEnvelope forged = Reassemble(signed.PayloadType, tampered, signed.Signatures);

                VerificationResult result = _trust.Verify(forged, Joint);
                result.IsValid.Should().BeFalse($"payload byte {i} ^ {mask:x2} was flipped");
                result.Findings.Should().OnlyContain(f => f.Problem == SignatureProblem.BadSignature);
            }
        }
    }

    [Fact]
    public void EverySingleByteFlip_OfPayloadType_FailsVerification_EvenForAPolicyOfTheNewType()
    {
        SignedEnvelope signed = Draft().Sign(_vendor).Sign(_customer);
        byte[] type = System.Text.Encoding.ASCII.GetBytes(signed.PayloadType);

        for (int i = 0; i < type.Length; i++)
        {
            byte[] tampered = (byte[])type.Clone();
            tampered[i] ^= 0x01;
            string tamperedType = System.Text.Encoding.ASCII.GetString(tampered);
            SignedEnvelope forged = Reassemble(tamperedType, signed.Payload.ToArray(), signed.Signatures);

            VerificationResult result = _trust.Verify(forged, Joint);
            result.IsValid.Should().BeFalse($"type byte {i} was flipped");
            result.Findings.Should().OnlyContain(f => f.Problem == SignatureProblem.BadSignature);
        }
    }

    [Fact]
    public void EverySingleByteFlip_OfASignature_FailsVerification()
    {
        SignedEnvelope signed = Draft().Sign(_vendor).Sign(_customer);

        for (int s = 0; s < 2; s++)
        {
            byte[] signature = signed.Signatures[s].Signature.ToArray();
            for (int i = 0; i < signature.Length; i++)
            {
                byte[] tampered = (byte[])signature.Clone();
                tampered[i] ^= 0x01;
                EnvelopeSignature[] signatures = [.. signed.Signatures];
                signatures[s] = new EnvelopeSignature(signatures[s].KeyId, tampered);

                VerificationResult result = _trust.Verify(Reassemble(signed.PayloadType, signed.Payload.ToArray(), signatures), Joint);
                result.IsValid.Should().BeFalse($"signature {s} byte {i} was flipped");
                result.Findings[s].Problem.Should().Be(SignatureProblem.BadSignature);
            }
        }
    }

    [Fact]
    public void PayloadTypeOfAnotherDocument_Fails()
    {
        SignedEnvelope other = SignedEnvelope.Create(new DocumentType("other", 1), "{}"u8).Sign(_vendor).Sign(_customer);

        VerificationResult result = _trust.Verify(other, Joint);

        result.Reason.Should().Be(VerificationFailure.PayloadTypeMismatch);
        result.Sentence.Should().Contain("not a 'application/vnd.remotesupport.agreement+json; version=1'");
    }

    [Fact]
    public void Threshold_TwoOfThree_MetByTwoDistinctKeys()
    {
        _trust.Verify(Draft().Sign(_board[0]).Sign(_board[2]), Board).IsValid.Should().BeTrue();
    }

    [Fact]
    public void Threshold_OneKeySigningTwice_CountsOnce()
    {
        SignedEnvelope once = Draft().Sign(_board[0]);
        SignedEnvelope twice = once.AddSignature(once.Signatures[0]);

        VerificationResult result = _trust.Verify(twice, Board);

        result.IsValid.Should().BeFalse();
        result.Signers.Should().ContainSingle();
        result.Findings[1].Problem.Should().Be(SignatureProblem.DuplicateSigner);
        result.Sentence.Should().Contain("needs 2, has 1");
    }

    [Fact]
    public void Threshold_UntrustedSigner_DoesNotCount()
    {
        using var stranger = PartyIdentity.Create("fabrikam", PartyRole.Approver);

        VerificationResult result = _trust.Verify(Draft().Sign(_board[0]).Sign(stranger), Board);

        result.IsValid.Should().BeFalse();
        result.Findings[1].Problem.Should().Be(SignatureProblem.UntrustedKey);
        result.Findings[1].KeyId.Should().Be(stranger.PublicKey.KeyId);
    }

    [Fact]
    public void Threshold_KeyOfAnotherRole_DoesNotCount()
    {
        VerificationResult result = _trust.Verify(Draft().Sign(_board[0]).Sign(_customer), Board);

        result.IsValid.Should().BeFalse();
        result.Signers.Should().HaveCount(2, "both keys are trusted");
        result.UnmetRequirements.Should().ContainSingle();
    }

    [Fact]
    public void SignatureWithoutKeyId_IsMatchedByTryingTheKeys()
    {
        SignedEnvelope signed = Draft().Sign(_vendor);
        SignedEnvelope anonymous = SignedEnvelope.Create(Agreement, signed.Payload.Span)
            .AddSignature(new EnvelopeSignature("", signed.Signatures[0].Signature.Span));

        VerificationResult result = _trust.Verify(anonymous, new SignaturePolicy(Agreement, new SignatureRequirement("contoso", PartyRole.Vendor)));

        result.IsValid.Should().BeTrue(result.ToString());
    }

    [Fact]
    public void RevokedKey_FromRevocationOn_DoesNotCount()
    {
        SignedEnvelope signed = Draft().Sign(_vendor).Sign(_customer);
        _trust.Verify(signed, Joint).IsValid.Should().BeTrue();

        _trust.Revoke(_customer.PublicKey, "laptop stolen").Should().BeTrue();

        VerificationResult result = _trust.Verify(signed, Joint);
        result.IsValid.Should().BeFalse();
        result.Findings[1].Problem.Should().Be(SignatureProblem.RevokedKey);
    }

    [Fact]
    public void ExpiredAndNotYetValidKeys_DoNotCount()
    {
        using var temp = PartyIdentity.Create("globex", PartyRole.Vendor);
        DateTimeOffset now = _time.GetUtcNow();
        _trust.Trust("globex", PartyRole.Vendor, 1, [temp.PublicKey], notBefore: now.AddDays(1), notAfter: now.AddDays(30));
        var policy = new SignaturePolicy(Agreement, new SignatureRequirement("globex", PartyRole.Vendor));
        SignedEnvelope signed = Draft().Sign(temp);

        _trust.Verify(signed, policy).Findings[0].Problem.Should().Be(SignatureProblem.KeyNotYetValid);
        _time.Advance(TimeSpan.FromDays(2));
        _trust.Verify(signed, policy).IsValid.Should().BeTrue();
        _time.Advance(TimeSpan.FromDays(28));
        _trust.Verify(signed, policy).Findings[0].Problem.Should().Be(SignatureProblem.ExpiredKey);
    }

    [Fact]
    public void Rotation_SignedByThresholdOfOldAndNewKeys_IsAccepted()
    {
        using var n1 = PartyIdentity.Create("fabrikam", PartyRole.Approver);
        using var n2 = PartyIdentity.Create("fabrikam", PartyRole.Approver);
        SignedEnvelope rotation = KeyRotation.Create("fabrikam", PartyRole.Approver, 2, 2, [n1.PublicKey, n2.PublicKey])
            .Sign(_board[0]).Sign(_board[1]).Sign(n1).Sign(n2);

        KeyRotationResult result = _trust.Rotate(rotation);

        result.IsAccepted.Should().BeTrue(result.Sentence);
        result.Reason.Should().Be(DocumentRefusal.None);
        _trust.GetKeySet("fabrikam", PartyRole.Approver)!.Sequence.Should().Be(2);
        _trust.Verify(Draft().Sign(n1).Sign(n2), Board).IsValid.Should().BeTrue();
        VerificationResult old = _trust.Verify(Draft().Sign(_board[0]).Sign(_board[1]), Board);
        old.IsValid.Should().BeFalse();
        old.Findings.Should().OnlyContain(f => f.Problem == SignatureProblem.ExpiredKey);
    }

    [Fact]
    public void Rotation_WithoutThresholdOfOldKeys_IsRefused()
    {
        using var n1 = PartyIdentity.Create("fabrikam", PartyRole.Approver);
        SignedEnvelope rotation = KeyRotation.Create("fabrikam", PartyRole.Approver, 2, 1, [n1.PublicKey])
            .Sign(_board[0]).Sign(n1);

        KeyRotationResult result = _trust.Rotate(rotation);

        result.IsAccepted.Should().BeFalse();
        result.Reason.Should().Be(DocumentRefusal.NotSigned);
        result.Sentence.Should().Contain("current key set's threshold");
        _trust.GetKeySet("fabrikam", PartyRole.Approver)!.Sequence.Should().Be(1);
        _trust.Verify(Draft().Sign(n1), Board).IsValid.Should().BeFalse();
    }

    [Fact]
    public void Rotation_NotSignedByTheNewKeys_IsRefused()
    {
        using var n1 = PartyIdentity.Create("fabrikam", PartyRole.Approver);
        SignedEnvelope rotation = KeyRotation.Create("fabrikam", PartyRole.Approver, 2, 1, [n1.PublicKey])
            .Sign(_board[0]).Sign(_board[1]);

        KeyRotationResult result = _trust.Rotate(rotation);

        result.IsAccepted.Should().BeFalse();
        result.Reason.Should().Be(DocumentRefusal.NotSigned);
        result.Sentence.Should().Contain("new keys");
    }

    [Fact]
    public void Rotation_Replayed_IsRefusedBySequence()
    {
        using var n1 = PartyIdentity.Create("fabrikam", PartyRole.Approver);
        SignedEnvelope rotation = KeyRotation.Create("fabrikam", PartyRole.Approver, 2, 1, [n1.PublicKey])
            .Sign(_board[0]).Sign(_board[1]).Sign(n1);
        _trust.Rotate(rotation).IsAccepted.Should().BeTrue();

        KeyRotationResult replay = _trust.Rotate(rotation);

        replay.IsAccepted.Should().BeFalse();
        replay.Reason.Should().Be(DocumentRefusal.Superseded);
        replay.Sentence.Should().Contain("sequence 2; fabrikam/approver is already at sequence 2");
    }

    [Fact]
    public void Rotation_ForgedPayload_IsRefused()
    {
        using var n1 = PartyIdentity.Create("fabrikam", PartyRole.Approver);
        SignedEnvelope genuine = KeyRotation.Create("fabrikam", PartyRole.Approver, 2, 1, [n1.PublicKey])
            .Sign(_board[0]).Sign(_board[1]).Sign(n1);
        byte[] payload = genuine.Payload.ToArray();
        payload[^3] ^= 1;

        _trust.Rotate(Reassemble(genuine.PayloadType, payload, genuine.Signatures)).IsAccepted.Should().BeFalse();
    }

    [Fact]
    public void Trust_BadArguments_NameTheParameter()
    {
        FluentActions.Invoking(() => _trust.Trust("x", PartyRole.Vendor, 2, [_vendor.PublicKey]))
            .Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be("threshold");
        FluentActions.Invoking(() => _trust.Trust("x", PartyRole.Vendor, 1, [_vendor.PublicKey, _vendor.PublicKey]))
            .Should().Throw<ArgumentException>().Which.ParamName.Should().Be("keys");
        FluentActions.Invoking(() => _trust.Trust("contoso", PartyRole.Vendor, _vendor.PublicKey))
            .Should().Throw<InvalidOperationException>().WithMessage("*key rotation*");
    }

    private static SignedEnvelope Reassemble(string type, byte[] payload, IEnumerable<EnvelopeSignature> signatures)
    {
        SignedEnvelope envelope = SignedEnvelope.Create(type, payload);
        foreach (EnvelopeSignature signature in signatures)
        {
            envelope = envelope.AddSignature(signature);
        }

        return envelope;
    }
}
