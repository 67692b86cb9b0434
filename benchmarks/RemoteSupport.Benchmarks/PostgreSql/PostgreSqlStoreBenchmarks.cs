using System.Globalization;
using System.Text;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using Npgsql;
using NpgsqlTypes;
using RemoteSupport.Benchmarks.Journal;
using RemoteSupport.Consent;
using RemoteSupport.GroundRules;
using RemoteSupport.Identities;
using RemoteSupport.Journal;
using RemoteSupport.Ledger;
using RemoteSupport.PostgreSql.Journal;

namespace RemoteSupport.Benchmarks.PostgreSql;

/// <summary>
/// The vendor's stores in PostgreSQL beside the file journal, in three categories. <c>Single</c>: 64 durable appends
/// of about 200 bytes per operation, one at a time (each acknowledged only once committed); the ceiling is plain
/// Npgsql, one <c>INSERT … ON CONFLICT DO NOTHING</c> per record in its own transaction, without the journal's
/// bookkeeping (the advisory lock, the index, the leaf hash); beside it the journal, the charge ledger on it
/// (idempotency and caps decided under the lock) and the file journal. <c>Batched</c>: 5,000 records per operation
/// in one transaction; the ceiling is one <c>INSERT … SELECT unnest(…) ON CONFLICT DO NOTHING</c> of them; beside it
/// <see cref="PostgreSqlRecordJournal.AppendBatchAsync"/> and the file journal's group commit of 5,000 appends in
/// flight. <c>Statement</c>: a statement of 100,000 entries issued from each store, beside reading its records. The
/// server is <c>REMOTESUPPORT_POSTGRESQL</c>'s, or one started with <c>eng/postgres.sh</c> for the run.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 3, iterationCount: 15)]
public class PostgreSqlStoreBenchmarks
{
    private const int Appends = 64;
    private const int Batch = 5_000;
    private const int StatementEntries = 100_000;
    private PostgreSqlRecordJournal _batchJournal = null!;
    private AppendOnlyJournal _batchFile = null!;
    private PostgreSqlRecordJournal _ledgerJournal = null!;
    private ChargeLedger _ledger = null!;
    private PostgreSqlRecordJournal _statementLedger = null!;
    private AppendOnlyJournal _statementFile = null!;
    private PartyIdentity _vendor = null!;
    private ReadOnlyMemory<byte>[] _batch = null!;
    private long _charge;
    private string _folder = null!;
    private BenchmarkServer _server = null!;
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
        _server = BenchmarkServer.Start(_folder);
        _database = NpgsqlDataSource.Create(_server.ConnectionString);
        using (NpgsqlConnection setup = _database.OpenConnection())
        using (var table = new NpgsqlCommand("drop table if exists bench_plain; create table bench_plain (id bigint primary key, payload bytea not null)", setup))
        {
            table.ExecuteNonQuery();
        }

