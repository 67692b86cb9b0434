using RemoteSupport.Identities;
using RemoteSupport.Journal;
using RemoteSupport.Ledger;
using RemoteSupport.Soak;

namespace RemoteSupport.Transport.Tests.Soak;

/// <summary>
/// The soak harness end to end: a short faulted run over real TCP leaves every invariant true, and each check finds
/// what is planted behind the agent's back before the checks run.
/// </summary>
public sealed class SoakHarnessTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("rs-soak-test-").FullName;
    private readonly StringWriter _log = new();

    [Fact]
    public async Task AShortFaultedRun_LeavesEveryInvariantTrue_AndItsFaultsStruck()
    {
        SoakReport report = await new SoakRun(_folder, 20261203, 0.5, _log).RunAsync(30);

        report.Violations.Should().BeEmpty(_log.ToString());
        report.Faults.Should().BePositive("half the sessions draw a fault and most reach its byte");
        report.Outcomes.Keys.Should().Contain("closed").And.Contain(k => k.StartsWith("failed: ", StringComparison.Ordinal));
        report.Summary.Should().Be($"soak: 30 sessions, {report.Faults} faults, 0 violations, seed 20261203");
    }

    [Fact]
    public async Task ADataFileHalfWrittenBehindTheAgent_IsAViolation()
    {
        SoakReport report = await new SoakRun(_folder, 5, 0, _log).RunAsync(3, async unit =>
            await File.WriteAllTextAsync(Path.Combine(unit.DataRoot, SoakUnit.DataPath), "account,am"));

        report.Violations.Should().Contain(v => v.Contains("bytes no change wrote", StringComparison.Ordinal))
            .And.Contain(v => v.Contains("the last change the audit recorded left", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AChargeForNoSession_IsAViolation_AndTheTotalNoLongerAddsUp()
    {
        SoakReport report = await new SoakRun(_folder, 6, 0, _log).RunAsync(3, async unit =>
            await unit.Ledger.RecordAsync(new ChargeRequest
            {
                IdempotencyKey = "session-none/call-setup",
                CustomerId = "fabrikam",
                UnitId = "unit-7",
                SessionId = "session-none",
                Kind = ChargeKind.CallSetup,
                Quantity = 1,
                QuantityUnit = "call",
                Rate = 500,
                AmountMinor = 500,
                Currency = "EUR",
                IncurredAt = SoakUnit.Start,
                Description = "Call setup",
            }));

        report.Violations.Should().Contain(v => v.Contains("session-none/call-setup for a session the audit never opened", StringComparison.Ordinal))
            .And.Contain(v => v.Contains("charges total", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnInstallRootBetweenVersions_IsAViolation()
    {
        SoakReport report = await new SoakRun(_folder, 7, 0, _log).RunAsync(2, async unit =>
            await File.WriteAllTextAsync(Path.Combine(unit.InstallRoot, "bin", "app.dll"), "half of a version"));

        report.Violations.Should().ContainSingle(v => v.Contains("the install root is between versions", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ATimerOrABufferLeftBehind_IsAViolation()
    {
        ITimer? leaked = null;
        SoakReport report = await new SoakRun(_folder, 8, 0, _log).RunAsync(2, unit =>
        {
            leaked = unit.Timers.CreateTimer(_ => { }, null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            unit.Buffers.Rent(100);
            return Task.CompletedTask;
        });
        leaked?.Dispose();

        report.Violations.Should().Contain(v => v.StartsWith("1 of ", StringComparison.Ordinal) && v.Contains("timers are still alive", StringComparison.Ordinal))
            .And.Contain(v => v.StartsWith("1 of ", StringComparison.Ordinal) && v.Contains("pipe buffers were never returned", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ACheckpointTheJournalDoesNotExtend_OrOneNotSignedByTheUnit_IsAViolation()
    {
        using var stranger = PartyIdentity.Create("fabrikam", PartyRole.Unit);
        var run = new SoakRun(_folder, 9, 0, _log);
        SoakReport report = await run.RunAsync(2, unit =>
        {
            run.Checkpoints.Insert(0, new Checkpoint("fabrikam/unit-7/audit", 1, new byte[32]).Sign("unit-7", unit.Unit));
            run.Checkpoints.Insert(1, new Checkpoint("fabrikam/unit-7/audit", 1, unit.AuditJournal.Root()).Sign("unit-7", stranger));
            return Task.CompletedTask;
        });

        report.Violations.Should().Contain("the audit journal's first 1 records are not those the checkpoint of that size signed")
            .And.Contain(v => v.StartsWith("a checkpoint taken during the run does not verify: ", StringComparison.Ordinal));
    }

    [Fact]
    public void TheSameSeed_PlansTheSameSessions_AndAnotherSeedOthers()
    {
        string[] first = [.. Enumerable.Range(0, 50).Select(i => SessionPlan.Draw(42, i, 0.4).ToString())];
        string[] again = [.. Enumerable.Range(0, 50).Select(i => SessionPlan.Draw(42, i, 0.4).ToString())];
        string[] other = [.. Enumerable.Range(0, 50).Select(i => SessionPlan.Draw(43, i, 0.4).ToString())];

        again.Should().Equal(first);
        other.Should().NotEqual(first);
        first.Should().Contain(p => p.Contains("Revoke", StringComparison.Ordinal)).And.Contain(p => p.Contains("PushFix(Never)", StringComparison.Ordinal) || p.Contains("View(Never)", StringComparison.Ordinal));
    }

    public void Dispose()
    {
        _log.Dispose();
        Directory.Delete(_folder, recursive: true);
    }
}
