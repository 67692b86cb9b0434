using System.Diagnostics;
using System.Security.Cryptography;

namespace RemoteSupport.Cli.Tests;

/// <summary>A 1 GiB fix packs and verifies in bounded memory: the tool streams, it never holds a package.</summary>
[Collection(nameof(InstalledTool))]
public sealed class LargePackageTests(InstalledTool tool) : IDisposable
{
    private const long PeakLimit = 64L * 1024 * 1024;
    private readonly Workspace _work = new(tool);

    public void Dispose() => _work.Dispose();

    [Fact]
    public async Task AGibibytePackage_PacksAndVerifies_WithPeakResidentSetUnder64MiB()
    {
        await _work.OkAsync("key", "new", "--party", "contoso", "--role", "vendor", "--out", "release.key");
        await _work.OkAsync("fix", "root", "--key", "release.key", "--vendor", "contoso", "--out", "vendor-root.json");
        Directory.CreateDirectory(_work.File("build"));
        // A sparse 1 GiB input (the content does not change what the tool holds; the disk is spared a second GiB
        // while other test projects run), and a small random file beside it. The package itself is 1 GiB on disk.
        using (var image = new FileStream(_work.File("build/image.bin"), FileMode.CreateNew))
        {
            image.SetLength(1L << 30);
        }

        await File.WriteAllBytesAsync(_work.File("build/small.bin"), RandomNumberGenerator.GetBytes(4096));

        (ToolRun pack, long packPeak) = await MeasureAsync("fix", "pack", "build", "--product", "image", "--version", "1.0.0", "--key", "release.key", "--out", "image.rsfix", "--json");
        File.Delete(_work.File("build/image.bin"));
        (ToolRun verify, long verifyPeak) = await MeasureAsync("fix", "verify", "image.rsfix", "--root", "vendor-root.json", "--json");

        pack.ExitCode.Should().Be(0, pack.ToString());
        verify.ExitCode.Should().Be(0, verify.ToString());
        ((bool)verify.Json()["valid"]!).Should().BeTrue();
        new FileInfo(_work.File("image.rsfix")).Length.Should().BeGreaterThan(1L << 30);
        packPeak.Should().BePositive().And.BeLessThan(PeakLimit, "fix pack's peak resident set was {0:F1} MiB", packPeak / 1048576.0);
        verifyPeak.Should().BePositive().And.BeLessThan(PeakLimit, "fix verify's peak resident set was {0:F1} MiB", verifyPeak / 1048576.0);
        Console.WriteLine($"1 GiB package: fix pack peak RSS {packPeak / 1048576.0:F1} MiB, fix verify peak RSS {verifyPeak / 1048576.0:F1} MiB");
    }

    private Task<(ToolRun, long)> MeasureAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo(tool.Executable) { WorkingDirectory = _work.Path };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        tool.Configure(start);
        return InstalledTool.RunMeasuredAsync(start);
    }
}
