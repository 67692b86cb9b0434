using RemoteSupport.Authorization;
using RemoteSupport.Consent;
using RemoteSupport.Documents;
using RemoteSupport.GroundRules;
using RemoteSupport.Identities;

namespace RemoteSupport.Tests.Consent;

public sealed class ConsentGateTests : IDisposable
{
    private readonly ConsentFixture _f = new();

    public void Dispose() => _f.Dispose();

    [Fact]
    public async Task View_WithoutApproval_NeedsApproval_WithARequestAPersonCanRead()
    {
        ConsentDecision decision = await _f.Gate().DecideAsync(_f.Request());

        decision.Outcome.Should().Be(ConsentOutcome.NeedsApproval);
        decision.Reason.Should().Be(ConsentReason.ApprovalRequired);
        string text = decision.ApprovalRequest!.RenderText();
        text.Should().Contain("VIEW (read only)").And.Contain("finance/ledger/2026/ledger.db").And.Contain("month-end reconciliation fails")
            .And.Contain("T-1234").And.Contain(_f.Technician.PublicKey.KeyId);
        _f.Audit.Decisions.Should().ContainSingle().Which.Should().BeSameAs(decision);
    }

    [Fact]
    public async Task ARequestWithoutATicket_IsRenderedWithoutAnEmptyTicketLine()
    {
        ConsentDecision withTicket = await _f.Gate().DecideAsync(_f.Request());
        ConsentDecision withoutTicket = await _f.Gate().DecideAsync(_f.Request() with { Ticket = null });

        withTicket.ApprovalRequest!.RenderText().Split('\n').Should().Contain("Ticket (the vendor's words): \"T-1234\"");
        withoutTicket.ApprovalRequest!.RenderText().Should().NotContain("Ticket").And.NotContain("none");
    }

    [Fact]
    public async Task View_WithITApproval_IsGranted_AndTheUseIsCounted()
    {
        ConsentRequest request = _f.Request();
        SignedEnvelope approval = _f.Approve(request, [_f.ItApprover]);

        ConsentDecision decision = await _f.Gate().DecideAsync(request, [approval]);

        decision.Outcome.Should().Be(ConsentOutcome.Granted, decision.Sentence);
        decision.ApprovalsUsed.Should().ContainSingle();
        _f.Uses.UsesOf(decision.ApprovalsUsed[0]).Should().Be(1);
        _f.Audit.Decisions.Should().ContainSingle().Which.IsGranted.Should().BeTrue();
    }

    [Fact]
    public async Task Change_WithAQuorumOfOneWhereTwoAreRequired_IsDenied()
    {
        ConsentRequest request = _f.Request(SupportOperation.ChangeData);

        ConsentDecision decision = await _f.Gate().DecideAsync(request, [_f.Approve(request, [_f.ItApprover])]);

        decision.Outcome.Should().Be(ConsentOutcome.Denied);
        decision.Reason.Should().Be(ConsentReason.ApprovalQuorumNotMet);
        decision.Sentence.Should().Contain("data owner");
    }

    [Fact]
    public async Task Change_WithITAndTheDataOwner_IsGranted()
    {
        ConsentRequest request = _f.Request(SupportOperation.ChangeData);

        ConsentDecision decision = await _f.Gate().DecideAsync(request, [_f.Approve(request, [_f.ItApprover, _f.OwnerApprover])]);

        decision.IsGranted.Should().BeTrue(decision.Sentence);
    }

    [Fact]
    public async Task ViewApproval_UsedToChange_IsDenied()
    {
        SignedEnvelope viewApproval = _f.Approve(_f.Request(SupportOperation.ViewData), [_f.ItApprover, _f.OwnerApprover]);

        ConsentDecision decision = await _f.Gate().DecideAsync(_f.Request(SupportOperation.ChangeData), [viewApproval]);

        decision.Reason.Should().Be(ConsentReason.ApprovalWrongOperation);
    }

    [Fact]
    public async Task ApprovalForAnotherSession_IsDenied()
    {
        SignedEnvelope approval = _f.Approve(_f.Request(session: "session-0"), [_f.ItApprover]);

        (await _f.Gate().DecideAsync(_f.Request(), [approval])).Reason.Should().Be(ConsentReason.ApprovalWrongSession);
    }

