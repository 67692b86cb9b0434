using Microsoft.Extensions.Time.Testing;
using RemoteSupport.Documents;
using RemoteSupport.Identities;
using RemoteSupport.Trust;

namespace RemoteSupport.Tests.Trust;

public sealed class TrustStoreTests : TrustStoreFixture
{
    private static SignaturePolicy Joint => new(Agreement,
        new SignatureRequirement("contoso", PartyRole.Vendor),
        new SignatureRequirement("fabrikam", PartyRole.Customer));

    private static SignaturePolicy Board => new(Agreement, new SignatureRequirement("fabrikam", PartyRole.Approver));

    private static SignedEnvelope Draft() => SignedEnvelope.Create(Agreement, "{\"hours\":\"08:00-18:00\",\"viewData\":\"approval\"}"u8);

    [Fact]
    public void JointlySigned_IsValid_AndNamesBothSigners()
    {
        VerificationResult result = Store.Verify(Draft().Sign(Vendor).Sign(Customer), Joint);

        result.IsValid.Should().BeTrue(result.ToString());
        result.Signers.Select(s => s.PartyId).Should().BeEquivalentTo(["contoso", "fabrikam"]);
        result.Findings.Should().OnlyContain(f => f.Problem == SignatureProblem.None);
    }

    [Fact]
    public void SignedByOneParty_OfAJointDocument_FailsNamingTheMissingParty()
    {
        VerificationResult result = Store.Verify(Draft().Sign(Vendor), Joint);

        result.IsValid.Should().BeFalse();
        result.Reason.Should().Be(VerificationFailure.ThresholdNotMet);
        result.UnmetRequirements.Should().ContainSingle().Which.PartyId.Should().Be("fabrikam");
        result.Sentence.Should().Contain("fabrikam/customer needs 1, has 0");
    }

    [Fact]
    public void EverySingleByteFlip_OfPayload_FailsVerification()
    {
        SignedEnvelope signed = Draft().Sign(Vendor).Sign(Customer);
        byte[] payload = signed.Payload.ToArray();

        for (int i = 0; i < payload.Length; i++)
        {
            foreach (byte mask in new byte[] { 0x01, 0x80, 0xff })
            {
                byte[] tampered = (byte[])payload.Clone();
                tampered[i] ^= mask;
                SignedEnvelope forged = Reassemble(signed.PayloadType, tampered, signed.Signatures);

                VerificationResult result = Store.Verify(forged, Joint);
                result.IsValid.Should().BeFalse($"payload byte {i} ^ {mask:x2} was flipped");
                result.Findings.Should().OnlyContain(f => f.Problem == SignatureProblem.BadSignature);
            }
        }
    }

    [Fact]
    public void EverySingleByteFlip_OfPayloadType_FailsVerification_EvenForAPolicyOfTheNewType()
    {
        SignedEnvelope signed = Draft().Sign(Vendor).Sign(Customer);
        byte[] type = System.Text.Encoding.ASCII.GetBytes(signed.PayloadType);

        for (int i = 0; i < type.Length; i++)
        {
            byte[] tampered = (byte[])type.Clone();
            tampered[i] ^= 0x01;
            string tamperedType = System.Text.Encoding.ASCII.GetString(tampered);
            SignedEnvelope forged = Reassemble(tamperedType, signed.Payload.ToArray(), signed.Signatures);

            VerificationResult result = Store.Verify(forged, Joint);
            result.IsValid.Should().BeFalse($"type byte {i} was flipped");
            result.Findings.Should().OnlyContain(f => f.Problem == SignatureProblem.BadSignature);
        }
    }

    [Fact]
    public void EverySingleByteFlip_OfASignature_FailsVerification()
    {
        SignedEnvelope signed = Draft().Sign(Vendor).Sign(Customer);

        for (int s = 0; s < 2; s++)
        {
            byte[] signature = signed.Signatures[s].Signature.ToArray();
            for (int i = 0; i < signature.Length; i++)
            {
                byte[] tampered = (byte[])signature.Clone();
                tampered[i] ^= 0x01;
                EnvelopeSignature[] signatures = [.. signed.Signatures];
                signatures[s] = new EnvelopeSignature(signatures[s].KeyId, tampered);

                VerificationResult result = Store.Verify(Reassemble(signed.PayloadType, signed.Payload.ToArray(), signatures), Joint);
                result.IsValid.Should().BeFalse($"signature {s} byte {i} was flipped");
                result.Findings[s].Problem.Should().Be(SignatureProblem.BadSignature);
            }
        }
    }

