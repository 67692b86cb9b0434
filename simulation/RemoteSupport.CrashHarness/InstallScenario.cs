using System.Text.Json;
using RemoteSupport.Audit;
using RemoteSupport.Documents;
using RemoteSupport.Fixes;
using RemoteSupport.GroundRules;
using RemoteSupport.Identities;
using RemoteSupport.Journal;

namespace RemoteSupport.CrashHarness;

/// <summary>
/// Installs two signed fixes in turn with a <see cref="FixInstaller"/> that audits its receipts: 2.1.0 replaces two files
/// and adds one, 2.2.0 replaces the two and deletes the added one; one health check in four fails, so rollbacks are
/// killed too. After the kill, recovery (<see cref="FixInstaller.RecoverAsync"/>) runs and then: the install root holds
/// exactly the files of the installed version, the work folder holds no transaction, and the audit journal holds a
/// receipt for every install acknowledged, its last one naming the installed version.
/// </summary>
internal sealed class InstallScenario : CrashScenario
{
    private const string First = "2.1.0";
    private const string Second = "2.2.0";

    public override string Name => "install";

    /// <summary>Gets the longest a worker installs: its first install waits for the code to compile (about half a second).</summary>
    public override TimeSpan MaxWork => TimeSpan.FromMilliseconds(2000);

    /// <summary>The files of each state of the root (the starting state has the second version's files).</summary>
    private static Dictionary<string, byte[]> FilesOf(string version) => version == First
        ? new() { ["bin/app.dll"] = TaggedContent.Create(1, 512 * 1024), ["notes.txt"] = TaggedContent.Create(2, 4096), ["bin/odd.dll"] = TaggedContent.Create(3, 64 * 1024) }
        : new() { ["bin/app.dll"] = TaggedContent.Create(4, 512 * 1024), ["notes.txt"] = TaggedContent.Create(5, 4096) };

    private static string RootIn(string folder) => Path.Combine(folder, "root");

    private static string WorkIn(string folder) => Path.Combine(folder, "work");

    private static string PackageOf(string folder, string version) => Path.Combine(folder, "ledger-" + version + ".rsfix");

    public override async Task PrepareAsync(string folder)
    {
        using PartyIdentity release = PartyIdentity.Create("contoso", PartyRole.Vendor);
        using PartyIdentity unit = PartyIdentity.Create("fabrikam", PartyRole.Unit);
        DateTimeOffset now = TimeProvider.System.GetUtcNow();
        SignedEnvelope root = new VendorRoot { VendorId = "contoso", Version = 1, Threshold = 1, Expires = now.AddYears(1), ReleaseKeys = [release.PublicKey.ToString()] }
            .ToEnvelope().Sign(release);
        await File.WriteAllBytesAsync(Path.Combine(folder, "vendor-root.json"), root.ToUtf8Json());
        await KeyFile.SaveAsync(unit, Path.Combine(folder, "unit.key"));
        Write(RootIn(folder), FilesOf(Second));
        foreach (string version in new[] { First, Second })
        {
            string source = Path.Combine(folder, "source-" + version);
            Write(source, FilesOf(version));
            var template = new FixManifest
            {
                PackageId = "ledger-" + version, Product = "ledger", Version = version, ChunkSize = 64 * 1024,
                AppliesTo = new FixTarget("ledger", "2.0.0", "3.0.0", ["*"], null, null),
                CreatedAt = now, ExpiresAt = now.AddDays(30), ReleaseNotes = "crash harness",
                Files = version == Second ? [new FixFile("bin/odd.dll", FixFileAction.Delete, 0, "", [])] : [],
            };
            await FixPackage.BuildAsync(source, template, [release], PackageOf(folder, version));
        }
    }

