using System.Text;
using RemoteSupport.Documents;
using RemoteSupport.Identities;
using RemoteSupport.Trust;

namespace RemoteSupport.Tests.Trust;

/// <summary>
/// The trust store's and key rotation's checks at their boundaries, each refusal's sentence, and which signatures
/// count (the mutation run of Trust, docs/testing.md).
/// </summary>
public sealed class TrustLimitsTests : TrustStoreFixture
{
    private readonly PartyIdentity _next = PartyIdentity.Create("fabrikam", PartyRole.Customer);

    protected override void Dispose(bool disposing)
    {
        _next.Dispose();
        base.Dispose(disposing);
    }

    private static SignedEnvelope Document() => SignedEnvelope.Create(Agreement, "{\"terms\":1}"u8);

    private static SignedEnvelope RotationPayload(string json) => SignedEnvelope.Create(KeyRotation.DocumentType, Encoding.UTF8.GetBytes(json));

    private string NextKey => _next.PublicKey.ToString();

    [Fact]
    public void NullAndInvalidArguments_Throw()
    {
        PartyKey key = Customer.PublicKey;
        FluentActions.Invoking(() => KeyRotation.Create(" ", PartyRole.Customer, 2, 1, [key])).Should().Throw<ArgumentException>().WithParameterName("partyId");
        FluentActions.Invoking(() => KeyRotation.Create("fabrikam", (PartyRole)99, 2, 1, [key])).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("role");
        FluentActions.Invoking(() => KeyRotation.Create("fabrikam", PartyRole.Customer, 2, 1, null!)).Should().Throw<ArgumentNullException>().WithParameterName("keys");
        FluentActions.Invoking(() => KeyRotation.Create("fabrikam", PartyRole.Customer, 2, 2, [key])).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("threshold");
        FluentActions.Invoking(() => KeyRotation.Create("fabrikam", PartyRole.Customer, 1, 1, [key])).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("sequence");
        FluentActions.Invoking(() => new TrustStore().Trust(" ", PartyRole.Customer, key)).Should().Throw<ArgumentException>().WithParameterName("partyId");
        FluentActions.Invoking(() => new TrustStore().Trust("fabrikam", (PartyRole)99, key)).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("role");
        FluentActions.Invoking(() => new TrustStore().Trust("fabrikam", PartyRole.Customer, 1, null!)).Should().Throw<ArgumentNullException>().WithParameterName("keys");
        FluentActions.Invoking(() => Store.Revoke(null!, "lost")).Should().Throw<ArgumentNullException>().WithParameterName("key");
        FluentActions.Invoking(() => Store.Revoke(key, " ")).Should().Throw<ArgumentException>().WithParameterName("reason");
        FluentActions.Invoking(() => Store.Rotate(null!)).Should().Throw<ArgumentNullException>().WithParameterName("rotation");
        FluentActions.Invoking(() => Store.CheckKey(null!, PartyRole.Customer, null, out _)).Should().Throw<ArgumentNullException>().WithParameterName("key");
        FluentActions.Invoking(() => Store.Verify(null!, new SignaturePolicy(Agreement, new SignatureRequirement("fabrikam", PartyRole.Customer))))
            .Should().Throw<ArgumentNullException>().WithParameterName("envelope");
        FluentActions.Invoking(() => Store.Verify(Document(), null!)).Should().Throw<ArgumentNullException>().WithParameterName("policy");
        FluentActions.Invoking(() => SignedDocumentReader.TryRead<object>(Document(), Agreement, null!, _ => [], "x", out _, out _))
            .Should().Throw<ArgumentNullException>().WithParameterName("trust");
    }

