using System.Globalization;
using RemoteSupport.CrashHarness;

// crash-harness run [--iterations N] [--seed S] [--scenario journal|data-file|install] [--folder F]
//     kills N workers (the scenarios in turn), checks after each; last line: crash: N iterations, K kills, V violations, seed S
// crash-harness worker SCENARIO FOLDER ITERATION
//     the child: prints "started", then "ack ..." after each piece of durable work, until killed
if (args is ["worker", string name, string workFolder, string iterationText])
{
    CrashScenario scenario = CrashScenario.All.Single(s => s.Name == name);
    var gate = new Lock();
    Console.WriteLine("started");
    await scenario.WorkAsync(workFolder, int.Parse(iterationText, CultureInfo.InvariantCulture), ack =>
    {
        lock (gate)
        {
            Console.WriteLine("ack " + ack);
        }
    });
    return 0;
}

if (args is ["run", .. string[] options])
{
    int iterations = 30;
    int seed = Random.Shared.Next();
    string? only = null;
    string? folder = null;
    for (int i = 0; i + 1 < options.Length; i += 2)
    {
        switch (options[i])
        {
            case "--iterations": iterations = int.Parse(options[i + 1], CultureInfo.InvariantCulture); break;
            case "--seed": seed = int.Parse(options[i + 1], CultureInfo.InvariantCulture); break;
            case "--scenario": only = options[i + 1]; break;
            case "--folder": folder = options[i + 1]; break;
            default: return Usage($"unknown option {options[i]}");
        }
    }

    if (options.Length % 2 != 0)
    {
        return Usage($"{options[^1]} needs a value");
    }

    CrashScenario[] scenarios = [.. CrashScenario.All.Where(s => only is null || s.Name == only)];
    if (scenarios.Length == 0)
    {
        return Usage($"no scenario {only}");
    }

    string runFolder = folder ?? Directory.CreateTempSubdirectory("rs-crash-").FullName;
    Console.WriteLine($"crash run in {runFolder}, seed {seed}");
    CrashReport report = await new CrashRun(runFolder, seed, scenarios, Console.Out).RunAsync(iterations);
    foreach (CrashScenario scenario in scenarios)
    {
        string? remark = scenario.Remark(Path.Combine(runFolder, scenario.Name));
        Console.WriteLine($"{scenario.Name}: {report.Acknowledged[scenario.Name]} acknowledgments" + (remark is null ? "" : ", " + remark));
    }

    if (folder is null && report.Violations.Count == 0)
    {
        Directory.Delete(runFolder, recursive: true);
    }

    Console.WriteLine(report.Summary);
    return report.Violations.Count == 0 && report.Kills == report.Iterations ? 0 : 1;
}

return Usage(null);

static int Usage(string? problem)
{
    if (problem is not null)
    {
        Console.Error.WriteLine(problem);
    }

    Console.Error.WriteLine("usage: crash-harness run [--iterations N] [--seed S] [--scenario journal|data-file|install] [--folder F]");
    return 2;
}
