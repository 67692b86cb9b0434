using System.Text;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Microsoft.Data.Sqlite;
using RemoteSupport.Journal;

namespace RemoteSupport.Benchmarks.Journal;

/// <summary>
/// Durable appends: 128 records of about 200 bytes per operation, committed in groups of
/// <see cref="GroupSize"/>. Baseline: Microsoft.Data.Sqlite with WAL and synchronous=FULL, one row per
/// entry, one transaction per group. <c>RemoteSupportJournal</c>: <see cref="AppendOnlyJournal"/>, the
/// group's appends issued together (one fsync per group). Both acknowledge only durable data.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 2, iterationCount: 8)]
public class JournalBenchmarks
{
    private const int Appends = 128;
    private string _folder = null!;
    private AppendOnlyJournal _journal = null!;
    private SqliteConnection _sqlite = null!;
    private byte[] _record = null!;

    [Params(1, 16, 64)]
    public int GroupSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _folder = Path.Combine(Path.GetTempPath(), "rs-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_folder);
        _record = Encoding.UTF8.GetBytes("{\"kind\":\"consent-decided\",\"at\":\"2026-11-25T09:00:00Z\",\"session\":\"session-1\",\"path\":\"ledger/2026/ledger.db\",\"outcome\":\"granted\",\"approval\":\"approval-0123456789abcdef0123456789abcdef\"}");
        _journal = AppendOnlyJournal.OpenAsync(Path.Combine(_folder, "bench.journal")).GetAwaiter().GetResult();
        _sqlite = new SqliteConnection($"Data Source={Path.Combine(_folder, "bench.sqlite")};Pooling=False");
        _sqlite.Open();
        using SqliteCommand setup = _sqlite.CreateCommand();
        setup.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE entries (id INTEGER PRIMARY KEY, payload BLOB NOT NULL);";
        setup.ExecuteNonQuery();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _journal.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _sqlite.Dispose();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    [Benchmark(Baseline = true)]
    public long SqliteWalFull()
    {
        long rows = 0;
        for (int sent = 0; sent < Appends; sent += GroupSize)
        {
            using SqliteTransaction transaction = _sqlite.BeginTransaction();
            using SqliteCommand insert = _sqlite.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText = "INSERT INTO entries (payload) VALUES ($payload)";
            SqliteParameter payload = insert.Parameters.Add("$payload", SqliteType.Blob);
            for (int i = 0; i < GroupSize; i++)
            {
                payload.Value = _record;
                rows += insert.ExecuteNonQuery();
            }

            transaction.Commit();
        }

        return rows;
    }

    [Benchmark]
    public async Task<long> RemoteSupportJournal()
    {
        long last = 0;
        var group = new Task<long>[GroupSize];
        for (int sent = 0; sent < Appends; sent += GroupSize)
        {
            for (int i = 0; i < GroupSize; i++)
            {
                group[i] = _journal.AppendAsync(_record).AsTask();
            }

            long[] indexes = await Task.WhenAll(group);
            last = indexes[^1];
        }

        return last;
    }
}