    [Fact]
    public void AKeySet_HoldsOneToThirtyTwoDistinctKeys_AndAValidityThatEndsAfterItStarts()
    {
        PartyIdentity[] many = [.. Enumerable.Range(0, 33).Select(_ => PartyIdentity.Create("northwind", PartyRole.Approver))];
        try
        {
            var store = new TrustStore(Time);
            store.Trust("northwind", PartyRole.Approver, 1, [.. many.Take(32).Select(m => m.PublicKey)]).Keys.Should().HaveCount(32);
            FluentActions.Invoking(() => store.Trust("northwind", PartyRole.Technician, 1, [.. many.Select(m => m.PublicKey)]))
                .Should().Throw<ArgumentException>().WithMessage("A key set holds 1 to 32 keys.*");
            FluentActions.Invoking(() => store.Trust("northwind", PartyRole.Technician, 1, [many[0].PublicKey, many[0].PublicKey]))
                .Should().Throw<ArgumentException>().WithMessage("A key set lists each key once.*");
            FluentActions.Invoking(() => store.Trust("northwind", PartyRole.Technician, 0, [many[0].PublicKey]))
                .Should().Throw<ArgumentOutOfRangeException>().WithMessage("The threshold must be within [1, 1] (the number of keys).*");
            DateTimeOffset at = Time.GetUtcNow();
            FluentActions.Invoking(() => store.Trust("northwind", PartyRole.Technician, 1, [many[0].PublicKey], at, at))
                .Should().Throw<ArgumentException>().WithMessage("The validity must end after it starts.*");
            store.KeySets.Select(s => s.ToString()).Should().Equal("northwind/approver 1 of 32 (sequence 1)");
        }
        finally
        {
            foreach (PartyIdentity identity in many)
            {
                identity.Dispose();
            }
        }
    }

    [Fact]
    public void ARotation_IsAcceptedWithItsSentence_AndTheKeyItDropsNoLongerSigns()
    {
        SignedEnvelope rotation = KeyRotation.Create("fabrikam", PartyRole.Customer, 2, 1, [_next.PublicKey]).Sign(Customer).Sign(_next);

        KeyRotationResult result = Store.Rotate(rotation);

        result.IsAccepted.Should().BeTrue();
        result.Sentence.Should().Be("fabrikam/customer 1 of 1 (sequence 2) replaced sequence 1.");
        var policy = new SignaturePolicy(Agreement, new SignatureRequirement("fabrikam", PartyRole.Customer));
        VerificationResult byOld = Store.Verify(Document().Sign(Customer), policy);
        byOld.IsValid.Should().BeFalse("a key rotated out stops being valid at the rotation");
        byOld.HasProblem(SignatureProblem.ExpiredKey).Should().BeTrue();
        Store.Verify(Document().Sign(_next), policy).IsValid.Should().BeTrue();
    }

    [Fact]
    public void ARotation_EndsADroppedKeysLaterValidityNow()
    {
        var store = new TrustStore(Time);
        DateTimeOffset now = Time.GetUtcNow();
        store.Trust("fabrikam", PartyRole.Customer, 1, [Customer.PublicKey], now.AddDays(-1), now.AddDays(30));

        store.Rotate(KeyRotation.Create("fabrikam", PartyRole.Customer, 2, 1, [_next.PublicKey]).Sign(Customer).Sign(_next)).IsAccepted.Should().BeTrue();

        store.Snapshot().Retired.Single().NotAfter.Should().Be(now, "not the 30 days it was trusted for");
        store.Verify(Document().Sign(Customer), new SignaturePolicy(Agreement, new SignatureRequirement("fabrikam", PartyRole.Customer)))
            .HasProblem(SignatureProblem.ExpiredKey).Should().BeTrue();
    }

    [Fact]
    public void ARotationDecidedWithoutCommitting_SaysTheSame_AndChangesNothing()
    {
        SignedEnvelope rotation = KeyRotation.Create("fabrikam", PartyRole.Customer, 2, 1, [_next.PublicKey]).Sign(Customer).Sign(_next);

        Store.RotateCore(rotation, commit: false).Sentence.Should().Be("fabrikam/customer 1 of 1 (sequence 2) replaced sequence 1.");

        Store.GetKeySet("fabrikam", PartyRole.Customer)!.Sequence.Should().Be(1);
    }

    [Fact]
    public void ARotation_OfThirtyTwoKeys_IsRead_OneMoreIsRefused()
    {
        PartyIdentity[] many = [.. Enumerable.Range(0, 33).Select(_ => PartyIdentity.Create("fabrikam", PartyRole.Customer))];
        try
        {
            string keys = string.Join(",", many.Select(m => "\"" + m.PublicKey + "\""));
            string keys32 = string.Join(",", many.Take(32).Select(m => "\"" + m.PublicKey + "\""));

            KeyRotationResult tooMany = Store.Rotate(RotationPayload($$"""{"party":"fabrikam","role":"customer","sequence":2,"threshold":1,"keys":[{{keys}}]}"""));
            KeyRotationResult most = Store.Rotate(RotationPayload($$"""{"party":"fabrikam","role":"customer","sequence":2,"threshold":1,"keys":[{{keys32}}]}""").Sign(Customer).Sign(many[0]));

            tooMany.Reason.Should().Be(DocumentRefusal.Malformed);
            tooMany.Sentence.Should().Be("The key rotation document lacks party, role, sequence, threshold or keys (at most 32).");
            most.IsAccepted.Should().BeTrue(most.Sentence);
        }
        finally
        {
            foreach (PartyIdentity identity in many)
            {
                identity.Dispose();
            }
        }
    }