    [Fact]
    public async Task ApprovalForAnotherTechnician_IsDenied()
    {
        using var colleague = PartyIdentity.Create("contoso", PartyRole.Technician);
        SignedEnvelope approval = _f.Approve(_f.Request(technician: colleague), [_f.ItApprover]);

        (await _f.Gate().DecideAsync(_f.Request(), [approval])).Reason.Should().Be(ConsentReason.ApprovalWrongTechnician);
    }

    [Fact]
    public async Task ApprovalForAnotherOwner_IsDenied()
    {
        ConsentRequest labs = _f.Request(path: "labs/results.db", owner: "fabrikam-labs");
        SignedEnvelope approval = _f.Approve(labs, [_f.ItApprover], a => a with { Owners = ["fabrikam"] });

        ConsentDecision decision = await _f.Gate().DecideAsync(labs, [approval]);

        decision.Reason.Should().Be(ConsentReason.ApprovalWrongOwner);
        decision.Sentence.Should().Contain("covers files of fabrikam, not of fabrikam-labs");
    }

    [Fact]
    public async Task InstallApproval_MustBindThePackageHash()
    {
        using var f = new ConsentFixture();
        SecurityGroundRules rules = f.Rules with
        {
            Version = 2,
            Replaces = f.GroundRules.CurrentHash,
            Operations = [.. f.Rules.Operations, new OperationRule(SupportOperation.InstallFix, true, new ApprovalRequirement([f.It()]))],
        };
        f.GroundRules.Accept(rules.ToEnvelope().Sign(f.Customer).Sign(f.Vendor)).IsAccepted.Should().BeTrue();
        f.Authorizations.Accept((f.AuthorizationFor(f.GroundRules.CurrentHash!) with { AuthorizationId = "auth-v2" }).ToEnvelope().Sign(f.Customer)).IsAccepted.Should().BeTrue();
        ConsentRequest install = f.Request(SupportOperation.InstallFix) with { Root = null, Path = null, Owner = null, PackageHash = new string('a', 64) };
        SignedEnvelope approval = f.Approve(install with { Path = "x" }, [f.ItApprover], a => a with { PackageHash = new string('a', 64), Root = null, PathPatterns = [], Owners = [] });

        (await f.Gate().DecideAsync(install, [approval])).IsGranted.Should().BeTrue();
        (await f.Gate().DecideAsync(install with { PackageHash = null }, [approval])).Reason.Should().Be(ConsentReason.ApprovalMalformed);
        (await f.Gate().DecideAsync(install with { PackageHash = new string('b', 64) }, [approval])).Reason.Should().Be(ConsentReason.ApprovalMalformed);
    }

    [Fact]
    public async Task ApprovalForAnotherPath_IsDenied()
    {
        SignedEnvelope approval = _f.Approve(_f.Request(path: "ledger/2025/ledger.db"), [_f.ItApprover]);

        ConsentDecision decision = await _f.Gate().DecideAsync(_f.Request(), [approval]);

        decision.Reason.Should().Be(ConsentReason.ApprovalWrongPath);
        decision.Sentence.Should().MatchRegex("covers finance/ledger/2025/ledger.db, not finance/ledger/.+", "the refusal names what the approval covers");
    }

    [Fact]
    public async Task ExpiredAndNotYetValidApprovals_AreDenied()
    {
        ConsentRequest request = _f.Request();
        SignedEnvelope later = _f.Approve(request, [_f.ItApprover], a => a with { ValidFrom = a.ValidFrom.AddHours(1), ValidUntil = a.ValidUntil.AddHours(1) });
        SignedEnvelope earlier = _f.Approve(request, [_f.ItApprover], a => a with { ValidFrom = a.ValidFrom.AddHours(-2), ValidUntil = a.ValidUntil.AddHours(-2) });

        (await _f.Gate().DecideAsync(request, [later])).Reason.Should().Be(ConsentReason.ApprovalOutsideValidity);
        (await _f.Gate().DecideAsync(request, [earlier])).Reason.Should().Be(ConsentReason.ApprovalOutsideValidity);
    }

