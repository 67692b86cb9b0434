using System.Globalization;
using RemoteSupport.Consent;
using RemoteSupport.Documents;

namespace RemoteSupport.Sessions;

/// <summary>Approval negotiation: the gate first, then the customer's approver while the vendor waits, then the gate again.</summary>
public sealed partial class SupportAgent
{
    private sealed partial class RunningSession
    {
        /// <summary>Asks the gate; when it needs an approval, asks the approver (the vendor is told and waits) and the gate again.</summary>
        /// <returns>The decision, and the result code to report when it is not a grant.</returns>
        private async Task<(ConsentDecision Decision, string Code)> DecideAsync(string requestId, ConsentRequest request, CancellationToken cancellationToken)
        {
            ConsentDecision decision = await Options.Gate.DecideAsync(request, null, cancellationToken).ConfigureAwait(false);
            string? code = null;
            if (decision.Outcome == ConsentOutcome.NeedsApproval)
            {
                (decision, code) = await AskApproverAsync(requestId, request, decision, cancellationToken).ConfigureAwait(false);
            }

            return (decision, code ?? Code(decision.Reason));
        }

        /// <returns>The decision after the approver answered, with a code when the approver refused or did not answer.</returns>
        private async Task<(ConsentDecision Decision, string? Code)> AskApproverAsync(string requestId, ConsentRequest request, ConsentDecision pending, CancellationToken cancellationToken)
        {
            if (Options.ApprovalPrompt is null)
            {
                return (pending with { Outcome = ConsentOutcome.Denied, Sentence = "An approval is required and this unit has no approver to ask." }, "approval-required");
            }

            // The vendor learns what the approver is asked while it waits.
            await SendAsync(channel, new SessionMessage { Type = "pending-approval", RequestId = requestId, ApprovalText = pending.ApprovalRequest!.RenderText() }, cancellationToken).ConfigureAwait(false);
            using var timeout = new CancellationTokenSource(Options.ApprovalTimeout, Options.TimeProvider);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
            SignedEnvelope? approval;
            try
            {
                approval = await Options.ApprovalPrompt.RequestApprovalAsync(pending.ApprovalRequest, linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                return (pending with { Outcome = ConsentOutcome.Denied, Sentence = string.Create(CultureInfo.InvariantCulture,
                    $"No approver answered within {Options.ApprovalTimeout.TotalSeconds:0.###} s.") }, "approval-timed-out");
            }

            if (approval is null)
            {
                return (pending with { Outcome = ConsentOutcome.Denied, Sentence = "The approver refused the request." }, "approval-refused");
            }

            return (await Options.Gate.DecideAsync(request, [approval], cancellationToken).ConfigureAwait(false), null);
        }

        private static string Code(ConsentReason reason) => Kebab(reason.ToString());
    }
}