    [Theory]
    [InlineData("""{"party":"fabrikam","role":5,"sequence":2,"threshold":1,"keys":[]}""", "The key rotation document lacks party, role, sequence, threshold or keys (at most 32).")]
    [InlineData("""{"party":"fabrikam","role":"customer","sequence":2,"threshold":1}""", "The key rotation document lacks party, role, sequence, threshold or keys (at most 32).")]
    [InlineData("""{"party":"fabrikam","role":"customer","sequence":2,"threshold":1,"keys":[5]}""", "The key rotation document lists a value that is not a public key.")]
    [InlineData("""{"party":"fabrikam","role":"customer","sequence":2,"threshold":1,"keys":["ed25519:nope"]}""", "The key rotation document lists a value that is not a public key.")]
    [InlineData("""{"party":"fabrikam","role":"customer","sequence":2,"threshold":1,"keys":["NEXT","NEXT"]}""", "The key rotation document lists the same key twice.")]
    [InlineData("""{"party":"fabrikam","role":"customer","sequence":2,"threshold":0,"keys":["NEXT"]}""", "The key rotation document's threshold 0 is not within [1, 1].")]
    [InlineData("""{"party":"fabrikam","role":"customer","sequence":2,"threshold":2,"keys":["NEXT"]}""", "The key rotation document's threshold 2 is not within [1, 1].")]
    [InlineData("""{"party":"fabrikam","role":"customer","sequence":"2","threshold":1,"keys":["NEXT"]}""", "The key rotation document has a field of the wrong type: *")]
    [InlineData("""{"party":"fabrikam","role":"customer","sequence":2,"threshold":1,"keys":["NEXT"],"note":[[[]]]}""", "The key rotation document is not valid JSON: *")]
    [InlineData("""{"party":""", "The key rotation document is not valid JSON: *")]
    public void AMalformedRotation_IsRefusedWithItsSentence(string json, string sentence)
    {
        KeyRotationResult result = Store.Rotate(RotationPayload(json.Replace("NEXT", NextKey, StringComparison.Ordinal)));

        result.Reason.Should().Be(DocumentRefusal.Malformed);
        result.Sentence.Should().Match(sentence);
    }

    [Fact]
    public void ARotation_OfAnotherType_OfAnUnknownParty_OrOutOfSequence_IsRefusedWithItsSentence()
    {
        KeyRotationResult otherType = Store.Rotate(Document());
        KeyRotationResult unknown = Store.Rotate(KeyRotation.Create("woodgrove", PartyRole.Customer, 2, 1, [_next.PublicKey]).Sign(_next));
        KeyRotationResult skipped = Store.Rotate(KeyRotation.Create("fabrikam", PartyRole.Customer, 3, 1, [_next.PublicKey]).Sign(Customer).Sign(_next));
        Store.Rotate(KeyRotation.Create("fabrikam", PartyRole.Customer, 2, 1, [_next.PublicKey]).Sign(Customer).Sign(_next)).IsAccepted.Should().BeTrue();
        KeyRotationResult replayed = Store.Rotate(KeyRotation.Create("fabrikam", PartyRole.Customer, 2, 1, [_next.PublicKey]).Sign(Customer).Sign(_next));

        otherType.Sentence.Should().Be($"The envelope is a '{Agreement.PayloadType}', not a key rotation.");
        unknown.Reason.Should().Be(DocumentRefusal.UnknownEntry);
        unknown.Sentence.Should().Be("woodgrove/customer has no key set to rotate.");
        skipped.Reason.Should().Be(DocumentRefusal.OutOfSequence);
        skipped.Sentence.Should().Be("The rotation carries sequence 3; the next for fabrikam/customer is 2.");
        replayed.Reason.Should().Be(DocumentRefusal.Superseded);
        replayed.Sentence.Should().Be("The rotation carries sequence 2; fabrikam/customer is already at sequence 2, and the next is 3.");
    }

