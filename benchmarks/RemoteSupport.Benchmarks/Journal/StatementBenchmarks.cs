using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using NodaTime;
using RemoteSupport.Documents;
using RemoteSupport.GroundRules;
using RemoteSupport.Identities;
using RemoteSupport.Journal;
using RemoteSupport.Ledger;

namespace RemoteSupport.Benchmarks.Journal;

/// <summary>
/// A monthly statement over a ledger of one million entries in one month (Europe/Berlin): the
/// issuer selects, sorts, sums and renders every line (CSV streamed and hashed) and signs the statement.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 3)]
public class StatementBenchmarks
{
    private const int Entries = 1_000_000;
    private string _folder = null!;
    private AppendOnlyJournal _ledgerJournal = null!;
    private ChargeLedger _ledger = null!;
    private PartyIdentity _vendor = null!;
    private string _checkpoint = null!;

    [GlobalSetup]
    public void Setup() => SetupAsync().GetAwaiter().GetResult();

    [GlobalCleanup]
    public void Cleanup()
    {
        _ledger.Dispose();
        _ledgerJournal.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _vendor.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    [Benchmark]
    public async Task<long> IssueStatementOfOneMillionEntries()
    {
        string path = Path.Combine(_folder, $"statements-{Guid.NewGuid():N}.journal");
        await using AppendOnlyJournal statements = await AppendOnlyJournal.OpenAsync(path);
        StatementIssuer issuer = await StatementIssuer.OpenAsync(statements, new FixedClock());
        SignedEnvelope signed = await issuer.IssueAsync(_ledger, "fabrikam", new YearMonth(2026, 11), "Europe/Berlin", _checkpoint, _vendor, Stream.Null, CancellationToken.None);
        return MonthlyStatement.FromEnvelope(signed).LineCount;
    }

    private async Task SetupAsync()
    {
        _folder = Path.Combine(Path.GetTempPath(), "rs-statement-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_folder);
        _vendor = PartyIdentity.Create("contoso", PartyRole.Vendor);
        _ledgerJournal = await AppendOnlyJournal.OpenAsync(Path.Combine(_folder, "ledger.journal"));
        var start = new DateTimeOffset(2026, 10, 31, 23, 0, 0, TimeSpan.Zero); // November 1, 00:00 in Berlin
        const int Wave = 20_000;
        for (int first = 0; first < Entries; first += Wave)
        {
            var appends = new Task<long>[Wave];
            for (int i = 0; i < Wave; i++)
            {
                int n = first + i;
                var entry = new ChargeEntry
                {
                    EntryId = "charge-" + n.ToString("D8", CultureInfo.InvariantCulture),
                    RecordedAt = start.AddSeconds(n * 2.5),
                    Status = ChargeStatus.Due,
                    Charge = new ChargeRequest
                    {
                        IdempotencyKey = "k" + n.ToString(CultureInfo.InvariantCulture),
                        CustomerId = "fabrikam",
                        UnitId = "unit-" + (n % 50).ToString(CultureInfo.InvariantCulture),
                        SessionId = "session-" + (n / 4).ToString(CultureInfo.InvariantCulture),
                        Kind = (n % 2) == 0 ? ChargeKind.CallSetup : ChargeKind.ConnectTime,
                        Quantity = (n % 2) == 0 ? 1 : 60 + (n % 600),
                        QuantityUnit = (n % 2) == 0 ? "call" : "second",
                        Rate = (n % 2) == 0 ? 500 : 2,
                        AmountMinor = (n % 2) == 0 ? 500 : 2 * (60 + (n % 600)),
                        Currency = "EUR",
                        IncurredAt = start.AddSeconds(n * 2.5),
                        Description = (n % 2) == 0 ? "Call setup" : "Connect time",
                    },
                };
                appends[i] = _ledgerJournal.AppendAsync(DocumentJson.Serialize(entry)).AsTask();
            }

            await Task.WhenAll(appends);
        }

        SecurityGroundRules rules = new()
        {
            Version = 1, CustomerId = "fabrikam", VendorId = "contoso", TimeZone = "Europe/Berlin", Operations = [],
            MaxApprovalLifetimeSeconds = 3600, DataScopes = [], Hours = new([DayOfWeek.Monday], "00:00", "00:00"), MaxSessionMinutes = 60,
            TollCharges = new("EUR", 500, 120, 60, 500, long.MaxValue, long.MaxValue, long.MaxValue),
        };
        _ledger = await ChargeLedger.OpenAsync(_ledgerJournal, rules, new FixedClock());
        _checkpoint = new Checkpoint("fabrikam.example/ledger", _ledgerJournal.Count, _ledgerJournal.Root()).Sign("contoso-billing", _vendor);
    }

    private sealed class FixedClock : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => new(2027, 1, 15, 0, 0, 0, TimeSpan.Zero);
    }
}
