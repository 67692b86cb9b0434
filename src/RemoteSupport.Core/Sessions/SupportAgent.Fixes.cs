using RemoteSupport.Fixes;
using RemoteSupport.GroundRules;

namespace RemoteSupport.Sessions;

/// <summary>A fix pushed over the session: the stream taken, the package handed to <see cref="FixReception"/> (Fixes/), the outcome reported.</summary>
public sealed partial class SupportAgent
{
    private sealed partial class RunningSession
    {
        /// <summary>
        /// Takes the package's stream, has <see cref="FixReception"/> receive, verify, consent to (for this
        /// package hash) and install it, and reports the outcome with the unit-signed receipt.
        /// </summary>
        private async Task<SessionMessage> InstallFixAsync(SessionMessage message, CancellationToken cancellationToken)
        {
            string requestId = message.RequestId!;
            FixInstallOptions? fixes = Options.Fixes;
            if (streams is null)
            {
                return Result(requestId, SupportOperation.InstallFix, "package", false, "unsupported-operation", "This session carries no streams: fixes cannot be pushed over it.");
            }

            // The stream is taken first, whatever the answer: a refused package is dropped (its window
            // returned), never left to block the console.
            (string Name, Stream Stream)? incoming = await streams.AcceptStreamAsync(cancellationToken).ConfigureAwait(false);
            if (incoming is not { } accepted || accepted.Name != "fix/" + requestId)
            {
                throw new SessionProtocolException("protocol-error", $"The package of request {requestId} did not arrive on its stream.");
            }

            await using (accepted.Stream.ConfigureAwait(false))
            {
                if (fixes is null)
                {
                    return Result(requestId, SupportOperation.InstallFix, "package", false, "unsupported-operation", "This unit takes no fixes over sessions.");
                }

                FixReceived received = await new FixReception(fixes).ReceiveAsync(
                    accepted.Stream, message.PackageLength ?? 0, id,
                    (packageHash, token) => DecideAsync(requestId, Request(message, SupportOperation.InstallFix, packageHash), token),
                    cancellationToken).ConfigureAwait(false);
                SessionMessage result = Result(requestId, SupportOperation.InstallFix, received.Target, received.Installed, received.Code, received.Sentence, hashAfter: received.PackageHash);
                return received.Receipt is null ? result : result with { InstallReceipt = received.Receipt.ToJson() };
            }
        }
    }
}
