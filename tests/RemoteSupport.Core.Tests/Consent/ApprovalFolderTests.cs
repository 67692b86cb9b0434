using System.Text;
using Microsoft.Extensions.Time.Testing;
using RemoteSupport.Consent;
using RemoteSupport.Documents;
using RemoteSupport.Identities;
using RemoteSupport.Tests;

namespace RemoteSupport.Tests.Consent;

public sealed class ApprovalFolderTests : IDisposable
{
    private readonly TemporaryFolder _folder = new();
    private readonly PartyIdentity _approver = PartyIdentity.Create("fabrikam", PartyRole.Approver);

    public void Dispose()
    {
        _approver.Dispose();
        _folder.Dispose();
    }

    private string Folder => ApprovalFolder.InStateFolder(_folder.Path);

    internal static ApprovalRequest Request(string id = "request-0123456789abcdef0123456789abcdef", string at = "2026-12-01T09:00:00+00:00") => ApprovalRequest.FromJson($$"""
        {"requestId":"{{id}}","sessionId":"session-1","technicianId":"contoso","technicianKeyId":"9b1c9071288643101e867d63647874e5",
         "operation":"view-data","root":"finance","paths":["reports/2026-11.csv"],"owner":"fabrikam","reason":"the report does not add up",
         "requestedDurationSeconds":3600,"requestedAt":"{{at}}"}
        """);

    private SignedEnvelope Sign(ApprovalRequest request) => Approval.For(request, DateTimeOffset.UtcNow, 1).ToEnvelope().Sign(_approver);

    private async Task<PendingApproval> WaitForPendingAsync(ApprovalDesk desk)
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            IReadOnlyList<PendingApproval> pending = await desk.PendingAsync(limit.Token);
            if (pending.Count > 0)
            {
                return pending.Should().ContainSingle().Subject;
            }

