using System.Text.Json.Nodes;
using RemoteSupport.Documents;
using RemoteSupport.Fixes;
using RemoteSupport.Identities;

namespace RemoteSupport.Cli.Tests;

/// <summary>The release engineer's commands: a vendor root, signed fix packages, and the unit's check of them.</summary>
[Collection(nameof(InstalledTool))]
public sealed class FixCommandTests(InstalledTool tool) : IDisposable
{
    private readonly Workspace _work = new(tool);

    public void Dispose() => _work.Dispose();

    private async Task PackAsync()
    {
        await _work.OkAsync("key", "new", "--party", "contoso", "--role", "vendor", "--out", "release1.key");
        await _work.OkAsync("key", "new", "--party", "contoso", "--role", "vendor", "--out", "release2.key");
        await _work.OkAsync("fix", "root", "--key", "release1.key", "--key", "release2.key", "--threshold", "2", "--vendor", "contoso", "--out", "vendor-root.json");
        Directory.CreateDirectory(_work.File("build/bin"));
        await File.WriteAllTextAsync(_work.File("build/bin/ledger.dll"), "ledger 2.4.0");
        await File.WriteAllBytesAsync(_work.File("build/data.bin"), new byte[300_000]);
    }

    [Fact]
    public async Task RootPackVerify_SignsAPackageUnderTheRootsThreshold_ThatVerifiesAsAUnitChecksIt()
    {
        await PackAsync();

        JsonObject packed = await _work.JsonAsync("fix", "pack", "build", "--product", "ledger", "--version", "2.4.0", "--min-version", "2.0.0",
            "--key", "release1.key", "--key", "release2.key", "--out", "ledger-2.4.0.rsfix");
        JsonObject verified = await _work.JsonAsync("fix", "verify", "ledger-2.4.0.rsfix", "--root", "vendor-root.json", "--installed-version", "2.3.0");
        string rollback = await _work.FailsAsync(1, "fix", "verify", "ledger-2.4.0.rsfix", "--root", "vendor-root.json", "--installed-version", "2.5.0");

        ((int)packed["files"]!).Should().Be(2);
        packed["signedBy"]!.AsArray().Should().HaveCount(2);
        ((bool)verified["valid"]!).Should().BeTrue();
        ((string)verified["version"]!).Should().Be("2.4.0");
        ((string)verified["packageHash"]!).Should().MatchRegex("^[0-9a-f]{64}$");
        rollback.Should().StartWith("ledger-2.4.0.rsfix: ");
    }

    [Fact]
    public async Task Verify_ATamperedPackage_IsRefusedNamingTheFile()
    {
        await PackAsync();
        await _work.OkAsync("fix", "pack", "build", "--product", "ledger", "--version", "2.4.0", "--key", "release1.key", "--key", "release2.key", "--out", "ledger.rsfix");
        byte[] package = await File.ReadAllBytesAsync(_work.File("ledger.rsfix"));
        package[^1000] ^= 0x01; // a byte of the last file's content
        await File.WriteAllBytesAsync(_work.File("ledger.rsfix"), package);

        ToolRun run = await _work.RunAsync("fix", "verify", "ledger.rsfix", "--root", "vendor-root.json", "--json");

        run.ExitCode.Should().Be(1, run.ToString());
        JsonObject json = run.Json();
        ((bool)json["valid"]!).Should().BeFalse();
        ((string)json["error"]!).Should().StartWith("ledger.rsfix: ").And.Contain("data.bin");
    }

    [Fact]
    public async Task Verify_UnderAnExpiredRoot_OrSignedBelowTheThreshold_IsRefused()
    {
        await PackAsync();
        await _work.OkAsync("fix", "pack", "build", "--product", "ledger", "--version", "2.4.0", "--key", "release1.key", "--key", "release2.key", "--out", "ledger.rsfix");
        await _work.OkAsync("fix", "pack", "build", "--product", "ledger", "--version", "2.4.1", "--key", "release1.key", "--out", "one-signature.rsfix");
        using PartyIdentity release1 = await KeyFile.LoadAsync(_work.File("release1.key"), null);
        using PartyIdentity release2 = await KeyFile.LoadAsync(_work.File("release2.key"), null);
        var expired = new VendorRoot
        {
            VendorId = "contoso", Version = 1, Threshold = 2, Expires = DateTimeOffset.UtcNow.AddDays(-1),
            ReleaseKeys = [release1.PublicKey.ToString(), release2.PublicKey.ToString()],
        };
        SignedEnvelope signed = expired.ToEnvelope().Sign(release1).Sign(release2);
        await File.WriteAllBytesAsync(_work.File("expired-root.json"), signed.ToUtf8Json(indented: true));

        string expiredRoot = await _work.FailsAsync(1, "fix", "verify", "ledger.rsfix", "--root", "expired-root.json");
        string belowThreshold = await _work.FailsAsync(1, "fix", "verify", "one-signature.rsfix", "--root", "vendor-root.json");

        expiredRoot.Should().StartWith("ledger.rsfix: The vendor root (version 1) expired at ");
        belowThreshold.Should().StartWith("one-signature.rsfix: ");
    }

    [Fact]
    public async Task Pack_NeverOverwritesAPackage_AndANonSemVerVersionIsAUsageError()
    {
        await PackAsync();
        await File.WriteAllTextAsync(_work.File("taken.rsfix"), "someone's file");

        string taken = await _work.FailsAsync(3, "fix", "pack", "build", "--product", "ledger", "--version", "2.4.0", "--key", "release1.key", "--out", "taken.rsfix");
        string version = await _work.FailsAsync(2, "fix", "pack", "build", "--product", "ledger", "--version", "two", "--key", "release1.key", "--out", "two.rsfix");

        taken.Should().StartWith("taken.rsfix: ");
        (await File.ReadAllTextAsync(_work.File("taken.rsfix"))).Should().Be("someone's file");
        version.Should().Contain("two");
        File.Exists(_work.File("two.rsfix")).Should().BeFalse();
    }
}
