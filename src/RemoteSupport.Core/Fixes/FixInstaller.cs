using System.Text;
using System.Text.Json;
using RemoteSupport.Consent;
using RemoteSupport.Documents;
using RemoteSupport.GroundRules;
using RemoteSupport.Identities;

namespace RemoteSupport.Fixes;

/// <summary>What became of an install.</summary>
public enum InstallResult
{
    /// <summary>Installed and committed.</summary>
    Installed = 1,

    /// <summary>Installed, then rolled back (the health check failed); the unit is as it was.</summary>
    RolledBack = 2,

    /// <summary>Refused before anything changed; the unit is as it was.</summary>
    Refused = 3,
}

/// <summary>A file's hashes before and after an install (lowercase hex SHA-256; null where absent).</summary>
/// <param name="Path">The path under the install root.</param>
/// <param name="HashBefore">Before.</param>
/// <param name="HashAfter">After.</param>
public sealed record InstalledFile(string Path, string? HashBefore, string? HashAfter);

/// <summary>The unit-signed install receipt (version 1).</summary>
public sealed record InstallReceipt
{
    /// <summary>The document type of a receipt.</summary>
    public static DocumentType DocumentType { get; } = new("install-receipt", 1);

    /// <summary>Gets the package id, when the manifest could be read.</summary>
    public string? PackageId { get; init; }

    /// <summary>Gets the version, when the manifest could be read.</summary>
    public string? Version { get; init; }

    /// <summary>Gets the package's SHA-256, when it was read to the end.</summary>
    public string? PackageHash { get; init; }

    /// <summary>Gets the session.</summary>
    public required string SessionId { get; init; }

    /// <summary>Gets the outcome.</summary>
    public required InstallResult Outcome { get; init; }

    /// <summary>Gets why (refused or rolled back), or what was installed.</summary>
    public required string Reason { get; init; }

    /// <summary>Gets the affected files' hashes before and after.</summary>
    public IReadOnlyList<InstalledFile> Files { get; init; } = [];

    /// <summary>Gets when.</summary>
    public required DateTimeOffset At { get; init; }

    /// <summary>Reads a receipt from an envelope.</summary>
    public static InstallReceipt FromEnvelope(SignedEnvelope envelope)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        return DocumentJson.Deserialize<InstallReceipt>(envelope, DocumentType);
    }
}

/// <summary>
/// Installs verified fixes atomically: stage (verified) on the same volume, back up what is replaced,
/// swap with renames, run the integrator's health check, then commit or roll back by itself. Every
/// step is recorded first in an install journal (a small file flushed to disk), so
/// <see cref="RecoverAsync"/> after a crash returns the unit to the state before or after, never between.
/// </summary>
public sealed partial class FixInstaller
{
    private readonly string _root;
    private readonly string _work;
    private readonly PartyIdentity _unit;
    private readonly TimeProvider _time;
    private readonly Audit.AuditLog? _audit;

    /// <summary>Creates an installer.</summary>
    /// <param name="installRoot">Where the product's files live.</param>
    /// <param name="workFolder">Staging, backups and the install journal; must be on the same volume as the root.</param>
    /// <param name="unitIdentity">Signs install receipts.</param>
    /// <param name="timeProvider">The clock.</param>
    /// <param name="audit">Where each receipt is recorded (fix installed, rolled back or refused) before it is returned.</param>
    public FixInstaller(string installRoot, string workFolder, PartyIdentity unitIdentity, TimeProvider? timeProvider = null, Audit.AuditLog? audit = null)
    {
        _audit = audit;
        ArgumentNullException.ThrowIfNull(unitIdentity);
        _root = Path.GetFullPath(installRoot);
        _work = Path.GetFullPath(workFolder);
        _unit = unitIdentity;
        _time = timeProvider ?? TimeProvider.System;
        Directory.CreateDirectory(_work);
    }

    /// <summary>A test hook: called with each step's name; throwing there simulates a crash after it.</summary>
    internal Action<string>? AfterStep { get; set; }

    private string JournalPath => Path.Combine(_work, "install.journal.json");

    private string VersionsPath => Path.Combine(_work, "installed-versions.json");

