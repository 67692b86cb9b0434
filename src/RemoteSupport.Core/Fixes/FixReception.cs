using System.Globalization;
using RemoteSupport.Consent;
using RemoteSupport.Documents;
using RemoteSupport.Sessions;

namespace RemoteSupport.Fixes;

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
    /// <value>The default reports healthy.</value>
    public Func<CancellationToken, Task<bool>> HealthCheck { get; set; } = _ => Task.FromResult(true);

    /// <summary>Gets or sets the largest package accepted; a larger announced length is refused before a byte is read.</summary>
    /// <value>The default is 4 GiB.</value>
    public long MaxPackageBytes { get; set; } = 4L * 1024 * 1024 * 1024;
}

/// <summary>What became of a pushed package: installed or not, the code and sentence to report, and the unit-signed receipt when one was made.</summary>
internal sealed record FixReceived(bool Installed, string Code, string Sentence, string Target, SignedEnvelope? Receipt, string? PackageHash);

/// <summary>
/// The software-fix condition for one pushed package: exactly the announced length into the unit's inbox
/// (never more than allowed), staged and verified once against the pinned vendor root, consent asked for
/// this package hash, then installed, or refused with a signed receipt. The inbox copy is removed after.
/// </summary>
internal sealed class FixReception(FixInstallOptions fixes)
{
    private enum Received
    {
        Complete,
        Truncated,
        InboxFailed,
    }

    /// <summary>Receives and installs one package.</summary>
    /// <returns>What became of it. A line that drops during the transfer throws (it ends the session) and leaves nothing staged.</returns>
    /// <param name="source">The package's stream.</param>
    /// <param name="length">The length the console announced.</param>
    /// <param name="sessionId">The session (names the inbox file and the receipt).</param>
    /// <param name="decide">Asks the gate (and the approver) to install the package with this hash.</param>
    /// <param name="cancellationToken">Stops the reception.</param>
    public async Task<FixReceived> ReceiveAsync(
        Stream source, long length, string sessionId, Func<string, CancellationToken, Task<(ConsentDecision Decision, string Code)>> decide, CancellationToken cancellationToken)
    {
        if (length <= 0 || length > fixes.MaxPackageBytes)
        {
            return Failed("package-too-large", string.Create(CultureInfo.InvariantCulture,
                $"A package of {length} bytes is refused; this unit takes 1 to {fixes.MaxPackageBytes} bytes."));
        }

        // Named by the unit, never by the vendor's request id.
        string file = Path.Combine(fixes.Inbox, $"{sessionId}-{Guid.NewGuid():n}.rsfix");
        try
        {
            // A line that drops while the package arrives throws from here and ends the session; only the
            // unit's own files are answered as a failed install below.
            switch (await ReceivePackageAsync(source, file, length, cancellationToken).ConfigureAwait(false))
            {
                case Received.Truncated:
                    return Failed("package-truncated", "The package stream ended before its announced length.");
                case Received.InboxFailed:
                    return Failed("failed", "The unit could not store the package in its inbox.");
            }

            try
            {
                return await InstallAsync(file, sessionId, decide, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // The unit's own files failed (a full disk, another install running: FixInstallBusyException):
                // the session goes on. Anything else is a bug and ends the session.
                return Failed("failed", "The install failed on the unit: " + ex.Message);
            }
        }
        finally
        {
            // Also when the inbox could not be made (a file stands where it should be): then there is nothing to delete.
            if (File.Exists(file))
            {
                File.Delete(file);
            }
        }
    }

    private static FixReceived Failed(string code, string sentence) => new(false, code, sentence, "package", null, null);

    /// <summary>Stages the package once (the verification the consent binds is the one the install uses), asks for consent, installs or refuses.</summary>
    private async Task<FixReceived> InstallAsync(
        string file, string sessionId, Func<string, CancellationToken, Task<(ConsentDecision Decision, string Code)>> decide, CancellationToken cancellationToken)
    {
        StagedFix staged;
        FileStream package = File.OpenRead(file);
        await using (package.ConfigureAwait(false))
        {
            staged = await fixes.Installer.StageAsync(package, fixes.Trust, fixes.Context(), sessionId, cancellationToken).ConfigureAwait(false);
        }

        await using (staged.ConfigureAwait(false))
        {
            FixVerification verified = staged.Verification;
            string target = verified.Manifest is { } manifest ? $"{manifest.PackageId} {manifest.Version}" : "package";
            if (!verified.IsValid)
            {
                SignedEnvelope refused = await fixes.Installer.RefuseAsync(staged, cancellationToken).ConfigureAwait(false);
                return new FixReceived(false, "fix-" + DocumentJson.Kebab(verified.Reason), verified.Sentence, target, refused, verified.PackageHash);
            }

            (ConsentDecision decision, string code) = await decide(verified.PackageHash!, cancellationToken).ConfigureAwait(false);
            if (!decision.IsGranted)
            {
                return new FixReceived(false, code, decision.Sentence, target, null, verified.PackageHash);
            }

            SignedEnvelope receipt = await fixes.Installer.InstallAsync(staged, decision, fixes.HealthCheck, cancellationToken).ConfigureAwait(false);
            InstallReceipt installed = InstallReceipt.FromEnvelope(receipt);
            bool done = installed.Outcome == InstallResult.Installed;
            return new FixReceived(done, done ? "none" : "fix-" + DocumentJson.Kebab(installed.Outcome), installed.Reason, target, receipt, verified.PackageHash);
        }
    }

    /// <summary>Copies exactly <paramref name="length"/> bytes of the stream into the inbox; a dropped line throws (it ends the session).</summary>
    private async Task<Received> ReceivePackageAsync(Stream source, string file, long length, CancellationToken cancellationToken)
    {
        FileStream target;
        try
        {
            Directory.CreateDirectory(fixes.Inbox);
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