    [Fact]
    public async Task ApprovalLivingLongerThanTheRulesAllow_IsDenied()
    {
        ConsentRequest request = _f.Request();
        SignedEnvelope approval = _f.Approve(request, [_f.ItApprover], a => a with { ValidUntil = a.ValidFrom.AddHours(9) });

        (await _f.Gate().DecideAsync(request, [approval])).Reason.Should().Be(ConsentReason.ApprovalTooLong);
    }

    [Fact]
    public async Task ApprovalNotSignedByAnApprover_IsDenied()
    {
        ConsentRequest request = _f.Request();

        (await _f.Gate().DecideAsync(request, [_f.Approve(request, [_f.Technician])])).Reason.Should().Be(ConsentReason.ApprovalQuorumNotMet);
    }

    [Fact]
    public async Task UsesExhausted_AreDenied_AndTheCountSurvivesARestart()
    {
        using var folder = new TemporaryFolder();
        string file = folder.File("uses.log");
        ConsentRequest request = _f.Request();
        SignedEnvelope approval = _f.Approve(request, [_f.ItApprover], a => a with { MaxUses = 2 });
        using (FileApprovalUseCounter uses = FileApprovalUseCounter.Open(file))
        {
            (await _f.Gate(uses).DecideAsync(request, [approval])).IsGranted.Should().BeTrue();
            (await _f.Gate(uses).DecideAsync(request, [approval])).IsGranted.Should().BeTrue();
        }

        await File.AppendAllTextAsync(file, "approval-torn"); // a crash in the middle of a write
        using FileApprovalUseCounter reopened = FileApprovalUseCounter.Open(file);
        ConsentDecision third = await _f.Gate(reopened).DecideAsync(request, [approval]);

        third.Reason.Should().Be(ConsentReason.ApprovalUsesExhausted);
        reopened.UsesOf("approval-torn").Should().Be(0);
    }

    [Fact]
    public async Task RevokedAuthorization_DeniesTheNextRequestOfAnOpenSession()
    {
        ConsentRequest request = _f.Request(SupportOperation.RunDiagnostic);
        (await _f.Gate().DecideAsync(request)).IsGranted.Should().BeTrue();

        DocumentAcceptance refused = _f.Authorizations.Revoke(new AuthorizationRevocation { AuthorizationId = "auth-2026", CustomerId = "fabrikam", Reason = "contract ended" }
            .ToEnvelope().Sign(_f.Customer));
        refused.IsAccepted.Should().BeTrue();

        ConsentDecision next = await _f.Gate().DecideAsync(request);
        next.Reason.Should().Be(ConsentReason.AuthorizationRevoked);
        next.Sentence.Should().Contain("contract ended");
    }

    [Fact]
    public async Task RevocationNotSignedByTheCustomer_IsRefused()
    {
        DocumentAcceptance refused = _f.Authorizations.Revoke(new AuthorizationRevocation { AuthorizationId = "auth-2026", CustomerId = "fabrikam", Reason = "forged" }
            .ToEnvelope().Sign(_f.Vendor));

        refused.Sentence.Should().Contain("not signed by the customer");
        (await _f.Gate().DecideAsync(_f.Request(SupportOperation.RunDiagnostic))).IsGranted.Should().BeTrue();
    }

    [Fact]
    public async Task NoAuthorizationForThisTechnician_IsDenied()
    {
        using var stranger = PartyIdentity.Create("contoso", PartyRole.Technician);

        (await _f.Gate().DecideAsync(_f.Request(SupportOperation.RunDiagnostic, technician: stranger))).Reason.Should().Be(ConsentReason.NotAuthorized);
    }

    [Theory]
    [InlineData(2026, 11, 28, 10)] // Saturday
    [InlineData(2026, 11, 25, 17)] // 18:00 in Berlin: the window's end is exclusive
    [InlineData(2026, 11, 25, 6)] // 07:00 in Berlin
    public async Task OutsideServiceHours_IsDenied(int year, int month, int day, int utcHour)
    {
        using var f = new ConsentFixture(new DateTimeOffset(year, month, day, utcHour, 0, 0, TimeSpan.Zero));

        ConsentDecision decision = await f.Gate().DecideAsync(f.Request(SupportOperation.RunDiagnostic));

        decision.Reason.Should().Be(ConsentReason.OutsideHours);
        decision.Sentence.Should().Contain("Europe/Berlin");
    }