    [Fact]
    public void PayloadTypeOfAnotherDocument_Fails()
    {
        SignedEnvelope other = SignedEnvelope.Create(new DocumentType("other", 1), "{}"u8).Sign(Vendor).Sign(Customer);

        VerificationResult result = Store.Verify(other, Joint);

        result.Reason.Should().Be(VerificationFailure.PayloadTypeMismatch);
        result.Sentence.Should().Contain("not a 'application/vnd.remotesupport.agreement+json; version=1'");
    }

    [Fact]
    public void Threshold_TwoOfThree_MetByTwoDistinctKeys()
    {
        Store.Verify(Draft().Sign(Approvers[0]).Sign(Approvers[2]), Board).IsValid.Should().BeTrue();
    }

    [Fact]
    public void Threshold_OneKeySigningTwice_CountsOnce()
    {
        SignedEnvelope once = Draft().Sign(Approvers[0]);
        SignedEnvelope twice = once.AddSignature(once.Signatures[0]);

        VerificationResult result = Store.Verify(twice, Board);

        result.IsValid.Should().BeFalse();
        result.Signers.Should().ContainSingle();
        result.Findings[1].Problem.Should().Be(SignatureProblem.DuplicateSigner);
        result.Sentence.Should().Contain("needs 2, has 1");
    }

    [Fact]
    public void Threshold_UntrustedSigner_DoesNotCount()
    {
        using var stranger = PartyIdentity.Create("fabrikam", PartyRole.Approver);

        VerificationResult result = Store.Verify(Draft().Sign(Approvers[0]).Sign(stranger), Board);

        result.IsValid.Should().BeFalse();
        result.Findings[1].Problem.Should().Be(SignatureProblem.UntrustedKey);
        result.Findings[1].KeyId.Should().Be(stranger.PublicKey.KeyId);
    }

    [Fact]
    public void Threshold_KeyOfAnotherRole_DoesNotCount()
    {
        VerificationResult result = Store.Verify(Draft().Sign(Approvers[0]).Sign(Customer), Board);

        result.IsValid.Should().BeFalse();
        result.Signers.Should().HaveCount(2, "both keys are trusted");
        result.UnmetRequirements.Should().ContainSingle();
    }

    [Fact]
    public void SignatureWithoutKeyId_IsMatchedByTryingTheKeys()
    {
        SignedEnvelope signed = Draft().Sign(Vendor);
        SignedEnvelope anonymous = SignedEnvelope.Create(Agreement, signed.Payload.Span)
            .AddSignature(new EnvelopeSignature("", signed.Signatures[0].Signature.Span));

        VerificationResult result = Store.Verify(anonymous, new SignaturePolicy(Agreement, new SignatureRequirement("contoso", PartyRole.Vendor)));

        result.IsValid.Should().BeTrue(result.ToString());
    }

    [Fact]
    public void RevokedKey_FromRevocationOn_DoesNotCount()
    {
        SignedEnvelope signed = Draft().Sign(Vendor).Sign(Customer);
        Store.Verify(signed, Joint).IsValid.Should().BeTrue();

        Store.Revoke(Customer.PublicKey, "laptop stolen").Should().BeTrue();

        VerificationResult result = Store.Verify(signed, Joint);
        result.IsValid.Should().BeFalse();
        result.Findings[1].Problem.Should().Be(SignatureProblem.RevokedKey);
    }

    [Fact]
    public void ExpiredAndNotYetValidKeys_DoNotCount()
    {
        using var temp = PartyIdentity.Create("globex", PartyRole.Vendor);
        DateTimeOffset now = Time.GetUtcNow();
        Store.Trust("globex", PartyRole.Vendor, 1, [temp.PublicKey], notBefore: now.AddDays(1), notAfter: now.AddDays(30));
        var policy = new SignaturePolicy(Agreement, new SignatureRequirement("globex", PartyRole.Vendor));
        SignedEnvelope signed = Draft().Sign(temp);

        Store.Verify(signed, policy).Findings[0].Problem.Should().Be(SignatureProblem.KeyNotYetValid);
        Time.Advance(TimeSpan.FromDays(2));
        Store.Verify(signed, policy).IsValid.Should().BeTrue();
        Time.Advance(TimeSpan.FromDays(28));
        Store.Verify(signed, policy).Findings[0].Problem.Should().Be(SignatureProblem.ExpiredKey);
    }

