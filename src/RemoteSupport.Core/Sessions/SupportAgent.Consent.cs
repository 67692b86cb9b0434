using RemoteSupport.Consent;

namespace RemoteSupport.Sessions;

/// <summary>A request's consent: negotiated by <see cref="ApprovalNegotiation"/> (Consent/), the vendor told what the approver reads.</summary>
public sealed partial class SupportAgent
{
    private sealed partial class RunningSession
    {
        /// <summary>Asks the gate; when it needs an approval, asks the approver (the vendor is told and waits) and the gate again.</summary>
        /// <returns>The decision, and the result code to report when it is not a grant.</returns>
        private Task<(ConsentDecision Decision, string Code)> DecideAsync(string requestId, ConsentRequest request, CancellationToken cancellationToken) =>
            new ApprovalNegotiation(Options.Gate, Options.Audit, Options.ApprovalPrompt, Options.ApprovalTimeout, Options.TimeProvider).DecideAsync(
                request,
                (text, token) => SessionWire.SendAsync(channel, new SessionMessage { Type = SessionWire.PendingApproval, RequestId = requestId, ApprovalText = text }, token),
                cancellationToken);
    }
}
