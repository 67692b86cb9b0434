using System.Diagnostics;
using System.Text.Json.Nodes;
using RemoteSupport.Consent;
using RemoteSupport.Documents;
using RemoteSupport.Identities;
using RemoteSupport.Trust;

namespace RemoteSupport.Cli.Tests;

/// <summary><c>rsupport approvals watch</c>: the customer's desk answering a unit's requests through the approval folder as they arrive.</summary>
[Collection(nameof(InstalledTool))]
public sealed class ApprovalDeskTests(InstalledTool tool) : IDisposable
{
    private readonly Workspace _work = new(tool);

    public void Dispose() => _work.Dispose();

    private static ApprovalRequest Request(string id) =>
        ApprovalRequest.FromJson(DocumentCommandTests.Request.Replace("request-1", id, StringComparison.Ordinal));

    [Fact]
    public async Task Watch_ShowsEachRequestAsItArrives_SignsOnYes_AndRefusesOnNo()
    {
        await _work.OkAsync("key", "new", "--party", "fabrikam", "--role", "approver", "--out", "approver.key");
        string state = _work.File("unit-state");
        var start = new ProcessStartInfo(tool.Executable)
        {
            WorkingDirectory = _work.Path,
            ArgumentList = { "approvals", "watch", "--state", state, "--key", "approver.key", "--json" },
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        tool.Configure(start);
        using Process desk = Process.Start(start)!;
        Task<string> stdout = desk.StandardOutput.ReadToEndAsync();
        Task<string> stderr = desk.StandardError.ReadToEndAsync();
        await desk.StandardInput.WriteAsync("y\nn\n"); // the approver's two answers, read as each request arrives
        await desk.StandardInput.FlushAsync();
        var unit = new FolderApprovalPrompt(ApprovalFolder.InStateFolder(state)) { PollInterval = TimeSpan.FromMilliseconds(20) };
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(2));

        SignedEnvelope? approved = await unit.RequestApprovalAsync(Request("request-first"), limit.Token);
        SignedEnvelope? refused = await unit.RequestApprovalAsync(Request("request-second"), limit.Token);
        using (Process stop = Process.Start("kill", ["-TERM", desk.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!)
        {
            await stop.WaitForExitAsync(limit.Token);
        }

        await desk.WaitForExitAsync(limit.Token);
        approved.Should().NotBeNull();
        using PartyIdentity approver = await KeyFile.LoadAsync(_work.File("approver.key"), null);
        var trust = new TrustStore();
        trust.Trust("fabrikam", PartyRole.Approver, approver.PublicKey);
        trust.Verify(approved!, new SignaturePolicy(Approval.DocumentType, new SignatureRequirement("fabrikam", PartyRole.Approver))).IsValid.Should().BeTrue();
        Approval.FromEnvelope(approved!).RequestTextHash.Should().Be(Request("request-first").TextHash, "the approval binds the text the approver read");
        refused.Should().BeNull();
        desk.ExitCode.Should().Be(0, await stderr);
        (await stderr).Should().Contain("RemoteSupport written approval request request-first").And.Contain("RemoteSupport written approval request request-second");
        JsonObject report = JsonNode.Parse(await stdout)!.AsObject();
        report["answers"]!.AsArray().Select(a => $"{a!["requestId"]}:{a["answer"]}:{a["delivered"]}").Should().Equal("request-first:approved:true", "request-second:refused:true");
        Directory.EnumerateFiles(ApprovalFolder.InStateFolder(state), "*", SearchOption.AllDirectories).Should().BeEmpty();
    }

    [Fact]
    public async Task WatchOnce_ReportsAFileThatIsNotARequest_AndRefusesAKeyThatIsNotAnApprovers()
    {
        await _work.OkAsync("key", "new", "--party", "fabrikam", "--role", "approver", "--out", "approver.key");
        await _work.OkAsync("key", "new", "--party", "fabrikam", "--role", "customer", "--out", "customer.key");
        string pending = Path.Combine(ApprovalFolder.InStateFolder(_work.File("state")), "pending");
        Directory.CreateDirectory(pending);
        await File.WriteAllTextAsync(Path.Combine(pending, "request-bad.json"), "{not a request");

        ToolRun once = await _work.RunAsync("approvals", "watch", "--state", "state", "--key", "approver.key", "--once", "--json");
        string wrongKey = await _work.FailsAsync(1, "approvals", "watch", "--state", "state", "--key", "customer.key", "--once");

        once.ExitCode.Should().Be(0, once.ToString());
        once.Json()["answers"]!.AsArray().Should().BeEmpty();
        Workspace.OneSentence(once).Should().Contain("request-bad.json: Not an approval request");
        wrongKey.Should().Be("customer.key: a key of fabrikam/customer; this document is signed by an approver key.");
    }
}
