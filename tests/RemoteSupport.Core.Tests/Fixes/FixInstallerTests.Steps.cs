using System.Text.Json;
using RemoteSupport.Documents;
using RemoteSupport.Fixes;

namespace RemoteSupport.Tests.Fixes;

/// <summary>
/// The install's steps as docs/formats/fix-package.md states them: the journal's phase before each step, the files each
/// step leaves, the receipts of an install, a rollback and a clash (each by its reason and hashes), the health check that
/// throws, the versions of several products, and a refusal whose audit record fails.
/// </summary>
public sealed partial class FixInstallerTests
{
    private FixInstaller.InstallJournal ReadJournal() =>
        JsonSerializer.Deserialize<FixInstaller.InstallJournal>(File.ReadAllBytes(Path.Combine(Work, "install.journal.json")), DocumentJson.Options)!;

    [Fact]
    public async Task TheInstallJournal_SaysEachDocumentedPhase_AndEveryStepLeavesItsFiles()
    {
        string package = await BuildAsync();
        var seen = new List<string>();
        var installer = new FixInstaller(Root, Work, _unit, _time)
        {
            AfterStep = step =>
            {
                FixInstaller.InstallJournal journal = ReadJournal();
                seen.Add($"{step}={journal.Phase}");
                journal.Product.Should().Be("ledger");
                journal.Version.Should().Be("2.4.0");
                bool app = File.Exists(Path.Combine(Root, "bin", "app.dll"));
                bool legacy = File.Exists(Path.Combine(Root, "bin", "legacy.dll"));
                switch (step)
                {
                    case "staged":
                        Path.GetFileName(journal.Transaction).Should().StartWith("tx-", "recovery sweeps the tx-* folders no journal names");
                        journal.Files.Select(f => (f.Path, f.Action, f.HashBefore, f.HashAfter)).Should().Equal(
                            ("bin/app.dll", FixFileAction.Replace, Sha("old app"), Sha("new app")),
                            ("bin/extra.dll", FixFileAction.Replace, null, Sha("new extra")),
                            ("bin/legacy.dll", FixFileAction.Delete, Sha("legacy"), null));
                        app.Should().BeTrue();
                        break;
                    case "backup:0":
                        app.Should().BeFalse("the old file is moved to the backup first");
                        break;
                    case "swap:0":
                        File.ReadAllText(Path.Combine(Root, "bin", "app.dll")).Should().Be("new app");
                        break;
                    case "backup:2":
                        legacy.Should().BeFalse("a deleted file is backed up like a replaced one");
                        break;
                }
            },
        };

        InstallReceipt receipt = await InstallAsync(installer, package, () => true);

        receipt.Outcome.Should().Be(InstallResult.Installed, receipt.Reason);
        seen.Should().Equal(
            "staged=staged", "backup:0=swapping", "swap:0=swapping", "backup:1=swapping", "swap:1=swapping", "backup:2=swapping", "swap:2=swapping",
            "swapped=swapped", "committed=committed");
        File.Exists(Path.Combine(Work, "install.journal.json")).Should().BeFalse("the journal goes once the install is finished");
    }

    [Fact]
    public async Task TheReceiptOfAnInstall_NamesThePackage_TheSession_AndEachFileBeforeAndAfter()
    {
        InstallReceipt receipt = await InstallAsync(new FixInstaller(Root, Work, _unit, _time), await BuildAsync(), () => true);

        receipt.Reason.Should().Be("ledger-fix-2.4.0 2.4.0 installed.");
        (receipt.PackageId, receipt.Version, receipt.SessionId, receipt.At).Should().Be(("ledger-fix-2.4.0", "2.4.0", "session-1", _time.GetUtcNow()));
        receipt.Files.Should().Equal(
            new InstalledFile("bin/app.dll", Sha("old app"), Sha("new app")),
            new InstalledFile("bin/extra.dll", null, Sha("new extra")),
            new InstalledFile("bin/legacy.dll", Sha("legacy"), null));
    }

    [Fact]
    public async Task TheReceiptOfARollback_SaysWhy_AndEveryFileIsAsBefore()
    {
        InstallReceipt receipt = await InstallAsync(new FixInstaller(Root, Work, _unit, _time), await BuildAsync(), () => false);

        receipt.Outcome.Should().Be(InstallResult.RolledBack);
        receipt.Reason.Should().Be("The health check failed; the previous files are back.");
        receipt.Files.Should().Equal(
            new InstalledFile("bin/app.dll", Sha("old app"), Sha("old app")),
            new InstalledFile("bin/extra.dll", null, null),
            new InstalledFile("bin/legacy.dll", Sha("legacy"), Sha("legacy")));
        Directory.GetFileSystemEntries(Work).Select(Path.GetFileName).Should().BeEquivalentTo(["install.lock"], "a rollback records no version and leaves no backup");
    }