    public override async Task WorkAsync(string folder, int iteration, Action<string> acknowledge)
    {
        using PartyIdentity unit = await KeyFile.LoadAsync(Path.Combine(folder, "unit.key"), null);
        using PartyIdentity technician = PartyIdentity.Create("contoso", PartyRole.Technician);
        var trust = new FixTrust(SignedEnvelope.Parse(await File.ReadAllBytesAsync(Path.Combine(folder, "vendor-root.json"))));
        await using AppendOnlyJournal journal = await AppendOnlyJournal.OpenAsync(Path.Combine(folder, "audit.journal"));
        var installer = new FixInstaller(RootIn(folder), WorkIn(folder), unit, audit: new AuditLog(journal));
        await installer.RecoverAsync();
        var random = new Random(iteration);
        while (true)
        {
            string? installed = installer.InstalledVersion("ledger");
            string next = installed == First ? Second : First;
            bool healthy = random.Next(4) != 0;
            await using FileStream package = File.OpenRead(PackageOf(folder, next));
            SignedEnvelope receipt = await installer.InstallAsync(
                package, trust, new FixContext("unit-7", "fabrikam", null, "ledger", installed ?? "2.0.0"), Grants.Issue(technician, SupportOperation.InstallFix),
                _ => Task.FromResult(healthy), "crash-session");
            InstallReceipt read = InstallReceipt.FromEnvelope(receipt);
            acknowledge(read.Outcome + " " + read.Version);
        }
    }

    public override async Task<IReadOnlyList<string>> CheckAsync(string folder, IReadOnlyList<string> acknowledged)
    {
        var violations = new List<string>();
        using PartyIdentity unit = await KeyFile.LoadAsync(Path.Combine(folder, "unit.key"), null);
        await using AppendOnlyJournal journal = await AppendOnlyJournal.OpenAsync(Path.Combine(folder, "audit.journal"));
        var installer = new FixInstaller(RootIn(folder), WorkIn(folder), unit, audit: new AuditLog(journal));
        await installer.RecoverAsync();

        string? installed = installer.InstalledVersion("ledger");
        Dictionary<string, byte[]> expected = FilesOf(installed ?? Second);
        Dictionary<string, byte[]> actual = Directory.GetFiles(RootIn(folder), "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(RootIn(folder), f).Replace(Path.DirectorySeparatorChar, '/'), File.ReadAllBytes, StringComparer.Ordinal);
        foreach (string path in expected.Keys.Union(actual.Keys).Order(StringComparer.Ordinal))
        {
            if (!expected.TryGetValue(path, out byte[]? want) || !actual.TryGetValue(path, out byte[]? have) || !want.AsSpan().SequenceEqual(have))
            {
                violations.Add($"the install root is between versions: {path} is not as version {installed ?? "(before any install)"} has it");
            }
        }

        string[] left = [.. Directory.GetFileSystemEntries(WorkIn(folder)).Select(Path.GetFileName).Except(["installed-versions.json", "install.lock"]).Order(StringComparer.Ordinal)!];
        if (left.Length > 0)
        {
            violations.Add($"recovery left {string.Join(", ", left)} in the work folder");
        }

        var receipts = new List<AuditEvent>();
        await journal.ReadRangeAsync(0, journal.Count, (_, record) =>
        {
            AuditEvent audited = JsonSerializer.Deserialize<AuditEvent>(record, DocumentJson.Options)!;
            if (audited.Kind == AuditEventKind.FixInstalled)
            {
                receipts.Add(audited);
            }
        });

        int acknowledgedInstalls = acknowledged.Count(a => a.StartsWith(nameof(InstallResult.Installed) + " ", StringComparison.Ordinal));
        if (receipts.Count < acknowledgedInstalls)
        {
            violations.Add($"the audit journal holds {receipts.Count} install receipts; {acknowledgedInstalls} installs were acknowledged");
        }

        string? audited = receipts.Count == 0 ? null : receipts[^1].Details["version"];
        if (audited != installed)
        {
            violations.Add($"the installed version is {installed ?? "none"}, the last install receipt audited names {audited ?? "none"}");
        }

        return violations;
    }

    private static void Write(string folder, Dictionary<string, byte[]> files)
    {
        foreach ((string path, byte[] content) in files)
        {
            string full = Path.Combine(folder, path);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllBytes(full, content);
        }
    }
}
