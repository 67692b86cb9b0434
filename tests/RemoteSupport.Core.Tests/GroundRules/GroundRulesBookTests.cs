using RemoteSupport.Consent;
using RemoteSupport.Documents;
using RemoteSupport.GroundRules;
using RemoteSupport.Identities;
using RemoteSupport.Tests.Consent;

namespace RemoteSupport.Tests.GroundRules;

public sealed class GroundRulesBookTests : IDisposable
{
    private readonly ConsentFixture _f = new();

    public void Dispose() => _f.Dispose();

    [Fact]
    public void SignedByOneParty_IsRefused()
    {
        var book = new GroundRulesBook(_f.Trust);

        book.Accept(_f.DefaultRules().ToEnvelope().Sign(_f.Customer)).Sentence.Should().Contain("contoso/vendor needs 1, has 0");
        book.Accept(_f.DefaultRules().ToEnvelope().Sign(_f.Vendor)).Sentence.Should().Contain("fabrikam/customer needs 1, has 0");
        book.Current.Should().BeNull();
    }

    [Fact]
    public void Forged_SignedByKeysNobodyTrusts_IsRefused()
    {
        using var fakeCustomer = PartyIdentity.Create("fabrikam", PartyRole.Customer);
        var book = new GroundRulesBook(_f.Trust);

        book.Accept(_f.DefaultRules().ToEnvelope().Sign(fakeCustomer).Sign(_f.Vendor)).Sentence.Should().Contain("not signed by both parties");
    }

    [Fact]
    public void TamperedAfterSigning_IsRefused()
    {
        SignedEnvelope signed = _f.DefaultRules().ToEnvelope().Sign(_f.Customer).Sign(_f.Vendor);
        SecurityGroundRules looser = _f.DefaultRules() with { MaxApprovalLifetimeSeconds = 30 * 24 * 3600 };
        SignedEnvelope forged = looser.ToEnvelope();
        foreach (EnvelopeSignature signature in signed.Signatures)
        {
            forged = forged.AddSignature(signature);
        }

        new GroundRulesBook(_f.Trust).Accept(forged).Sentence.Should().Contain("not signed by both parties");
    }

    [Fact]
    public void Amendment_NamingTheCurrentHash_SignedByBoth_Replaces()
    {
        SecurityGroundRules amended = _f.Rules with { Version = 2, Replaces = _f.GroundRules.CurrentHash, MaxSessionMinutes = 60 };

        _f.GroundRules.Accept(amended.ToEnvelope().Sign(_f.Vendor).Sign(_f.Customer)).IsAccepted.Should().BeTrue();

        _f.GroundRules.Current!.Version.Should().Be(2);
        _f.GroundRules.Current.MaxSessionMinutes.Should().Be(60);
    }

    [Fact]
    public async Task Amendment_LeavesTheOldAuthorizationRestingOnReplacedRules()
    {
        SecurityGroundRules amended = _f.Rules with { Version = 2, Replaces = _f.GroundRules.CurrentHash };
        _f.GroundRules.Accept(amended.ToEnvelope().Sign(_f.Vendor).Sign(_f.Customer)).IsAccepted.Should().BeTrue();

        ConsentDecision decision = await _f.Gate().DecideAsync(_f.Request(SupportOperation.RunDiagnostic));

        decision.Reason.Should().Be(ConsentReason.GroundRulesMismatch);
    }

    [Theory]
    [InlineData(2, "wrong")]
    [InlineData(3, null)]
    public void Amendment_NotNamingTheCurrentVersion_IsRefused(int version, string? replaces)
    {
        SecurityGroundRules amended = _f.Rules with { Version = version, Replaces = replaces ?? _f.GroundRules.CurrentHash };

        DocumentAcceptance refused = _f.GroundRules.Accept(amended.ToEnvelope().Sign(_f.Vendor).Sign(_f.Customer));

        refused.Reason.Should().Be(DocumentRefusal.OutOfSequence);
        refused.Sentence.Should().Contain("amendment must be version 2");
        _f.GroundRules.Current!.Version.Should().Be(1);
    }

    [Fact]
    public void AnOlderOrTheSameVersion_IsRefusedAsSuperseded()
    {
        SecurityGroundRules again = _f.Rules with { MaxSessionMinutes = 30 };

        DocumentAcceptance refused = _f.GroundRules.Accept(again.ToEnvelope().Sign(_f.Vendor).Sign(_f.Customer));

        refused.Reason.Should().Be(DocumentRefusal.Superseded);
        refused.Sentence.Should().Contain("version 1").And.Contain("never goes back");
        _f.GroundRules.Current!.MaxSessionMinutes.Should().Be(240);
    }

    [Fact]
    public void UnknownTimeZone_IsRefused()
    {
        var book = new GroundRulesBook(_f.Trust);

        book.Accept((_f.DefaultRules() with { TimeZone = "Mars/Olympus" }).ToEnvelope().Sign(_f.Customer).Sign(_f.Vendor)).Sentence.Should().Contain("IANA");
    }

    [Fact]
    public async Task NoGroundRules_DeniesEverything()
    {
        var gate = new ConsentGate(_f.Trust, _f.Authorizations, new GroundRulesBook(_f.Trust), _f.Uses, _f.Audit, _f.Time);

        (await gate.DecideAsync(_f.Request(SupportOperation.RunDiagnostic))).Reason.Should().Be(ConsentReason.GroundRulesMissing);
    }
}