    [Fact]
    public void TheNewKeys_CountOncePerKey_WithOrWithoutAKeyId_AndOnlyWhenTheirSignatureVerifies()
    {
        using var second = PartyIdentity.Create("fabrikam", PartyRole.Customer);
        SignedEnvelope unsigned = KeyRotation.Create("fabrikam", PartyRole.Customer, 2, 2, [_next.PublicKey, second.PublicKey]).Sign(Customer);
        byte[] nextSignature = _next.Sign(unsigned.PreAuthenticationEncoding());
        byte[] secondSignature = second.Sign(unsigned.PreAuthenticationEncoding());

        KeyRotationResult twiceByOne = Store.RotateCore(unsigned.AddSignature(new EnvelopeSignature(_next.PublicKey.KeyId, nextSignature))
            .AddSignature(new EnvelopeSignature(_next.PublicKey.KeyId, nextSignature)), commit: false);
        KeyRotationResult forged = Store.RotateCore(unsigned.AddSignature(new EnvelopeSignature(_next.PublicKey.KeyId, nextSignature))
            .AddSignature(new EnvelopeSignature(second.PublicKey.KeyId, new byte[64])), commit: false);
        KeyRotationResult withoutKeyIds = Store.RotateCore(unsigned.AddSignature(new EnvelopeSignature("", nextSignature))
            .AddSignature(new EnvelopeSignature("", secondSignature)), commit: false);

        twiceByOne.Sentence.Should().Be("The rotation is signed by 1 of the new keys; the new set needs 2.");
        forged.Sentence.Should().Be("The rotation is signed by 1 of the new keys; the new set needs 2.");
        withoutKeyIds.IsAccepted.Should().BeTrue(withoutKeyIds.Sentence);
    }

    [Fact]
    public void Revoking_IsKnownAndRevocable_AndAnUnknownKeyIsNotRevoked()
    {
        using var stranger = PartyIdentity.Create("woodgrove", PartyRole.Customer);

        Store.IsKnown(Customer.PublicKey).Should().BeTrue();
        Store.IsKnown(stranger.PublicKey).Should().BeFalse();
        Store.IsRevocable(stranger.PublicKey).Should().BeFalse();
        Store.Revoke(stranger.PublicKey, "never trusted").Should().BeFalse();
        Store.IsRevocable(Customer.PublicKey).Should().BeTrue();

        Store.Revoke(Customer.PublicKey, "lost").Should().BeTrue();

        Store.IsRevocable(Customer.PublicKey).Should().BeFalse();
        Store.IsKnown(Customer.PublicKey).Should().BeTrue();
    }

    [Fact]
    public void AStoreKeptByTheContractState_RefusesDirectChanges_AndSaysWhere()
    {
        Store.IsKept = true;

        FluentActions.Invoking(() => Store.Revoke(Customer.PublicKey, "lost")).Should().Throw<InvalidOperationException>()
            .WithMessage("This trust store is kept by the unit's contract state*");
    }

    [Fact]
    public void CheckKey_FindsTheTrustedEntry_ForThatPartyOnly()
    {
        Store.CheckKey(Customer.PublicKey, PartyRole.Customer, "fabrikam", out TrustedKey? found).Should().Be(SignatureProblem.None);
        found!.PartyId.Should().Be("fabrikam");
        Store.CheckKey(Customer.PublicKey, PartyRole.Customer, null, out _).Should().Be(SignatureProblem.None);
        Store.CheckKey(Customer.PublicKey, PartyRole.Customer, "woodgrove", out TrustedKey? other).Should().Be(SignatureProblem.UntrustedKey);
        other.Should().BeNull();
    }

    [Fact]
    public void APolicy_NeedsARequirement_AndThresholdsOfOneOrMore()
    {
        FluentActions.Invoking(() => new SignaturePolicy(null!, new SignatureRequirement("a", PartyRole.Customer))).Should().Throw<ArgumentNullException>().WithParameterName("documentType");
        FluentActions.Invoking(() => new SignaturePolicy(Agreement, null!)).Should().Throw<ArgumentNullException>().WithParameterName("requirements");
        FluentActions.Invoking(() => new SignaturePolicy(Agreement)).Should().Throw<ArgumentException>().WithMessage("A policy requires at least one party's signatures.*");
        FluentActions.Invoking(() => new SignaturePolicy(Agreement, [null!])).Should().Throw<ArgumentNullException>().WithParameterName("requirements");
        FluentActions.Invoking(() => new SignaturePolicy(Agreement, new SignatureRequirement("a", PartyRole.Customer, 0))).Should().Throw<ArgumentOutOfRangeException>()
            .WithMessage("A threshold is 1 or more.*");
        new SignaturePolicy(Agreement, new SignatureRequirement("a", PartyRole.Customer, 2)).Requirements.Single().Threshold.Should().Be(2);
        new SignatureRequirement("fabrikam", PartyRole.Approver, 2).ToString().Should().Be("2 key(s) of fabrikam/approver");
        new SignatureRequirement("fabrikam", PartyRole.Approver).ToString().Should().Be("the threshold of fabrikam/approver");
    }

