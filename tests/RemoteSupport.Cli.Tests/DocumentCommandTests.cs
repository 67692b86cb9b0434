using System.Text.Json.Nodes;

namespace RemoteSupport.Cli.Tests;

/// <summary>The customer's documents: co-signed ground rules, authorizations, revocations and written approvals.</summary>
[Collection(nameof(InstalledTool))]
public sealed class DocumentCommandTests(InstalledTool tool) : IDisposable
{
    public const string Request = """
        {
          "requestId": "request-1",
          "sessionId": "session-1",
          "technicianId": "contoso",
          "technicianKeyId": "9b1c9071288643101e867d63647874e5",
          "operation": "view-data",
          "root": "finance",
          "paths": ["reports/2026-11.csv"],
          "owner": "fabrikam",
          "reason": "the November report does not add up",
          "ticket": "T-1234",
          "requestedDurationSeconds": 3600,
          "requestedAt": "2026-12-01T09:00:00+00:00"
        }
        """;

    private readonly Workspace _work = new(tool);

    public void Dispose() => _work.Dispose();

    [Fact]
    public async Task RulesSignedByOneParty_ShowWhatIsMissing_AndVerifyRefusesThemUntilTheOtherSigns()
    {
        await _work.WithPartiesAsync();
        await File.WriteAllTextAsync(_work.File("rules-draft.json"), Workspace.RulesDraft);
        JsonObject half = await _work.JsonAsync("rules", "sign", "rules-draft.json", "--key", "fabrikam.key", "--passphrase-file", "customer.pass", "--out", "half.json", "--trust", "parties.trust");

        string refused = await _work.FailsAsync(1, "verify", "half.json", "--trust", "parties.trust");
        JsonObject both = await _work.JsonAsync("rules", "sign", "half.json", "--key", "contoso.key", "--trust", "parties.trust");
        JsonObject shown = await _work.JsonAsync("rules", "show", "half.json", "--trust", "parties.trust");

        ((bool)half["valid"]!).Should().BeFalse();
        half["missing"]!.AsArray().Select(m => (string)m!).Should().Equal("contoso/vendor");
        half["signatures"]!.AsArray().Select(s => (string)s!["signer"]!).Should().Equal("fabrikam/customer");
        refused.Should().StartWith("1 of 1 findings refused: half.json: ").And.Contain("contoso/vendor");
        ((bool)both["valid"]!).Should().BeTrue();
        both["missing"]!.AsArray().Should().BeEmpty();
        shown["signatures"]!.AsArray().Select(s => (string)s!["status"]!).Should().Equal("valid", "valid");
        (await _work.JsonAsync("verify", "half.json", "--trust", "parties.trust"))["findings"]!.AsArray().Should().ContainSingle();
    }

    [Fact]
    public async Task Signing_WithTheWrongKey_IsRefusedAndWritesNothing()
    {
        await _work.WithPartiesAsync();

        string notAParty = await _work.FailsAsync(1, "rules", "sign", "rules-draft.json", "--key", "technician.key", "--out", "other.json");
        string wrongRole = await _work.FailsAsync(1, "authorize", "--key", "contoso.key", "--id", "auth-1", "--vendor", "contoso",
            "--technician", "technician.key", "--unit", "unit-7", "--rules", "rules.json", "--days", "30", "--out", "authorization.json");
        string approverRole = await _work.FailsAsync(1, "revoke", "--key", "approver.key", "--id", "auth-1", "--reason", "contract ended", "--out", "revocation.json");

        notAParty.Should().Be("technician.key: a key of contoso/technician; these ground rules are signed by fabrikam/customer and contoso/vendor.");
        wrongRole.Should().Be("contoso.key: a key of contoso/vendor; this document is signed by a customer key.");
        approverRole.Should().Be("approver.key: a key of fabrikam/approver; this document is signed by a customer key.");
        File.Exists(_work.File("other.json")).Should().BeFalse();
        File.Exists(_work.File("authorization.json")).Should().BeFalse();
        File.Exists(_work.File("revocation.json")).Should().BeFalse();
    }

