using RemoteSupport.Consent;
using RemoteSupport.Documents;
using RemoteSupport.GroundRules;
using RemoteSupport.Identities;

namespace RemoteSupport.Tests.Consent;

/// <summary>
/// The sentence of each decision the gate makes about an approval: the approver reads it in the audit and the
/// technician in the refusal, so each names the approval, what it allows and what was asked.
/// </summary>
public sealed class ConsentGateSentenceTests : IDisposable
{
    private readonly ConsentFixture _f = new();

    private async Task<ConsentDecision> DecideAsync(ConsentRequest request, Func<Approval, Approval> change, params PartyIdentity[] signers)
    {
        SignedEnvelope approval = _f.Approve(request, signers.Length == 0 ? [_f.ItApprover] : signers, change);
        return await _f.Gate().DecideAsync(request, [approval]);
    }

    [Fact]
    public async Task AGrant_NamesTheApprovalAndItsUse()
    {
        ConsentRequest request = _f.Request();
        SignedEnvelope approval = _f.Approve(request, [_f.ItApprover], a => a with { ApprovalId = "appr-1", MaxUses = 2 });

        ConsentDecision first = await _f.Gate().DecideAsync(request, [approval]);
        ConsentDecision second = await _f.Gate().DecideAsync(request, [approval]);
        ConsentDecision third = await _f.Gate().DecideAsync(request, [approval]);

        first.Sentence.Should().Be("Granted under approval appr-1 (use 1 of 2).");
        second.Sentence.Should().Be("Granted under approval appr-1 (use 2 of 2).");
        third.Reason.Should().Be(ConsentReason.ApprovalUsesExhausted);
        third.Sentence.Should().Be("Approval appr-1 has used all 2 of its uses.");
        third.ApprovalsUsed.Should().BeEmpty();
    }

    [Fact]
    public async Task AnApprovalWithNoUses_IsRefusedBeforeItIsCounted()
    {
        ConsentDecision decision = await DecideAsync(_f.Request(), a => a with { ApprovalId = "appr-0", MaxUses = 0 });

        decision.Reason.Should().Be(ConsentReason.ApprovalUsesExhausted);
        decision.Sentence.Should().Be("Approval appr-0 allows no uses.");
        _f.Uses.UsesOf("appr-0").Should().Be(0);
    }

    [Fact]
    public async Task AnUnsignedApproval_AndOneSignedOutsideTheGroupsKeys_AreRefusedByName()
    {
        ConsentRequest request = _f.Request();
        SignedEnvelope unsigned = _f.Approve(request, [], a => a with { ApprovalId = "appr-u" });

        ConsentDecision none = await _f.Gate().DecideAsync(request, [unsigned]);
        ConsentDecision otherKey = await DecideAsync(request, a => a with { ApprovalId = "appr-o" }, _f.OwnerApprover);

        none.Reason.Should().Be(ConsentReason.ApprovalQuorumNotMet);
        none.Sentence.Should().StartWith("Approval appr-u is not signed as the ground rules require: ");
        otherKey.Reason.Should().Be(ConsentReason.ApprovalQuorumNotMet);
        otherKey.Sentence.Should().Be("Approval appr-o has 0 of the 1 signatures IT must give.");
    }

    [Fact]
    public async Task AnApprovalForAnotherSessionOrTechnician_NamesBoth()
    {
        using var other = PartyIdentity.Create("contoso", PartyRole.Technician);
        ConsentRequest request = _f.Request();

        ConsentDecision session = await DecideAsync(request, a => a with { ApprovalId = "appr-s", SessionId = "session-0" });
        ConsentDecision technician = await DecideAsync(request, a => a with { ApprovalId = "appr-t", TechnicianKeyId = other.PublicKey.KeyId });

        session.Sentence.Should().Be("Approval appr-s is for session session-0, not session-1.");
        technician.Reason.Should().Be(ConsentReason.ApprovalWrongTechnician);
        technician.Sentence.Should().Be($"Approval appr-t is for technician key {other.PublicKey.KeyId}, not {_f.Technician.PublicKey.KeyId}.");
    }

