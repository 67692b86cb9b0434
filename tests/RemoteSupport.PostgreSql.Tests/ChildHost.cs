using System.Diagnostics;
using Npgsql;
using RemoteSupport.Ledger;
using RemoteSupport.PostgreSql.Journal;
using RemoteSupport.Tests.Consent;
using RemoteSupport.Tests.Ledger;

namespace RemoteSupport.PostgreSql.Tests;

/// <summary>
/// The test assembly's entry point (the test SDK's is turned off): run with arguments it is a console host of its own,
/// in its own process, as the multi-process tests start it (<see cref="RunAsync"/>); the test runner never passes any.
/// </summary>
public static class ChildHost
{
    public const string LedgerName = "ledger/fabrikam";

    public static async Task<int> Main(string[] args)
    {
        if (args is ["record-charges", string connectionString, string first, string count, string total])
        {
            await RecordChargesAsync(connectionString, int.Parse(first), int.Parse(count), int.Parse(total));
            return 0;
        }

        await Console.Error.WriteLineAsync("usage: record-charges CONNECTION FIRST COUNT TOTAL");
        return 2;
    }

    /// <summary>The charge <paramref name="key"/> as every host records it.</summary>
    public static ChargeRequest Charge(int key, long amount) =>
        TestCharges.CallSetup($"charge-{key}", amount, new DateTimeOffset(2026, 11, 20, 9, 0, 0, TimeSpan.Zero), session: $"session-{key}");

    /// <summary>Runs this assembly as a child host with <paramref name="args"/>; returns its exit code and standard output.</summary>
    public static async Task<(int ExitCode, string Output, string Errors)> RunAsync(CancellationToken cancellationToken, params string[] args)
    {
        // The dotnet host: the one the SDK names for its children, else this process's own (a test host run by dotnet).
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : Environment.ProcessPath!;
        var start = new ProcessStartInfo(dotnet) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(typeof(ChildHost).Assembly.Location);
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using Process child = Process.Start(start)!;
        Task<string> output = child.StandardOutput.ReadToEndAsync(cancellationToken);
        Task<string> errors = child.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            await child.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            child.Kill(entireProcessTree: true);
            throw;
        }

        return (child.ExitCode, await output, await errors);
    }

    /// <summary>Records the charges <paramref name="first"/>, … (<paramref name="count"/> of them, modulo <paramref name="total"/>), printing each acknowledged one as <c>key entryId</c>.</summary>
    private static async Task RecordChargesAsync(string connectionString, int first, int count, int total)
    {
        using var f = new ConsentFixture();
        await using NpgsqlDataSource database = NpgsqlDataSource.Create(connectionString);
        await using PostgreSqlRecordJournal journal = await PostgreSqlRecordJournal.OpenAsync(database, LedgerName);
        using ChargeLedger ledger = await ChargeLedger.OpenAsync(journal, f.GroundRules, f.Time);
        using var output = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = false };
        for (int i = 0; i < count; i++)
        {
            ChargeEntry entry = await ledger.RecordAsync(Charge((first + i) % total, amount: 1));
            await output.WriteLineAsync($"{entry.Charge.IdempotencyKey} {entry.EntryId}");
        }
    }
}