    /// <summary>Gets the installed version of <paramref name="product"/>, kept durably, or null.</summary>
    public string? InstalledVersion(string product) =>
        File.Exists(VersionsPath) ? JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllBytes(VersionsPath))!.GetValueOrDefault(product) : null;

    /// <summary>
    /// Verifies and installs <paramref name="package"/>: <see cref="StageAsync"/> then
    /// <see cref="InstallAsync(StagedFix, ConsentDecision, Func{CancellationToken, Task{bool}}, CancellationToken)"/>.
    /// The consent decision must grant installing exactly this package (its approval binds the package
    /// hash) when the ground rules require one.
    /// </summary>
    /// <returns>The unit-signed receipt: installed, rolled back or refused, with the files' hashes.</returns>
    /// <param name="package">The package's bytes.</param>
    /// <param name="trust">The vendor root the unit pinned.</param>
    /// <param name="context">What the unit is (product, installed version, unit, customer).</param>
    /// <param name="consent">The consent decision that grants this install.</param>
    /// <param name="healthCheck">Run after the swap; false rolls the fix back.</param>
    /// <param name="sessionId">The session the install belongs to.</param>
    /// <param name="cancellationToken">Stops the install before its commit (what was swapped is rolled back).</param>
    /// <exception cref="FixInstallBusyException">Another install or recovery holds the install lock.</exception>
    public async Task<SignedEnvelope> InstallAsync(
        Stream package, FixTrust trust, FixContext context, ConsentDecision consent, Func<CancellationToken, Task<bool>> healthCheck,
        string sessionId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(consent);
        ArgumentNullException.ThrowIfNull(healthCheck);
        StagedFix staged = await StageAsync(package, trust, context, sessionId, cancellationToken).ConfigureAwait(false);
        await using (staged.ConfigureAwait(false))
        {
            return staged.Verification.IsValid
                ? await InstallAsync(staged, consent, healthCheck, cancellationToken).ConfigureAwait(false)
                : await RefuseAsync(staged, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Takes the install lock (held until the staged fix is installed or disposed, across the consent
    /// that may wait for an approver), recovers any interrupted install, and verifies
    /// <paramref name="package"/> once, streaming its files into a staging folder on the install root's
    /// volume. The verification (and its package hash, which the consent must bind) is in
    /// <see cref="StagedFix.Verification"/>.
    /// </summary>
    /// <returns>The staged fix; dispose it to drop the staging and release the lock when it is not installed.</returns>
    /// <param name="package">The package's bytes.</param>
    /// <param name="trust">The vendor root the unit pinned.</param>
    /// <param name="context">What the unit is (product, installed version, unit, customer).</param>
    /// <param name="sessionId">The session the install belongs to.</param>
    /// <param name="cancellationToken">Stops the verification.</param>
    /// <exception cref="FixInstallBusyException">Another install or recovery holds the install lock.</exception>
    public async Task<StagedFix> StageAsync(Stream package, FixTrust trust, FixContext context, string sessionId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(package);
        ArgumentNullException.ThrowIfNull(context);
        FileStream installLock = AcquireLock();
        string transaction = Path.Combine(_work, "tx-" + Guid.NewGuid().ToString("N"));
        try
        {
            await RecoverLocked().ConfigureAwait(false);
            string staging = Path.Combine(transaction, "staged");
            string? installed = Highest(context.InstalledVersion, InstalledVersion(context.Product));
            FixVerification verified = await FixVerifier.VerifyAsync(package, trust, context with { InstalledVersion = installed }, staging, _time, cancellationToken).ConfigureAwait(false);
            return new StagedFix(this, installLock, transaction, staging, sessionId, verified);
        }
        catch
        {
            DeleteQuietly(transaction); // a staging that failed midway (a full disk, a cancellation) is not left behind
            await installLock.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Signs and audits the refused receipt of a staged package that did not verify (nothing is installed).</summary>
    /// <returns>The unit-signed receipt, <c>refused</c> with the verification's sentence.</returns>
    /// <param name="staged">A staged fix of this installer whose verification failed.</param>
    /// <param name="cancellationToken">Not used once the receipt is signed; the audit record is written whole.</param>
    /// <exception cref="ArgumentException">The staged fix verified, or belongs to another installer.</exception>
    public Task<SignedEnvelope> RefuseAsync(StagedFix staged, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(staged);
        if (staged.Installer != this || staged.Verification.IsValid)
        {
            Error.Argument(nameof(staged), "Only a package of this installer that did not verify is refused this way.");
        }

        return RefuseCoreAsync(staged);
    }

    private async Task<SignedEnvelope> RefuseCoreAsync(StagedFix staged)
    {
        staged.Consume();
        try
        {
            DeleteQuietly(staged.Transaction);
            FixVerification verified = staged.Verification;
            return await ReceiptAsync(verified.Manifest, verified.PackageHash, staged.SessionId, InstallResult.Refused, verified.Sentence, []).ConfigureAwait(false);
        }
        finally
        {
            await staged.ReleaseLockAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Installs a staged fix that verified: the consent decision must be the gate's, grant installing,
    /// and bind this package's hash when an approval was used; then the swap, the health check, and the
    /// commit or the rollback, each step journaled first.
    /// </summary>
    /// <returns>The unit-signed receipt: installed, rolled back or refused, with the files' hashes.</returns>
    /// <param name="staged">The staged fix (from <see cref="StageAsync"/> of this installer, not installed yet).</param>
    /// <param name="consent">The consent decision that grants this install.</param>
    /// <param name="healthCheck">Run after the swap; false rolls the fix back.</param>
    /// <param name="cancellationToken">Stops the install before its commit (what was swapped is rolled back).</param>
    /// <exception cref="ArgumentException">The staged fix did not verify, belongs to another installer, or was used already.</exception>
    public async Task<SignedEnvelope> InstallAsync(StagedFix staged, ConsentDecision consent, Func<CancellationToken, Task<bool>> healthCheck, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(staged);
        ArgumentNullException.ThrowIfNull(consent);
        ArgumentNullException.ThrowIfNull(healthCheck);
        if (staged.Installer != this || !staged.Verification.IsValid)
        {
            Error.Argument(nameof(staged), "Only a package of this installer that verified can be installed; refuse the others with RefuseAsync.");
        }

        staged.Consume();
        try
        {
            return await InstallStagedAsync(staged, consent, healthCheck, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await staged.ReleaseLockAsync().ConfigureAwait(false);
        }
    }

    private async Task<SignedEnvelope> InstallStagedAsync(StagedFix staged, ConsentDecision consent, Func<CancellationToken, Task<bool>> healthCheck, CancellationToken cancellationToken)
    {
        string transaction = staged.Transaction;
        string staging = staged.Staging;
        string sessionId = staged.SessionId;
        FixVerification verified = staged.Verification;
        bool bindsThisPackage = consent.Request.PackageHash is null
            ? consent.ApprovalsUsed.Count == 0
            : consent.Request.PackageHash == verified.PackageHash;
        if (!consent.IsGranted || !ConsentGate.IsIssued(consent) || consent.Request.Operation != SupportOperation.InstallFix
            || consent.Request.SessionId != sessionId || !bindsThisPackage)
        {
            DeleteQuietly(transaction);
            return await ReceiptAsync(verified.Manifest, verified.PackageHash, sessionId, InstallResult.Refused,
                $"No consent decision grants installing this package ({consent.Outcome}: {consent.Sentence}).", []).ConfigureAwait(false);
        }

        FixManifest manifest = verified.Manifest!;
        var plan = new InstallJournal
        {
            Transaction = transaction,
            Phase = "staged",
            Product = manifest.Product,
            Version = manifest.Version,
            Files = [.. manifest.Files.Select(f => new JournalFile(f.Path, f.Action, Hash(Target(f.Path)), f.Action == FixFileAction.Delete ? null : f.Sha256))],
        };
        JournalFile? clash = plan.Files.FirstOrDefault(f => f.Action == FixFileAction.Add && f.HashBefore is not null);
        if (clash is not null)
        {
            DeleteQuietly(transaction);
            return await ReceiptAsync(manifest, verified.PackageHash, sessionId, InstallResult.Refused,
                $"{clash.Path} already exists; the package adds it.", []).ConfigureAwait(false);
        }

        WriteJournal(plan);
        AfterStep?.Invoke("staged");
        bool healthy;
        try
        {
            healthy = await SwapAndCheckAsync(plan, transaction, staging, healthCheck, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not InstallInterruptedException)
        {
            RollBack(plan); // an I/O error or cancellation mid-install, before the commit: back to the state before
            throw;
        }

        if (!healthy)
        {
            RollBack(plan);
            return await ReceiptAsync(manifest, verified.PackageHash, sessionId, InstallResult.RolledBack, "The health check failed; the previous files are back.",
                [.. plan.Files.Select(f => new InstalledFile(f.Path, f.HashBefore, f.HashBefore))]).ConfigureAwait(false);
        }

        // From here on nothing rolls back: once the journal says committed, a failure (of the versions file,
        // of the receipt's audit append) is finished or retried by recovery, never undone.
        // The receipt is signed first and goes into the committed journal: a crash anywhere after this write still
        // ends with the receipt recorded (recovery finishes the commit and writes the receipt pending), never an
        // install that happened without one.
        SignedEnvelope receipt = SignReceipt(manifest, verified.PackageHash, sessionId, InstallResult.Installed, $"{manifest.PackageId} {manifest.Version} installed.",
            [.. plan.Files.Select(f => new InstalledFile(f.Path, f.HashBefore, f.HashAfter))]);
        InstallJournal committed = plan with { Phase = "committed", Receipt = _audit is null ? null : receipt.ToJson() };
        WriteJournal(committed);
        AfterStep?.Invoke("committed");
        if (Commit(committed) is { } pending)
        {
            await RecordAsync(receipt, pending, InstallResult.Installed).ConfigureAwait(false);
        }

        return receipt;
    }

    /// <returns>Whether the integrator's health check passed after the swap.</returns>
    private async Task<bool> SwapAndCheckAsync(
        InstallJournal plan, string transaction, string staging, Func<CancellationToken, Task<bool>> healthCheck, CancellationToken cancellationToken)
    {
        WriteJournal(plan with { Phase = "swapping" });
        for (int i = 0; i < plan.Files.Count; i++)
        {
            JournalFile file = plan.Files[i];
            string target = Target(file.Path);
            if (File.Exists(target))
            {
                string backup = Path.Combine(transaction, "backup", file.Path);
                Directory.CreateDirectory(Path.GetDirectoryName(backup)!);
                File.Move(target, backup, overwrite: true);
                DurableDirectory.FlushFor(backup);
            }

            AfterStep?.Invoke($"backup:{i}");
            if (file.Action != FixFileAction.Delete)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Move(Path.Combine(staging, file.Path), target, overwrite: true);
            }

            DurableDirectory.FlushFor(target); // the old name gone, the new one there: both durable before the next step

            AfterStep?.Invoke($"swap:{i}");
        }

        WriteJournal(plan with { Phase = "swapped" });
        AfterStep?.Invoke("swapped");
        try
        {
            return await healthCheck(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Finishes or undoes an install a crash interrupted: committed ones are completed, all others rolled back.</summary>
    public async Task RecoverAsync(CancellationToken cancellationToken = default)
    {
        using FileStream recoveryLock = AcquireLock();
        await RecoverLocked().ConfigureAwait(false);
    }

    private async Task RecoverLocked()
    {
        if (File.Exists(JournalPath))
        {
            InstallJournal plan = JsonSerializer.Deserialize<InstallJournal>(File.ReadAllBytes(JournalPath), DocumentJson.Options)!;
            if (plan.Phase == "committed")
            {
                _ = Commit(plan);
            }
            else
            {
                RollBack(plan);
            }
        }

        SweepInterrupted();
        await RecordPendingReceiptsAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Deletes what a process killed mid-install left that no journal names (the lock is held, so nothing else is live):
    /// a staging transaction killed before its journal was written, and the temporary file of a durable write killed
    /// before its rename (a pending receipt, the journal, the versions file), which holds nothing acknowledged.
    /// </summary>
    private void SweepInterrupted()
    {
        foreach (string transaction in Directory.GetDirectories(_work, "tx-*"))
        {
            DeleteQuietly(transaction);
        }

        foreach (string temporary in Directory.GetFiles(_work, "*.tmp"))
        {
            File.Delete(temporary);
        }
    }

    /// <summary>One install or recovery at a time, across processes: an exclusive lock on a file in the work folder.</summary>
    private FileStream AcquireLock()
    {
        try
        {
            return new FileStream(Path.Combine(_work, "install.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException ex)
        {
            throw new FixInstallBusyException("Another install or recovery is running on this unit; one at a time.", ex);
        }
    }

    private static string? Highest(string? a, string? b)
    {
        if (a is null || b is null)
        {
            return a ?? b;
        }

        return NuGet.Versioning.SemanticVersion.Parse(a) >= NuGet.Versioning.SemanticVersion.Parse(b) ? a : b;
    }

    private void RollBack(InstallJournal plan)
    {
        foreach (JournalFile file in plan.Files)
        {
            string target = Target(file.Path);
            string backup = Path.Combine(plan.Transaction, "backup", file.Path);
            if (File.Exists(backup))
            {
                File.Move(backup, target, overwrite: true);
                DurableDirectory.FlushFor(target);
            }
            else if (file.HashBefore is null && File.Exists(target) && Hash(target) == file.HashAfter)
            {
                File.Delete(target); // an added file
                DurableDirectory.FlushFor(target);
            }
        }

        Finish(plan);
    }

    /// <summary>Records the version, writes the journal's receipt pending (before the journal goes), and finishes; returns the pending receipt's path, or null.</summary>
    private string? Commit(InstallJournal plan)
    {
        Dictionary<string, string> versions = File.Exists(VersionsPath)
            ? JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllBytes(VersionsPath))!
            : [];
        versions[plan.Product] = plan.Version;
        DurableFile.Write(VersionsPath, JsonSerializer.SerializeToUtf8Bytes(versions));
        string? pending = plan.Receipt is null || _audit is null ? null : WritePending(plan.Receipt);
        Finish(plan);
        return pending;
    }

    private void Finish(InstallJournal plan)
    {
        DeleteQuietly(plan.Transaction);
        File.Delete(JournalPath);
    }

    private void WriteJournal(InstallJournal plan) => DurableFile.Write(JournalPath, DocumentJson.Serialize(plan));

    private string Target(string path) => Path.Combine(_root, path.Replace('/', Path.DirectorySeparatorChar));

    private static string? Hash(string path) => Sha256Hex.OfFile(path);

    private static void DeleteQuietly(string folder)
    {
        if (Directory.Exists(folder))
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>Thrown by the test hook to stand for a crash: no rollback runs, as after a real crash.</summary>
    internal sealed class InstallInterruptedException : Exception;

    internal sealed record InstallJournal
    {
        public required string Transaction { get; init; }

        public required string Phase { get; init; }

        public required string Product { get; init; }

        public required string Version { get; init; }

        public required IReadOnlyList<JournalFile> Files { get; init; }

        /// <summary>Gets the signed receipt of the install (in phase committed, when receipts are audited).</summary>
        public string? Receipt { get; init; }
    }

    internal sealed record JournalFile(string Path, FixFileAction Action, string? HashBefore, string? HashAfter);
}

/// <summary>Another install or recovery holds the unit's install lock (one at a time, across processes); try again once it ends.</summary>
public sealed class FixInstallBusyException : IOException
{
    /// <summary>Initializes a new instance of the <see cref="FixInstallBusyException"/> class.</summary>
    /// <param name="message">A sentence naming the problem.</param>
    /// <param name="innerException">The lock's failure.</param>
    public FixInstallBusyException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// A verified package staged for installing (<see cref="FixInstaller.StageAsync"/>): the unit's install lock is
/// held until it is installed, refused or disposed, so the consent asked in between (the approver may take
/// minutes) is for exactly these staged bytes.
/// </summary>
public sealed class StagedFix : IAsyncDisposable
{
    private readonly FileStream _lock;
    private int _consumed;

    internal StagedFix(FixInstaller installer, FileStream installLock, string transaction, string staging, string sessionId, FixVerification verification)
    {
        Installer = installer;
        _lock = installLock;
        Transaction = transaction;
        Staging = staging;
        SessionId = sessionId;
        Verification = verification;
    }

    /// <summary>Gets the verification of the staged package: its manifest and package hash, or why it was refused.</summary>
    public FixVerification Verification { get; }

    internal FixInstaller Installer { get; }

    internal string Transaction { get; }

    internal string Staging { get; }

    internal string SessionId { get; }

    /// <summary>Drops the staging when the fix was not installed, and releases the install lock.</summary>
    /// <returns>A task that completes when the lock is released.</returns>
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (Interlocked.Exchange(ref _consumed, 1) == 0 && Directory.Exists(Transaction))
            {
                Directory.Delete(Transaction, recursive: true);
            }
        }
        finally
        {
            await ReleaseLockAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Releases the install lock (once; installing, refusing and disposing each end with it).</summary>
    internal ValueTask ReleaseLockAsync() => _lock.DisposeAsync();

    internal void Consume()
    {
        if (Interlocked.Exchange(ref _consumed, 1) != 0)
        {
            Error.Argument("staged", "This staged fix was installed, refused or disposed already.");
        }
    }
}