    [Fact]
    public async Task AnApprovalForOtherWork_NamesWhatItAllowsAndWhatWasAsked()
    {
        ConsentRequest request = _f.Request();

        ConsentDecision operation = await DecideAsync(request, a => a with { ApprovalId = "appr-1", Operations = [SupportOperation.InstallFix] });
        ConsentDecision path = await DecideAsync(request, a => a with { ApprovalId = "appr-2", PathPatterns = ["reports/*.csv"] });
        ConsentDecision root = await DecideAsync(request, a => a with { ApprovalId = "appr-3", Root = "hr" });
        ConsentDecision owner = await DecideAsync(request, a => a with { ApprovalId = "appr-4", Owners = ["fabrikam-labs"] });

        operation.Sentence.Should().Be("Approval appr-1 allows InstallFix, not ViewData.");
        path.Reason.Should().Be(ConsentReason.ApprovalWrongPath);
        path.Sentence.Should().Be("Approval appr-2 covers finance/reports/*.csv, not finance/ledger/2026/ledger.db.");
        root.Reason.Should().Be(ConsentReason.ApprovalWrongPath, "the right patterns under another root cover nothing asked");
        root.Sentence.Should().Be("Approval appr-3 covers hr/ledger/2026/ledger.db, not finance/ledger/2026/ledger.db.");
        owner.Reason.Should().Be(ConsentReason.ApprovalWrongOwner);
        owner.Sentence.Should().Be("Approval appr-4 covers files of fabrikam-labs, not of fabrikam.");
    }

    [Fact]
    public async Task AnApprovalThatDoesNotBindTheRequestsPackage_IsRefused()
    {
        ConsentRequest request = _f.Request() with { PackageHash = new string('a', 64) };

        ConsentDecision unbound = await DecideAsync(request, a => a with { ApprovalId = "appr-p", PackageHash = null });
        ConsentDecision bound = await DecideAsync(request, a => a with { ApprovalId = "appr-q", PackageHash = new string('a', 64) });

        unbound.Reason.Should().Be(ConsentReason.ApprovalMalformed);
        unbound.Sentence.Should().Be("Approval appr-p does not bind this fix package (an install approval must name the package hash).");
        bound.IsGranted.Should().BeTrue(bound.Sentence);
    }

    [Fact]
    public async Task AnApprovalLongerThanTheRulesAllow_IsRefused_AndOneOfExactlyTheMaximumIsGranted()
    {
        ConsentRequest request = _f.Request();
        DateTimeOffset now = _f.Time.GetUtcNow();

        ConsentDecision tooLong = await DecideAsync(request, a => a with { ApprovalId = "appr-l", ValidFrom = now, ValidUntil = now.AddHours(8).AddSeconds(1) });
        ConsentDecision longest = await DecideAsync(request, a => a with { ApprovalId = "appr-m", ValidFrom = now, ValidUntil = now.AddHours(8) });

        tooLong.Reason.Should().Be(ConsentReason.ApprovalTooLong);
        tooLong.Sentence.Should().Be("Approval appr-l lives longer than the 28800 s the ground rules allow.");
        longest.IsGranted.Should().BeTrue(longest.Sentence);
    }

    [Fact]
    public async Task OfSeveralApprovalsThatFail_TheFirstsReasonIsGiven()
    {
        ConsentRequest request = _f.Request();
        SignedEnvelope wrongSession = _f.Approve(request, [_f.ItApprover], a => a with { ApprovalId = "appr-1", SessionId = "session-0" });
        SignedEnvelope noUses = _f.Approve(request, [_f.ItApprover], a => a with { ApprovalId = "appr-2", MaxUses = 0 });

        ConsentDecision decision = await _f.Gate().DecideAsync(request, [wrongSession, noUses]);

        decision.Reason.Should().Be(ConsentReason.ApprovalWrongSession);
        decision.Sentence.Should().StartWith("Approval appr-1 ");
    }

    [Fact]
    public async Task AnOperationTheRulesDoNotList_IsRefusedByName()
    {
        ConsentDecision decision = await _f.Gate().DecideAsync(_f.Request(SupportOperation.InstallFix));

        decision.Reason.Should().Be(ConsentReason.OperationNotPermitted);
        decision.Sentence.Should().Be("The ground rules do not permit InstallFix.");
    }

    [Fact]
    public async Task ADiagnosticTheRulesDoNotList_NamesTheOnesTheyAllow()
    {
        using var f = new ConsentFixture(rules: r => r with { Diagnostics = [new DiagnosticRule("disk-check", null), new DiagnosticRule("ping", null)] });

        ConsentDecision refused = await f.Gate().DecideAsync(f.Request(SupportOperation.RunDiagnostic, diagnostic: "dump-memory"));
        ConsentDecision granted = await f.Gate().DecideAsync(f.Request(SupportOperation.RunDiagnostic, diagnostic: "ping"));

        refused.Reason.Should().Be(ConsentReason.DiagnosticNotPermitted);
        refused.Sentence.Should().Be("The ground rules do not allow the diagnostic 'dump-memory' (they allow 'disk-check', 'ping').");
        granted.IsGranted.Should().BeTrue(granted.Sentence);
    }

    public void Dispose() => _f.Dispose();
}
