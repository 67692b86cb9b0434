namespace RemoteSupport.PostgreSql.Journal;

/// <content>Write transactions, one at a time per instance.</content>
public sealed partial class PostgreSqlRecordJournal
{
    // One write transaction of this instance at a time. Every host's writes to one journal take its advisory lock in
    // turn anyway: more at once would only hold pooled connections idle in the lock's queue, and a burst of appends
    // (300 at once, on a slow disk) would exhaust the pool and time out waiting for a connection.
    private readonly SemaphoreSlim _writing = new(1, 1);

    /// <summary>Runs one write transaction of this instance, after the ones before it.</summary>
    private async Task<T> WritingAsync<T>(Func<Task<T>> write, CancellationToken cancellationToken)
    {
        await _writing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await write().ConfigureAwait(false);
        }
        finally
        {
            _writing.Release();
        }
    }
}
