using System.Diagnostics;
using Npgsql;
using RemoteSupport.Identities;
using RemoteSupport.Journal;
using RemoteSupport.PostgreSql.Journal;

namespace RemoteSupport.Benchmarks.Journal;

/// <summary>
/// The statement's memory, measured in a process of its own: one process writes the million-entry ledger
/// (a file journal in the folder, or a PostgreSQL journal) and the vendor's key; a second opens the journal and
/// issues the statement, then prints its peak resident set (the kernel's <c>VmHWM</c>) and what it allocated.
/// </summary>
internal static class StatementMemory
{
    private const string JournalName = "bench/statement-ledger";

    public static async Task<int> WriteLedgerAsync(string folder, string? postgresql)
    {
        Directory.CreateDirectory(folder);
        using PartyIdentity vendor = PartyIdentity.Create("contoso", PartyRole.Vendor);
        await KeyFile.SaveAsync(vendor, Path.Combine(folder, "vendor.key"));
        if (postgresql is null)
        {
            await using AppendOnlyJournal file = await AppendOnlyJournal.OpenAsync(Path.Combine(folder, "ledger.journal"));
            await StatementBenchmarks.WriteLedgerAsync(StatementBenchmarks.FileAppender(file));
        }
        else
        {
            using NpgsqlDataSource database = NpgsqlDataSource.Create(postgresql);
            PostgreSqlRecordJournal journal = await PostgreSqlRecordJournal.OpenAsync(database, JournalName);
            await StatementBenchmarks.WriteLedgerAsync(records => journal.AppendBatchAsync(records));
        }

        Console.WriteLine(folder);
        return 0;
    }

    public static async Task<int> IssueAsync(string folder, string? postgresql, int repeat = 1)
    {
        using PartyIdentity vendor = await KeyFile.LoadAsync(Path.Combine(folder, "vendor.key"));
        NpgsqlDataSource? database = postgresql is null ? null : NpgsqlDataSource.Create(postgresql);
        IRecordJournal journal = database is null
            ? await AppendOnlyJournal.OpenAsync(Path.Combine(folder, "ledger.journal"))
            : await PostgreSqlRecordJournal.OpenAsync(database, JournalName);
        string open = Status("VmRSS:");
        GCMemoryInfo gc = GC.GetGCMemoryInfo();
        string heap = $"GC heap {gc.HeapSizeBytes / 1048576.0:0.0} MiB, committed {gc.TotalCommittedBytes / 1048576.0:0.0} MiB, {GC.CollectionCount(0)} collections, {GC.GetTotalAllocatedBytes(precise: true) / 1048576.0:0.0} MiB allocated opening";
        for (int warm = 1; warm < repeat; warm++)
        {
            await StatementBenchmarks.IssueAsync(journal, folder, vendor); // the code tiered up, as in a long-running host
        }

        long opened = GC.GetTotalAllocatedBytes(precise: true);
        var watch = Stopwatch.StartNew();
        long lines = await StatementBenchmarks.IssueAsync(journal, folder, vendor);
        watch.Stop();
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - opened;
        if (journal is IAsyncDisposable closing)
        {
            await closing.DisposeAsync();
        }

        database?.Dispose();
        string peak = Status("VmHWM:");
        Console.WriteLine($"{(postgresql is null ? "file" : "postgresql")}: {lines} lines in {watch.Elapsed.TotalSeconds:0.000} s ({lines / watch.Elapsed.TotalSeconds:N0} lines/s), allocated {allocated / 1048576.0:0.0} MiB while issuing, resident {open} with the journal open ({heap}), peak {peak}");
        return 0;
    }

    private static string Status(string field) =>
        File.ReadLines("/proc/self/status").First(l => l.StartsWith(field, StringComparison.Ordinal))[field.Length..].Trim();
}