    [Fact]
    public void ARequirementsOwnThreshold_OverridesTheKeySets_BothWays()
    {
        SignedEnvelope byOne = Document().Sign(Approvers[0]);
        SignedEnvelope byTwo = byOne.Sign(Approvers[1]);

        Store.Verify(byOne, new SignaturePolicy(Agreement, new SignatureRequirement("fabrikam", PartyRole.Approver, 1))).IsValid.Should().BeTrue();
        VerificationResult short3 = Store.Verify(byTwo, new SignaturePolicy(Agreement, new SignatureRequirement("fabrikam", PartyRole.Approver, 3)));
        short3.Sentence.Should().Be("Not enough valid signatures: fabrikam/approver needs 3, has 2.");
    }

    [Fact]
    public void TheSentences_NameTheSigners_AndCountOnlyThePartysOwnRole()
    {
        var joint = new SignaturePolicy(Agreement, new SignatureRequirement("contoso", PartyRole.Vendor), new SignatureRequirement("fabrikam", PartyRole.Customer));

        VerificationResult valid = Store.Verify(Document().Sign(Vendor).Sign(Customer), joint);
        VerificationResult wrongRole = Store.Verify(Document().Sign(Vendor).Sign(Approvers[0]), joint);
        VerificationResult unknownParty = Store.Verify(Document().Sign(Vendor), new SignaturePolicy(Agreement, new SignatureRequirement("woodgrove", PartyRole.Customer)));

        valid.Sentence.Should().Be($"Valid agreement signed by contoso/vendor {Vendor.PublicKey.KeyId}, fabrikam/customer {Customer.PublicKey.KeyId}.");
        wrongRole.Sentence.Should().Be("Not enough valid signatures: fabrikam/customer needs 1, has 0.");
        Store.Verify(Document(), joint).Sentence.Should().Be("Not enough valid signatures: contoso/vendor needs 1, has 0; fabrikam/customer needs 1, has 0.");
        unknownParty.Sentence.Should().Be("Not enough valid signatures: no keys are trusted for woodgrove/customer.");
    }

    [Fact]
    public void ASignatureWithoutAKeyId_ThatVerifiesUnderNoKey_IsUntrusted_AndTheTextNamesEachBadSignature()
    {
        SignedEnvelope envelope = Document().Sign(Customer).AddSignature(new EnvelopeSignature("", new byte[64]))
            .AddSignature(new EnvelopeSignature(Vendor.PublicKey.KeyId, new byte[64]));

        VerificationResult result = Store.Verify(envelope, new SignaturePolicy(Agreement, new SignatureRequirement("fabrikam", PartyRole.Customer)));

        result.IsValid.Should().BeTrue();
        result.Findings[1].Problem.Should().Be(SignatureProblem.UntrustedKey);
        result.Findings[1].Key.Should().BeNull();
        result.Findings[2].Problem.Should().Be(SignatureProblem.BadSignature);
        result.HasProblem(SignatureProblem.BadSignature).Should().BeTrue();
        result.HasProblem(SignatureProblem.ExpiredKey).Should().BeFalse();
        result.ToString().Should().Be(result.Sentence + " [signature 1 : UntrustedKey] [signature 2 " + Vendor.PublicKey.KeyId + ": BadSignature]");
    }

    [Fact]
    public void AKeyTrustedInTwoRoles_OneExpired_IsJudgedByTheValidOne()
    {
        var store = new TrustStore(Time);
        DateTimeOffset now = Time.GetUtcNow();
        store.Trust("fabrikam", PartyRole.Approver, 1, [Customer.PublicKey], now.AddDays(-2), now.AddDays(-1));
        store.Trust("fabrikam", PartyRole.Customer, Customer.PublicKey);

        VerificationResult result = store.Verify(Document().Sign(Customer), new SignaturePolicy(Agreement, new SignatureRequirement("fabrikam", PartyRole.Customer)));

        result.IsValid.Should().BeTrue();
        result.Findings.Single().Problem.Should().Be(SignatureProblem.None);
        result.Findings.Single().Key!.Role.Should().Be(PartyRole.Customer);
    }
}
