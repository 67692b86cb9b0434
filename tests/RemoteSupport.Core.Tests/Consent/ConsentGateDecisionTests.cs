using System.Globalization;
using RemoteSupport.Authorization;
using RemoteSupport.Consent;
using RemoteSupport.Documents;
using RemoteSupport.GroundRules;

namespace RemoteSupport.Tests.Consent;

/// <summary>
/// What a decision of the gate carries besides its outcome (its time, request, path, confinement, the request
/// for approval it builds, whether the gate issued it), that a failing approval hides no granting one, how each
/// authorization failure is told, and the service hours at their exact edges (a day's, a night's, a whole day's).
/// </summary>
public sealed class ConsentGateDecisionTests : IDisposable
{
    private readonly ConsentFixture _f = new();

    public void Dispose() => _f.Dispose();

    [Fact]
    public async Task ADecision_CarriesItsTimeRequestAndPath_UnderAnIdOfItsOwn()
    {
        ConsentRequest request = _f.Request();

        ConsentDecision first = await _f.Gate().DecideAsync(request);
        ConsentDecision second = await _f.Gate().DecideAsync(request);

        first.DecidedAt.Should().Be(_f.Time.GetUtcNow());
        first.Request.Should().BeSameAs(request);
        first.CanonicalPath.Should().Be("ledger/2026/ledger.db");
        first.DecisionId.Should().MatchRegex("^decision-[0-9a-f]{32}$");
        second.DecisionId.Should().NotBe(first.DecisionId);
    }

    [Fact]
    public async Task OnlyAGrantTheGateReturned_IsIssued()
    {
        ConsentDecision granted = await _f.GrantAsync(_f.Request());
        ConsentDecision needs = await _f.Gate().DecideAsync(_f.Request());

        ConsentGate.IsIssued(granted).Should().BeTrue();
        ConsentGate.IsIssued(granted with { Sentence = "copied" }).Should().BeFalse("a copy is another object");
        ConsentGate.IsIssued(needs).Should().BeFalse("only grants are issued");
    }

    [Fact]
    public async Task ARequestForApproval_NamesWhatWasAskedField_ByField()
    {
        ConsentRequest request = _f.Request(path: "reports/2026-11.csv") with { RequestedDurationSeconds = 1800 };

        ApprovalRequest asked = (await _f.Gate().DecideAsync(request)).ApprovalRequest!;

        asked.RequestId.Should().MatchRegex("^request-[0-9a-f]{32}$");
        asked.SessionId.Should().Be(ConsentFixture.Session);
        asked.TechnicianId.Should().Be("contoso");
        asked.TechnicianKeyId.Should().Be(_f.Technician.PublicKey.KeyId);
        asked.Operation.Should().Be(SupportOperation.ViewData);
        asked.Diagnostic.Should().BeNull();
        asked.Root.Should().Be("finance");
        asked.Paths.Should().Equal("reports/2026-11.csv");
        asked.Owner.Should().Be("fabrikam");
        asked.Reason.Should().Be("month-end reconciliation fails");
        asked.Ticket.Should().Be("T-1234");
        asked.RequestedDurationSeconds.Should().Be(1800);
        asked.RequestedAt.Should().Be(_f.Time.GetUtcNow());
        asked.PackageHash.Should().BeNull();
    }

    [Fact]
    public async Task ARequestForApprovalOfADiagnostic_NamesTheDiagnostic_AndNoData()
    {
        using var f = new ConsentFixture(rules: r => r with { Diagnostics = [new DiagnosticRule("disk-check", new ApprovalRequirement([It(r)]))] });

        ApprovalRequest asked = (await f.Gate().DecideAsync(f.Request(SupportOperation.RunDiagnostic))).ApprovalRequest!;

        asked.Diagnostic.Should().Be("disk-check");
        asked.Root.Should().BeNull();
        asked.Paths.Should().BeEmpty();
        asked.Owner.Should().BeNull();
    }

    [Fact]
    public async Task AGrantUnderAnApproval_IsConfinedToTheScopeAndToWhatTheApprovalCovers()
    {
        ConsentRequest file = _f.Request(path: "ledger/2026/ledger.db");
        ConsentRequest folder = _f.Request(path: "ledger/2026");

        ConsentDecision ofFile = await _f.GrantAsync(file);
        ConsentDecision ofFolder = await _f.Gate().DecideAsync(folder, [_f.Approve(folder, [_f.ItApprover], a => a with { PathPatterns = ["ledger/2026", "reports/*.csv"] })]);

        ofFile.Confinement.Select(set => string.Join(" ", set)).Should().Equal("ledger/** reports/*.csv", "ledger/2026/ledger.db/**");
        ofFolder.IsGranted.Should().BeTrue(ofFolder.Sentence);
        ofFolder.Confinement.Select(set => string.Join(" ", set)).Should().Equal(["ledger/** reports/*.csv", "ledger/2026/** reports/*.csv"],
            "a pattern matching the folder itself approved a listing of what lies below it; any other pattern covers the entries it matches");
        ofFolder.Covers("ledger/2026/q4.db").Should().BeTrue();
        ofFolder.Covers("ledger/2025/q4.db").Should().BeFalse("the approval covers ledger/2026 alone");
    }

