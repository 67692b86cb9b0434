using System.Text;
using RemoteSupport.Consent;

namespace RemoteSupport.Tests.Consent;

/// <summary>The file that counts an approval's uses: the limit, the count across a reopen, a torn last line, misuse.</summary>
public sealed class FileApprovalUseCounterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rs-uses-").FullName;

    private string PathOf => Path.Combine(_dir, "approval-uses.log");

    [Fact]
    public async Task AnApproval_IsConsumedUpToItsMaximum_AndCountedOnePerUse()
    {
        using (FileApprovalUseCounter counter = FileApprovalUseCounter.Open(PathOf))
        {
            (await counter.TryConsumeAsync("appr-1", 2)).Should().BeTrue();
            counter.UsesOf("appr-1").Should().Be(1);
            (await counter.TryConsumeAsync("appr-1", 2)).Should().BeTrue();
            counter.UsesOf("appr-1").Should().Be(2);
            (await counter.TryConsumeAsync("appr-1", 2)).Should().BeFalse();
            counter.UsesOf("appr-1").Should().Be(2, "a refused use is not counted");
            counter.UsesOf("appr-2").Should().Be(0);
            FluentActions.Invoking(() => FileApprovalUseCounter.Open(PathOf)).Should().Throw<IOException>("one counter owns the file while it is open");
        }

        (await File.ReadAllTextAsync(PathOf)).Should().Be("appr-1\nappr-1\n");
    }

    [Fact]
    public async Task Uses_SurviveAReopen_AndTheFileIsFreeAfterDispose()
    {
        using (FileApprovalUseCounter counter = FileApprovalUseCounter.Open(PathOf))
        {
            (await counter.TryConsumeAsync("appr-1", 5)).Should().BeTrue();
            (await counter.TryConsumeAsync("appr-2", 5)).Should().BeTrue();
            (await counter.TryConsumeAsync("appr-1", 5)).Should().BeTrue();
        }

        using FileApprovalUseCounter reopened = FileApprovalUseCounter.Open(PathOf);
        reopened.UsesOf("appr-1").Should().Be(2);
        reopened.UsesOf("appr-2").Should().Be(1);
        (await reopened.TryConsumeAsync("appr-1", 2)).Should().BeFalse("the uses before the reopen count");
    }

    [Fact]
    public async Task ATornLastLine_IsDropped_AndTheNextUseStartsItsOwnLine()
    {
        await File.WriteAllTextAsync(PathOf, "appr-1\nappr-2\nappr-", new UTF8Encoding(false));

        using (FileApprovalUseCounter counter = FileApprovalUseCounter.Open(PathOf))
        {
            counter.UsesOf("appr-1").Should().Be(1);
            counter.UsesOf("appr-2").Should().Be(1);
            counter.UsesOf("appr-").Should().Be(0, "a line without its newline was never acknowledged");
            (await counter.TryConsumeAsync("appr-3", 1)).Should().BeTrue();
        }

        (await File.ReadAllTextAsync(PathOf)).Should().Be("appr-1\nappr-2\nappr-3\n");
        using FileApprovalUseCounter reopened = FileApprovalUseCounter.Open(PathOf);
        reopened.UsesOf("appr-3").Should().Be(1);
    }

    [Fact]
    public async Task Misuse_Throws()
    {
        FluentActions.Invoking(() => FileApprovalUseCounter.Open(string.Empty)).Should().Throw<ArgumentException>();
        using (FileApprovalUseCounter counter = FileApprovalUseCounter.Open(PathOf))
        {
            await FluentActions.Awaiting(async () => await counter.TryConsumeAsync(string.Empty, 1)).Should().ThrowAsync<ArgumentException>();
            (await FluentActions.Awaiting(async () => await counter.TryConsumeAsync("a\nb", 1)).Should().ThrowAsync<ArgumentException>())
                .Which.Message.Should().Contain("An approval id is one line.");
        }

        (await File.ReadAllTextAsync(PathOf)).Should().BeEmpty();
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
