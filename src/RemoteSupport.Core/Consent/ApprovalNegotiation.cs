using System.Globalization;
using RemoteSupport.Documents;

namespace RemoteSupport.Consent;

/// <summary>
/// The written-approval condition for one request: the gate first; when it needs an approval, the
/// customer's approver is asked (the vendor is told what the approver reads, and waits, at most the
/// approval timeout), then the gate again with the signed approval.
/// </summary>
internal sealed class ApprovalNegotiation(ConsentGate gate, IConsentAuditSink audit, IApprovalPrompt? prompt, TimeSpan timeout, TimeProvider time)
{
    /// <summary>Decides <paramref name="request"/>, asking the approver when the gate needs an approval.</summary>
    /// <returns>The decision, and the code to report when it is not a grant (a consent reason in kebab case, or <c>approval-required</c>, <c>approval-refused</c>, <c>approval-timed-out</c>).</returns>
    /// <param name="request">What the vendor asks.</param>
    /// <param name="approverAsked">Tells the vendor the approval text the approver reads, before the approver is asked.</param>
    /// <param name="cancellationToken">Stops the decision.</param>
    public async Task<(ConsentDecision Decision, string Code)> DecideAsync(
        ConsentRequest request, Func<string, CancellationToken, ValueTask> approverAsked, CancellationToken cancellationToken)
    {
        ConsentDecision decision = await gate.DecideAsync(request, null, cancellationToken).ConfigureAwait(false);
        string? code = null;
        if (decision.Outcome == ConsentOutcome.NeedsApproval)
        {
            (decision, code) = await AskApproverAsync(request, decision, approverAsked, cancellationToken).ConfigureAwait(false);
            if (code is not null)
            {
                // No approver, a refusal, no answer in time: the final denial is on record as the gate's decisions are.
                await audit.RecordAsync(decision, cancellationToken).ConfigureAwait(false);
            }
        }

        return (decision, code ?? DocumentJson.Kebab(decision.Reason));
    }

    private async Task<(ConsentDecision Decision, string? Code)> AskApproverAsync(
        ConsentRequest request, ConsentDecision pending, Func<string, CancellationToken, ValueTask> approverAsked, CancellationToken cancellationToken)
    {
        if (prompt is null)
        {
            return (pending with { Outcome = ConsentOutcome.Denied, Sentence = "An approval is required and this unit has no approver to ask." }, "approval-required");
        }

        await approverAsked(pending.ApprovalRequest!.RenderText(), cancellationToken).ConfigureAwait(false);
        using var deadline = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        SignedEnvelope? approval;
        try
        {
            // WaitAsync: a prompt that ignores its token still cannot hold the session past the timeout.
            approval = await prompt.RequestApprovalAsync(pending.ApprovalRequest, linked.Token).AsTask().WaitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return (pending with { Outcome = ConsentOutcome.Denied, Sentence = string.Create(CultureInfo.InvariantCulture,
                $"No approver answered within {timeout.TotalSeconds:0.###} s.") }, "approval-timed-out");
        }

        if (approval is null)
        {
            return (pending with { Outcome = ConsentOutcome.Denied, Sentence = "The approver refused the request." }, "approval-refused");
        }

        return (await gate.DecideAsync(request, [approval], cancellationToken).ConfigureAwait(false), null);
    }
}