    [Fact]
    public async Task AGrantWithoutAnApproval_IsConfinedToTheScopeAlone_AndANonDataGrantToNothing()
    {
        using var f = new ConsentFixture(rules: r => r with { Operations = [new OperationRule(SupportOperation.ViewData, true, null), .. r.Operations.Skip(1)] });

        ConsentDecision view = await f.Gate().DecideAsync(f.Request(path: "labs/run-1/out.csv", owner: "fabrikam-labs"));
        ConsentDecision diagnostic = await f.Gate().DecideAsync(f.Request(SupportOperation.RunDiagnostic));

        view.IsGranted.Should().BeTrue(view.Sentence);
        view.Sentence.Should().Be("ViewData needs no approval under the ground rules.");
        view.Confinement.Select(set => string.Join(" ", set)).Should().Equal("labs/**");
        view.CanonicalPath.Should().Be("labs/run-1/out.csv");
        diagnostic.IsGranted.Should().BeTrue(diagnostic.Sentence);
        diagnostic.Confinement.Should().BeEmpty();
        diagnostic.CanonicalPath.Should().BeNull();
    }

    [Fact]
    public async Task AnApprovalThatFails_DoesNotHideOneThatGrants()
    {
        ConsentRequest request = _f.Request();
        SignedEnvelope spent = _f.Approve(request, [_f.ItApprover], a => a with { ApprovalId = "appr-1", MaxUses = 1 });
        SignedEnvelope fresh = _f.Approve(request, [_f.ItApprover], a => a with { ApprovalId = "appr-2" });
        (await _f.Gate().DecideAsync(request, [spent])).IsGranted.Should().BeTrue();

        ConsentDecision decision = await _f.Gate().DecideAsync(request, [spent, fresh]);

        decision.IsGranted.Should().BeTrue(decision.Sentence);
        decision.ApprovalsUsed.Should().Equal("appr-2");
        _f.Uses.UsesOf("appr-1").Should().Be(1, "the spent approval is not counted again");
    }

    [Fact]
    public async Task WithoutGroundRulesInForce_EveryRequestIsDenied()
    {
        var gate = new ConsentGate(_f.Trust, _f.Authorizations, new GroundRulesBook(_f.Trust), _f.Uses, _f.Audit, _f.Time);

        ConsentDecision decision = await gate.DecideAsync(_f.Request(SupportOperation.RunDiagnostic));

        decision.Reason.Should().Be(ConsentReason.GroundRulesMissing);
        decision.Sentence.Should().Be("No jointly signed ground rules are in force.");
        _f.Audit.Decisions.Should().ContainSingle().Which.Should().BeSameAs(decision);
    }

    [Fact]
    public async Task TheGate_RefusesNullParts_AndANullRequest()
    {
        FluentActions.Invoking(() => new ConsentGate(null!, _f.Authorizations, _f.GroundRules, _f.Uses, _f.Audit)).Should().Throw<ArgumentNullException>().WithParameterName("trust");
        FluentActions.Invoking(() => new ConsentGate(_f.Trust, null!, _f.GroundRules, _f.Uses, _f.Audit)).Should().Throw<ArgumentNullException>().WithParameterName("authorizations");
        FluentActions.Invoking(() => new ConsentGate(_f.Trust, _f.Authorizations, null!, _f.Uses, _f.Audit)).Should().Throw<ArgumentNullException>().WithParameterName("groundRules");
        FluentActions.Invoking(() => new ConsentGate(_f.Trust, _f.Authorizations, _f.GroundRules, null!, _f.Audit)).Should().Throw<ArgumentNullException>().WithParameterName("uses");
        FluentActions.Invoking(() => new ConsentGate(_f.Trust, _f.Authorizations, _f.GroundRules, _f.Uses, null!)).Should().Throw<ArgumentNullException>().WithParameterName("audit");
        await FluentActions.Awaiting(async () => await _f.Gate().DecideAsync(null!)).Should().ThrowAsync<ArgumentNullException>().WithParameterName("request");
    }

