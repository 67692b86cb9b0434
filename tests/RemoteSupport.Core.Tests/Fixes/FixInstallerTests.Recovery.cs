using RemoteSupport.Consent;
using RemoteSupport.Documents;
using RemoteSupport.Fixes;

namespace RemoteSupport.Tests.Fixes;

/// <summary>
/// The installer's cleanups and recoveries at their edges: a staging that fails midway, a crash before anything moved when
/// the new file equals the old, a file added in a new folder, a committed install recovered by an installer that audits,
/// an install whose receipt is audited at once, the installed version the unit reports alone, and the misuse sentences.
/// </summary>
public sealed partial class FixInstallerTests
{
    private FixManifest Manifest(params FixFile[] files) => new()
    {
        PackageId = "ledger-fix-2.4.0", Product = "ledger", Version = "2.4.0",
        AppliesTo = new FixTarget("ledger", "2.0.0", "3.0.0", ["*"], null, null),
        CreatedAt = _time.GetUtcNow(), ExpiresAt = _time.GetUtcNow().AddDays(30), ReleaseNotes = "Fix.",
        Files = files,
    };

    /// <summary>Writes a package of <paramref name="files"/>, each with the given content.</summary>
    private async Task<string> PackageAsync(string name, params (string Path, FixFileAction Action, string Content)[] files)
    {
        var payloads = new List<string>();
        foreach ((string path, _, string content) in files)
        {
            string payload = Path.Combine(_folder.Path, "payload-" + payloads.Count);
            await File.WriteAllTextAsync(payload, content);
            payloads.Add(payload);
        }

        string package = Path.Combine(_folder.Path, name);
        FixManifest manifest = Manifest([.. files.Select(f => new FixFile(f.Path, f.Action, f.Content.Length, Sha(f.Content), [Sha(f.Content)]))]);
        await FixPackage.WriteAsync(manifest.ToEnvelope().Sign(_release1).Sign(_release2), payloads, package, default);
        return package;
    }

    [Fact]
    public async Task AStagingThatFailsMidway_LeavesNoStaging_AndReleasesTheLock()
    {
        string package = await BuildAsync();
        byte[] bytes = await File.ReadAllBytesAsync(package);
        int payloadStart = 12 + (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(8));
        var installer = new FixInstaller(Root, Work, _unit, _time);

        using (var dropping = new DroppingStream(bytes[..(payloadStart + 3)]))
        {
            await FluentActions.Awaiting(() => installer.StageAsync(dropping, _trust, _context, "session-1")).Should().ThrowAsync<IOException>().WithMessage("the line dropped");
        }

        Directory.GetFileSystemEntries(Work).Select(Path.GetFileName).Should().BeEquivalentTo(["install.lock"], "the half-staged files are gone");
        await using StagedFix again = await StageAsync(installer, package);
        again.Verification.IsValid.Should().BeTrue("the lock was released: " + again.Verification.Sentence);
    }

    [Fact]
    public async Task ACrashBeforeAnythingMoved_KeepsAFileWhoseNewContentEqualsTheOld()
    {
        string package = await PackageAsync("same.rsfix", ("bin/app.dll", FixFileAction.Replace, "old app"));
        var crashing = new FixInstaller(Root, Work, _unit, _time) { AfterStep = s => { if (s == "staged") { throw new FixInstaller.InstallInterruptedException(); } } };
        await FluentActions.Awaiting(() => InstallAsync(crashing, package, () => true)).Should().ThrowAsync<FixInstaller.InstallInterruptedException>();

        await new FixInstaller(Root, Work, _unit, _time).RecoverAsync();

        Snapshot().Should().BeEquivalentTo(_before, "only a file the install added is removed by its rollback");
    }

    [Fact]
    public async Task AFileAddedInANewFolder_IsInstalled_AndRemovedWithItsRollback()
    {
        string package = await PackageAsync("plugin.rsfix", ("plugins/reports/new.dll", FixFileAction.Add, "plugin"));

        InstallReceipt rolledBack = await InstallAsync(new FixInstaller(Root, Work, _unit, _time), package, () => false);
        rolledBack.Outcome.Should().Be(InstallResult.RolledBack);
        Snapshot().Should().BeEquivalentTo(_before);
        InstallReceipt installed = await InstallAsync(new FixInstaller(Root, Work, _unit, _time), package, () => true);

        installed.Outcome.Should().Be(InstallResult.Installed, installed.Reason);
        (await File.ReadAllTextAsync(Path.Combine(Root, "plugins", "reports", "new.dll"))).Should().Be("plugin");
    }

    [Fact]
    public async Task AnAuditedInstall_RecordsItsReceiptAtOnce_AndKeepsNoneOnDisk()
    {
        await using RemoteSupport.Journal.AppendOnlyJournal journal = await RemoteSupport.Journal.AppendOnlyJournal.OpenAsync(Path.Combine(_folder.Path, "audit.journal"));
        var installer = new FixInstaller(Root, Work, _unit, _time, new RemoteSupport.Audit.AuditLog(journal, _time));

        (await InstallAsync(installer, await BuildAsync(), () => true)).Outcome.Should().Be(InstallResult.Installed);

        journal.Count.Should().Be(1);
        System.Text.Encoding.UTF8.GetString(await journal.ReadAsync(0)).Should().Contain("fix-installed");
        Directory.GetFiles(Work, "pending-receipt-*").Should().BeEmpty();
    }

