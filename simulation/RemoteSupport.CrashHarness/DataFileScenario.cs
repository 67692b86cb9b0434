using System.Globalization;
using RemoteSupport.Consent;
using RemoteSupport.DataFiles;
using RemoteSupport.GroundRules;
using RemoteSupport.Identities;

namespace RemoteSupport.CrashHarness;

/// <summary>
/// Replaces three data files in turn through <see cref="DataFileStore.ReplaceAsync"/>, each time with tagged content of
/// up to 256 KiB. After the kill: every file reads back as one whole version, never older than its last acknowledged
/// one. Temporary files the kill left beside a target are counted (they hold no acknowledged data).
/// </summary>
internal sealed class DataFileScenario : CrashScenario
{
    private const int MaxContent = 256 * 1024;
    private static readonly string[] Files = ["ledger/books.dat", "ledger/2026/november.dat", "settings.dat"];

    public override string Name => "data-file";

    private static string DataIn(string folder) => Path.Combine(folder, "data");

    public override Task PrepareAsync(string folder)
    {
        Directory.CreateDirectory(DataIn(folder));
        return Task.CompletedTask;
    }

    public override async Task WorkAsync(string folder, int iteration, Action<string> acknowledge)
    {
        var store = new DataFileStore(new Dictionary<string, string> { ["books"] = DataIn(folder) });
        using PartyIdentity technician = PartyIdentity.Create("contoso", PartyRole.Technician);
        for (long counter = 0; ; counter++)
        {
            string file = Files[counter % Files.Length];
            long tag = Tag(iteration, counter);
            ConsentDecision grant = Grants.Issue(technician, SupportOperation.ChangeData, root: "books", path: file);
            await store.ReplaceAsync(grant, TaggedContent.Create(tag, MaxContent));
            acknowledge(string.Create(CultureInfo.InvariantCulture, $"{file} {tag}"));
        }
    }

    public override Task<IReadOnlyList<string>> CheckAsync(string folder, IReadOnlyList<string> acknowledged)
    {
        var violations = new List<string>();
        var last = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (string ack in acknowledged)
        {
            string[] parts = ack.Split(' ');
            last[parts[0]] = long.Parse(parts[1], CultureInfo.InvariantCulture);
        }

        foreach ((string file, long acknowledgedTag) in last)
        {
            string path = Path.Combine(DataIn(folder), file);
            if (!File.Exists(path))
            {
                violations.Add($"{file} is gone; version {acknowledgedTag} was acknowledged");
            }
            else if (!TaggedContent.TryRead(File.ReadAllBytes(path), MaxContent, out long tag))
            {
                violations.Add($"{file} ({new FileInfo(path).Length} bytes) is not a whole version: torn or mixed");
            }
            else if (tag < acknowledgedTag)
            {
                violations.Add($"{file} holds version {tag}, older than the acknowledged {acknowledgedTag}");
            }
        }

        return Task.FromResult<IReadOnlyList<string>>(violations);
    }

    /// <summary>Counts the temporary files kills left beside the targets (a replace interrupted before its rename).</summary>
    public override string Remark(string folder) =>
        $"{(Directory.Exists(DataIn(folder)) ? Directory.GetFiles(DataIn(folder), "*.tmp", SearchOption.AllDirectories).Length : 0)} temporary files left by kills";
}

/// <summary>Grants as the consent gate issues them, for the work the harness runs (consent itself is not what it tests).</summary>
internal static class Grants
{
    public static ConsentDecision Issue(PartyIdentity technician, SupportOperation operation, string? root = null, string? path = null, string? packageHash = null) =>
        ConsentGate.IssueForTest(new ConsentDecision
        {
            DecisionId = "decision-" + Guid.NewGuid().ToString("N"),
            DecidedAt = DateTimeOffset.UnixEpoch,
            Outcome = ConsentOutcome.Granted,
            Reason = ConsentReason.None,
            Sentence = "granted by the crash harness",
            CanonicalPath = path,
            Request = new ConsentRequest
            {
                SessionId = "crash-session", UnitId = "unit-7", VendorId = "contoso", TechnicianId = "contoso",
                TechnicianKey = technician.PublicKey, Operation = operation, Root = root, Path = path, PackageHash = packageHash,
            },
        });
}
