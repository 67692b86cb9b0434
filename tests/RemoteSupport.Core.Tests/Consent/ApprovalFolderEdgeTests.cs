using System.Text;
using Microsoft.Extensions.Time.Testing;
using RemoteSupport.Consent;
using RemoteSupport.Documents;
using RemoteSupport.Identities;

namespace RemoteSupport.Tests.Consent;

/// <summary>The approval folder at its edges: the names it accepts, its size bound, answered and stale files, both answers at once, the desk's files byte for byte.</summary>
public sealed class ApprovalFolderEdgeTests : IDisposable
{
    private readonly TemporaryFolder _folder = new();
    private readonly PartyIdentity _approver = PartyIdentity.Create("fabrikam", PartyRole.Approver);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 1, 9, 0, 0, TimeSpan.Zero));

    public void Dispose()
    {
        _approver.Dispose();
        _folder.Dispose();
    }

    private string Folder => ApprovalFolder.InStateFolder(_folder.Path);

    private string PendingFile(string id) => Path.Combine(Folder, "pending", id + ".json");

    private string ApprovalFile(string id) => Path.Combine(Folder, "answers", id + ".approval.json");

    private string RefusalFile(string id) => Path.Combine(Folder, "answers", id + ".refused.json");

    private static ApprovalRequest Request(string id = "request-0123456789abcdef0123456789abcdef", string at = "2026-12-01T09:00:00+00:00") =>
        ApprovalFolderTests.Request(id, at);

    private SignedEnvelope Sign(ApprovalRequest request, int minutesLater = 0) =>
        Approval.For(request, _time.GetUtcNow().AddMinutes(minutesLater), 1).ToEnvelope().Sign(_approver);

    /// <summary>Puts a request in <c>pending/</c> as the unit does (which makes <c>answers/</c> too), without a unit waiting on it.</summary>
    private async Task PlaceAsync(ApprovalRequest request)
    {
        Directory.CreateDirectory(Path.Combine(Folder, "pending"));
        Directory.CreateDirectory(Path.Combine(Folder, "answers"));
        await File.WriteAllTextAsync(PendingFile(request.RequestId), request.ToJson());
    }

    /// <summary>Starts the unit's wait on the fake clock and returns once its request is in <c>pending/</c> (stale answers are deleted before).</summary>
    private async Task<(FolderApprovalPrompt Prompt, ValueTask<SignedEnvelope?> Asking)> AskAsync(ApprovalRequest request)
    {
        var prompt = new FolderApprovalPrompt(Folder, _time);
        ValueTask<SignedEnvelope?> asking = prompt.RequestApprovalAsync(request);
        for (int i = 0; i < 3000 && !File.Exists(PendingFile(request.RequestId)); i++)
        {
            await Task.Delay(10); // the write is asynchronous; the fake clock holds the poll
        }

        File.Exists(PendingFile(request.RequestId)).Should().BeTrue("the request is written before the first wait");
        return (prompt, asking);
    }

    /// <summary>Moves the fake clock a poll at a time until the unit's wait ends (no timing is asserted: the bound is generous).</summary>
    private async Task<SignedEnvelope?> AnswerTakenAsync(FolderApprovalPrompt prompt, ValueTask<SignedEnvelope?> asking)
    {
        Task<SignedEnvelope?> waiting = asking.AsTask();
        for (int i = 0; i < 3000 && !waiting.IsCompleted; i++)
        {
            _time.Advance(prompt.PollInterval);
            await Task.Delay(10);
        }

        waiting.IsCompleted.Should().BeTrue("the unit polls its answer at every poll interval");
        return await waiting;
    }

    [Fact]
    public void TheFolders_AreFullPaths_AndAnEmptyFolderIsMisuse()
    {
        ApprovalFolder.InStateFolder("state").Should().Be(Path.Combine("state", "approvals"));
        FluentActions.Invoking(() => ApprovalFolder.InStateFolder("")).Should().Throw<ArgumentException>().WithParameterName("stateFolder");
        FluentActions.Invoking(() => ApprovalFolder.InStateFolder(null!)).Should().Throw<ArgumentNullException>().WithParameterName("stateFolder");
        FluentActions.Invoking(() => new FolderApprovalPrompt("")).Should().Throw<ArgumentException>().WithParameterName("folder");
        FluentActions.Invoking(() => new ApprovalDesk("")).Should().Throw<ArgumentException>().WithParameterName("folder");
        new FolderApprovalPrompt(Path.Combine("state", "approvals")).Folder.Should().Be(Path.GetFullPath(Path.Combine("state", "approvals")));
        new ApprovalDesk(Path.Combine("state", "approvals")).Folder.Should().Be(Path.GetFullPath(Path.Combine("state", "approvals")));
        new FolderApprovalPrompt(Folder).PollInterval.Should().Be(TimeSpan.FromMilliseconds(250));
    }

    [Theory]
    [InlineData("a", true)]
    [InlineData("Request_0-9", true)]
    [InlineData("", false)]
    [InlineData("a.b", false)]
    [InlineData("a/b", false)]
    [InlineData("a b", false)]
    [InlineData("r\u00e9quest", false)]
    [InlineData("request\u0661", false)]
    public void ARequestId_NamesAFile_OnlyInLettersDigitsUnderscoresAndDashes(string id, bool safe) =>
        ApprovalFolder.IsFileSafe(id).Should().Be(safe);

    [Fact]
    public void ARequestId_NamesAFile_UpTo100Characters()
    {
        ApprovalFolder.IsFileSafe(new string('a', 100)).Should().BeTrue();
        ApprovalFolder.IsFileSafe(new string('a', 101)).Should().BeFalse();
    }

    [Fact]
    public async Task ABoundedRead_TakesAFileOfExactlyTheLimit_AndNothingLongerOrMissing()
    {
        string file = Path.Combine(_folder.Path, "answer.json");
        await File.WriteAllBytesAsync(file, new byte[100]);

        (await ApprovalFolder.ReadBoundedAsync(file, 100, CancellationToken.None)).Should().HaveCount(100);
        (await ApprovalFolder.ReadBoundedAsync(file, 99, CancellationToken.None)).Should().BeNull();
        (await ApprovalFolder.ReadBoundedAsync(Path.Combine(_folder.Path, "none.json"), 100, CancellationToken.None)).Should().BeNull();
        (await ApprovalFolder.ReadBoundedAsync(Path.Combine(_folder.Path, "none", "none.json"), 100, CancellationToken.None)).Should().BeNull();
    }

    [Fact]
    public async Task ARequestFileOfExactlyTheDesksLimit_IsListed_AndOneByteMoreIsNamed()
    {
        Directory.CreateDirectory(Path.Combine(Folder, "pending"));
        foreach ((string id, int length) in new[] { ("request-exact", ApprovalFolder.MaxRequestBytes), ("request-over", ApprovalFolder.MaxRequestBytes + 1) })
        {
            byte[] json = Encoding.UTF8.GetBytes(Request(id).ToJson());
            byte[] padded = [.. json, .. Enumerable.Repeat((byte)' ', length - json.Length)];
            await File.WriteAllBytesAsync(PendingFile(id), padded);
        }

        IReadOnlyList<PendingApproval> listed = await new ApprovalDesk(Folder).PendingAsync();

        listed.Should().HaveCount(2);
        listed.Single(p => p.File == PendingFile("request-exact")).Request!.RequestId.Should().Be("request-exact");
        listed.Single(p => p.File == PendingFile("request-over")).Problem.Should().Be($"The request file is longer than {ApprovalFolder.MaxRequestBytes} bytes.");
    }

    [Fact]
    public async Task TheDesk_ListsNothingWithoutAFolder_AndSkipsAnsweredRequestsAndFilesNamedNoId()
    {
        (await new ApprovalDesk(Folder).PendingAsync()).Should().BeEmpty("no unit has asked yet");
        foreach (string id in new[] { "request-approved", "request-refused", "request-open" })
        {
            await PlaceAsync(Request(id));
        }

        await File.WriteAllTextAsync(Path.Combine(Folder, "pending", "request.odd.json"), Request("request-open").ToJson());
        Directory.CreateDirectory(Path.Combine(Folder, "answers"));
        await File.WriteAllBytesAsync(ApprovalFile("request-approved"), Sign(Request("request-approved")).ToUtf8Json());
        await File.WriteAllTextAsync(RefusalFile("request-refused"), "{}");

        IReadOnlyList<PendingApproval> listed = await new ApprovalDesk(Folder).PendingAsync();

        listed.Should().ContainSingle().Which.Request!.RequestId.Should().Be("request-open");
    }

    [Fact]
    public async Task TheDesk_ListsFilesThatAreNoRequestsFirst_ThenRequestsOfTheSameTimeByFileName()
    {
        await PlaceAsync(Request("request-b"));
        await PlaceAsync(Request("request-a"));
        await PlaceAsync(Request("request-c", "2026-12-01T08:59:59+00:00"));
        await File.WriteAllTextAsync(PendingFile("request-z"), "{not json");

        IReadOnlyList<PendingApproval> listed = await new ApprovalDesk(Folder).PendingAsync();

        listed.Select(p => Path.GetFileName(p.File)).Should().Equal("request-z.json", "request-c.json", "request-a.json", "request-b.json");
    }

    [Fact]
    public async Task TheDesksRefusal_IsTheDocumentedLine_InUtc()
    {
        ApprovalRequest request = Request();
        await PlaceAsync(request);

        bool delivered = await new ApprovalDesk(Folder).RefuseAsync(request, new DateTimeOffset(2026, 12, 1, 10, 30, 15, TimeSpan.FromHours(1)));

        delivered.Should().BeTrue();
        (await File.ReadAllTextAsync(RefusalFile(request.RequestId))).Should().Be(
            $"{{\"requestId\":\"{request.RequestId}\",\"textHash\":\"{request.TextHash}\",\"refusedAt\":\"2026-12-01T09:30:15Z\"}}\n");
    }

    [Fact]
    public async Task TheDesksApproval_IsTheIndentedEnvelope_AndASecondAnswerLeavesTheFirst()
    {
        ApprovalRequest request = Request();
        await PlaceAsync(request);
        var desk = new ApprovalDesk(Folder);
        SignedEnvelope first = Sign(request);

        (await desk.ApproveAsync(request, first)).Should().BeTrue();
        (await desk.ApproveAsync(request, Sign(request, minutesLater: 5))).Should().BeFalse("answered already (by another desk)");

        (await File.ReadAllBytesAsync(ApprovalFile(request.RequestId))).Should().Equal(first.ToUtf8Json(indented: true));
    }

    [Fact]
    public async Task TheDesk_AnswersNoRequestThatCannotNameAFile_OrIsNotPending()
    {
        var desk = new ApprovalDesk(Folder);
        ApprovalRequest escaping = Request() with { RequestId = "../escape" };
        Directory.CreateDirectory(Path.Combine(Folder, "answers"));
        await File.WriteAllTextAsync(Path.Combine(Folder, "escape.json"), escaping.ToJson()); // what pending/../escape.json would name

        (await desk.ApproveAsync(escaping, Sign(Request()))).Should().BeFalse();
        (await desk.RefuseAsync(escaping, _time.GetUtcNow())).Should().BeFalse();
        (await desk.RefuseAsync(Request(), _time.GetUtcNow())).Should().BeFalse("nothing is pending");
        Directory.EnumerateFiles(Path.Combine(Folder, "answers")).Should().BeEmpty();
        File.Exists(Path.Combine(Folder, "escape.refused.json")).Should().BeFalse();
        File.Exists(Path.Combine(Folder, "escape.approval.json")).Should().BeFalse();
    }

    [Fact]
    public async Task TheDeskAndThePrompt_RefuseNullArguments()
    {
        var desk = new ApprovalDesk(Folder);
        await FluentActions.Awaiting(() => desk.ApproveAsync(null!, Sign(Request()))).Should().ThrowAsync<ArgumentNullException>().WithParameterName("request");
        await FluentActions.Awaiting(() => desk.ApproveAsync(Request(), null!)).Should().ThrowAsync<ArgumentNullException>().WithParameterName("approval");
        await FluentActions.Awaiting(() => desk.RefuseAsync(null!, _time.GetUtcNow())).Should().ThrowAsync<ArgumentNullException>().WithParameterName("request");
        await FluentActions.Awaiting(async () => await new FolderApprovalPrompt(Folder).RequestApprovalAsync(null!)).Should().ThrowAsync<ArgumentNullException>().WithParameterName("request");
    }

    [Fact]
    public async Task ARefusalAndAnApprovalBothWritten_TheRefusalWins_AndTheFolderIsLeftEmpty()
    {
        ApprovalRequest request = Request();
        (FolderApprovalPrompt prompt, ValueTask<SignedEnvelope?> asking) = await AskAsync(request);
        var desk = new ApprovalDesk(Folder);

        // The refusal first: whichever poll sees it (alone or beside the approval), the unit must take it.
        (await desk.RefuseAsync(request, _time.GetUtcNow())).Should().BeTrue();
        await desk.ApproveAsync(request, Sign(request));

        (await AnswerTakenAsync(prompt, asking)).Should().BeNull();
        Directory.EnumerateFiles(Folder, "*", SearchOption.AllDirectories).Should().BeEmpty("the unit withdraws the request and both answers");
    }

    [Fact]
    public async Task AStaleRefusal_IsDeletedFirst_AndNotTakenForANewRequest()
    {
        ApprovalRequest request = Request();
        Directory.CreateDirectory(Path.Combine(Folder, "answers"));
        await File.WriteAllTextAsync(RefusalFile(request.RequestId), "{}");

        (FolderApprovalPrompt prompt, ValueTask<SignedEnvelope?> asking) = await AskAsync(request);
        File.Exists(RefusalFile(request.RequestId)).Should().BeFalse("a stale answer is deleted before the request is written");
        SignedEnvelope approval = Sign(request);
        (await new ApprovalDesk(Folder).ApproveAsync(request, approval)).Should().BeTrue();

        SignedEnvelope? taken = await AnswerTakenAsync(prompt, asking);

        taken.Should().NotBeNull();
        taken!.ToUtf8Json().Should().Equal(approval.ToUtf8Json());
    }

    [Fact]
    public async Task AnAnswerThatIsNoEnvelope_IsTakenAsARefusal()
    {
        ApprovalRequest request = Request();
        (FolderApprovalPrompt prompt, ValueTask<SignedEnvelope?> asking) = await AskAsync(request);

        string written = ApprovalFile(request.RequestId) + ".tmp";
        await File.WriteAllTextAsync(written, "{\"approved\":true}");
        File.Move(written, ApprovalFile(request.RequestId)); // whole, as the desk writes

        (await AnswerTakenAsync(prompt, asking)).Should().BeNull();
        File.Exists(PendingFile(request.RequestId)).Should().BeFalse();
    }
}
