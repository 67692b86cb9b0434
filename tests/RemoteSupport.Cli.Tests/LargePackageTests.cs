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

    [Fact]
    public async Task OnATerminal_PackAndVerifyShowAProgressBar_AndRedirectedOutputHasNone()
    {
        await _work.OkAsync("key", "new", "--party", "contoso", "--role", "vendor", "--out", "release.key");
        await _work.OkAsync("fix", "root", "--key", "release.key", "--vendor", "contoso", "--out", "vendor-root.json");
        Directory.CreateDirectory(_work.File("build"));
        using (var image = new FileStream(_work.File("build/image.bin"), FileMode.CreateNew))
        {
            image.SetLength(96L << 20); // above the 64 MiB from which a bar is shown
        }

        // script(1) runs the tool on a pseudo-terminal, as a person at a terminal would.
        ToolRun packed = await OnTerminalAsync($"{tool.Executable} fix pack build --product image --version 1.0.0 --key release.key --out image.rsfix");
        ToolRun verified = await OnTerminalAsync($"{tool.Executable} fix verify image.rsfix --root vendor-root.json");
        ToolRun redirected = await _work.OkAsync("fix", "verify", "image.rsfix", "--root", "vendor-root.json");

        packed.ExitCode.Should().Be(0, packed.ToString());
        packed.Stdout.Should().Contain("packing").And.Contain("100%");
        Percentages(packed.Stdout).Should().Contain(p => p > 0 && p < 100, "the bar moves during the two passes, not only at the end");
        verified.ExitCode.Should().Be(0, verified.ToString());
        verified.Stdout.Should().Contain("verifying").And.Contain("100%");
        redirected.Stdout.Should().NotContain("verifying").And.NotContain("%").And.NotContain("\u001b");
    }

    private static IEnumerable<int> Percentages(string output) =>
        System.Text.RegularExpressions.Regex.Matches(output, @"(\d{1,3})%").Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));

    private Task<ToolRun> OnTerminalAsync(string commandLine)
    {
        var start = new ProcessStartInfo("script") { WorkingDirectory = _work.Path, ArgumentList = { "-qec", commandLine, "/dev/null" } };
        tool.Configure(start);
        start.Environment.Remove("NO_COLOR");
        start.Environment["TERM"] = "xterm";
        return InstalledTool.RunAsync(start, null);
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
