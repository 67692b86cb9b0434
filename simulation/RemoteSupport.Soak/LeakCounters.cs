using System.Buffers;

namespace RemoteSupport.Soak;

/// <summary>The system clock, counting the timers made from it that are not disposed yet (keep-alives, handshake deadlines).</summary>
internal sealed class CountingTimeProvider : TimeProvider
{
    private long _live;
    private long _created;

    public long LiveTimers => Interlocked.Read(ref _live);

    public long CreatedTimers => Interlocked.Read(ref _created);

    public override DateTimeOffset GetUtcNow() => System.GetUtcNow();

    public override long GetTimestamp() => System.GetTimestamp();

    public override long TimestampFrequency => System.TimestampFrequency;

    public override TimeZoneInfo LocalTimeZone => System.LocalTimeZone;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        Interlocked.Increment(ref _created);
        Interlocked.Increment(ref _live);
        return new CountedTimer(System.CreateTimer(callback, state, dueTime, period), this);
    }

    private sealed class CountedTimer(ITimer inner, CountingTimeProvider owner) : ITimer
    {
        private int _disposed;

        public bool Change(TimeSpan dueTime, TimeSpan period) => inner.Change(dueTime, period);

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                Interlocked.Decrement(ref owner._live);
            }

            inner.Dispose();
        }

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                Interlocked.Decrement(ref owner._live);
            }

            await inner.DisposeAsync();
        }
    }
}

/// <summary>The shared memory pool, counting the blocks rented and not returned (the connections' pipe buffers).</summary>
internal sealed class CountingMemoryPool : MemoryPool<byte>
{
    private long _outstanding;
    private long _rented;

    public long Outstanding => Interlocked.Read(ref _outstanding);

    public long Rented => Interlocked.Read(ref _rented);

    public override int MaxBufferSize => Shared.MaxBufferSize;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        Interlocked.Increment(ref _rented);
        Interlocked.Increment(ref _outstanding);
        return new CountedBlock(Shared.Rent(minBufferSize), this);
    }

    protected override void Dispose(bool disposing)
    {
    }

    private sealed class CountedBlock(IMemoryOwner<byte> inner, CountingMemoryPool owner) : IMemoryOwner<byte>
    {
        private int _returned;

        public Memory<byte> Memory => inner.Memory;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _returned, 1) == 0)
            {
                Interlocked.Decrement(ref owner._outstanding);
                inner.Dispose();
            }
        }
    }
}
