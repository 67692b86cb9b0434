using System.Diagnostics;
using BenchmarkDotNet.Running;
using RemoteSupport.Benchmarks.Fixes;
using RemoteSupport.Fixes;

// dotnet run -c Release --project benchmarks/RemoteSupport.Benchmarks -- --filter '*Envelope*'
// Peak memory of a process that only verifies a fix package (docs/benchmarks.md):
//   dotnet RemoteSupport.Benchmarks.dll build-fix 1073741824      (prints the package folder)
//   /usr/bin/time -v dotnet RemoteSupport.Benchmarks.dll verify-fix <folder>
switch (args)
{
    case ["build-fix", string size]:
        (string built, _, _, _, _) = await FixPackageBenchmarks.BuildAsync(long.Parse(size, System.Globalization.CultureInfo.InvariantCulture));
        Console.WriteLine(built);
        return 0;
    case ["verify-fix", string folder]:
        (FixTrust trust, FixContext context) = FixPackageBenchmarks.LoadTrust(folder);
        var watch = Stopwatch.StartNew();
        await using (FileStream stream = new(Path.Combine(folder, "fix.rsfix"), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.Asynchronous | FileOptions.SequentialScan))
        {
            FixVerification result = await FixVerifier.VerifyAsync(stream, trust, context, stagingFolder: null);
            Console.WriteLine($"{result.Sentence} in {watch.Elapsed.TotalSeconds:0.00} s");
            return result.IsValid ? 0 : 1;
        }

    case ["statement-ledger", string folder, .. string[] options]:
        // Peak memory of a process that only issues a statement (docs/benchmarks.md):
        //   dotnet RemoteSupport.Benchmarks.dll statement-ledger <folder> [--postgresql <connection>]
        //   dotnet RemoteSupport.Benchmarks.dll statement-issue <folder> [--postgresql <connection>] [--repeat N]
        return await RemoteSupport.Benchmarks.Journal.StatementMemory.WriteLedgerAsync(folder, Text(options, "--postgresql"));
    case ["statement-issue", string folder, .. string[] options]:
        return await RemoteSupport.Benchmarks.Journal.StatementMemory.IssueAsync(folder, Text(options, "--postgresql"), Option(options, "--repeat", 1));
    case ["fleet", .. string[] options]:
        // dotnet run -c Release --project benchmarks/RemoteSupport.Benchmarks -- fleet --units 20000 [--sessions 200]
        int units = Option(options, "--units", 1_000);
        return await RemoteSupport.Benchmarks.Fleet.FleetBenchmark.RunAsync(units, Option(options, "--sessions", 200));
    case ["fleet-host", string keys]:
        return await RemoteSupport.Benchmarks.Fleet.FleetBenchmark.HostAsync(keys);
    default:
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
}

static int Option(string[] options, string name, int fallback)
{
    int at = Array.IndexOf(options, name);
    return at >= 0 && at + 1 < options.Length ? int.Parse(options[at + 1], System.Globalization.CultureInfo.InvariantCulture) : fallback;
}

static string? Text(string[] options, string name)
{
    int at = Array.IndexOf(options, name);
    return at >= 0 && at + 1 < options.Length ? options[at + 1] : null;
}
