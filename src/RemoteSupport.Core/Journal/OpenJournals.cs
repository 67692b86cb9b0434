namespace RemoteSupport.Journal;

/// <summary>
/// The journals a store has open, by name: each opened once (however many callers ask at once), a failed open tried
/// again by the next caller, every one closed with the store. Both stores keep theirs here.
/// </summary>
internal sealed class OpenJournals<TJournal>(Func<string, Task<TJournal>> open)
    where TJournal : IAsyncDisposable
{
    private readonly Dictionary<string, Task<TJournal>> _open = new(StringComparer.Ordinal);
    private bool _disposed;

    /// <summary>Opens <paramref name="name"/>, or returns the journal already open under it.</summary>
    public Task<TJournal> GetAsync(string name, object store, CancellationToken cancellationToken)
    {
        Task<TJournal> opening;
        lock (_open)
        {
            ObjectDisposedException.ThrowIf(_disposed, store);
            if (!_open.TryGetValue(name, out opening!) || opening.IsFaulted || opening.IsCanceled)
            {
                // Off the lock (an open's first part runs synchronously) and not on the caller's token: others may wait for it.
                opening = Task.Run(() => open(name), CancellationToken.None);
                _open[name] = opening;
            }
        }

        return opening.WaitAsync(cancellationToken);
    }

    /// <summary>Closes every journal opened; later opens throw <see cref="ObjectDisposedException"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        Task<TJournal>[] opened;
        lock (_open)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            opened = [.. _open.Values];
            _open.Clear();
        }

        foreach (Task<TJournal> opening in opened)
        {
            TJournal journal;
            try
            {
                journal = await opening.ConfigureAwait(false);
            }
            catch (Exception) when (!opening.IsCompletedSuccessfully)
            {
                continue; // it failed to open: nothing to close, and the failure went to whoever opened it
            }

            await journal.DisposeAsync().ConfigureAwait(false);
        }
    }
}
