using System.Globalization;
using RemoteSupport.Consent;
using RemoteSupport.Documents;
using RemoteSupport.Fixes;
using RemoteSupport.GroundRules;

namespace RemoteSupport.Sessions;

/// <summary>How an agent receives, verifies and installs fixes pushed over a session.</summary>
public sealed class FixInstallOptions
{
    /// <summary>Gets the vendor root the unit pinned, and its rotations.</summary>
    public required FixTrust Trust { get; init; }

    /// <summary>Gets the installer (install root, work folder, unit identity, audit log).</summary>
    public required FixInstaller Installer { get; init; }

    /// <summary>Gets what the unit is now: product, installed version, unit, customer (asked before each install).</summary>
    public required Func<FixContext> Context { get; init; }

    /// <summary>Gets the folder a pushed package is received into before it is verified (on the unit's disk; removed after).</summary>
    public required string Inbox { get; init; }

    /// <summary>Gets or sets the health check run after the swap; false rolls the fix back.</summary>
    public Func<CancellationToken, Task<bool>> HealthCheck { get; set; } = _ => Task.FromResult(true);

    /// <summary>Gets or sets the largest package accepted; a larger announced length is refused before a byte is read. Default 4 GiB.</summary>
    public long MaxPackageBytes { get; set; } = 4L * 1024 * 1024 * 1024;
}

/// <summary>Fix reception: a package pushed on its own stream, verified, consented to for its hash, installed.</summary>
public sealed partial class SupportAgent
{
    private sealed partial class RunningSession
    {
        /// <summary>
        /// Receives the package on its own stream into the inbox (exactly the announced length, no more
        /// than allowed), verifies it, asks the gate (and the approver) for this package hash, installs.
        /// A connection that drops during the transfer leaves nothing installed and nothing staged.
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

                if (message.PackageLength is not long length || length <= 0 || length > fixes.MaxPackageBytes)
                {
                    return Result(requestId, SupportOperation.InstallFix, "package", false, "package-too-large", string.Create(CultureInfo.InvariantCulture,
                        $"A package of {message.PackageLength} bytes is refused; this unit takes 1 to {fixes.MaxPackageBytes} bytes."));
                }

                // Named by the unit, never by the vendor's request id.
                string file = Path.Combine(fixes.Inbox, $"{id}-{Guid.NewGuid():n}.rsfix");
                try
                {
                    switch (await ReceivePackageAsync(accepted.Stream, fixes.Inbox, file, length, cancellationToken).ConfigureAwait(false))
                    {
                        case Received.Truncated:
                            return Result(requestId, SupportOperation.InstallFix, "package", false, "package-truncated", "The package stream ended before its announced length.");
                        case Received.InboxFailed:
                            return Result(requestId, SupportOperation.InstallFix, "package", false, "failed", "The unit could not store the package in its inbox.");
                    }

                    return await VerifyAndInstallAsync(message, fixes, file, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    File.Delete(file);
                }
            }
        }

        private async Task<SessionMessage> VerifyAndInstallAsync(SessionMessage message, FixInstallOptions fixes, string file, CancellationToken cancellationToken)
        {
            string requestId = message.RequestId!;
            try
            {
                FixContext context = fixes.Context();
                FixVerification verified;
                FileStream verifying = File.OpenRead(file);
                await using (verifying.ConfigureAwait(false))
                {
                    verified = await FixVerifier.VerifyAsync(verifying, fixes.Trust, context, null, Options.TimeProvider, cancellationToken).ConfigureAwait(false);
                }

                string target = verified.Manifest is { } manifest ? $"{manifest.PackageId} {manifest.Version}" : "package";
                if (!verified.IsValid)
                {
                    return Result(requestId, SupportOperation.InstallFix, target, false, "fix-" + Kebab(verified.Reason.ToString()), verified.Sentence);
                }

                (ConsentDecision decision, string code) = await DecideAsync(
                    requestId, Request(message, SupportOperation.InstallFix, verified.PackageHash), cancellationToken).ConfigureAwait(false);
                if (!decision.IsGranted)
                {
                    return Result(requestId, SupportOperation.InstallFix, target, false, code, decision.Sentence);
                }

                SignedEnvelope receipt;
                FileStream installing = File.OpenRead(file);
                await using (installing.ConfigureAwait(false))
                {
                    receipt = await fixes.Installer.InstallAsync(installing, fixes.Trust, context, decision, fixes.HealthCheck, id, cancellationToken).ConfigureAwait(false);
                }

                InstallReceipt installed = InstallReceipt.FromEnvelope(receipt);
                bool done = installed.Outcome == InstallResult.Installed;
                SessionMessage result = Result(requestId, SupportOperation.InstallFix, target, done, done ? "none" : "fix-" + Kebab(installed.Outcome.ToString()),
                    installed.Reason, hashAfter: verified.PackageHash);
                return result with { InstallReceipt = receipt.ToJson() };
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // The unit's own files failed (a full disk, another install running: FixInstallBusyException): the session
                // goes on. Anything else is a bug and ends the session.
                return Result(requestId, SupportOperation.InstallFix, "package", false, "failed", "The install failed on the unit: " + ex.Message);
            }
        }

        private enum Received
        {
            Complete,
            Truncated,
            InboxFailed,
        }

        /// <summary>Copies exactly <paramref name="length"/> bytes of the stream into the inbox; a dropped line throws (it ends the session).</summary>
        private static async Task<Received> ReceivePackageAsync(Stream source, string inbox, string file, long length, CancellationToken cancellationToken)
        {
            FileStream target;
            try
            {
                Directory.CreateDirectory(inbox);
                target = new FileStream(file, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return Received.InboxFailed;
            }

            await using var closing = target.ConfigureAwait(false);
            byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 16);
            try
            {
                long left = length;
                while (left > 0)
                {
                    int read = await source.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), cancellationToken).ConfigureAwait(false);
                    if (read == 0)
                    {
                        return Received.Truncated;
                    }

                    try
                    {
                        await target.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                    }
                    catch (IOException)
                    {
                        return Received.InboxFailed;
                    }

                    left -= read;
                    SessionTelemetry.CountBytes(read, sent: false, stream: true);
                }

                await target.FlushAsync(cancellationToken).ConfigureAwait(false);
                return Received.Complete;
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }
}