            await Task.Delay(10, limit.Token);
        }
    }

    [Fact]
    public async Task TheUnitsRequest_ReachesTheDesk_AndTheSignedApprovalComesBack()
    {
        var prompt = new FolderApprovalPrompt(Folder) { PollInterval = TimeSpan.FromMilliseconds(10) };
        var desk = new ApprovalDesk(Folder);
        ApprovalRequest request = Request();

        ValueTask<SignedEnvelope?> asking = prompt.RequestApprovalAsync(request);
        PendingApproval pending = await WaitForPendingAsync(desk);
        pending.Problem.Should().BeNull();
        pending.Request!.RenderText().Should().Be(request.RenderText());
        SignedEnvelope approval = Sign(pending.Request);
        bool delivered = await desk.ApproveAsync(pending.Request, approval);
        SignedEnvelope? answer = await asking;

        delivered.Should().BeTrue();
        answer.Should().NotBeNull();
        answer!.ToUtf8Json().Should().Equal(approval.ToUtf8Json());
        Directory.EnumerateFiles(Folder, "*", SearchOption.AllDirectories).Should().BeEmpty("the unit withdraws the request and its answer when the wait ends");
        (await desk.ApproveAsync(request, approval)).Should().BeFalse("the request is no longer pending");
    }

    [Fact]
    public async Task ARefusal_IsNull_AndWinsOverAnApprovalWrittenBesideIt()
    {
        var prompt = new FolderApprovalPrompt(Folder) { PollInterval = TimeSpan.FromMilliseconds(10) };
        var desk = new ApprovalDesk(Folder);

        ValueTask<SignedEnvelope?> asking = prompt.RequestApprovalAsync(Request());
        PendingApproval pending = await WaitForPendingAsync(desk);
        bool refused = await desk.RefuseAsync(pending.Request!, DateTimeOffset.UtcNow);

        refused.Should().BeTrue();
        (await asking).Should().BeNull();
    }

    [Fact]
    public async Task AWithdrawnRequest_LeavesTheFolder_AndAStaleAnswerIsNotTakenForANewRequest()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var prompt = new FolderApprovalPrompt(Folder, time);
        ApprovalRequest request = Request();
        Directory.CreateDirectory(Path.Combine(Folder, "answers"));
        await File.WriteAllBytesAsync(Path.Combine(Folder, "answers", request.RequestId + ".approval.json"), Sign(request).ToUtf8Json());
        using var withdraw = new CancellationTokenSource();

        ValueTask<SignedEnvelope?> asking = prompt.RequestApprovalAsync(request, withdraw.Token);
        string pendingFile = Path.Combine(Folder, "pending", request.RequestId + ".json");
        for (int i = 0; i < 3000 && !File.Exists(pendingFile); i++)
        {
            await Task.Delay(10); // the write is asynchronous; the fake clock holds the poll
        }

        File.Exists(pendingFile).Should().BeTrue("the request is written before the first wait");
        File.Exists(Path.Combine(Folder, "answers", request.RequestId + ".approval.json")).Should().BeFalse("a stale answer is deleted first");
        await withdraw.CancelAsync();

        await FluentActions.Awaiting(async () => await asking).Should().ThrowAsync<OperationCanceledException>();
        File.Exists(pendingFile).Should().BeFalse();
    }

    [Fact]
    public async Task TheDesk_ListsOldestFirst_AndNamesFilesThatAreNotRequests()
    {
        string pending = Path.Combine(Folder, "pending");
        Directory.CreateDirectory(pending);
        ApprovalRequest later = Request("request-later", "2026-12-01T10:00:00+00:00");
        ApprovalRequest earlier = Request("request-earlier", "2026-12-01T08:00:00+00:00");
        await File.WriteAllTextAsync(Path.Combine(pending, "request-later.json"), later.ToJson());
        await File.WriteAllTextAsync(Path.Combine(pending, "request-earlier.json"), earlier.ToJson());
        await File.WriteAllTextAsync(Path.Combine(pending, "request-other.json"), earlier.ToJson());
        await File.WriteAllTextAsync(Path.Combine(pending, "request-garbage.json"), "{not json");
        await File.WriteAllTextAsync(Path.Combine(pending, "request-spoof.json"), later.ToJson().Replace("request-later", "request-spoof", StringComparison.Ordinal)
            .Replace("does not add up", "does not add up\\u202e", StringComparison.Ordinal));
        await File.WriteAllBytesAsync(Path.Combine(pending, "request-huge.json"), Encoding.UTF8.GetBytes(new string(' ', ApprovalFolder.MaxRequestBytes + 1)));
        await File.WriteAllTextAsync(Path.Combine(pending, "request-later.json.0123456789ab.tmp"), "{");

        IReadOnlyList<PendingApproval> listed = await new ApprovalDesk(Folder).PendingAsync();

        listed.Where(p => p.Request is not null).Select(p => p.Request!.RequestId).Should().Equal("request-earlier", "request-later");
        listed.Single(p => p.File.EndsWith("request-other.json", StringComparison.Ordinal)).Problem.Should().Be("The file is named request-other but holds request request-earlier.");
        listed.Single(p => p.File.EndsWith("request-garbage.json", StringComparison.Ordinal)).Problem.Should().StartWith("Not an approval request");
        listed.Single(p => p.File.EndsWith("request-spoof.json", StringComparison.Ordinal)).Problem.Should().StartWith("The approval request is refused");
        listed.Single(p => p.File.EndsWith("request-huge.json", StringComparison.Ordinal)).Problem.Should().Be($"The request file is longer than {ApprovalFolder.MaxRequestBytes} bytes.");
        listed.Should().HaveCount(6, "the temporary file is not a request");
    }

    [Fact]
    public async Task ARequestIdThatCannotNameAFile_IsMisuse()
    {
        var prompt = new FolderApprovalPrompt(Folder);
        ApprovalRequest request = Request() with { RequestId = "../escape" };

        await FluentActions.Awaiting(async () => await prompt.RequestApprovalAsync(request)).Should().ThrowAsync<ArgumentException>().WithMessage("*cannot name a file*");
        Directory.Exists(Path.Combine(_folder.Path, "escape")).Should().BeFalse();
    }
}