    [Fact]
    public async Task ACommitCrashedWithoutAnAudit_IsFinishedByAnInstallerThatAudits_WithoutAReceiptToRecord()
    {
        string package = await BuildAsync();
        var crashing = new FixInstaller(Root, Work, _unit, _time) { AfterStep = s => { if (s == "committed") { throw new FixInstaller.InstallInterruptedException(); } } };
        await FluentActions.Awaiting(() => InstallAsync(crashing, package, () => true)).Should().ThrowAsync<FixInstaller.InstallInterruptedException>();
        await using RemoteSupport.Journal.AppendOnlyJournal journal = await RemoteSupport.Journal.AppendOnlyJournal.OpenAsync(Path.Combine(_folder.Path, "audit.journal"));
        var restarted = new FixInstaller(Root, Work, _unit, _time, new RemoteSupport.Audit.AuditLog(journal, _time));

        await restarted.RecoverAsync();

        restarted.InstalledVersion("ledger").Should().Be("2.4.0");
        journal.Count.Should().Be(0, "the install that crashed kept no receipt for an audit it did not have");
        Directory.GetFileSystemEntries(Work).Select(Path.GetFileName).Should().BeEquivalentTo(["installed-versions.json", "install.lock"]);
    }

    [Fact]
    public async Task AStaging_FirstRecoversAnInstallACrashInterrupted()
    {
        string package = await BuildAsync();
        var crashing = new FixInstaller(Root, Work, _unit, _time) { AfterStep = s => { if (s == "swap:0") { throw new FixInstaller.InstallInterruptedException(); } } };
        await FluentActions.Awaiting(() => InstallAsync(crashing, package, () => true)).Should().ThrowAsync<FixInstaller.InstallInterruptedException>();

        await using StagedFix staged = await StageAsync(new FixInstaller(Root, Work, _unit, _time), package);

        staged.Verification.IsValid.Should().BeTrue(staged.Verification.Sentence);
        Snapshot().Should().BeEquivalentTo(_before, "the half-done install was rolled back before the next one was staged");
    }

    [Fact]
    public async Task InstallingOrRefusing_ReleasesTheLock_BeforeTheStagedFixIsDisposed()
    {
        var installer = new FixInstaller(Root, Work, _unit, _time);
        string package = await BuildAsync();
        byte[] bytes = await File.ReadAllBytesAsync(package);
        bytes[^2] ^= 0x01;
        string damaged = Path.Combine(_folder.Path, "damaged.rsfix");
        await File.WriteAllBytesAsync(damaged, bytes);
        await using StagedFix invalid = await StageAsync(installer, damaged);
        (await installer.RefuseAsync(invalid)).Should().NotBeNull();
        await using StagedFix valid = await StageAsync(installer, package);

        (await installer.InstallAsync(valid, Grant(null), Healthy, CancellationToken.None)).Should().NotBeNull();

        await using StagedFix next = await StageAsync(installer, package);
        next.Verification.Reason.Should().Be(FixRefusal.Rollback, "the lock is free, and 2.4.0 is installed now");
    }

    [Fact]
    public async Task TheVersionTheUnitReports_Counts_WhenTheInstallerRecordedNone()
    {
        var installer = new FixInstaller(Root, Work, _unit, _time);

        await using StagedFix staged = await StageAsync(installer, await BuildAsync(), _context with { InstalledVersion = "2.5.0" });

        staged.Verification.Reason.Should().Be(FixRefusal.Rollback);
        staged.Verification.Sentence.Should().Be("2.4.0 is not above the installed 2.5.0.");
    }

    [Fact]
    public async Task AConsentThatDoesNotGrant_DropsTheStaging()
    {
        var installer = new FixInstaller(Root, Work, _unit, _time);
        await using StagedFix staged = await StageAsync(installer, await BuildAsync());

        InstallReceipt receipt = InstallReceipt.FromEnvelope(await installer.InstallAsync(
            staged, ConsentGate.IssueForTest(Grant(null) with { Outcome = ConsentOutcome.Denied, Sentence = "denied" }), Healthy, CancellationToken.None));

        receipt.Outcome.Should().Be(InstallResult.Refused);
        Directory.GetDirectories(Work, "tx-*").Should().BeEmpty();
    }

    [Fact]
    public async Task Misuse_IsNamed_BeforeTheLockIsAsked()
    {
        var installer = new FixInstaller(Root, Work, _unit, _time);
        await using StagedFix verified = await StageAsync(installer, await BuildAsync());

        await FluentActions.Awaiting(() => installer.StageAsync(null!, _trust, _context, "session-1")).Should().ThrowAsync<ArgumentNullException>()
            .WithParameterName("package", "a null package is misuse even while another staging holds the lock");
        await FluentActions.Awaiting(() => installer.RefuseAsync(verified)).Should().ThrowAsync<ArgumentException>()
            .WithMessage("Only a package of this installer that did not verify is refused this way.*");
        FluentActions.Invoking(() => InstallReceipt.FromEnvelope(null!)).Should().Throw<ArgumentNullException>().WithParameterName("envelope");
    }

    [Fact]
    public async Task InstallingAStagedFixThatDidNotVerify_IsMisuse_NamingTheWayToRefuseIt()
    {
        var installer = new FixInstaller(Root, Work, _unit, _time);
        await using StagedFix invalid = await StageAsync(installer, await BuildInvalidAsync());

        await FluentActions.Awaiting(() => installer.InstallAsync(invalid, Grant(null), Healthy, CancellationToken.None)).Should().ThrowAsync<ArgumentException>()
            .WithMessage("Only a package of this installer that verified can be installed; refuse the others with RefuseAsync.*");
    }
}