    [Fact]
    public async Task AuthorizeAndRevoke_WriteCustomerSignedDocumentsThatVerify()
    {
        await _work.WithPartiesAsync();

        JsonObject authorization = await _work.JsonAsync("authorize", "--key", "fabrikam.key", "--passphrase-file", "customer.pass", "--id", "auth-1", "--vendor", "contoso",
            "--technician", "technician.key", "--unit", "unit-7", "--unit", "unit-8", "--rules", "rules.json", "--valid-from", "2026-12-01T00:00:00Z", "--days", "30", "--out", "authorization.json");
        JsonObject revocation = await _work.JsonAsync("revoke", "--key", "fabrikam.key", "--passphrase-file", "customer.pass", "--id", "auth-1", "--reason", "contract ended", "--out", "revocation.json");
        JsonObject verified = await _work.JsonAsync("verify", "authorization.json", "revocation.json", "--trust", "parties.trust");

        ((string)authorization["validUntil"]!).Should().StartWith("2026-12-31T00:00:00");
        authorization["units"]!.AsArray().Select(u => (string)u!).Should().Equal("unit-7", "unit-8");
        ((string)revocation["authorizationId"]!).Should().Be("auth-1");
        verified["findings"]!.AsArray().Select(a => (string)a!["result"]!).Should().Equal("valid", "valid");
    }

    [Fact]
    public async Task Approve_PrintsTheCanonicalText_AndSignsOnlyOnYes()
    {
        await _work.WithPartiesAsync();
        await File.WriteAllTextAsync(_work.File("request.json"), Request);

        ToolRun no = await _work.RunWithInputAsync("n\n", "approve", "request.json", "--key", "approver.key", "--out", "approval.json");
        bool writtenOnNo = File.Exists(_work.File("approval.json"));
        ToolRun yes = await _work.RunWithInputAsync("y\n", "approve", "request.json", "--key", "approver.key", "--out", "approval.json");
        JsonObject verified = await _work.JsonAsync("verify", "approval.json", "--trust", "parties.trust");

        no.ExitCode.Should().Be(1, no.ToString());
        no.Stdout.Should().StartWith(
            "RemoteSupport written approval request request-1\n" +
            "Technician contoso (key 9b1c9071288643101e867d63647874e5) asks to VIEW (read only) these data files of fabrikam:\n" +
            "  finance/reports/2026-11.csv\n" +
            "Reason (the vendor's words): \"the November report does not add up\"\n" +
            "Ticket (the vendor's words): \"T-1234\"\n" +
            "Session: session-1\n" +
            "Requested at 2026-12-01 09:00:00Z for 01:00:00.\n").And.Contain("Sign this written approval? [y/N]");
        Workspace.OneSentence(no).Should().Be("request.json: not approved (the answer was not y); nothing was written.");
        writtenOnNo.Should().BeFalse();
        yes.ExitCode.Should().Be(0, yes.ToString());
        verified["findings"]!.AsArray().Single()!["kind"]!.GetValue<string>().Should().Be("approval");
    }

    [Fact]
    public async Task Approve_WithYes_DoesNotAsk_AndAMalformedRequestIsRefusedNamingTheFile()
    {
        await _work.WithPartiesAsync();
        await File.WriteAllTextAsync(_work.File("request.json"), Request);
        await File.WriteAllTextAsync(_work.File("spoofed.json"), Request.Replace("does not add up", "does not add up\\u202e", StringComparison.Ordinal));

        ToolRun run = await _work.RunAsync("approve", "request.json", "--key", "approver.key", "--yes", "--out", "approval.json", "--json");
        JsonObject approved = run.Json();
        string spoofed = await _work.FailsAsync(3, "approve", "spoofed.json", "--key", "approver.key", "--yes", "--out", "spoofed-approval.json");

        run.ExitCode.Should().Be(0, run.ToString());
        run.Stderr.Should().StartWith("RemoteSupport written approval request request-1\n", "with --json the text the approver reads goes to stderr, stdout holds the one object")
            .And.NotContain("[y/N]");
        ((bool)approved["signed"]!).Should().BeTrue();
        ((string)approved["requestId"]!).Should().Be("request-1");
        spoofed.Should().StartWith("spoofed.json: not an approval request");
        File.Exists(_work.File("spoofed-approval.json")).Should().BeFalse();
    }
}
