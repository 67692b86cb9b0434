namespace RemoteSupport.Contract;

/// <summary>
/// The time a contract decision is taken at. The contract state pins it to the time written in the
/// decision's journal record, both when it decides and when it replays the record at open, so a replayed
/// document is judged exactly as it was when accepted (a key that has expired since still counted then).
/// </summary>
internal static class DecisionTime
{
    private static readonly AsyncLocal<DateTimeOffset?> Pinned = new();

    /// <summary>Gets the pinned time in this flow, or the clock's time.</summary>
    public static DateTimeOffset Now(TimeProvider clock) => Pinned.Value ?? clock.GetUtcNow();

    /// <summary>Pins the time for the calling flow until the returned scope is disposed.</summary>
    public static Scope PinAt(DateTimeOffset at)
    {
        DateTimeOffset? previous = Pinned.Value;
        Pinned.Value = at;
        return new Scope(previous);
    }

    internal readonly struct Scope(DateTimeOffset? previous) : IDisposable
    {
        public void Dispose() => Pinned.Value = previous;
    }
}
