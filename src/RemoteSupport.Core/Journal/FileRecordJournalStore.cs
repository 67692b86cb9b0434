namespace RemoteSupport.Journal;

/// <summary>
/// The vendor's named journals as <see cref="AppendOnlyJournal"/> files under one folder, for one console host: the
/// journal <c>ledger/fabrikam</c> is the file <c>ledger/fabrikam.journal</c>, its folders created (and made durable)
/// on first use. One process at a time: each journal file is held open for writing by the store.
/// </summary>
public sealed class FileRecordJournalStore : IRecordJournalStore
{
    private readonly OpenJournals<AppendOnlyJournal> _open;

    /// <summary>Initializes a store over <paramref name="folder"/> (created when missing).</summary>
    /// <param name="folder">The folder the journal files are under.</param>
    public FileRecordJournalStore(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        Folder = Path.GetFullPath(folder);
        _open = new OpenJournals<AppendOnlyJournal>(name => OpenAsync(PathOf(name)));
    }

    /// <summary>Gets the folder the journal files are under.</summary>
    public string Folder { get; }

    /// <summary>Gets the file that holds the journal <paramref name="name"/>.</summary>
    /// <returns>The journal file's full path.</returns>
    /// <param name="name">The journal's name.</param>
    public string PathOf(string name)
    {
        JournalName.Check(name, nameof(name));
        return Path.Combine(Folder, name.Replace('/', Path.DirectorySeparatorChar) + ".journal");
    }

    /// <inheritdoc/>
    public async Task<IRecordJournal> OpenJournalAsync(string name, CancellationToken cancellationToken = default)
    {
        JournalName.Check(name, nameof(name));
        return await _open.GetAsync(name, this, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Closes every journal the store opened.</summary>
    /// <returns>A task that completes when they are closed.</returns>
    public ValueTask DisposeAsync() => _open.DisposeAsync();

    private async Task<AppendOnlyJournal> OpenAsync(string path)
    {
        CreateFolders(Path.GetDirectoryName(path)!);
        return await AppendOnlyJournal.OpenAsync(path).ConfigureAwait(false);
    }

    /// <summary>Creates the journal's folders under <see cref="Folder"/>, each one's name made durable in its parent.</summary>
    private void CreateFolders(string directory)
    {
        if (Directory.Exists(directory))
        {
            return;
        }

        string? parent = Path.GetDirectoryName(directory);
        if (parent is not null && !string.Equals(directory, Folder, StringComparison.Ordinal))
        {
            CreateFolders(parent);
        }

        Directory.CreateDirectory(directory);
        if (parent is not null)
        {
            DurableDirectory.Flush(parent);
        }
    }
}
