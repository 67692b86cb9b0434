using RemoteSupport.Sessions;

namespace RemoteSupport.Transport.Fleet;

/// <summary>
/// Writes a directory's comings and goings to its <see cref="IUnitRouteStore"/> off the connections' paths: the newest
/// change of each unit is kept (so a herd of reconnects costs one write per unit, and memory is bounded by the units),
/// written in batches; a failed write is retried with backoff, changes that arrived meanwhile superseding it. Every
/// <paramref name="rewriteInterval"/> the units online are written again, so a route lost (a write cancelled, a row
/// deleted) comes back without the unit reconnecting.
/// </summary>
internal sealed class UnitRouteWriter(
    IUnitRouteStore store, string hostId, Func<IReadOnlyList<OnlineUnit>> online, TimeSpan rewriteInterval, Microsoft.Extensions.Logging.ILogger logger) : IDisposable
{
    private const int BatchLimit = 1_000;
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    private readonly Dictionary<(string Customer, string Unit), UnitRouteChange> _pending = [];
    private readonly SemaphoreSlim _signal = new(0, 1);
    private Task _writing = Task.CompletedTask;

    public void Post(OnlineUnit unit, bool isOnline)
    {
        var change = new UnitRouteChange(new UnitRoute(unit.CustomerId, unit.UnitId, unit.HostId, unit.KeyId, unit.ConnectedSince), isOnline);
        lock (_pending)
        {
            // The newest connection's change wins, whichever was posted last: a connection's end posted after a newer
            // connection of the unit came up must not hide the newer one's claim. Of one connection, its end wins (a
            // rewrite of the units online may post it online again just after it ended).
            if (!_pending.TryGetValue((unit.CustomerId, unit.UnitId), out UnitRouteChange? pending)
                || pending.Route.ConnectedSince < change.Route.ConnectedSince
                || (pending.Route.ConnectedSince == change.Route.ConnectedSince && pending.IsOnline))
            {
                _pending[(unit.CustomerId, unit.UnitId)] = change;
            }
        }

        Wake();
    }

    /// <summary>Removes the routes of this host (a previous run's, left behind).</summary>
    public Task ReleaseHostAsync(CancellationToken cancellationToken) => store.ReleaseHostAsync(hostId, cancellationToken);

    /// <summary>Starts writing, until <paramref name="stop"/> is cancelled.</summary>
    public void Start(CancellationToken stop) => _writing = WriteAsync(stop);

    /// <summary>Waits for the writing to end (its stop token cancelled), then removes every route of this host (best effort).</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _writing.ConfigureAwait(false);
        try
        {
            await store.ReleaseHostAsync(hostId, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception failure) when (failure is not OperationCanceledException)
        {
            AgentLog.RoutesNotWritten(logger, hostId, failure.Message);
        }
    }

    public void Dispose() => _signal.Dispose();

    private void Wake()
    {
        try
        {
            _signal.Release();
        }
        catch (SemaphoreFullException)
        {
            // already woken
        }
        catch (ObjectDisposedException)
        {
            // the directory is disposed: its routes were released, or will be by its next start
        }
    }

    private async Task WriteAsync(CancellationToken stop)
    {
        TimeSpan backoff = TimeSpan.FromMilliseconds(100);
        while (!stop.IsCancellationRequested)
        {
            try
            {
                if (!await _signal.WaitAsync(rewriteInterval, stop).ConfigureAwait(false))
                {
                    foreach (OnlineUnit unit in online())
                    {
                        Post(unit, isOnline: true); // a newer change of the unit, if one is pending, stays
                    }
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }

            while (Take() is { Count: > 0 } batch)
            {
                try
                {
                    await store.ApplyAsync([.. batch.Values], stop).ConfigureAwait(false);
                    backoff = TimeSpan.FromMilliseconds(100);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception failure)
                {
                    AgentLog.RoutesNotWritten(logger, hostId, failure.Message);
                    Restore(batch);
                    try
                    {
                        await Task.Delay(backoff, stop).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }

                    backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
                }
            }
        }
    }

    private Dictionary<(string Customer, string Unit), UnitRouteChange> Take()
    {
        lock (_pending)
        {
            var batch = new Dictionary<(string Customer, string Unit), UnitRouteChange>();
            foreach (KeyValuePair<(string Customer, string Unit), UnitRouteChange> change in _pending)
            {
                if (batch.Count == BatchLimit)
                {
                    break;
                }

                batch.Add(change.Key, change.Value);
            }

            foreach ((string Customer, string Unit) key in batch.Keys)
            {
                _pending.Remove(key);
            }

            return batch;
        }
    }

    /// <summary>Puts a batch that failed back, where no newer change of the unit arrived meanwhile.</summary>
    private void Restore(Dictionary<(string Customer, string Unit), UnitRouteChange> batch)
    {
        lock (_pending)
        {
            foreach (KeyValuePair<(string Customer, string Unit), UnitRouteChange> change in batch)
            {
                _pending.TryAdd(change.Key, change.Value);
            }
        }
    }
}