        _journal = PostgreSqlRecordJournal.OpenAsync(_database, "bench/" + Guid.NewGuid().ToString("N")).GetAwaiter().GetResult();
        _file = AppendOnlyJournal.OpenAsync(Path.Combine(_folder, "bench.journal")).GetAwaiter().GetResult();
        _record = Encoding.UTF8.GetBytes("{\"kind\":\"charge\",\"at\":\"2026-11-25T09:00:00Z\",\"session\":\"session-1\",\"customer\":\"fabrikam\",\"amountMinor\":1250,\"currency\":\"EUR\",\"key\":\"charge-0123456789abcdef0123456789abcdef\"}");
        _batch = [.. Enumerable.Repeat((ReadOnlyMemory<byte>)_record, Batch)];
        _batchJournal = PostgreSqlRecordJournal.OpenAsync(_database, "bench/batch-" + Guid.NewGuid().ToString("N")).GetAwaiter().GetResult();
        _batchFile = AppendOnlyJournal.OpenAsync(Path.Combine(_folder, "batch.journal")).GetAwaiter().GetResult();
        _ledgerJournal = PostgreSqlRecordJournal.OpenAsync(_database, "bench/ledger-" + Guid.NewGuid().ToString("N")).GetAwaiter().GetResult();
        _ledger = ChargeLedger.OpenAsync(_ledgerJournal, Rules(), new StatementBenchmarks.FixedClock()).GetAwaiter().GetResult();
        _vendor = PartyIdentity.Create("contoso", PartyRole.Vendor);
        _statementLedger = PostgreSqlRecordJournal.OpenAsync(_database, "bench/statement-" + Guid.NewGuid().ToString("N")).GetAwaiter().GetResult();
        StatementBenchmarks.WriteLedgerAsync(records => _statementLedger.AppendBatchAsync(records), StatementEntries).GetAwaiter().GetResult();
        _statementFile = AppendOnlyJournal.OpenAsync(Path.Combine(_folder, "statement-ledger.journal")).GetAwaiter().GetResult();
        StatementBenchmarks.WriteLedgerAsync(StatementBenchmarks.FileAppender(_statementFile), StatementEntries).GetAwaiter().GetResult();
    }

    /// <summary>
    /// Each iteration starts right after a checkpoint: the first change of a page after one writes the whole page to
    /// the WAL, so without it whichever method runs when a checkpoint falls pays for the others' writes. (Every method
    /// has it, the file journal's too, so that all run in one job and each category has its ratio column.)
    /// </summary>
    [IterationSetup]
    public void Checkpoint()
    {
        using NpgsqlConnection connection = _database.OpenConnection();
        using var checkpoint = new NpgsqlCommand("checkpoint", connection);
        checkpoint.ExecuteNonQuery();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _file.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _batchFile.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _statementFile.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _ledger.Dispose();
        _vendor.Dispose();
        _database.Dispose();
        _server.Dispose();

        Directory.Delete(_folder, recursive: true);
    }

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("Single")]
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
    [BenchmarkCategory("Single")]
    public Task<long> RecordJournal() => AppendOneAtATimeAsync(_journal);

    [Benchmark]
    [BenchmarkCategory("Single")]
    public async Task<long> ChargeLedgerOnPostgreSql()
    {
        long amount = 0;
        for (int i = 0; i < Appends; i++)
        {
            string key = "k" + (++_charge).ToString(CultureInfo.InvariantCulture);
            amount += (await _ledger.RecordAsync(new ChargeRequest
            {
                IdempotencyKey = key, CustomerId = "fabrikam", UnitId = "unit-7", SessionId = "session-" + key, Kind = ChargeKind.CallSetup,
                Quantity = 1, QuantityUnit = "call", Rate = 500, AmountMinor = 500, Currency = "EUR", IncurredAt = new DateTimeOffset(2026, 11, 25, 9, 0, 0, TimeSpan.Zero),
                Description = "Call setup",
            })).Charge.AmountMinor;
        }

        return amount;
    }

    [Benchmark]
    [BenchmarkCategory("Single")]
    public Task<long> FileJournal() => AppendOneAtATimeAsync(_file);

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("Batched")]
    public async Task<long> PlainNpgsqlBatchInsert()
    {
        var ids = new long[Batch];
        var payloads = new byte[Batch][];
        for (int i = 0; i < Batch; i++)
        {
            ids[i] = ++_key;
            payloads[i] = _record;
        }

        await using NpgsqlConnection connection = await _database.OpenConnectionAsync();
        await using NpgsqlTransaction transaction = await connection.BeginTransactionAsync();
        await using var insert = new NpgsqlCommand("insert into bench_plain (id, payload) select * from unnest(@ids, @payloads) on conflict do nothing", connection, transaction);
        insert.Parameters.Add(new NpgsqlParameter("ids", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = ids });
        insert.Parameters.Add(new NpgsqlParameter("payloads", NpgsqlDbType.Array | NpgsqlDbType.Bytea) { Value = payloads });
        long rows = await insert.ExecuteNonQueryAsync();
        await transaction.CommitAsync();
        return rows;
    }

    [Benchmark]
    [BenchmarkCategory("Batched")]
    public Task<long> RecordJournalBatch() => _batchJournal.AppendBatchAsync(_batch);

    [Benchmark]
    [BenchmarkCategory("Batched")]
    public async Task<long> FileJournalBatch()
    {
        await StatementBenchmarks.FileAppender(_batchFile)(_batch);
        return _batchFile.Count;
    }

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("Statement")]
    public Task<long> ReadHundredThousandRecordsFromPostgreSql() => StatementBenchmarks.ReadAllAsync(_statementLedger);

    [Benchmark]
    [BenchmarkCategory("Statement")]
    public Task<long> IssueStatementOfHundredThousandEntriesFromPostgreSql() => StatementBenchmarks.IssueAsync(_statementLedger, _folder, _vendor);

    [Benchmark]
    [BenchmarkCategory("Statement")]
    public Task<long> IssueStatementOfHundredThousandEntriesFromFile() => StatementBenchmarks.IssueAsync(_statementFile, _folder, _vendor);

    private static SecurityGroundRules Rules() => new()
    {
        Version = 1, CustomerId = "fabrikam", VendorId = "contoso", TimeZone = "Europe/Berlin", MaxSessionMinutes = 120,
        Operations = [new(SupportOperation.ViewData, true, null)],
        DataScopes = [new("finance", ["**"], "fabrikam")], Hours = new(Enum.GetValues<DayOfWeek>(), "00:00", "00:00"),
        MaxApprovalLifetimeSeconds = 3600, TollCharges = new("EUR", 500, 120, 60, 500, long.MaxValue, long.MaxValue, long.MaxValue),
    };

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
