using RemoteSupport.Consent;
using RemoteSupport.Documents;
using RemoteSupport.GroundRules;

namespace RemoteSupport.Tests.Consent;

/// <summary>
/// The written-approval condition of one request as the agent runs it: the gate, then (when it needs an approval)
/// the approver, asked once, within the approval timeout, then the gate again; each ending with its code and on record.
/// </summary>
public sealed class ApprovalNegotiationTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(1.5);
    private readonly ConsentFixture _f = new();
    private readonly List<string> _told = [];

    public void Dispose() => _f.Dispose();

    private Task<(ConsentDecision Decision, string Code)> NegotiateAsync(ConsentRequest request, IApprovalPrompt? prompt, CancellationToken cancellationToken = default) =>
        new ApprovalNegotiation(_f.Gate(), _f.Audit, prompt, Timeout, _f.Time).DecideAsync(request, (text, _) =>
        {
            lock (_told)
            {
                _told.Add(text);
            }

            return ValueTask.CompletedTask;
        }, cancellationToken);

    [Fact]
    public async Task ARequestThatNeedsNoApproval_IsDecidedByTheGateAlone()
    {
        var prompt = new ScriptedPrompt(_ => null);

        (ConsentDecision decision, string code) = await NegotiateAsync(_f.Request(SupportOperation.RunDiagnostic), prompt);

        decision.IsGranted.Should().BeTrue(decision.Sentence);
        code.Should().Be("none");
        prompt.Asked.Should().BeEmpty();
        _told.Should().BeEmpty();
        _f.Audit.Decisions.Should().ContainSingle().Which.Should().BeSameAs(decision);
    }

    [Fact]
    public async Task ARequestTheGateDenies_IsToldByItsReason_AndNoApproverIsAsked()
    {
        var prompt = new ScriptedPrompt(_ => null);

        (ConsentDecision decision, string code) = await NegotiateAsync(_f.Request(path: "payroll/2026.csv"), prompt);

        decision.Reason.Should().Be(ConsentReason.OutOfScope);
        code.Should().Be("out-of-scope");
        prompt.Asked.Should().BeEmpty();
        _f.Audit.Decisions.Should().ContainSingle();
    }

    [Fact]
    public async Task WithoutAnApprover_TheRequestIsDenied_AndTheDenialIsOnRecord()
    {
        (ConsentDecision decision, string code) = await NegotiateAsync(_f.Request(), prompt: null);

        decision.Outcome.Should().Be(ConsentOutcome.Denied);
        decision.Reason.Should().Be(ConsentReason.ApprovalRequired);
        decision.Sentence.Should().Be("An approval is required and this unit has no approver to ask.");
        code.Should().Be("approval-required");
        _told.Should().BeEmpty("no approver reads anything");
        _f.Audit.Decisions.Select(d => d.Outcome).Should().Equal(ConsentOutcome.NeedsApproval, ConsentOutcome.Denied);
        _f.Audit.Decisions[1].Should().BeSameAs(decision);
    }

    [Fact]
    public async Task ARefusal_IsDenied_AfterTheVendorWasToldWhatTheApproverReads()
    {
        var prompt = new ScriptedPrompt(_ => null);

        (ConsentDecision decision, string code) = await NegotiateAsync(_f.Request(), prompt);

        decision.Outcome.Should().Be(ConsentOutcome.Denied);
        decision.Sentence.Should().Be("The approver refused the request.");
        code.Should().Be("approval-refused");
        prompt.Asked.Should().ContainSingle();
        _told.Should().Equal(prompt.Asked[0].RenderText());
        _f.Audit.Decisions.Select(d => d.Outcome).Should().Equal(ConsentOutcome.NeedsApproval, ConsentOutcome.Denied);
    }

    [Fact]
    public async Task AnApproval_IsDecidedByTheGateAgain_AndGranted()
    {
        var prompt = new ScriptedPrompt(asked => Approval.For(asked, _f.Time.GetUtcNow()).ToEnvelope().Sign(_f.ItApprover));

        (ConsentDecision decision, string code) = await NegotiateAsync(_f.Request(), prompt);

        decision.IsGranted.Should().BeTrue(decision.Sentence);
        code.Should().Be("none");
        decision.ApprovalsUsed.Should().ContainSingle();
        _f.Audit.Decisions.Select(d => d.Outcome).Should().Equal(ConsentOutcome.NeedsApproval, ConsentOutcome.Granted);
    }

    [Fact]
    public async Task AnApprovalTheGateRefuses_IsToldByTheGatesReason()
    {
        var prompt = new ScriptedPrompt(asked => Approval.For(asked, _f.Time.GetUtcNow()).ToEnvelope().Sign(_f.OwnerApprover)); // not IT's key

        (ConsentDecision decision, string code) = await NegotiateAsync(_f.Request(), prompt);

        decision.Reason.Should().Be(ConsentReason.ApprovalQuorumNotMet);
        code.Should().Be("approval-quorum-not-met");
        _f.Audit.Decisions.Should().HaveCount(2, "the gate recorded both of its decisions, and nothing more");
    }

    [Fact]
    public async Task AnApproverWhoNeverAnswers_TimesOut_EvenIgnoringItsToken()
    {
        var prompt = new ScriptedPrompt((_, _) => new TaskCompletionSource<SignedEnvelope?>().Task); // never completes, whatever the token

        Task<(ConsentDecision Decision, string Code)> negotiating = NegotiateAsync(_f.Request(), prompt);
        for (int i = 0; i < 3000 && !negotiating.IsCompleted; i++)
        {
            _f.Time.Advance(Timeout);
            await Task.Delay(10);
        }

        (ConsentDecision decision, string code) = await negotiating;
        decision.Outcome.Should().Be(ConsentOutcome.Denied);
        decision.Sentence.Should().Be("No approver answered within 1.5 s.");
        code.Should().Be("approval-timed-out");
        _f.Audit.Decisions.Select(d => d.Outcome).Should().Equal(ConsentOutcome.NeedsApproval, ConsentOutcome.Denied);
    }

    [Fact]
    public async Task TheCallersCancellation_IsNoTimeOut()
    {
        using var stop = new CancellationTokenSource();
        var prompt = new ScriptedPrompt((_, _) => new TaskCompletionSource<SignedEnvelope?>().Task);

        Task<(ConsentDecision Decision, string Code)> negotiating = NegotiateAsync(_f.Request(), prompt, stop.Token);
        for (int i = 0; i < 3000 && prompt.Asked.Count == 0; i++)
        {
            await Task.Delay(10);
        }

        await stop.CancelAsync();

        await FluentActions.Awaiting(() => negotiating).Should().ThrowAsync<OperationCanceledException>();
        _f.Audit.Decisions.Should().ContainSingle("a cancelled negotiation records no denial");
    }
}
