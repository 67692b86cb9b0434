using System.Text.Json.Nodes;

namespace RemoteSupport.Cli.Tests;

/// <summary>Key files and the conventions every command keeps: --json anywhere, exit codes, one-sentence errors, help with an example.</summary>
[Collection(nameof(InstalledTool))]
public sealed class KeyAndConventionTests(InstalledTool tool) : IDisposable
{
    private readonly Workspace _work = new(tool);

    public void Dispose() => _work.Dispose();

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task KeyNew_WritesAPrivateUnsealedKeyFile_AndKeyShowPrintsTheSameTextIdAndFingerprint()
    {
        JsonObject created = await _work.JsonAsync("key", "new", "--party", "contoso", "--role", "vendor", "--out", "contoso.key");
        JsonObject shown = await _work.JsonAsync("key", "show", "contoso.key");

        ((bool)created["sealed"]!).Should().BeFalse("no passphrase option was given");
        ((string)created["publicKey"]!).Should().StartWith("ed25519:");
        foreach (string field in new[] { "party", "role", "publicKey", "keyId", "fingerprint" })
        {
            ((string)shown[field]!).Should().Be((string)created[field]!, field);
        }

        ((string)shown["keyId"]!).Should().MatchRegex("^[0-9a-f]{32}$");
        File.GetUnixFileMode(_work.File("contoso.key")).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    [Fact]
    public async Task KeyNew_WithAPassphraseOnStdin_Seals_AndOnlyThatPassphraseOpensIt()
    {
        ToolRun sealedRun = await _work.RunWithInputAsync(Workspace.Passphrase + "\n", "key", "new", "--party", "fabrikam", "--role", "customer", "--out", "fabrikam.key", "--passphrase-stdin", "--json");
        sealedRun.ExitCode.Should().Be(0, sealedRun.ToString());
        ((bool)sealedRun.Json()["sealed"]!).Should().BeTrue();
        await File.WriteAllTextAsync(_work.File("rules-draft.json"), Workspace.RulesDraft);

        ToolRun wrong = await _work.Tool.RunAsync(_work.Path, null, new Dictionary<string, string> { ["PASS"] = "not it" },
            "rules", "sign", "rules-draft.json", "--key", "fabrikam.key", "--passphrase-env", "PASS", "--out", "rules.json");
        ToolRun none = await _work.RunAsync("rules", "sign", "rules-draft.json", "--key", "fabrikam.key", "--out", "rules.json");
        ToolRun right = await _work.Tool.RunAsync(_work.Path, null, new Dictionary<string, string> { ["PASS"] = Workspace.Passphrase },
            "rules", "sign", "rules-draft.json", "--key", "fabrikam.key", "--passphrase-env", "PASS", "--out", "rules.json");

        wrong.ExitCode.Should().Be(1, wrong.ToString());
        Workspace.OneSentence(wrong).Should().Be("fabrikam.key: the passphrase is wrong, or the sealed key file was altered.");
        none.ExitCode.Should().Be(1);
        Workspace.OneSentence(none).Should().StartWith("fabrikam.key: the key is sealed; give its passphrase with --passphrase-file");
        right.ExitCode.Should().Be(0, right.ToString());
        File.Exists(_work.File("rules.json")).Should().BeTrue();
    }

    [Fact]
    public async Task KeyNew_NeverOverwritesAKeyFile_AndAPassphraseIsNeverAnArgument()
    {
        await _work.OkAsync("key", "new", "--party", "contoso", "--role", "vendor", "--out", "contoso.key");
        byte[] before = await File.ReadAllBytesAsync(_work.File("contoso.key"));

        string again = await _work.FailsAsync(3, "key", "new", "--party", "contoso", "--role", "vendor", "--out", "contoso.key");
        string onArgv = await _work.FailsAsync(2, "key", "new", "--party", "a", "--role", "vendor", "--out", "a.key", "--passphrase", "secret");

        again.Should().Be("contoso.key: a file is already there; a key file is never overwritten.");
        (await File.ReadAllBytesAsync(_work.File("contoso.key"))).Should().Equal(before);
        onArgv.Should().Contain("--passphrase").And.EndWith("see 'rsupport key new --help'.");
        File.Exists(_work.File("a.key")).Should().BeFalse();
    }

    [Theory]
    [InlineData("key new")]
    [InlineData("key show")]
    [InlineData("trust add")]
    [InlineData("trust show")]
    [InlineData("authorize")]
    [InlineData("revoke")]
    [InlineData("rules show")]
    [InlineData("rules sign")]
    [InlineData("approve")]
    [InlineData("approvals watch")]
    [InlineData("fix root")]
    [InlineData("fix pack")]
    [InlineData("fix verify")]
    [InlineData("ledger charge")]
    [InlineData("statement issue")]
    [InlineData("statement show")]
    [InlineData("statement export")]
    [InlineData("verify")]
    [InlineData("spec")]
    [InlineData("preflight")]
    public async Task EveryCommand_HasHelpWithAnExample(string command)
    {
        ToolRun help = await _work.OkAsync([.. command.Split(' '), "--help"]);

        help.Stdout.Should().Contain("Usage:").And.Contain("Example:");
        help.Stdout[help.Stdout.IndexOf("Example:", StringComparison.Ordinal)..].Should().Contain("rsupport " + command + " ");
    }

    [Fact]
    public async Task Json_AnywhereOnTheLine_PrintsExactlyOneObject_ForSuccessAndForFailure()
    {
        await _work.OkAsync("key", "new", "--party", "contoso", "--role", "vendor", "--out", "contoso.key");

        ToolRun first = await _work.OkAsync("--json", "key", "show", "contoso.key");
        ToolRun middle = await _work.OkAsync("key", "--json", "show", "contoso.key");
        ToolRun missing = await _work.RunAsync("key", "show", "nowhere.key", "--json");

        ((string)first.Json()["keyId"]!).Should().Be((string)middle.Json()["keyId"]!);
        missing.ExitCode.Should().Be(3);
        JsonObject error = missing.Json();
        ((bool)error["ok"]!).Should().BeFalse();
        ((int)error["exitCode"]!).Should().Be(3);
        ((string)error["error"]!).Should().StartWith("nowhere.key: ");
    }

    [Fact]
    public async Task Errors_AreOneSentenceNamingTheFile_WithTheStackTraceOnlyWhenVerbose()
    {
        await File.WriteAllTextAsync(_work.File("garbage.json"), "{garbage");

        string missing = await _work.FailsAsync(3, "rules", "show", "absent.json");
        string malformed = await _work.FailsAsync(3, "rules", "show", "garbage.json");
        string usage = await _work.FailsAsync(2, "fix", "pack");
        ToolRun verbose = await _work.RunAsync("rules", "show", "garbage.json", "--verbose");

        missing.Should().Be("absent.json: there is no such file.");
        malformed.Should().StartWith("garbage.json: a malformed ground-rules");
        usage.Should().EndWith("see 'rsupport fix pack --help'.");
        verbose.ExitCode.Should().Be(3);
        verbose.Stderr.Should().StartWith("rsupport: garbage.json: a malformed ground-rules").And.Contain("   at ");
    }
}
