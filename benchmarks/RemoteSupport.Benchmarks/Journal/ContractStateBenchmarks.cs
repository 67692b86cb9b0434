using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using RemoteSupport.Audit;
using RemoteSupport.Authorization;
using RemoteSupport.Contract;
using RemoteSupport.GroundRules;
using RemoteSupport.Identities;
using RemoteSupport.Journal;
using RemoteSupport.Trust;

namespace RemoteSupport.Benchmarks.Journal;

/// <summary>
/// Opening a unit's contract state from an audit journal of 100,000 records: the ground rules, an
/// authorization and 1,000 approval uses among 98,998 consent decisions. Ceiling: opening the same
/// journal and reading every record (what any rebuild must do at least). <c>OpenContractState</c>
/// opens the journal, finds the contract records and replays them (each document's signatures judged again).
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 5)]
public class ContractStateBenchmarks
{
    private const int Records = 100_000;
    private const int Uses = 1_000;
    private readonly PartyIdentity _customer = PartyIdentity.Create("fabrikam", PartyRole.Customer);
    private readonly PartyIdentity _vendor = PartyIdentity.Create("contoso", PartyRole.Vendor);
    private readonly PartyIdentity _technician = PartyIdentity.Create("contoso", PartyRole.Technician);
    private string _folder = null!;
    private string _path = null!;

    [GlobalSetup]
    public void Setup() => SetupAsync().GetAwaiter().GetResult();

    [GlobalCleanup]
    public void Cleanup()
    {
        _customer.Dispose();
        _vendor.Dispose();
        _technician.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    [Benchmark(Baseline = true)]
    public async Task<long> ReadEveryRecord()
    {
        await using AppendOnlyJournal journal = await AppendOnlyJournal.OpenAsync(_path);
        long bytes = 0;
        for (long i = 0; i < journal.Count; i++)
        {
            bytes += (await journal.ReadAsync(i)).Length;
        }

        return bytes;
    }

    [Benchmark]
    public async Task<int> OpenContractState()
    {
        await using AppendOnlyJournal journal = await AppendOnlyJournal.OpenAsync(_path);
        using ContractState state = await ContractState.OpenAsync(new AuditLog(journal), Trust(), "fabrikam");
        return state.UsesOf("approval-7");
    }

    private TrustStore Trust()
    {
        var trust = new TrustStore();
        trust.Trust("fabrikam", PartyRole.Customer, _customer.PublicKey);
        trust.Trust("contoso", PartyRole.Vendor, _vendor.PublicKey);
        trust.Trust("contoso", PartyRole.Technician, _technician.PublicKey);
        return trust;
    }

    private async Task SetupAsync()
    {
        _folder = Path.Combine(Path.GetTempPath(), "rs-bench-contract-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_folder);
        _path = Path.Combine(_folder, "audit.journal");
        await using AppendOnlyJournal journal = await AppendOnlyJournal.OpenAsync(_path);
        var audit = new AuditLog(journal);
        using (ContractState state = await ContractState.OpenAsync(audit, Trust(), "fabrikam"))
        {
            var rules = new SecurityGroundRules
            {
                Version = 1, CustomerId = "fabrikam", VendorId = "contoso", TimeZone = "Europe/Berlin", MaxSessionMinutes = 120,
                Operations = [new(SupportOperation.ViewData, true, null)], DataScopes = [new("finance", ["**"], "fabrikam")],
                Hours = new(Enum.GetValues<DayOfWeek>(), "00:00", "00:00"), MaxApprovalLifetimeSeconds = 3600,
                TollCharges = new("EUR", 500, 120, 60, 500, 20_000, 100_000, 10_000),
            }.ToEnvelope().Sign(_customer).Sign(_vendor);
            await state.AcceptAsync(rules);
            await state.AcceptAsync(new ServiceAuthorization
            {
                AuthorizationId = "auth-1", CustomerId = "fabrikam", VendorId = "contoso", Units = ["unit-7"], VendorKeys = [_technician.PublicKey.ToString()],
                GroundRulesHash = SecurityGroundRules.DocumentHash(rules), ValidFrom = DateTimeOffset.UtcNow.AddDays(-1), ValidUntil = DateTimeOffset.UtcNow.AddDays(30),
            }.ToEnvelope().Sign(_customer));
            for (int i = 0; i < Uses; i++)
            {
                await state.TryConsumeAsync("approval-" + (i % 100), Uses);
            }
        }

        // The rest are consent decisions, appended in waves (group commit).
        var wave = new List<Task<long>>(1_000);
        for (long i = journal.Count; i < Records; i++)
        {
            wave.Add(audit.RecordAsync(new AuditEvent
            {
                Kind = AuditEventKind.ConsentDecided, At = DateTimeOffset.UtcNow, SessionId = "session-1", Actor = "contoso/tech",
                Details = new Dictionary<string, string> { ["operation"] = "view-data", ["path"] = "ledger/2026/ledger.db", ["outcome"] = "granted", ["reason"] = "none" },
            }).AsTask());
            if (wave.Count == 1_000)
            {
                await Task.WhenAll(wave);
                wave.Clear();
            }
        }

        await Task.WhenAll(wave);
    }
}
