using RemoteSupport.Documents;
using RemoteSupport.Fixes;
using RemoteSupport.Identities;

namespace RemoteSupport.Tests.Fixes;

/// <summary>The vendor root the unit pins: its own threshold at the start, and each way a rotation is refused, by its sentence.</summary>
public sealed partial class FixVerifierTests
{
    private static SignedEnvelope Signed(VendorRoot root, params PartyIdentity[] keys) => keys.Aggregate(root.ToEnvelope(), (envelope, key) => envelope.Sign(key));

    [Fact]
    public void TheInitialRoot_MustBeSignedByItsOwnThreshold()
    {
        FluentActions.Invoking(() => new FixTrust(null!)).Should().Throw<ArgumentNullException>().WithParameterName("initialRoot");
        FluentActions.Invoking(() => VendorRoot.FromEnvelope(null!)).Should().Throw<ArgumentNullException>().WithParameterName("envelope");
        FluentActions.Invoking(() => _trust.Rotate(null!)).Should().Throw<ArgumentNullException>().WithParameterName("newRoot");
        FluentActions.Invoking(() => new FixTrust(Signed(Root(1, [_release[0], _release[1]]), _release[0]), _time)).Should().Throw<ArgumentException>()
            .WithParameterName("initialRoot").WithMessage("The initial root is not signed by its own threshold of release keys.*");

        var trust = new FixTrust(Signed(Root(1, [_release[0], _release[1]]), _release[0], _release[1]), _time);

        trust.Root.Version.Should().Be(1);
        trust.RootHash.Should().Be(DocumentJson.Hash(Signed(Root(1, [_release[0], _release[1]])).Payload.Span));
    }

    [Fact]
    public void ARootRotation_IsRefused_UnlessItIsTheNextVersionOfTheVendor_UnexpiredAndSignedByBothThresholds()
    {
        // In force: version 1, keys 0, 1 and 2, threshold 2. The next: version 2, keys 2 and 3, threshold 2.
        PartyIdentity[] all = [.. _release];
        VendorRoot next = Root(2, [_release[2], _release[3]]);
        string inForce = _trust.RootHash;

        ShouldRefuse(_trust.Rotate(Signed(Root(1, [_release[2], _release[3]]), all)), DocumentRefusal.Superseded,
            "This is root version 1 of contoso; version 1 is in force, and a root never goes back.");
        ShouldRefuse(_trust.Rotate(Signed(Root(0, [_release[2], _release[3]]), all)), DocumentRefusal.Superseded,
            "This is root version 0 of contoso; version 1 is in force, and a root never goes back.");
        ShouldRefuse(_trust.Rotate(Signed(next with { VendorId = "globex" }, all)), DocumentRefusal.OutOfSequence, "The new root must be version 2 of contoso.");
        ShouldRefuse(_trust.Rotate(Signed(next with { Version = 3 }, all)), DocumentRefusal.OutOfSequence, "The new root must be version 2 of contoso.");
        ShouldRefuse(_trust.Rotate(Signed(next with { Expires = _time.GetUtcNow() }, all)), DocumentRefusal.Invalid, "The new root has already expired.");
        ShouldRefuse(_trust.Rotate(Signed(next, _release[0], _release[2])), DocumentRefusal.NotSigned,
            "The new root is signed by 2 of the current keys (needs 2) and 1 of its own (needs 2).");
        ShouldRefuse(_trust.Rotate(Signed(next, _release[2], _release[3])), DocumentRefusal.NotSigned,
            "The new root is signed by 1 of the current keys (needs 2) and 2 of its own (needs 2).");
        _trust.Rotate(Template().ToEnvelope().Sign(_release[0])).Reason.Should().Be(DocumentRefusal.Malformed, "a manifest is no root");
        _trust.Root.Version.Should().Be(1, "no refused rotation changed the root");
        _trust.RootHash.Should().Be(inForce);

        SignedEnvelope rotation = Signed(next, _release[0], _release[2], _release[3]);
        _trust.RotateCore(rotation, commit: false).IsAccepted.Should().BeTrue();
        _trust.Root.Version.Should().Be(1, "a rotation only checked is not in force");
        DocumentAcceptance accepted = _trust.Rotate(rotation);

        accepted.IsAccepted.Should().BeTrue(accepted.Sentence);
        accepted.Sentence.Should().Be("Vendor root version 2 of contoso in force.");
        _trust.Root.Version.Should().Be(2);
        _trust.RootHash.Should().Be(DocumentJson.Hash(rotation.Payload.Span));
    }

    [Fact]
    public void ARotation_IsJudgedByTheTrustsClock()
    {
        // The fake clock stands days before the machine's: a root expiring a second after it has not expired for this trust.
        VendorRoot next = Root(2, [_release[2], _release[3]]) with { Expires = _time.GetUtcNow().AddSeconds(1) };

        DocumentAcceptance accepted = _trust.Rotate(Signed(next, _release[0], _release[2], _release[3]));

        accepted.IsAccepted.Should().BeTrue(accepted.Sentence);
    }

    [Fact]
    public void ARootKeptByTheContractState_IsNotRotatedBehindItsBack()
    {
        _trust.IsKept = true;

        FluentActions.Invoking(() => _trust.Rotate(Signed(Root(2, [_release[2], _release[3]]), [.. _release]))).Should().Throw<InvalidOperationException>()
            .WithMessage("*SupportAgent.AcceptAsync*");
        _trust.Root.Version.Should().Be(1);
    }

    private static void ShouldRefuse(DocumentAcceptance acceptance, DocumentRefusal reason, string sentence)
    {
        acceptance.Reason.Should().Be(reason, acceptance.Sentence);
        acceptance.Sentence.Should().Be(sentence);
    }
}
