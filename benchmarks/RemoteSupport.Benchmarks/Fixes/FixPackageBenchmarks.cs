using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using RemoteSupport.Documents;
using RemoteSupport.Fixes;
using RemoteSupport.Identities;

namespace RemoteSupport.Benchmarks.Fixes;

/// <summary>
/// Fix package verification against the BCL's SHA-256 of the same bytes read from the same kind of
/// file (baseline). <c>Verify</c>: full verification of a package of that payload (signatures,
/// manifest, every chunk), without staging (the installer stages while it verifies).
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 5)]
public class FixPackageBenchmarks
{
    private string _folder = null!;
    private string _payload = null!;
    private string _package = null!;
    private FixTrust _trust = null!;
    private FixContext _context = null!;

    [Params(64L * 1024 * 1024, 1024L * 1024 * 1024)]
    public long PayloadBytes { get; set; }

    [GlobalSetup]
    public void Setup() => SetupAsync(PayloadBytes).GetAwaiter().GetResult();

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_folder, recursive: true);

    [Benchmark(Baseline = true)]
    public async Task<byte[]> Sha256OfFile()
    {
        await using FileStream stream = new(_payload, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.Asynchronous | FileOptions.SequentialScan);
        return await SHA256.HashDataAsync(stream);
    }

    [Benchmark]
    public async Task<bool> Verify()
    {
        await using FileStream stream = new(_package, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.Asynchronous | FileOptions.SequentialScan);
        FixVerification result = await FixVerifier.VerifyAsync(stream, _trust, _context, stagingFolder: null);
        return result.IsValid ? true : throw new InvalidOperationException(result.Sentence);
    }

    /// <summary>Builds a package of <paramref name="bytes"/> payload in a temporary folder; returns its path (also used by the peak-memory run).</summary>
    internal static async Task<(string Folder, string Payload, string Package, FixTrust Trust, FixContext Context)> BuildAsync(long bytes)
    {
        string folder = Path.Combine(Path.GetTempPath(), "rs-fix-bench-" + Guid.NewGuid().ToString("N"));
        string source = Path.Combine(folder, "source", "bin");
        Directory.CreateDirectory(source);
        string payload = Path.Combine(source, "payload.bin");
        byte[] block = RandomNumberGenerator.GetBytes(1 << 20);
        await using (FileStream output = new(payload, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20, useAsync: true))
        {
            for (long written = 0; written < bytes; written += block.Length)
            {
                block[0] = unchecked((byte)(block[0] + 1)); // vary the chunks
                await output.WriteAsync(block.AsMemory(0, (int)Math.Min(block.Length, bytes - written)));
            }
        }

        using var release = PartyIdentity.Create("contoso", PartyRole.Vendor);
        SignedEnvelope trustEnvelope = new VendorRoot
        {
            VendorId = "contoso", Version = 1, Expires = DateTimeOffset.UtcNow.AddYears(1), Threshold = 1, ReleaseKeys = [release.PublicKey.ToString()],
        }.ToEnvelope().Sign(release);
        var trust = new FixTrust(trustEnvelope);
        await File.WriteAllTextAsync(Path.Combine(folder, "root.json"), trustEnvelope.ToJson());
        string package = Path.Combine(folder, "fix.rsfix");
        await FixPackage.BuildAsync(Path.Combine(folder, "source"), new FixManifest
        {
            PackageId = "bench", Product = "ledger", Version = "2.4.0", AppliesTo = new FixTarget("ledger", "2.0.0", null, ["*"], null, null),
            CreatedAt = DateTimeOffset.UtcNow, ExpiresAt = DateTimeOffset.UtcNow.AddDays(1), ReleaseNotes = "benchmark", Files = [],
        }, [release], package);
        return (folder, payload, package, trust, new FixContext("unit-7", "fabrikam", null, "ledger", "2.3.0"));
    }

    /// <summary>Loads the root of trust a <see cref="BuildAsync"/> folder holds, for a separate verifying process.</summary>
    internal static (FixTrust Trust, FixContext Context) LoadTrust(string folder) =>
        (new FixTrust(SignedEnvelope.Parse(File.ReadAllText(Path.Combine(folder, "root.json")))), new FixContext("unit-7", "fabrikam", null, "ledger", "2.3.0"));

    private async Task SetupAsync(long bytes) =>
        (_folder, _payload, _package, _trust, _context) = await BuildAsync(bytes);
}
