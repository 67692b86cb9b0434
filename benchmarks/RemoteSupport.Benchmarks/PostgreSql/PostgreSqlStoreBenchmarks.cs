using System.Diagnostics;
using System.Text;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Npgsql;
using NpgsqlTypes;
using RemoteSupport.Journal;
using RemoteSupport.PostgreSql.Journal;

namespace RemoteSupport.Benchmarks.PostgreSql;

/// <summary>
/// Durable appends to PostgreSQL, 64 records of about 200 bytes per operation, one at a time (each
/// acknowledged only once committed). Baseline, the ceiling: plain Npgsql, one
/// <c>INSERT … ON CONFLICT DO NOTHING</c> per record in its own transaction, without the journal's
/// bookkeeping (the advisory lock, the index, the leaf hash). <c>RecordJournal</c>:
/// <see cref="PostgreSqlRecordJournal.AppendAsync"/>. <c>FileJournal</c>: <see cref="AppendOnlyJournal"/> on
/// the local disk, for reference. The server is <c>REMOTESUPPORT_POSTGRESQL</c>'s, or one started with
/// <c>eng/postgres.sh</c> for the run.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 2, iterationCount: 8)]
public class PostgreSqlStoreBenchmarks
{
    private const int Appends = 64;
    private string _folder = null!;
    private string? _server;
    private NpgsqlDataSource _database = null!;
    private PostgreSqlRecordJournal _journal = null!;
    private AppendOnlyJournal _file = null!;
    private byte[] _record = null!;
    private long _key;

    [GlobalSetup]
    public void Setup()
    {
        _folder = Path.Combine(Path.GetTempPath(), "rs-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_folder);
        (string connection, _server) = BenchmarkServer.Connect(_folder);
        _database = NpgsqlDataSource.Create(connection);
        using (NpgsqlConnection setup = _database.OpenConnection())
        using (var table = new NpgsqlCommand("drop table if exists bench_plain; create table bench_plain (id bigint primary key, payload bytea not null)", setup))
        {
            table.ExecuteNonQuery();
        }

        _journal = PostgreSqlRecordJournal.OpenAsync(_database, "bench/" + Guid.NewGuid().ToString("N")).GetAwaiter().GetResult();
        _file = AppendOnlyJournal.OpenAsync(Path.Combine(_folder, "bench.journal")).GetAwaiter().GetResult();
        _record = Encoding.UTF8.GetBytes("{\"kind\":\"charge\",\"at\":\"2026-11-25T09:00:00Z\",\"session\":\"session-1\",\"customer\":\"fabrikam\",\"amountMinor\":1250,\"currency\":\"EUR\",\"key\":\"charge-0123456789abcdef0123456789abcdef\"}");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _file.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _database.Dispose();
        if (_server is not null)
        {
            BenchmarkServer.Stop(_server);
        }

        Directory.Delete(_folder, recursive: true);
    }

    [Benchmark(Baseline = true)]
    public async Task<long> PlainNpgsqlInsert()
    {
        long rows = 0;
        for (int i = 0; i < Appends; i++)
        {
            await using NpgsqlConnection connection = await _database.OpenConnectionAsync();
            await using NpgsqlTransaction transaction = await connection.BeginTransactionAsync();
            await using var insert = new NpgsqlCommand("insert into bench_plain (id, payload) values (@id, @payload) on conflict do nothing", connection, transaction);
            insert.Parameters.AddWithValue("id", ++_key);
            insert.Parameters.Add(new NpgsqlParameter("payload", NpgsqlDbType.Bytea) { Value = _record });
            rows += await insert.ExecuteNonQueryAsync();
            await transaction.CommitAsync();
        }

        return rows;
    }

    [Benchmark]
    public Task<long> RecordJournal() => AppendOneAtATimeAsync(_journal);

    [Benchmark]
    public Task<long> FileJournal() => AppendOneAtATimeAsync(_file);

    private async Task<long> AppendOneAtATimeAsync(IRecordJournal journal)
    {
        long last = 0;
        for (int i = 0; i < Appends; i++)
        {
            last = await journal.AppendAsync(_record);
        }

        return last;
    }
}
