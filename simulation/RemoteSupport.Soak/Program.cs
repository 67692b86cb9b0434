using System.Diagnostics;
using System.Globalization;
using RemoteSupport.Soak;

// soak [--sessions N] [--seed S] [--fault-rate R] [--folder F]
//     runs N faulted support sessions against one unit, then checks the invariants (docs/testing.md);
//     last line: soak: N sessions, F faults, V violations, seed S
int sessions = 100;
int seed = Random.Shared.Next();
double faultRate = 0.4;
string? folder = null;
for (int i = 0; i < args.Length; i += 2)
{
    if (i + 1 >= args.Length)
    {
        return Usage($"{args[i]} needs a value");
    }

    switch (args[i])
    {
        case "--sessions": sessions = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
        case "--seed": seed = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
        case "--fault-rate": faultRate = double.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
        case "--folder": folder = args[i + 1]; break;
        default: return Usage($"unknown option {args[i]}");
    }
}

if (sessions < 1 || faultRate is < 0 or > 1)
{
    return Usage("--sessions is at least 1 and --fault-rate within [0, 1]");
}

string runFolder = folder ?? Directory.CreateTempSubdirectory("rs-soak-").FullName;
Directory.CreateDirectory(runFolder);
Console.WriteLine($"soak run in {runFolder}, seed {seed}, {sessions} sessions, fault rate {faultRate:0.##}");
long started = Stopwatch.GetTimestamp();
SoakReport report = await new SoakRun(runFolder, seed, faultRate, Console.Out).RunAsync(sessions);
foreach (string violation in report.Violations)
{
    Console.WriteLine("violation: " + violation);
}

foreach ((string outcome, int count) in report.Outcomes.OrderByDescending(o => o.Value))
{
    Console.WriteLine($"  {count,6} {outcome}");
}

Console.WriteLine($"took {Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s");
if (folder is null && report.Violations.Count == 0)
{
    Directory.Delete(runFolder, recursive: true);
}

Console.WriteLine(report.Summary);
return report.Violations.Count == 0 ? 0 : 1;

static int Usage(string problem)
{
    Console.Error.WriteLine(problem);
    Console.Error.WriteLine("usage: soak [--sessions N] [--seed S] [--fault-rate R] [--folder F]");
    return 2;
}
