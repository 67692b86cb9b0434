using System.Security.Cryptography;
using Microsoft.Extensions.Time.Testing;
using RemoteSupport.Consent;
using RemoteSupport.Documents;
using RemoteSupport.Fixes;
using RemoteSupport.GroundRules;
using RemoteSupport.Identities;

namespace RemoteSupport.Tests.Fixes;

public sealed partial class FixInstallerTests : IDisposable
{
    private readonly TemporaryFolder _folder = new();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 27, 9, 0, 0, TimeSpan.Zero));
    private readonly PartyIdentity _release1 = PartyIdentity.Create("contoso", PartyRole.Vendor);
    private readonly PartyIdentity _release2 = PartyIdentity.Create("contoso", PartyRole.Vendor);
    private readonly PartyIdentity _unit = PartyIdentity.Create("fabrikam", PartyRole.Unit);
    private readonly FixTrust _trust;
    private readonly FixContext _context = new("unit-7", "fabrikam", null, "ledger", "2.3.0");
    private readonly Dictionary<string, byte[]> _before;

    public FixInstallerTests()
    {
        _trust = new FixTrust(new VendorRoot
        {
            VendorId = "contoso", Version = 1, Expires = _time.GetUtcNow().AddYears(1), Threshold = 2,
            ReleaseKeys = [_release1.PublicKey.ToString(), _release2.PublicKey.ToString()],
        }.ToEnvelope().Sign(_release1).Sign(_release2), _time);

        Directory.CreateDirectory(Path.Combine(Root, "bin"));
        File.WriteAllText(Path.Combine(Root, "bin", "app.dll"), "old app");
        File.WriteAllText(Path.Combine(Root, "bin", "legacy.dll"), "legacy");
        Directory.CreateDirectory(Path.Combine(Source, "bin"));
        File.WriteAllText(Path.Combine(Source, "bin", "app.dll"), "new app");
        File.WriteAllText(Path.Combine(Source, "bin", "extra.dll"), "new extra");
        _before = Snapshot();
    }

    private string Root => Path.Combine(_folder.Path, "install");

    private string Source => Path.Combine(_folder.Path, "source");

    private string Work => Path.Combine(_folder.Path, "work");

    public void Dispose()
    {
        _folder.Dispose();
        _release1.Dispose();
        _release2.Dispose();
        _unit.Dispose();
    }

    [Fact]
    public async Task Install_SwapsTheFiles_RecordsTheVersion_AndSignsAReceipt()
    {
        string package = await BuildAsync();
        var installer = new FixInstaller(Root, Work, _unit, _time);

        InstallReceipt receipt = await InstallAsync(installer, package, () => true);

        receipt.Outcome.Should().Be(InstallResult.Installed, receipt.Reason);
        (await File.ReadAllTextAsync(Path.Combine(Root, "bin", "app.dll"))).Should().Be("new app");
        (await File.ReadAllTextAsync(Path.Combine(Root, "bin", "extra.dll"))).Should().Be("new extra");
        File.Exists(Path.Combine(Root, "bin", "legacy.dll")).Should().BeFalse();
        installer.InstalledVersion("ledger").Should().Be("2.4.0");
        receipt.Files.Single(f => f.Path == "bin/app.dll").HashBefore.Should().Be(Sha("old app"));
        receipt.Files.Single(f => f.Path == "bin/app.dll").HashAfter.Should().Be(Sha("new app"));
        receipt.PackageHash.Should().HaveLength(64);
        Directory.GetFileSystemEntries(Work).Select(Path.GetFileName).Should().BeEquivalentTo(["installed-versions.json", "install.lock"], "staging, backups and the journal are gone");
    }

    [Fact]
    public async Task Receipts_AreWrittenToTheAuditLog()
    {
        string package = await BuildAsync();
        await using RemoteSupport.Journal.AppendOnlyJournal journal = await RemoteSupport.Journal.AppendOnlyJournal.OpenAsync(Path.Combine(_folder.Path, "audit.journal"));
        var installer = new FixInstaller(Root, Work, _unit, _time, new RemoteSupport.Audit.AuditLog(journal, _time));

        await InstallAsync(installer, package, () => false);

        journal.Count.Should().Be(1);
        string record = System.Text.Encoding.UTF8.GetString(await journal.ReadAsync(0));
        record.Should().Contain("fix-rolled-back").And.Contain("ledger-fix-2.4.0");
    }

    [Fact]
    public async Task FailingHealthCheck_RollsBack_ToTheExactPreviousFiles()
    {
        string package = await BuildAsync();

        InstallReceipt receipt = await InstallAsync(new FixInstaller(Root, Work, _unit, _time), package, () => false);

        receipt.Outcome.Should().Be(InstallResult.RolledBack);
        Snapshot().Should().BeEquivalentTo(_before);
    }

    [Fact]
    public async Task RefusedPackage_LeavesTheRootUnchanged_WithAReceiptSayingWhy()
    {
        string package = await BuildAsync();
        byte[] bytes = await File.ReadAllBytesAsync(package);
        bytes[^2] ^= 0x01;
        await File.WriteAllBytesAsync(package, bytes);

        InstallReceipt receipt = await InstallAsync(new FixInstaller(Root, Work, _unit, _time), package, () => true);

        receipt.Outcome.Should().Be(InstallResult.Refused);
        receipt.Reason.Should().Contain("does not match");
        Snapshot().Should().BeEquivalentTo(_before);
    }

    [Fact]
    public async Task ARefusedPackage_IsAuditedAsRefused_NotAsVerified()
    {
        string package = await BuildAsync();
        byte[] bytes = await File.ReadAllBytesAsync(package);
        bytes[^2] ^= 0x01;
        await File.WriteAllBytesAsync(package, bytes);
        await using RemoteSupport.Journal.AppendOnlyJournal journal = await RemoteSupport.Journal.AppendOnlyJournal.OpenAsync(Path.Combine(_folder.Path, "audit.journal"));
        var installer = new FixInstaller(Root, Work, _unit, _time, new RemoteSupport.Audit.AuditLog(journal, _time));

        (await InstallAsync(installer, package, () => true)).Outcome.Should().Be(InstallResult.Refused);

        RemoteSupport.Audit.AuditEvent recorded = System.Text.Json.JsonSerializer.Deserialize<RemoteSupport.Audit.AuditEvent>(
            await journal.ReadAsync(0), RemoteSupport.Documents.DocumentJson.Options)!;
        recorded.Kind.Should().Be(RemoteSupport.Audit.AuditEventKind.FixRefused);
        recorded.Details["result"].Should().Be("refused");
        recorded.Details["reason"].Should().Contain("does not match");
    }

    [Fact]
    public async Task AnInstallWhileAnotherHoldsTheLock_FailsAsBusy_AndChangesNothing()
    {
        string package = await BuildAsync();
        var installer = new FixInstaller(Root, Work, _unit, _time);
        Directory.CreateDirectory(Work);
        using (new FileStream(Path.Combine(Work, "install.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            var busy = async () => await InstallAsync(installer, package, () => true);

            (await busy.Should().ThrowAsync<FixInstallBusyException>()).Which.Message.Should().Contain("Another install or recovery is running");
        }

        Snapshot().Should().BeEquivalentTo(_before);
        (await InstallAsync(installer, package, () => true)).Outcome.Should().Be(InstallResult.Installed, "the lock is free again");
    }

    [Fact]
    public async Task ConsentForAnotherPackage_IsRefused()
    {
        string package = await BuildAsync();

        InstallReceipt receipt = await InstallAsync(new FixInstaller(Root, Work, _unit, _time), package, () => true, packageHash: new string('0', 64));

        receipt.Outcome.Should().Be(InstallResult.Refused);
        Snapshot().Should().BeEquivalentTo(_before);
    }

    [Theory]
    [InlineData("staged", false)]
    [InlineData("backup:0", false)]
    [InlineData("swap:0", false)]
    [InlineData("backup:1", false)]
    [InlineData("swap:2", false)]
    [InlineData("swapped", false)]
    [InlineData("committed", true)]
    public async Task CrashAfterAnyStep_RecoversToBeforeOrAfter_NeverBetween(string step, bool after)
    {
        string package = await BuildAsync();
        var crashing = new FixInstaller(Root, Work, _unit, _time) { AfterStep = s => { if (s == step) { throw new FixInstaller.InstallInterruptedException(); } } };
        await FluentActions.Awaiting(() => InstallAsync(crashing, package, () => true)).Should().ThrowAsync<FixInstaller.InstallInterruptedException>();

        var restarted = new FixInstaller(Root, Work, _unit, _time);
        await restarted.RecoverAsync();

        Dictionary<string, byte[]> now = Snapshot();
        if (after)
        {
            now.Keys.Should().BeEquivalentTo("bin/app.dll", "bin/extra.dll");
            restarted.InstalledVersion("ledger").Should().Be("2.4.0");
        }
        else
        {
            now.Should().BeEquivalentTo(_before);
            restarted.InstalledVersion("ledger").Should().BeNull();
        }
    }

    [Fact]
    public async Task ACrashRightAfterTheCommit_StillEndsWithTheInstallsReceiptAudited()
    {
        string package = await BuildAsync();
        string auditPath = Path.Combine(_folder.Path, "audit.journal");
        await using (RemoteSupport.Journal.AppendOnlyJournal journal = await RemoteSupport.Journal.AppendOnlyJournal.OpenAsync(auditPath))
        {
            var crashing = new FixInstaller(Root, Work, _unit, _time, new RemoteSupport.Audit.AuditLog(journal, _time))
            {
                AfterStep = s => { if (s == "committed") { throw new FixInstaller.InstallInterruptedException(); } },
            };
            await FluentActions.Awaiting(() => InstallAsync(crashing, package, () => true)).Should().ThrowAsync<FixInstaller.InstallInterruptedException>();
            journal.Count.Should().Be(0, "the crash came before the receipt was written anywhere but the journal");
        }

        await using RemoteSupport.Journal.AppendOnlyJournal reopened = await RemoteSupport.Journal.AppendOnlyJournal.OpenAsync(auditPath);
        var restarted = new FixInstaller(Root, Work, _unit, _time, new RemoteSupport.Audit.AuditLog(reopened, _time));
        await restarted.RecoverAsync();

        restarted.InstalledVersion("ledger").Should().Be("2.4.0");
        reopened.Count.Should().Be(1, "recovery finishes the commit with its receipt");
        System.Text.Encoding.UTF8.GetString(await reopened.ReadAsync(0)).Should().Contain("fix-installed").And.Contain("ledger-fix-2.4.0");
        Directory.GetFileSystemEntries(Work).Select(Path.GetFileName).Should().BeEquivalentTo(["installed-versions.json", "install.lock"]);
    }

    [Fact]
    public async Task Recovery_DeletesTheStagingAndTemporaryFilesAKilledInstallLeft()
    {
        Directory.CreateDirectory(Path.Combine(Work, "tx-0123", "staged"));
        await File.WriteAllTextAsync(Path.Combine(Work, "tx-0123", "staged", "app.dll"), "half staged");
        await File.WriteAllTextAsync(Path.Combine(Work, "pending-receipt-1.json.0123456789ab.tmp"), "{\"half");
        await File.WriteAllTextAsync(Path.Combine(Work, "install.journal.json.0123456789ab.tmp"), "{");

        await new FixInstaller(Root, Work, _unit, _time).RecoverAsync();

        Directory.GetFileSystemEntries(Work).Select(Path.GetFileName).Should().BeEquivalentTo(["install.lock"]);
        Snapshot().Should().BeEquivalentTo(_before);
    }

    [Fact]
    public async Task AuditFailureAfterTheCommit_DoesNotRollBackTheInstall_AndTheReceiptIsRecordedAtRecovery()
    {
        string package = await BuildAsync();
        string auditPath = Path.Combine(_folder.Path, "audit.journal");
        RemoteSupport.Journal.AppendOnlyJournal journal = await RemoteSupport.Journal.AppendOnlyJournal.OpenAsync(auditPath);
        // The attack: the audit journal fails (a full disk, here a closed journal) once the install has committed.
        var installer = new FixInstaller(Root, Work, _unit, _time, new RemoteSupport.Audit.AuditLog(journal, _time))
        {
            AfterStep = s => { if (s == "committed") { journal.DisposeAsync().AsTask().GetAwaiter().GetResult(); } },
        };

        InstallReceipt receipt = await InstallAsync(installer, package, () => true);

        receipt.Outcome.Should().Be(InstallResult.Installed, "the commit stands whatever fails after it");
        Snapshot().Keys.Should().BeEquivalentTo("bin/app.dll", "bin/extra.dll");
        (await File.ReadAllTextAsync(Path.Combine(Root, "bin", "app.dll"))).Should().Be("new app");
        installer.InstalledVersion("ledger").Should().Be("2.4.0");
        Directory.GetFiles(Work, "pending-receipt-*.json").Should().ContainSingle("the receipt waits for the audit journal");

        await using RemoteSupport.Journal.AppendOnlyJournal reopened = await RemoteSupport.Journal.AppendOnlyJournal.OpenAsync(auditPath);
        await new FixInstaller(Root, Work, _unit, _time, new RemoteSupport.Audit.AuditLog(reopened, _time)).RecoverAsync();

        reopened.Count.Should().Be(1);
        System.Text.Encoding.UTF8.GetString(await reopened.ReadAsync(0)).Should().Contain("fix-installed").And.Contain("ledger-fix-2.4.0");
        Directory.GetFiles(Work, "pending-receipt-*.json").Should().BeEmpty();
        installer.InstalledVersion("ledger").Should().Be("2.4.0", "a retry is not refused as a rollback");
    }

    [Fact]
    public async Task AConsentDecisionNotIssuedByAGate_IsRefused_AndNothingChanges()
    {
        string package = await BuildAsync();
        var installer = new FixInstaller(Root, Work, _unit, _time);
        var forged = new ConsentDecision
        {
            DecisionId = "decision-forged", DecidedAt = _time.GetUtcNow(), Outcome = ConsentOutcome.Granted, Reason = ConsentReason.None, Sentence = "granted",
            Request = new ConsentRequest
            {
                SessionId = "session-1", UnitId = "unit-7", VendorId = "contoso", TechnicianId = "contoso",
                TechnicianKey = _release1.PublicKey, Operation = SupportOperation.InstallFix,
            },
        };

        await using FileStream stream = File.OpenRead(package);
        InstallReceipt receipt = InstallReceipt.FromEnvelope(await installer.InstallAsync(stream, _trust, _context, forged, _ => Task.FromResult(true), "session-1"));

        receipt.Outcome.Should().Be(InstallResult.Refused);
        Snapshot().Should().BeEquivalentTo(_before);
    }

    private async Task<InstallReceipt> InstallAsync(FixInstaller installer, string package, Func<bool> healthy, string? packageHash = null)
    {
        await using FileStream stream = File.OpenRead(package);
        SignedEnvelope signed = await installer.InstallAsync(stream, _trust, _context, Grant(packageHash), _ => Task.FromResult(healthy()), "session-1");
        _unit.PublicKey.Verify(signed.PreAuthenticationEncoding(), signed.Signatures[0].Signature.Span).Should().BeTrue("the unit signs its receipts");
        return InstallReceipt.FromEnvelope(signed);
    }

    /// <summary>A grant to install, as a gate issues it (bound to <paramref name="packageHash"/> when given).</summary>
    private ConsentDecision Grant(string? packageHash) => ConsentGate.IssueForTest(new ConsentDecision
    {
        DecisionId = "decision-1",
        DecidedAt = _time.GetUtcNow(),
        Outcome = ConsentOutcome.Granted,
        Reason = ConsentReason.None,
        Sentence = "granted",
        Request = new ConsentRequest
        {
            SessionId = "session-1", UnitId = "unit-7", VendorId = "contoso", TechnicianId = "contoso",
            TechnicianKey = _release1.PublicKey, Operation = SupportOperation.InstallFix, PackageHash = packageHash,
        },
    });

    private async Task<string> BuildAsync()
    {
        string package = Path.Combine(_folder.Path, "fix.rsfix");
        var template = new FixManifest
        {
            PackageId = "ledger-fix-2.4.0", Product = "ledger", Version = "2.4.0",
            AppliesTo = new FixTarget("ledger", "2.0.0", "3.0.0", ["*"], null, null),
            CreatedAt = _time.GetUtcNow(), ExpiresAt = _time.GetUtcNow().AddDays(30), ReleaseNotes = "Fix.",
            Files = [new FixFile("bin/legacy.dll", FixFileAction.Delete, 0, "", [])],
        };
        await FixPackage.BuildAsync(Source, template, [_release1, _release2], package);
        return package;
    }

    private Dictionary<string, byte[]> Snapshot() =>
        Directory.GetFiles(Root, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(Root, f).Replace('\\', '/'), File.ReadAllBytes);

    private static string Sha(string text) => Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)));
}