    [Fact]
    public void Rotation_SignedByThresholdOfOldAndNewKeys_IsAccepted()
    {
        using var n1 = PartyIdentity.Create("fabrikam", PartyRole.Approver);
        using var n2 = PartyIdentity.Create("fabrikam", PartyRole.Approver);
        SignedEnvelope rotation = KeyRotation.Create("fabrikam", PartyRole.Approver, 2, 2, [n1.PublicKey, n2.PublicKey])
            .Sign(Approvers[0]).Sign(Approvers[1]).Sign(n1).Sign(n2);

        KeyRotationResult result = Store.Rotate(rotation);

        result.IsAccepted.Should().BeTrue(result.Sentence);
        result.Reason.Should().Be(DocumentRefusal.None);
        Store.GetKeySet("fabrikam", PartyRole.Approver)!.Sequence.Should().Be(2);
        Store.Verify(Draft().Sign(n1).Sign(n2), Board).IsValid.Should().BeTrue();
        VerificationResult old = Store.Verify(Draft().Sign(Approvers[0]).Sign(Approvers[1]), Board);
        old.IsValid.Should().BeFalse();
        old.Findings.Should().OnlyContain(f => f.Problem == SignatureProblem.ExpiredKey);
    }

    [Fact]
    public void Rotation_WithoutThresholdOfOldKeys_IsRefused()
    {
        using var n1 = PartyIdentity.Create("fabrikam", PartyRole.Approver);
        SignedEnvelope rotation = KeyRotation.Create("fabrikam", PartyRole.Approver, 2, 1, [n1.PublicKey])
            .Sign(Approvers[0]).Sign(n1);

        KeyRotationResult result = Store.Rotate(rotation);

        result.IsAccepted.Should().BeFalse();
        result.Reason.Should().Be(DocumentRefusal.NotSigned);
        result.Sentence.Should().Contain("current key set's threshold");
        Store.GetKeySet("fabrikam", PartyRole.Approver)!.Sequence.Should().Be(1);
        Store.Verify(Draft().Sign(n1), Board).IsValid.Should().BeFalse();
    }

    [Fact]
    public void Rotation_NotSignedByTheNewKeys_IsRefused()
    {
        using var n1 = PartyIdentity.Create("fabrikam", PartyRole.Approver);
        SignedEnvelope rotation = KeyRotation.Create("fabrikam", PartyRole.Approver, 2, 1, [n1.PublicKey])
            .Sign(Approvers[0]).Sign(Approvers[1]);

        KeyRotationResult result = Store.Rotate(rotation);

        result.IsAccepted.Should().BeFalse();
        result.Reason.Should().Be(DocumentRefusal.NotSigned);
        result.Sentence.Should().Contain("new keys");
    }

    [Fact]
    public void Rotation_Replayed_IsRefusedBySequence()
    {
        using var n1 = PartyIdentity.Create("fabrikam", PartyRole.Approver);
        SignedEnvelope rotation = KeyRotation.Create("fabrikam", PartyRole.Approver, 2, 1, [n1.PublicKey])
            .Sign(Approvers[0]).Sign(Approvers[1]).Sign(n1);
        Store.Rotate(rotation).IsAccepted.Should().BeTrue();

        KeyRotationResult replay = Store.Rotate(rotation);

        replay.IsAccepted.Should().BeFalse();
        replay.Reason.Should().Be(DocumentRefusal.Superseded);
        replay.Sentence.Should().Contain("sequence 2; fabrikam/approver is already at sequence 2");
    }

    [Fact]
    public void Rotation_ForgedPayload_IsRefused()
    {
        using var n1 = PartyIdentity.Create("fabrikam", PartyRole.Approver);
        SignedEnvelope genuine = KeyRotation.Create("fabrikam", PartyRole.Approver, 2, 1, [n1.PublicKey])
            .Sign(Approvers[0]).Sign(Approvers[1]).Sign(n1);
        byte[] payload = genuine.Payload.ToArray();
        payload[^3] ^= 1;

        Store.Rotate(Reassemble(genuine.PayloadType, payload, genuine.Signatures)).IsAccepted.Should().BeFalse();
    }

    [Fact]
    public void Trust_BadArguments_NameTheParameter()
    {
        FluentActions.Invoking(() => Store.Trust("x", PartyRole.Vendor, 2, [Vendor.PublicKey]))
            .Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be("threshold");
        FluentActions.Invoking(() => Store.Trust("x", PartyRole.Vendor, 1, [Vendor.PublicKey, Vendor.PublicKey]))
            .Should().Throw<ArgumentException>().Which.ParamName.Should().Be("keys");
        FluentActions.Invoking(() => Store.Trust("contoso", PartyRole.Vendor, Vendor.PublicKey))
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
