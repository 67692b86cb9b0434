using System.Globalization;
using RemoteSupport.Journal;

namespace RemoteSupport.CrashHarness;

/// <summary>
/// Appends to an <see cref="AppendOnlyJournal"/> from four writers at once (so group commits are killed too); each record
/// is tagged content. After the kill: every acknowledged record is there, every record reads back whole, none twice.
/// </summary>
internal sealed class JournalScenario : CrashScenario
{
    private const int MaxRecord = 4096;
    private const int Writers = 4;

    public override string Name => "journal";

    private static string PathIn(string folder) => Path.Combine(folder, "records.journal");

    public override async Task WorkAsync(string folder, int iteration, Action<string> acknowledge)
    {
        await using AppendOnlyJournal journal = await AppendOnlyJournal.OpenAsync(PathIn(folder));
        long counter = 0;
        await Task.WhenAll(Enumerable.Range(0, Writers).Select(_ => Task.Run(async () =>
        {
            while (true)
            {
                long tag = Tag(iteration, Interlocked.Increment(ref counter));
                await journal.AppendAsync(TaggedContent.Create(tag, MaxRecord));
                acknowledge(tag.ToString(CultureInfo.InvariantCulture));
            }
        })));
    }

    public override async Task<IReadOnlyList<string>> CheckAsync(string folder, IReadOnlyList<string> acknowledged)
    {
        var violations = new List<string>();
        var present = new HashSet<long>();
        await using AppendOnlyJournal journal = await AppendOnlyJournal.OpenAsync(PathIn(folder));
        await journal.ReadRangeAsync(0, journal.Count, (index, record) =>
        {
            if (!TaggedContent.TryRead(record, MaxRecord, out long tag))
            {
                violations.Add($"record {index} ({record.Length} bytes) is not a record any writer wrote: torn or mixed");
            }
            else if (!present.Add(tag))
            {
                violations.Add($"record {index} repeats the record tagged {tag}");
            }
        });

        foreach (string ack in acknowledged)
        {
            if (!present.Contains(long.Parse(ack, CultureInfo.InvariantCulture)))
            {
                violations.Add($"the acknowledged record tagged {ack} is missing ({journal.Count} records)");
            }
        }

        _ = journal.Root(); // the tree over every record builds
        return violations;
    }
}