    [Fact]
    public async Task AnAuthorizationOutsideItsValidity_IsToldAsSuch()
    {
        _f.Time.SetUtcNow(new DateTimeOffset(2027, 1, 6, 9, 0, 0, TimeSpan.Zero)); // a Wednesday, after the authorization's end

        ConsentDecision decision = await _f.Gate().DecideAsync(_f.Request(SupportOperation.RunDiagnostic));

        decision.Reason.Should().Be(ConsentReason.AuthorizationOutsideValidity);
        decision.Sentence.Should().StartWith("Authorization auth-2026 ");
    }

    [Fact]
    public async Task AnAuthorizationOnOtherGroundRules_IsToldAsAMismatch()
    {
        var book = new AuthorizationBook(_f.Trust, _f.Time);
        string otherRules = DocumentJson.Hash("other ground rules"u8.ToArray());
        book.Accept(_f.AuthorizationFor(otherRules).ToEnvelope().Sign(_f.Customer)).IsAccepted.Should().BeTrue();
        var gate = new ConsentGate(_f.Trust, book, _f.GroundRules, _f.Uses, _f.Audit, _f.Time);

        ConsentDecision decision = await gate.DecideAsync(_f.Request(SupportOperation.RunDiagnostic));

        decision.Reason.Should().Be(ConsentReason.GroundRulesMismatch);
        decision.Sentence.Should().Be($"Authorization auth-2026 rests on ground rules {otherRules}, not on those in force ({_f.GroundRules.CurrentHash}).");
    }

    [Theory]
    [InlineData("08:00", "18:00", "weekdays", "2026-11-25T07:00:00Z", true)] // Wednesday 08:00 in Berlin
    [InlineData("08:00", "18:00", "weekdays", "2026-11-25T06:59:00Z", false)] // 07:59
    [InlineData("08:00", "18:00", "weekdays", "2026-11-25T16:59:00Z", true)] // 17:59
    [InlineData("08:00", "18:00", "weekdays", "2026-11-25T17:00:00Z", false)] // 18:00
    [InlineData("22:00", "06:00", "weekdays", "2026-11-25T21:00:00Z", true)] // Wednesday 22:00
    [InlineData("22:00", "06:00", "weekdays", "2026-11-25T20:59:00Z", false)] // Wednesday 21:59
    [InlineData("22:00", "06:00", "weekdays", "2026-11-26T04:59:00Z", true)] // Thursday 05:59, the night after Wednesday
    [InlineData("22:00", "06:00", "weekdays", "2026-11-26T05:00:00Z", false)] // Thursday 06:00
    [InlineData("22:00", "06:00", "weekdays", "2026-11-28T21:00:00Z", false)] // Saturday 22:00
    [InlineData("00:00", "00:00", "saturday", "2026-11-27T23:00:00Z", true)] // Saturday 00:00
    [InlineData("00:00", "00:00", "saturday", "2026-11-28T22:59:00Z", true)] // Saturday 23:59
    [InlineData("00:00", "00:00", "saturday", "2026-11-27T22:59:00Z", false)] // Friday 23:59
    [InlineData("00:00", "00:00", "saturday", "2026-11-28T23:00:00Z", false)] // Sunday 00:00
    public async Task TheServiceHours_HoldAtTheirEdges(string from, string to, string days, string utc, bool inside)
    {
        IReadOnlyList<DayOfWeek> listed = days == "saturday"
            ? [DayOfWeek.Saturday]
            : [DayOfWeek.Monday, DayOfWeek.Tuesday, DayOfWeek.Wednesday, DayOfWeek.Thursday, DayOfWeek.Friday];
        using var f = new ConsentFixture(DateTimeOffset.Parse(utc, CultureInfo.InvariantCulture), r => r with { Hours = new ServiceHours(listed, from, to) });

        ConsentDecision decision = await f.Gate().DecideAsync(f.Request(SupportOperation.RunDiagnostic));

        decision.IsGranted.Should().Be(inside, decision.Sentence);
        decision.Reason.Should().Be(inside ? ConsentReason.None : ConsentReason.OutsideHours);
    }

    [Fact]
    public async Task OutsideTheHours_TheSentenceNamesTheLocalTimeAndTheHours()
    {
        using var f = new ConsentFixture(new DateTimeOffset(2026, 11, 28, 9, 5, 0, TimeSpan.Zero)); // Saturday 10:05 in Berlin

        ConsentDecision decision = await f.Gate().DecideAsync(f.Request(SupportOperation.RunDiagnostic));

        decision.Sentence.Should().Be("It is Saturday 10:05 in Europe/Berlin; service hours are Monday, Tuesday, Wednesday, Thursday, Friday 08:00-18:00.");
    }

    private static ApproverGroup It(SecurityGroundRules rules) =>
        rules.Operations.Single(o => o.Operation == SupportOperation.ViewData).Approval!.Groups.Single();
}
