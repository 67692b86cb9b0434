using System.Diagnostics;
using System.Text.Json.Nodes;
using RemoteSupport.Tests;

namespace RemoteSupport.Cli.Tests;

/// <summary>docs/guides/cli.md, run verbatim: its <c>sh</c> blocks in order, with bash, against the installed tool.</summary>
[Collection(nameof(InstalledTool))]
public sealed class CliWalkthroughTests(InstalledTool tool) : IDisposable
{
    private readonly Workspace _work = new(tool);

    public void Dispose() => _work.Dispose();

    /// <summary>The guide's <c>sh</c> blocks, in order.</summary>
    public static IReadOnlyList<string> ShellBlocks()
    {
        string guide = File.ReadAllText(Path.Combine(RepositoryPaths.Root(), "docs", "guides", "cli.md")).ReplaceLineEndings("\n");
        var blocks = new List<string>();
        for (int at = guide.IndexOf("```sh\n", StringComparison.Ordinal); at >= 0; at = guide.IndexOf("```sh\n", at, StringComparison.Ordinal))
        {
            int start = at + "```sh\n".Length;
            int end = guide.IndexOf("\n```\n", start, StringComparison.Ordinal);
            blocks.Add(guide[start..(end + 1)]);
            at = end;
        }

        return blocks;
    }

    [Fact]
    public async Task TheGuide_RunsVerbatim_AndLeavesArtifactsThatVerify()
    {
        IReadOnlyList<string> blocks = ShellBlocks();
        blocks.Should().HaveCountGreaterThan(8);
        await File.WriteAllTextAsync(_work.File("walkthrough.sh"), string.Concat(blocks));
        var start = new ProcessStartInfo("bash") { WorkingDirectory = _work.Path, ArgumentList = { "-euo", "pipefail", "walkthrough.sh" } };
        tool.Configure(start);

        ToolRun run = await InstalledTool.RunAsync(start, null);

        run.ExitCode.Should().Be(0, run.ToString());
        run.Stdout.Should().Contain("still missing:   contoso/vendor").And.Contain("signed by both:  true");
        run.Stdout.Should().Contain("RemoteSupport written approval request request-1");
        run.Stdout.Should().Contain("refused with exit code 1");
        run.Stdout.Should().Contain("EUR 35.00").And.Contain("all valid:  true");
        JsonObject verification = JsonNode.Parse(await File.ReadAllTextAsync(_work.File("verification.json")))!.AsObject();
        ((bool)verification["valid"]!).Should().BeTrue();
        JsonObject fix = await _work.JsonAsync("fix", "verify", "ledger-2.4.0.rsfix", "--root", "vendor-root.json");
        ((bool)fix["valid"]!).Should().BeTrue();
    }
}