    [Fact]
    public async Task ServiceHours_FollowTheCustomersZoneAcrossSummerTime()
    {
        using var f = new ConsentFixture(new DateTimeOffset(2026, 7, 1, 6, 30, 0, TimeSpan.Zero)); // 08:30 CEST

        (await f.Gate().DecideAsync(f.Request(SupportOperation.RunDiagnostic))).IsGranted.Should().BeTrue();
    }

    [Theory]
    [InlineData("../etc/passwd")]
    [InlineData("ledger/../../etc/passwd")]
    [InlineData("/etc/passwd")]
    [InlineData("C:/Windows/win.ini")]
    [InlineData("ledger\\..\\x")]
    [InlineData("ledger/%2e%2e/secrets")]
    [InlineData("ledger%2f..%2fsecrets")]
    [InlineData("ledger/\u2215etc")]
    [InlineData("ledger/\uFF0E\uFF0E/secrets")]
    [InlineData("ledger//x")]
    [InlineData("ledger/./x")]
    [InlineData("ledger/x\u0000")]
    [InlineData("ledger/\u202Ex")]
    public async Task EscapingPaths_AreRefused(string path)
    {
        ConsentRequest request = _f.Request(path: path);

        ConsentDecision decision = await _f.Gate().DecideAsync(request, [_f.Approve(request, [_f.ItApprover])]);

        decision.Outcome.Should().Be(ConsentOutcome.Denied);
        decision.Reason.Should().Be(ConsentReason.PathRefused);
    }

    [Fact]
    public async Task FileOutsideEveryScope_IsDenied_AndOwnerMismatch_IsNamed()
    {
        (await _f.Gate().DecideAsync(_f.Request(path: "payroll/2026.db"))).Reason.Should().Be(ConsentReason.OutOfScope);
        (await _f.Gate().DecideAsync(_f.Request(path: "labs/results.db", owner: "fabrikam"))).Reason.Should().Be(ConsentReason.OwnerNotInScope);
    }

    [Fact]
    public async Task AuditFailure_MeansNoDecisionIsReturned()
    {
        ConsentRequest request = _f.Request(SupportOperation.RunDiagnostic);
        var failing = new MemoryAuditSink { Fail = true };

        var decide = async () => await _f.Gate(audit: failing).DecideAsync(request);

        await decide.Should().ThrowAsync<IOException>();
    }

    [Fact]
    public async Task OfflineRoute_ExportedRequest_ImportedApproval()
    {
        ConsentRequest request = _f.Request();
        ConsentDecision needs = await _f.Gate().DecideAsync(request);

        // The request travels as text; the approver's tool signs an approval for exactly it.
        ApprovalRequest imported = ApprovalRequest.FromJson(needs.ApprovalRequest!.ToJson());
        imported.TextHash.Should().Be(needs.ApprovalRequest.TextHash);
        string signed = Approval.For(imported, _f.Time.GetUtcNow()).ToEnvelope().Sign(_f.ItApprover).ToJson();

        ConsentDecision decision = await _f.Gate().DecideAsync(request, [SignedEnvelope.Parse(signed)]);
        decision.IsGranted.Should().BeTrue(decision.Sentence);
    }

    [Fact]
    public async Task InteractiveRoute_PromptSignsOrRefuses()
    {
        ConsentRequest request = _f.Request();
        ConsentDecision needs = await _f.Gate().DecideAsync(request);
        IApprovalPrompt approve = new ScriptedPrompt(r => Approval.For(r, _f.Time.GetUtcNow()).ToEnvelope().Sign(_f.ItApprover));
        IApprovalPrompt refuse = new ScriptedPrompt(_ => null);

        (await refuse.RequestApprovalAsync(needs.ApprovalRequest!)).Should().BeNull();
        SignedEnvelope? approval = await approve.RequestApprovalAsync(needs.ApprovalRequest!);
        (await _f.Gate().DecideAsync(request, [approval!])).IsGranted.Should().BeTrue();
    }
}
