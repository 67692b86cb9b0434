using System.Diagnostics;
using System.Globalization;

namespace RemoteSupport.CrashHarness;

/// <summary>What a run found.</summary>
/// <param name="Iterations">Workers started.</param>
/// <param name="Kills">Workers killed with SIGKILL while they worked (the rest ended by themselves: each is a violation).</param>
/// <param name="Acknowledged">Pieces of work acknowledged across all workers, per scenario.</param>
/// <param name="Violations">Every invariant broken, with its iteration.</param>
/// <param name="Seed">The seed that reproduces the run.</param>
internal sealed record CrashReport(int Iterations, int Kills, IReadOnlyDictionary<string, int> Acknowledged, IReadOnlyList<string> Violations, int Seed)
{
    public string Summary => string.Create(CultureInfo.InvariantCulture, $"crash: {Iterations} iterations, {Kills} kills, {Violations.Count} violations, seed {Seed}");
}

/// <summary>
/// The parent of a crash run: for each iteration it starts a worker process on the next scenario (in turn), waits for
/// it to start, lets it work for a delay drawn from the seed (0 to the scenario's <see cref="CrashScenario.MaxWork"/>), kills it with SIGKILL,
/// and checks the scenario against every acknowledgment the workers of that scenario printed so far.
/// </summary>
internal sealed class CrashRun(string folder, int seed, IReadOnlyList<CrashScenario> scenarios, TextWriter log)
{
    public async Task<CrashReport> RunAsync(int iterations)
    {
        var random = new Random(seed);
        var acknowledged = scenarios.ToDictionary(s => s.Name, _ => new List<string>(), StringComparer.Ordinal);
        var violations = new List<string>();
        int kills = 0;
        foreach (CrashScenario scenario in scenarios)
        {
            Directory.CreateDirectory(Path.Combine(folder, scenario.Name));
            await scenario.PrepareAsync(Path.Combine(folder, scenario.Name));
        }

        for (int iteration = 0; iteration < iterations; iteration++)
        {
            CrashScenario scenario = scenarios[iteration % scenarios.Count];
            string scenarioFolder = Path.Combine(folder, scenario.Name);
            var delay = TimeSpan.FromMilliseconds(random.NextDouble() * scenario.MaxWork.TotalMilliseconds);
            List<string> acks = acknowledged[scenario.Name];
            int before = acks.Count;
            (bool killed, string? failure) = await RunWorkerAsync(scenario, scenarioFolder, iteration, delay, acks);
            kills += killed ? 1 : 0;
            IReadOnlyList<string> broken = failure is null ? await scenario.CheckAsync(scenarioFolder, acks) : [failure];
            foreach (string violation in broken)
            {
                violations.Add($"iteration {iteration} ({scenario.Name}): {violation}");
                await log.WriteLineAsync(violations[^1]);
            }

            await log.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"iteration {iteration}: {scenario.Name}, killed after {delay.TotalMilliseconds:F0} ms and {acks.Count - before} acknowledgments, {broken.Count} violations"));
        }

        return new CrashReport(iterations, kills, acknowledged.ToDictionary(a => a.Key, a => a.Value.Count, StringComparer.Ordinal), violations, seed);
    }

    /// <summary>Starts a worker, kills it <paramref name="delay"/> after it said it started, and collects its acknowledgments.</summary>
    private static async Task<(bool Killed, string? Failure)> RunWorkerAsync(CrashScenario scenario, string folder, int iteration, TimeSpan delay, List<string> acks)
    {
        var start = new ProcessStartInfo(DotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in new[] { typeof(CrashRun).Assembly.Location, "worker", scenario.Name, folder, iteration.ToString(CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(argument);
        }

        using Process worker = Process.Start(start) ?? throw new InvalidOperationException("The worker process did not start.");
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<string> errors = worker.StandardError.ReadToEndAsync();
        Task reading = Task.Run(async () =>
        {
            while (await worker.StandardOutput.ReadLineAsync() is { } line)
            {
                if (line == "started")
                {
                    started.TrySetResult();
                }
                else if (line.StartsWith("ack ", StringComparison.Ordinal))
                {
                    lock (acks)
                    {
                        acks.Add(line[4..]);
                    }
                }
            }

            started.TrySetResult();
        });

        await started.Task.WaitAsync(TimeSpan.FromSeconds(60));
        await Task.WhenAny(worker.WaitForExitAsync(), Task.Delay(delay));
        bool killed = !worker.HasExited;
        if (killed)
        {
            worker.Kill(); // SIGKILL on Unix: no finally block, no flush, no dispose runs in the worker
        }

        await worker.WaitForExitAsync();
        await reading; // every line the worker wrote before it died is in the pipe
        return killed ? (true, null) : (false, $"the worker ended by itself (exit code {worker.ExitCode}) before the kill: {(await errors).Trim()}");
    }

    /// <summary>The dotnet host that runs this program (the SDK sets DOTNET_HOST_PATH under dotnet test and dotnet run).</summary>
    private static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host
        : Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath! : "dotnet";
}
