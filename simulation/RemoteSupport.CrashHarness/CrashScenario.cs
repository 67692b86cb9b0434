using System.Buffers.Binary;

namespace RemoteSupport.CrashHarness;

/// <summary>
/// One kind of durable work the harness kills in the middle: the worker does it in a child process and acknowledges
/// each piece once the library returned (so it is durable); the parent, after the kill, reopens what the worker left as
/// the library's own recovery does and checks the scenario's invariants against every acknowledgment so far.
/// </summary>
internal abstract class CrashScenario
{
    public static IReadOnlyList<CrashScenario> All { get; } = [new JournalScenario(), new DataFileScenario(), new InstallScenario()];

    /// <summary>Gets the name on the command line and in the report.</summary>
    public abstract string Name { get; }

    /// <summary>Gets the longest a worker of this scenario works before the kill (the kill comes at a seeded moment from 0 to this).</summary>
    public virtual TimeSpan MaxWork => TimeSpan.FromMilliseconds(400);

    /// <summary>Makes what every worker of the run starts from (in the parent, once per run).</summary>
    public virtual Task PrepareAsync(string folder) => Task.CompletedTask;

    /// <summary>Works until killed (in the child), calling <paramref name="acknowledge"/> after each piece of work the library completed.</summary>
    public abstract Task WorkAsync(string folder, int iteration, Action<string> acknowledge);

    /// <summary>Reopens what the killed worker left and returns each invariant broken (empty when none).</summary>
    /// <param name="folder">The scenario's folder.</param>
    /// <param name="acknowledged">Every acknowledgment of every worker so far, in order.</param>
    public abstract Task<IReadOnlyList<string>> CheckAsync(string folder, IReadOnlyList<string> acknowledged);

    /// <summary>What the report adds about this scenario's folder after the run (null: nothing).</summary>
    public virtual string? Remark(string folder) => null;

    /// <summary>A tag unique in a run: the iteration in the high bits, a counter of the worker's in the low.</summary>
    protected static long Tag(int iteration, long counter) => ((long)iteration << 32) | counter;
}

/// <summary>
/// Content that says what it is: an 8-byte big-endian tag, then bytes drawn from a generator seeded by the tag, of a
/// length drawn from it too. A torn, shortened, mixed or stale write no longer reads back as any tag.
/// </summary>
internal static class TaggedContent
{
    public static byte[] Create(long tag, int maxLength)
    {
        var random = new Random(unchecked((int)tag ^ (int)(tag >> 32) ^ maxLength));
        byte[] content = new byte[8 + random.Next(maxLength)];
        BinaryPrimitives.WriteInt64BigEndian(content, tag);
        random.NextBytes(content.AsSpan(8));
        return content;
    }

    /// <summary>Reads the tag of <paramref name="content"/>; false when the rest is not exactly what <see cref="Create"/> makes of it.</summary>
    public static bool TryRead(ReadOnlySpan<byte> content, int maxLength, out long tag)
    {
        tag = content.Length >= 8 ? BinaryPrimitives.ReadInt64BigEndian(content) : -1;
        return content.Length >= 8 && content.SequenceEqual(Create(tag, maxLength));
    }
}
