using Npgsql;
using NodaTime;
using RemoteSupport.Documents;
using RemoteSupport.Journal;
using RemoteSupport.Ledger;
using RemoteSupport.PostgreSql.Journal;
using RemoteSupport.Tests.Consent;
using RemoteSupport.Tests.Ledger;

namespace RemoteSupport.PostgreSql.Tests.Ledger;

/// <summary>
/// Several console hosts on one PostgreSQL database: each host is its own data source (its own connection pool),
/// its own journal instance and its own ledger or issuer, as separate machines would have.
/// </summary>
[Trait(PostgreSqlTrait.Name, PostgreSqlTrait.Value)]
public sealed class SharedLedgerTests : IDisposable
{
    private const string LedgerName = ChildHost.LedgerName;
    private readonly ConsentFixture _f = new();

    public void Dispose() => _f.Dispose();

    [PostgreSqlFact]
    public async Task FourProcessesRecordingOverlappingCharges_LeaveEachOnce_WithTotalsExact()
    {
        const int Charges = 10_000;
        const int Hosts = 4;
        await using PostgreSqlServer server = await PostgreSqlServer.CreateDatabaseAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        // Host h records the charges [h * 2500, h * 2500 + 5000) modulo 10,000: every charge is recorded by two processes at once.
        (int ExitCode, string Output, string Errors)[] children = await Task.WhenAll(Enumerable.Range(0, Hosts).Select(h => ChildHost.RunAsync(
            timeout.Token, "record-charges", server.Database.ConnectionString, (h * Charges / Hosts).ToString(), (Charges / 2).ToString(), Charges.ToString())));

        children.Should().AllSatisfy(c => c.ExitCode.Should().Be(0, c.Errors));
        await using PostgreSqlRecordJournal reader = await PostgreSqlRecordJournal.OpenAsync(server.Database, LedgerName);
        using ChargeLedger replayed = await ChargeLedger.OpenAsync(reader, _f.GroundRules, _f.Time);
        replayed.Entries.Should().HaveCount(Charges, "two processes recording one charge at once make one entry");
        replayed.DueTotals().Should().Equal(new Dictionary<string, long> { ["EUR"] = Charges });
        Dictionary<string, string> entryOf = replayed.Entries.ToDictionary(e => e.Charge.IdempotencyKey, e => e.EntryId);
        string[][] acknowledged = [.. children.SelectMany(c => c.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)).Select(l => l.Split(' '))];
        acknowledged.Should().HaveCount(Hosts * Charges / 2, "every process was answered for every charge it recorded");
        acknowledged.Where(a => entryOf[a[0]] != a[1]).Should().BeEmpty("both processes that recorded a charge were answered with the one entry");
    }

    [PostgreSqlFact]
    public async Task AChargeRecordedByAnotherHostWithOtherFields_IsTheSameConflictAsOnOneHost()
    {
        await using PostgreSqlServer server = await PostgreSqlServer.CreateDatabaseAsync();
        await using Hosts hosts = await OpenHostsAsync(server, 2);
        await hosts[0].Ledger.RecordAsync(Charge(7, amount: 100));

        var again = async () => await hosts[1].Ledger.RecordAsync(Charge(7, amount: 120));

        (await again.Should().ThrowAsync<IdempotencyConflictException>()).Which.Message.Should().Contain(nameof(ChargeRequest.AmountMinor));
        (await hosts[1].Ledger.RecordAsync(Charge(7, amount: 100))).EntryId.Should().Be(hosts[0].Ledger.Entries[0].EntryId);
        hosts[1].Ledger.Journal.Count.Should().Be(1);
    }

    [PostgreSqlFact]
    public async Task TheMonthlyCap_IsCountedExactly_AcrossHostsRecordingAtOnce()
    {
        await using PostgreSqlServer server = await PostgreSqlServer.CreateDatabaseAsync();
        await using Hosts hosts = await OpenHostsAsync(server, 4);
        long cap = _f.Rules.TollCharges.MonthlyCapMinor;
        const long Amount = 1_000; // under the session cap and the approval threshold: only the monthly cap holds charges
        int count = (int)(cap / Amount) + 40;
        await Task.WhenAll(hosts.Select((host, h) => Task.Run(async () =>
        {
            for (int i = h; i < count; i += hosts.Count)
            {
                await host.Ledger.RecordAsync(Charge(i, Amount));
            }
        })));

        await hosts[0].Ledger.RecordAsync(Charge(count, 1)); // takes in the other hosts' entries first
        IReadOnlyList<ChargeEntry> entries = hosts[0].Ledger.Entries;
        entries.Count(e => e.Status == ChargeStatus.Due && e.Charge.AmountMinor == Amount).Should().Be((int)(cap / Amount), "the cap admits exactly what fits");
        entries.Count(e => e.Status == ChargeStatus.Held).Should().Be(41, "the 40 over the cap and the last one");
        hosts[0].Ledger.DueTotals()["EUR"].Should().Be(cap);
    }

    [PostgreSqlFact]
    public async Task AHostThatHasNotSeenAnotherHostsRecords_DecidesOnThem_NeverOnItsStaleView()
    {
        await using PostgreSqlServer server = await PostgreSqlServer.CreateDatabaseAsync();
        await using Hosts hosts = await OpenHostsAsync(server, 3);
        ChargeEntry held = await hosts[0].Ledger.RecordAsync(Charge(1, _f.Rules.TollCharges.ApprovalThresholdMinor + 1));
        held.Status.Should().Be(ChargeStatus.Held);
        await hosts[2].Ledger.RefreshAsync(); // host 2 sees the held entry, and nothing after it
        await hosts[1].Ledger.RefreshAsync();
        (await hosts[1].Ledger.ApproveAsync(new ChargeApproval { CustomerId = "fabrikam", EntryIds = [held.EntryId] }.ToEnvelope().Sign(_f.Customer), _f.Trust))
            .IsAccepted.Should().BeTrue();
        ChargeEntry recordedElsewhere = await hosts[1].Ledger.RecordAsync(Charge(2, 100));

        // Host 0 has not seen the second charge: the new entry it decides on its view must not land (the journal moved on).
        ChargeEntry again = await hosts[0].Ledger.RecordAsync(Charge(2, 100));
        // Host 2 has not seen the approval: on its view the entry is held, and a reversal refused; on the journal it is due.
        ChargeEntry reversal = await hosts[2].Ledger.ReverseAsync(held.EntryId, "charge-1/reversal", "billed in error");

        again.EntryId.Should().Be(recordedElsewhere.EntryId, "the key another host recorded is one entry");
        reversal.Charge.Reverses.Should().Be(held.EntryId, "approved by another host, the entry was due and could be reversed");
        await using PostgreSqlRecordJournal reader = await PostgreSqlRecordJournal.OpenAsync(server.Database, LedgerName);
        reader.Count.Should().Be(4, "the held charge, its approval, the second charge and the reversal");
    }

    [PostgreSqlFact]
    public async Task TwoHostsIssuingTheSameMonthAtOnce_IssueOneStatement_AndTheOtherIsRefused()
    {
        await using PostgreSqlServer server = await PostgreSqlServer.CreateDatabaseAsync();
        await using Hosts hosts = await OpenHostsAsync(server, 2);
        for (int i = 0; i < 20; i++)
        {
            await hosts[i % 2].Ledger.RecordAsync(Charge(i, amount: 100));
        }

        _f.Time.Advance(TimeSpan.FromDays(7)); // November has ended in Berlin
        foreach (Host host in hosts)
        {
            await host.Ledger.RefreshAsync(); // each host bills what every host recorded
            host.Ledger.RecordCount.Should().Be(20);
        }

        var outcomes = await Task.WhenAll(hosts.Select(host => Task.Run(async () =>
        {
            var ledgerJournal = host.LedgerJournal;
            string checkpoint = new Checkpoint("contoso.example/ledger/fabrikam", host.Ledger.RecordCount, ledgerJournal.Root(host.Ledger.RecordCount)).Sign("contoso-billing", _f.Vendor);
            try
            {
                return (Statement: (SignedEnvelope?)await host.Issuer.IssueAsync(host.Ledger, "fabrikam", 2026, 11, "Europe/Berlin", checkpoint, _f.Vendor), Refusal: (Exception?)null);
            }
            catch (InvalidOperationException refusal)
            {
                return (Statement: (SignedEnvelope?)null, Refusal: (Exception?)refusal);
            }
        })));

        outcomes.Count(o => o.Statement is not null).Should().Be(1, "one host wins");
        outcomes.Single(o => o.Refusal is not null).Refusal!.Message.Should().Contain("fabrikam").And.Contain("2026-11").And.Contain("issued");
        await using PostgreSqlRecordJournal statements = await PostgreSqlRecordJournal.OpenAsync(server.Database, "statements");
        statements.Count.Should().Be(1);
        MonthlyStatement issued = MonthlyStatement.FromEnvelope(SignedEnvelope.Parse(await statements.ReadAsync(0)));
        issued.Number.Should().Be(1);
        issued.Totals.Should().Equal(new Dictionary<string, long> { ["EUR"] = 2_000 });
    }

    [PostgreSqlFact]
    public async Task AConnectionDroppedInTheMiddleOfAnAppend_LeavesNothingHalfWritten_AndTheRetrySucceeds()
    {
        await using PostgreSqlServer server = await PostgreSqlServer.CreateDatabaseAsync();
        await using Hosts hosts = await OpenHostsAsync(server, 1);
        await using NpgsqlConnection holder = await server.Database.OpenConnectionAsync();
        await using NpgsqlTransaction holding = await holder.BeginTransactionAsync();
        await Execute(holder, $"select pg_advisory_xact_lock(hashtextextended('{LedgerName}', 0))");

        Task<ChargeEntry> recording = hosts[0].Ledger.RecordAsync(Charge(1, amount: 100));
        int appending = await WaitForAdvisoryWaiterAsync(server, except: null);
        await Execute(holder, $"select pg_terminate_backend({appending})"); // the append's connection dies inside its transaction
        await WaitForAdvisoryWaiterAsync(server, except: appending); // the retry, on a new connection
        await holding.CommitAsync();

        ChargeEntry entry = await recording;
        await using PostgreSqlRecordJournal reader = await PostgreSqlRecordJournal.OpenAsync(server.Database, LedgerName);
        reader.Count.Should().Be(1, "the dropped transaction left nothing, the retry appended once");
        System.Text.Json.JsonDocument.Parse(await reader.ReadAsync(0)).RootElement.GetProperty("entryId").GetString().Should().Be(entry.EntryId);
    }

    private static async Task<int> WaitForAdvisoryWaiterAsync(PostgreSqlServer server, int? except)
    {
        for (int i = 0; i < 1000; i++)
        {
            await using NpgsqlConnection connection = await server.Database.OpenConnectionAsync();
            await using var find = new NpgsqlCommand(
                "select pid from pg_stat_activity where wait_event_type = 'Lock' and wait_event = 'advisory' and datname = current_database() and pid <> @except", connection);
            find.Parameters.AddWithValue("except", except ?? 0);
            if (await find.ExecuteScalarAsync() is int pid)
            {
                return pid;
            }

            await Task.Delay(20);
        }

        throw new TimeoutException("No append waited on the journal's advisory lock.");
    }

    private static async Task Execute(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static ChargeRequest Charge(int key, long amount) => ChildHost.Charge(key, amount);

    private async Task<Hosts> OpenHostsAsync(PostgreSqlServer server, int count)
    {
        var hosts = new Hosts();
        for (int i = 0; i < count; i++)
        {
            NpgsqlDataSource database = NpgsqlDataSource.Create(server.Database.ConnectionString);
            PostgreSqlRecordJournal ledgerJournal = await PostgreSqlRecordJournal.OpenAsync(database, LedgerName);
            PostgreSqlRecordJournal statementJournal = await PostgreSqlRecordJournal.OpenAsync(database, "statements");
            hosts.Add(new Host(database, ledgerJournal, await ChargeLedger.OpenAsync(ledgerJournal, _f.GroundRules, _f.Time),
                await StatementIssuer.OpenAsync(statementJournal, _f.Time)));
        }

        return hosts;
    }

    private sealed record Host(NpgsqlDataSource Database, PostgreSqlRecordJournal LedgerJournal, ChargeLedger Ledger, StatementIssuer Issuer);

    private sealed class Hosts : List<Host>, IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            foreach (Host host in this)
            {
                host.Ledger.Dispose();
                host.Issuer.Dispose();
                await host.Database.DisposeAsync();
            }
        }
    }
}
