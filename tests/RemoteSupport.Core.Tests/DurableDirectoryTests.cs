namespace RemoteSupport.Tests;

public sealed class DurableDirectoryTests : IDisposable
{
    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Flush_OfTheFolderAFileWasRenamedInto_Succeeds()
    {
        string temporary = _folder.File("ledger.tmp");
        string final = _folder.File("ledger.db");
        File.WriteAllText(temporary, "entries");
        File.Move(temporary, final);

        FluentActions.Invoking(() => DurableDirectory.FlushFor(final)).Should().NotThrow();
        File.ReadAllText(final).Should().Be("entries");
    }

    [Fact]
    public void Flush_OfAMissingFolder_IsAnIOErrorThatNamesIt()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // NTFS journals directory entries itself: there is nothing to flush, and nothing fails
        }

        string missing = System.IO.Path.Combine(_folder.Path, "gone");

        FluentActions.Invoking(() => DurableDirectory.Flush(missing)).Should().Throw<IOException>()
            .WithMessage($"*'{missing}'*errno 2*", "the system's error is carried: no such file or directory");
    }
}
