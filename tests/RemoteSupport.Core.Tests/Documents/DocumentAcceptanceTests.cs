using RemoteSupport.Authorization;
using RemoteSupport.Documents;
using RemoteSupport.Fixes;
using RemoteSupport.GroundRules;
using RemoteSupport.Identities;
using RemoteSupport.Journal;
using RemoteSupport.Ledger;
using RemoteSupport.Tests.Consent;

namespace RemoteSupport.Tests.Documents;

/// <summary>
/// Every book, store and ledger that takes a signed document answers with one shape: accepted with a
/// sentence, or refused with a <see cref="DocumentRefusal"/> and a sentence naming the problem.
/// </summary>
public sealed class DocumentAcceptanceTests : IDisposable
{
    private readonly ConsentFixture _f = new();
    private readonly TemporaryFolder _folder = new();

    public void Dispose()
    {
        _f.Dispose();
        _folder.Dispose();
    }

    [Fact]
    public void GroundRules_EachRefusalHasItsReason()
    {
        var book = new GroundRulesBook(_f.Trust) { CustomerId = "fabrikam" };
        SecurityGroundRules rules = _f.DefaultRules();

        book.Accept(rules.ToEnvelope().Sign(_f.Customer)).Reason.Should().Be(DocumentRefusal.NotSigned);
        book.Accept(SignedEnvelope.Create(SecurityGroundRules.DocumentType, "{}"u8.ToArray()).Sign(_f.Customer).Sign(_f.Vendor)).Reason.Should().Be(DocumentRefusal.Malformed);
        book.Accept((rules with { Version = 2 }).ToEnvelope().Sign(_f.Customer).Sign(_f.Vendor)).Reason.Should().Be(DocumentRefusal.OutOfSequence);
        book.Accept((rules with { TimeZone = "Mars/Olympus" }).ToEnvelope().Sign(_f.Customer).Sign(_f.Vendor)).Reason.Should().Be(DocumentRefusal.Invalid);

        DocumentAcceptance accepted = book.Accept(rules.ToEnvelope().Sign(_f.Customer).Sign(_f.Vendor));

        accepted.IsAccepted.Should().BeTrue(accepted.Sentence);
        accepted.Reason.Should().Be(DocumentRefusal.None);
        accepted.Sentence.Should().Contain("version 1").And.Contain(book.CurrentHash);
    }

    [Fact]
    public void Authorizations_EachRefusalHasItsReason()
    {
        var book = new AuthorizationBook(_f.Trust, _f.Time) { CustomerId = "fabrikam" };
        ServiceAuthorization authorization = _f.AuthorizationFor(_f.GroundRules.CurrentHash!);

        book.Accept(authorization.ToEnvelope().Sign(_f.Vendor)).Reason.Should().Be(DocumentRefusal.NotSigned);
        book.Accept((authorization with { ValidUntil = authorization.ValidFrom }).ToEnvelope().Sign(_f.Customer)).Reason.Should().Be(DocumentRefusal.Invalid);
        book.Accept(authorization.ToEnvelope().Sign(_f.Customer)).IsAccepted.Should().BeTrue();

        DocumentAcceptance revoked = book.Revoke(new AuthorizationRevocation { AuthorizationId = authorization.AuthorizationId, CustomerId = "fabrikam", Reason = "contract ended" }
            .ToEnvelope().Sign(_f.Customer));

        revoked.IsAccepted.Should().BeTrue();
        revoked.Sentence.Should().Contain("contract ended");
    }

    [Fact]
    public void VendorRootRotation_EachRefusalHasItsReason()
    {
        using var release1 = PartyIdentity.Create("contoso", PartyRole.Vendor);
        using var release2 = PartyIdentity.Create("contoso", PartyRole.Vendor);
        VendorRoot root = new()
        {
            VendorId = "contoso", Version = 1, Expires = _f.Time.GetUtcNow().AddYears(1), Threshold = 1,
            ReleaseKeys = [release1.PublicKey.ToString()],
        };
        var trust = new FixTrust(root.ToEnvelope().Sign(release1), _f.Time);
        VendorRoot next = root with { Version = 2, ReleaseKeys = [release2.PublicKey.ToString()] };

        trust.Rotate(next.ToEnvelope().Sign(release2)).Reason.Should().Be(DocumentRefusal.NotSigned);
        trust.Rotate((next with { Version = 3 }).ToEnvelope().Sign(release1).Sign(release2)).Reason.Should().Be(DocumentRefusal.OutOfSequence);
        trust.Rotate((next with { Expires = _f.Time.GetUtcNow().AddDays(-1) }).ToEnvelope().Sign(release1).Sign(release2)).Reason.Should().Be(DocumentRefusal.Invalid);
        trust.Rotate(next.ToEnvelope().Sign(release1).Sign(release2)).IsAccepted.Should().BeTrue();
        trust.Root.Version.Should().Be(2);
    }

    [Fact]
    public async Task ChargeApprovalsAndDisputes_EachRefusalHasItsReason()
    {
        await using AppendOnlyJournal journal = await AppendOnlyJournal.OpenAsync(_folder.File("ledger.journal"));
        using ChargeLedger ledger = await ChargeLedger.OpenAsync(journal, _f.Rules, _f.Time);

        DocumentAcceptance unsigned = await ledger.ApproveAsync(new ChargeApproval { CustomerId = "fabrikam", EntryIds = ["entry-0"] }.ToEnvelope().Sign(_f.Vendor), _f.Trust);
        DocumentAcceptance unknown = await ledger.DisputeAsync(new ChargeDispute { CustomerId = "fabrikam", EntryId = "entry-404", Reason = "?" }.ToEnvelope().Sign(_f.Customer), _f.Trust);

        unsigned.Reason.Should().Be(DocumentRefusal.NotSigned);
        unknown.Reason.Should().Be(DocumentRefusal.UnknownEntry);
        unknown.Sentence.Should().Contain("fabrikam");
    }
}
