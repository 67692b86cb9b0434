using System.Collections.Concurrent;
using System.Diagnostics;
using Npgsql;
using RemoteSupport.Journal;
using RemoteSupport.Ledger;
using RemoteSupport.PostgreSql.Journal;
using RemoteSupport.Tests;
using RemoteSupport.Tests.Consent;

namespace RemoteSupport.PostgreSql.Tests.Ledger;

/// <summary>A server of the test's own (eng/postgres.sh), stopped as a crash would stop it while hosts record charges.</summary>
[Trait(PostgreSqlTrait.Name, PostgreSqlTrait.Value)]
public sealed class ServerRestartTests : IDisposable
{
    private readonly ConsentFixture _f = new();

    public void Dispose() => _f.Dispose();

    [PostgreSqlFact]
    public async Task TheServerStoppedAndRestartedUnderLoad_KeepsEveryAcknowledgedCharge_EachOnce()
    {
        const int Writers = 4;
        const int BeforeRestart = 300;
        const int AfterRestart = 300;
        using var folder = new TemporaryFolder();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        string server = Path.Combine(folder.Path, "server");
        string connectionString = await ScriptAsync("start", server, timeout.Token);
        try
        {
            var acknowledged = new ConcurrentDictionary<string, string>();
            DateTime startedBefore = await StartTimeAsync(connectionString, timeout.Token);
            bool restarted = false;
            await using (NpgsqlDataSource database = NpgsqlDataSource.Create(connectionString))
            await using (PostgreSqlRecordJournal journal = await PostgreSqlRecordJournal.OpenAsync(database, ChildHost.LedgerName, timeout.Token))
            using (ChargeLedger ledger = await ChargeLedger.OpenAsync(journal, _f.GroundRules, _f.Time, timeout.Token))
            {
                Task[] writers = [.. Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
                {
                    for (int key = w; !Volatile.Read(ref restarted) || acknowledged.Count < BeforeRestart + AfterRestart; key += Writers)
                    {
                        // A charge not acknowledged is recorded again, as a host's caller would: idempotent by key.
                        while (true)
                        {
                            timeout.Token.ThrowIfCancellationRequested();
                            try
                            {
                                ChargeEntry entry = await ledger.RecordAsync(ChildHost.Charge(key, amount: 1), timeout.Token);
                                acknowledged.TryAdd(entry.Charge.IdempotencyKey, entry.EntryId).Should().BeTrue("each charge is acknowledged once");
                                break;
                            }
                            catch (Exception failure) when (failure is NpgsqlException or JournalException && !timeout.IsCancellationRequested)
                            {
                                await Task.Delay(50, timeout.Token);
                            }
                        }
                    }
                }))];

                while (acknowledged.Count < BeforeRestart)
                {
                    if (writers.FirstOrDefault(t => t.IsFaulted) is { } failed)
                    {
                        await failed; // a writer died: its exception is the test's failure, now
                    }

                    await Task.Delay(10, timeout.Token);
                }

                await ScriptAsync("restart", server, timeout.Token); // immediate stop: no checkpoint, as in a crash
                Volatile.Write(ref restarted, true);
                await Task.WhenAll(writers);
            }

            (await StartTimeAsync(connectionString, timeout.Token)).Should().BeAfter(startedBefore, "the server was stopped and started while the writers recorded");
            await using NpgsqlDataSource reopened = NpgsqlDataSource.Create(connectionString);
            await using PostgreSqlRecordJournal after = await PostgreSqlRecordJournal.OpenAsync(reopened, ChildHost.LedgerName, timeout.Token);
            using ChargeLedger replayed = await ChargeLedger.OpenAsync(after, _f.GroundRules, _f.Time, timeout.Token);
            Dictionary<string, string> entryOf = replayed.Entries.ToDictionary(e => e.Charge.IdempotencyKey, e => e.EntryId);
            entryOf.Should().HaveCount(acknowledged.Count, "every charge attempted was acknowledged in the end, and none is in twice");
            acknowledged.Where(a => entryOf.GetValueOrDefault(a.Key) != a.Value).Should().BeEmpty("every acknowledged charge is there, as acknowledged");
            replayed.DueTotals()["EUR"].Should().Be(acknowledged.Count);
            (await after.FindAlteredRecordsAsync(timeout.Token)).Should().BeEmpty();
        }
        finally
        {
            await ScriptAsync("stop", server, CancellationToken.None);
        }
    }

    private static async Task<DateTime> StartTimeAsync(string connectionString, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var started = new NpgsqlCommand("select pg_postmaster_start_time()", connection);
        return (DateTime)(await started.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>Runs eng/postgres.sh; returns its last line (the connection string of start and restart).</summary>
    private static async Task<string> ScriptAsync(string command, string folder, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in new[] { Path.Combine(RepositoryPaths.Root(), "eng", "postgres.sh"), command, folder })
        {
            start.ArgumentList.Add(arg);
        }

        using Process script = Process.Start(start)!;
        Task<string> output = script.StandardOutput.ReadToEndAsync(cancellationToken);
        Task<string> errors = script.StandardError.ReadToEndAsync(cancellationToken);
        await script.WaitForExitAsync(cancellationToken);
        script.ExitCode.Should().Be(0, $"eng/postgres.sh {command}: {await errors}");
        return (await output).Trim().Split('\n')[^1];
    }
}
