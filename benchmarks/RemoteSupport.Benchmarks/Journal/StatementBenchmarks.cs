using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using Npgsql;
using NodaTime;
using RemoteSupport.Benchmarks.PostgreSql;
using RemoteSupport.Documents;
using RemoteSupport.Identities;
using RemoteSupport.Journal;
using RemoteSupport.Ledger;
using RemoteSupport.PostgreSql.Journal;

namespace RemoteSupport.Benchmarks.Journal;

/// <summary>
/// A monthly statement over a ledger journal of one million entries in one month (Europe/Berlin), issued
/// straight from the journal: the issuer streams the records, selects, sorts (spilling to a temporary file),
/// sums and renders every line (CSV streamed and hashed) and signs the statement. The ceiling beside each:
/// reading the same records from the same store and doing nothing with them. The file journal on the local
/// disk; PostgreSQL is <c>REMOTESUPPORT_POSTGRESQL</c>'s server, or one <c>eng/postgres.sh</c> starts.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 3, iterationCount: 5)] // warm-ups enough for the loops to tier up
public class StatementBenchmarks
{
    private const int Entries = 1_000_000;
    private string _folder = null!;
    private BenchmarkServer _server = null!;
    private AppendOnlyJournal _file = null!;
    private NpgsqlDataSource _database = null!;
    private PostgreSqlRecordJournal _postgres = null!;
    private PartyIdentity _vendor = null!;

    [GlobalSetup]
    public void Setup() => SetupAsync().GetAwaiter().GetResult();

    [GlobalCleanup]
    public void Cleanup()
    {
        _file.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _database.Dispose();
        _vendor.Dispose();
        _server.Dispose();

        Directory.Delete(_folder, recursive: true);
    }

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("File")]
    public Task<long> ReadMillionRecordsFromFile() => ReadAllAsync(_file);

    [Benchmark]
    [BenchmarkCategory("File")]
    public Task<long> IssueStatementOfOneMillionEntriesFromFile() => IssueAsync(_file, _folder, _vendor);

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("PostgreSql")]
    public Task<long> ReadMillionRecordsFromPostgreSql() => ReadAllAsync(_postgres);

    [Benchmark]
    [BenchmarkCategory("PostgreSql")]
    public Task<long> IssueStatementOfOneMillionEntriesFromPostgreSql() => IssueAsync(_postgres, _folder, _vendor);

    /// <summary>Issues fabrikam's November statement from <paramref name="ledger"/> into a new statements journal; the CSV goes nowhere.</summary>
    /// <returns>The statement's line count.</returns>
    internal static async Task<long> IssueAsync(IRecordJournal ledger, string folder, PartyIdentity vendor)
    {
        string checkpoint = new Checkpoint("fabrikam.example/ledger", ledger.Count, ledger.Root()).Sign("contoso-billing", vendor);
        string path = Path.Combine(folder, $"statements-{Guid.NewGuid():N}.journal");
        await using AppendOnlyJournal statements = await AppendOnlyJournal.OpenAsync(path);
        using StatementIssuer issuer = await StatementIssuer.OpenAsync(statements, new FixedClock());
        SignedEnvelope signed = await issuer.IssueAsync(ledger, "fabrikam", new YearMonth(2026, 11), "Europe/Berlin", checkpoint, vendor, Stream.Null, CancellationToken.None);
        return MonthlyStatement.FromEnvelope(signed).LineCount;
    }

    /// <summary>Writes the ledger's records: one million charges of fabrikam in November 2026, entry ids as the ledger makes them.</summary>
    internal static async Task WriteLedgerAsync(Func<IReadOnlyList<ReadOnlyMemory<byte>>, Task> append, int entries = Entries)
    {
        var start = new DateTimeOffset(2026, 10, 31, 23, 0, 0, TimeSpan.Zero); // November 1, 00:00 in Berlin
        var random = new Random(2026);
        const int Wave = 10_000;
        byte[] id = new byte[16];
        for (int first = 0; first < entries; first += Wave)
        {
            var records = new List<ReadOnlyMemory<byte>>(Wave);
            for (int n = first; n < Math.Min(entries, first + Wave); n++)
            {
                bool setup = (n % 2) == 0;
                random.NextBytes(id);
                records.Add(DocumentJson.Serialize(new ChargeEntry
                {
                    EntryId = "charge-" + new Guid(id).ToString("N"),
                    RecordedAt = start.AddSeconds(n * 2.5),
                    Status = ChargeStatus.Due,
                    Charge = new ChargeRequest
                    {
                        IdempotencyKey = "k" + n.ToString(CultureInfo.InvariantCulture),
                        CustomerId = "fabrikam",
                        UnitId = "unit-" + (n % 50).ToString(CultureInfo.InvariantCulture),
                        SessionId = "session-" + (n / 4).ToString(CultureInfo.InvariantCulture),
                        Kind = setup ? ChargeKind.CallSetup : ChargeKind.ConnectTime,
                        Quantity = setup ? 1 : 60 + (n % 600),
                        QuantityUnit = setup ? "call" : "second",
                        Rate = setup ? 500 : 2,
                        AmountMinor = setup ? 500 : 2 * (60 + (n % 600)),
                        Currency = "EUR",
                        IncurredAt = start.AddSeconds(n * 2.5),
                        Description = setup ? "Call setup" : "Connect time",
                    },
                }));
            }

            await append(records);
        }
    }

    /// <summary>Appends records to a file journal, a wave at a time (appends in flight together are made durable together).</summary>
    internal static Func<IReadOnlyList<ReadOnlyMemory<byte>>, Task> FileAppender(AppendOnlyJournal journal) =>
        records => Task.WhenAll(records.Select(r => journal.AppendAsync(r).AsTask()));

    internal static async Task<long> ReadAllAsync(IRecordJournal journal)
    {
        long bytes = 0;
        await journal.ReadRangeAsync(0, journal.Count, (_, payload) => bytes += payload.Length);
        return bytes;
    }

    private async Task SetupAsync()
    {
        _folder = Path.Combine(Path.GetTempPath(), "rs-statement-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_folder);
        _vendor = PartyIdentity.Create("contoso", PartyRole.Vendor);
        _file = await AppendOnlyJournal.OpenAsync(Path.Combine(_folder, "ledger.journal"));
        await WriteLedgerAsync(FileAppender(_file));
        _server = BenchmarkServer.Start(_folder);
        _database = NpgsqlDataSource.Create(_server.ConnectionString);
        _postgres = await PostgreSqlRecordJournal.OpenAsync(_database, "bench/ledger-" + Guid.NewGuid().ToString("N"));
        await WriteLedgerAsync(records => _postgres.AppendBatchAsync(records));
    }

    internal sealed class FixedClock : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => new(2027, 1, 15, 0, 0, 0, TimeSpan.Zero);
    }
}
