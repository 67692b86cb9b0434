using RemoteSupport.Tests;

namespace RemoteSupport.Cli.Tests;

/// <summary>A temporary folder the tool runs in, with the parties' keys, a trust file and co-signed ground rules when asked for.</summary>
public sealed class Workspace : IDisposable
{
    /// <summary>The ground rules the parties sign (the guide's draft).</summary>
    public const string RulesDraft = """
        {
          "version": 1,
          "customerId": "fabrikam",
          "vendorId": "contoso",
          "timeZone": "Europe/Berlin",
          "operations": [
            { "operation": "view-data", "permitted": true,
              "approval": { "groups": [ { "name": "IT", "partyId": "fabrikam", "role": "approver", "quorum": 1 } ] } },
            { "operation": "install-fix", "permitted": true }
          ],
          "maxApprovalLifetimeSeconds": 28800,
          "dataScopes": [ { "root": "finance", "pathPatterns": ["reports/*.csv"], "owner": "fabrikam" } ],
          "hours": { "days": ["monday", "tuesday", "wednesday", "thursday", "friday"], "from": "08:00", "to": "18:00" },
          "maxSessionMinutes": 240,
          "tollCharges": { "currency": "EUR", "setupFeeMinor": 500, "perMinuteMinor": 120, "billingIncrementSeconds": 60,
                           "minimumMinor": 500, "sessionCapMinor": 20000, "monthlyCapMinor": 100000, "approvalThresholdMinor": 10000 }
        }
        """;

    private readonly TemporaryFolder _folder = new();

    public Workspace(InstalledTool tool) => Tool = tool;

    public InstalledTool Tool { get; }

    public string Path => _folder.Path;

    public string File(string name) => _folder.File(name);

    /// <summary>Runs the tool here.</summary>
    public Task<ToolRun> RunAsync(params string[] arguments) => Tool.RunAsync(Path, arguments);

    /// <summary>Runs the tool here with input on stdin.</summary>
    public Task<ToolRun> RunWithInputAsync(string stdin, params string[] arguments) => Tool.RunAsync(Path, stdin, null, arguments);

    /// <summary>Runs the tool here and asserts it succeeded.</summary>
    public async Task<ToolRun> OkAsync(params string[] arguments)
    {
        ToolRun run = await RunAsync(arguments);
        run.ExitCode.Should().Be(0, "rsupport {0} succeeds: {1}", string.Join(' ', arguments), run);
        run.Stderr.Should().BeEmpty();
        return run;
    }

    /// <summary>Runs the tool here with --json, asserts it succeeded and returns its one JSON object.</summary>
    public async Task<System.Text.Json.Nodes.JsonObject> JsonAsync(params string[] arguments)
    {
        ToolRun run = await OkAsync([.. arguments, "--json"]);
        System.Text.Json.Nodes.JsonObject json = run.Json();
        ((bool)json["ok"]!).Should().BeTrue();
        ((int)json["exitCode"]!).Should().Be(0);
        return json;
    }

    /// <summary>Runs the tool here and asserts it failed with <paramref name="exitCode"/> and one sentence on stderr (no stack trace).</summary>
    public async Task<string> FailsAsync(int exitCode, params string[] arguments)
    {
        ToolRun run = await RunAsync(arguments);
        run.ExitCode.Should().Be(exitCode, "rsupport {0} is refused: {1}", string.Join(' ', arguments), run);
        return OneSentence(run);
    }

    /// <summary>The one-sentence error on stderr, asserted to carry no stack trace.</summary>
    public static string OneSentence(ToolRun run)
    {
        string error = run.Stderr.TrimEnd('\n');
        error.Should().StartWith("rsupport: ").And.NotContain("\n").And.NotContain("   at ");
        return error["rsupport: ".Length..];
    }

    /// <summary>Creates the parties' keys (the customer's sealed with <see cref="Passphrase"/>), a trust file of them and the co-signed ground rules.</summary>
    public async Task<Workspace> WithPartiesAsync()
    {
        await System.IO.File.WriteAllTextAsync(File("customer.pass"), Passphrase + "\n");
        await OkAsync("key", "new", "--party", "fabrikam", "--role", "customer", "--out", "fabrikam.key", "--passphrase-file", "customer.pass");
        await OkAsync("key", "new", "--party", "fabrikam", "--role", "approver", "--out", "approver.key");
        await OkAsync("key", "new", "--party", "contoso", "--role", "vendor", "--out", "contoso.key");
        await OkAsync("key", "new", "--party", "contoso", "--role", "technician", "--out", "technician.key");
        await OkAsync("trust", "add", "--trust", "parties.trust", "fabrikam.key", "approver.key", "contoso.key", "technician.key");
        await System.IO.File.WriteAllTextAsync(File("rules-draft.json"), RulesDraft);
        await OkAsync("rules", "sign", "rules-draft.json", "--key", "fabrikam.key", "--passphrase-file", "customer.pass", "--out", "rules.json");
        await OkAsync("rules", "sign", "rules.json", "--key", "contoso.key", "--trust", "parties.trust");
        return this;
    }

    public const string Passphrase = "correct horse battery staple";

    public void Dispose() => _folder.Dispose();
}
