using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using System.Globalization;
using System.Text;

namespace RemoteSupport.Benchmarks.Fleet;

/// <summary>
/// Where a process allocates: the runtime's allocation ticks (one event about every 100 KB allocated, naming
/// the type that crossed the mark), counted by type while it listens. The fleet host answers <c>allocations</c>
/// with the top types, for profiling the idle heartbeat path.
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private const EventKeywords GcKeyword = (EventKeywords)0x1;
    private readonly ConcurrentDictionary<string, long> _bytesByType = new(StringComparer.Ordinal);
    [ThreadStatic]
    private static bool t_inside; // counting allocates, and must not count itself (nor recurse through the pool's events)
    private volatile bool _listening;

    public void Start()
    {
        _bytesByType.Clear();
        _listening = true;
    }

    public string Report(int top)
    {
        _listening = false;
        long total = _bytesByType.Values.Sum();
        var text = new StringBuilder();
        foreach ((string type, long bytes) in _bytesByType.OrderByDescending(p => p.Value).Take(top))
        {
            text.Append(CultureInfo.InvariantCulture, $"{bytes * 100.0 / Math.Max(1, total):0.0}% {type}; ");
        }

        return text.ToString();
    }

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Verbose, GcKeyword);
        }
        else if (eventSource.Name == "System.Buffers.ArrayPoolEventSource")
        {
            EnableEvents(eventSource, EventLevel.Informational);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (!_listening || t_inside || eventData.EventName is null || eventData.Payload is null)
        {
            return;
        }

        t_inside = true;
        try
        {
            Count(eventData);
        }
        finally
        {
            t_inside = false;
        }
    }

    private void Count(EventWrittenEventArgs eventData)
    {
        var payload = eventData.Payload!;
        var names = eventData.PayloadNames!;

        if (eventData.EventName == "BufferAllocated")
        {
            // The shared array pool had none to give: count by size and why (exhausted, over its maximum size).
            int size = Convert.ToInt32(payload[IndexOf(names, "bufferSize")], CultureInfo.InvariantCulture);
            string reason = payload[IndexOf(names, "reason")]?.ToString() ?? "?";
            _bytesByType.AddOrUpdate($"[ArrayPool allocated {size} B: {reason}]", size, (_, sum) => sum + size);
            return;
        }

        if (!eventData.EventName!.StartsWith("GCAllocationTick", StringComparison.Ordinal))
        {
            return;
        }

        int typeIndex = IndexOf(names, "TypeName");
        int amountIndex = IndexOf(names, "AllocationAmount64");
        if (typeIndex < 0)
        {
            return;
        }

        string type = payload[typeIndex] as string ?? "?";
        long amount = amountIndex >= 0 && payload[amountIndex] is ulong big ? (long)big : 100_000;
        _bytesByType.AddOrUpdate(type, amount, (_, sum) => sum + amount);
    }

    private static int IndexOf(System.Collections.ObjectModel.ReadOnlyCollection<string> names, string name)
    {
        for (int i = 0; i < names.Count; i++)
        {
            if (names[i] == name)
            {
                return i;
            }
        }

        return -1;
    }
}