    [Fact]
    public async Task AHealthCheckThatThrows_IsAFailedCheck_AndOneThatIsCancelled_RollsBackAndThrows()
    {
        string package = await BuildAsync();
        var installer = new FixInstaller(Root, Work, _unit, _time);

        SignedEnvelope failed;
        await using (FileStream stream = File.OpenRead(package))
        {
            failed = await installer.InstallAsync(stream, _trust, _context, Grant(null), _ => throw new InvalidOperationException("the service did not start"), "session-1");
        }

        InstallReceipt.FromEnvelope(failed).Outcome.Should().Be(InstallResult.RolledBack);
        Snapshot().Should().BeEquivalentTo(_before);

        await using (FileStream stream = File.OpenRead(package))
        {
            Func<Task> cancelled = () => installer.InstallAsync(stream, _trust, _context, Grant(null), _ => throw new OperationCanceledException(), "session-1");
            await cancelled.Should().ThrowAsync<OperationCanceledException>();
        }

        Snapshot().Should().BeEquivalentTo(_before, "a cancelled install is rolled back before it is reported");
        Directory.GetFileSystemEntries(Work).Select(Path.GetFileName).Should().BeEquivalentTo(["install.lock"]);
        (await InstallAsync(installer, package, () => true)).Outcome.Should().Be(InstallResult.Installed, "the lock was released");
    }

    [Fact]
    public async Task APackageThatAddsAFileThatExists_IsRefused_NamingIt_AndChangesNothing()
    {
        string payload = Path.Combine(_folder.Path, "payload.bin");
        await File.WriteAllTextAsync(payload, "added");
        FixManifest manifest = new()
        {
            PackageId = "ledger-fix-2.4.0", Product = "ledger", Version = "2.4.0",
            AppliesTo = new FixTarget("ledger", "2.0.0", "3.0.0", ["*"], null, null),
            CreatedAt = _time.GetUtcNow(), ExpiresAt = _time.GetUtcNow().AddDays(30), ReleaseNotes = "Fix.",
            Files = [new FixFile("bin/app.dll", FixFileAction.Add, 5, Sha("added"), [Sha("added")])],
        };
        string package = Path.Combine(_folder.Path, "adds.rsfix");
        await FixPackage.WriteAsync(manifest.ToEnvelope().Sign(_release1).Sign(_release2), [payload], package, default);

        InstallReceipt receipt = await InstallAsync(new FixInstaller(Root, Work, _unit, _time), package, () => true);

        receipt.Outcome.Should().Be(InstallResult.Refused);
        receipt.Reason.Should().Be("bin/app.dll already exists; the package adds it.");
        receipt.PackageId.Should().Be("ledger-fix-2.4.0");
        receipt.PackageHash.Should().HaveLength(64, "the package verified; what it would do is refused");
        Snapshot().Should().BeEquivalentTo(_before);
        Directory.GetFileSystemEntries(Work).Select(Path.GetFileName).Should().BeEquivalentTo(["install.lock"]);
    }

    [Fact]
    public async Task TheVersionsOfSeveralProducts_AreKeptSideBySide()
    {
        var installer = new FixInstaller(Root, Work, _unit, _time);
        (await InstallAsync(installer, await BuildAsync(), () => true)).Outcome.Should().Be(InstallResult.Installed);
        var billing = new FixManifest
        {
            PackageId = "billing-fix-1.1.0", Product = "billing", Version = "1.1.0",
            AppliesTo = new FixTarget("billing", "1.0.0", null, ["*"], null, null),
            CreatedAt = _time.GetUtcNow(), ExpiresAt = _time.GetUtcNow().AddDays(30), ReleaseNotes = "Fix.", Files = [],
        };
        string package = Path.Combine(_folder.Path, "billing.rsfix");
        Directory.CreateDirectory(Path.Combine(_folder.Path, "empty"));
        await FixPackage.BuildAsync(Path.Combine(_folder.Path, "empty"), billing, [_release1, _release2], package);

        SignedEnvelope signed;
        await using (FileStream stream = File.OpenRead(package))
        {
            signed = await installer.InstallAsync(stream, _trust, _context with { Product = "billing", InstalledVersion = "1.0.0" }, Grant(null), Healthy, "session-1");
        }

        InstallReceipt.FromEnvelope(signed).Outcome.Should().Be(InstallResult.Installed);
        installer.InstalledVersion("ledger").Should().Be("2.4.0", "installing another product keeps this one's version");
        installer.InstalledVersion("billing").Should().Be("1.1.0");
        installer.InstalledVersion("payroll").Should().BeNull();
    }

    [Fact]
    public async Task ARefusalWhoseAuditRecordFails_Throws_AndItsReceiptIsRecordedAtTheNextRecovery()
    {
        string package = await BuildInvalidAsync();
        string auditPath = Path.Combine(_folder.Path, "audit.journal");
        RemoteSupport.Journal.AppendOnlyJournal closed = await RemoteSupport.Journal.AppendOnlyJournal.OpenAsync(auditPath);
        await closed.DisposeAsync();
        var installer = new FixInstaller(Root, Work, _unit, _time, new RemoteSupport.Audit.AuditLog(closed, _time));

        await FluentActions.Awaiting(() => InstallAsync(installer, package, () => true)).Should().ThrowAsync<ObjectDisposedException>(
            "only an install that happened is reported although its audit record failed");
        Directory.GetFiles(Work, "pending-receipt-*.json").Should().ContainSingle();

        await using RemoteSupport.Journal.AppendOnlyJournal reopened = await RemoteSupport.Journal.AppendOnlyJournal.OpenAsync(auditPath);
        await new FixInstaller(Root, Work, _unit, _time, new RemoteSupport.Audit.AuditLog(reopened, _time)).RecoverAsync();

        reopened.Count.Should().Be(1);
        System.Text.Encoding.UTF8.GetString(await reopened.ReadAsync(0)).Should().Contain("fix-refused");
        Directory.GetFiles(Work, "pending-receipt-*.json").Should().BeEmpty();
    }
}
