using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Text.Json;
using RemoteSupport.Sessions;

namespace RemoteSupport.Benchmarks.Fleet;

/// <summary>
/// The fleet at scale (docs/benchmarks.md, issue 18): one console host process (<c>fleet-host</c>) and this load process
/// holding N simulated units over real secure connections on loopback. Run as
/// <c>dotnet run -c Release --project benchmarks/RemoteSupport.Benchmarks -- fleet --units N</c>; the last line is one JSON object.
/// </summary>
internal static partial class FleetBenchmark
{
    private static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(5);

    public static async Task<int> RunAsync(int units, int sessions)
    {
        RaiseFileLimit(units * 2 + 4096);
        string folder = Directory.CreateTempSubdirectory("rs-fleet-bench-").FullName;
        try
        {
            Keys keys = await Keys.CreateAsync(folder);
            using Process host = StartHost(folder);
            string[] ready = (await host.StandardOutput.ReadLineAsync())!.Split(' '); // "ready <port> <rss>"
            var endpoint = new IPEndPoint(IPAddress.Loopback, int.Parse(ready[1], CultureInfo.InvariantCulture));
            long rss0 = long.Parse(ready[2], CultureInfo.InvariantCulture);
            await using SupportAgent agent = await SupportAgent.OpenAsync(keys.AgentOptions(Path.Combine(folder, "agent")));
            var fleet = new SimulatedFleet(agent, keys, endpoint, units);
            var watch = Stopwatch.StartNew();
            fleet.Start();
            await UntilOnlineAsync(host, fleet, units, TimeSpan.FromMinutes(10));
            double onlineSeconds = watch.Elapsed.TotalSeconds;
            Console.Error.WriteLine($"{units} units online in {onlineSeconds:0.0} s; failed attempts: {fleet.TakeFailures()}");

            await Task.Delay(Heartbeat * 2); // settle: the herd's last handshakes and the JIT's tier-up end before the idle window
            fleet.ResetHeartbeats();
            TimeSpan loadCpu0 = Process.GetCurrentProcess().TotalProcessorTime;
            host.Refresh();
            TimeSpan hostCpu0 = host.TotalProcessorTime;
            string hostGc0 = await AskAsync(host, "gc");
            bool sampling = Environment.GetEnvironmentVariable("RS_FLEET_ALLOCATIONS") == "1"; // profiling only: the sampler's own events cost
            if (sampling)
            {
                await AskAsync(host, "allocations-start");
            }

            string loadGc0 = GcText();
            await Task.Delay(Heartbeat * 3);
            double heartbeatP99 = fleet.HeartbeatPercentile(0.99); // before the host's measuring collection pauses it
            host.Refresh();
            if (sampling)
            {
                Console.Error.WriteLine($"host allocations in the idle window by type (sampled): {await AskAsync(host, "allocations")}");
            }

            Console.Error.WriteLine($"GC (pause ms, gen0, gen1, gen2, allocated) before/after the window: host {hostGc0} / {await AskAsync(host, "gc")}, load {loadGc0} / {GcText()}");
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"heartbeats idle: {fleet.HeartbeatCount} round trips, p50 {fleet.HeartbeatPercentile(0.5):0.0} p90 {fleet.HeartbeatPercentile(0.9):0.0} p99 {heartbeatP99:0.0} max {fleet.HeartbeatPercentile(1):0.0} ms; CPU over {(Heartbeat * 3).TotalSeconds:0} s: load {(Process.GetCurrentProcess().TotalProcessorTime - loadCpu0).TotalSeconds:0.0} s, host {(host.TotalProcessorTime - hostCpu0).TotalSeconds:0.0} s"));
            long rss = long.Parse(await AskAsync(host, "rss"), CultureInfo.InvariantCulture);
            string[] opened = (await AskAsync(host, "open " + sessions.ToString(CultureInfo.InvariantCulture))).Split(' ');
            Console.Error.WriteLine($"host RSS {rss / 1048576.0:0.0} MiB ({(rss - rss0) / units} B a unit), heartbeat p99 {heartbeatP99:0.0} ms, session open p50/p99 {opened[0]}/{opened[1]} ms");

            watch.Restart();
            await AskAsync(host, "restart");
            bool back = await UntilOnlineAsync(host, fleet, units, TimeSpan.FromMinutes(5));
            double reconnect = watch.Elapsed.TotalSeconds;
            Console.Error.WriteLine($"all back {(back ? "" : "NOT ")}within {reconnect:0.0} s of the host's restart; failed attempts: {fleet.TakeFailures()}");
            int online = int.Parse(await AskAsync(host, "count"), CultureInfo.InvariantCulture);
            await host.StandardInput.WriteLineAsync("quit");
            await fleet.StopAsync();
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                units,
                online,
                hostRssBytesPerUnit = (rss - rss0) / units,
                heartbeatP99Ms = Math.Round(heartbeatP99, 1),
                sessionOpenP50Ms = double.Parse(opened[0], CultureInfo.InvariantCulture),
                sessionOpenP99Ms = double.Parse(opened[1], CultureInfo.InvariantCulture),
                reconnectAllSeconds = Math.Round(reconnect, 1),
                gaveUp = back ? 0 : units - online,
            }));
            return 0;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static string GcText() =>
        string.Create(CultureInfo.InvariantCulture, $"{GC.GetTotalPauseDuration().TotalMilliseconds:0} {GC.CollectionCount(0)} {GC.CollectionCount(1)} {GC.CollectionCount(2)} {GC.GetTotalAllocatedBytes() / 1048576.0:0.0}MiB");

    private static Process StartHost(string folder)
    {
        string self = typeof(FleetBenchmark).Assembly.Location;
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet")
        {
            start.ArgumentList.Add(self);
        }

        start.ArgumentList.Add("fleet-host");
        start.ArgumentList.Add(folder);
        return Process.Start(start)!;
    }

    private static async Task<string> AskAsync(Process host, string command)
    {
        await host.StandardInput.WriteLineAsync(command);
        await host.StandardInput.FlushAsync();
        return (await host.StandardOutput.ReadLineAsync())!;
    }

    /// <summary>Waits until all units are online; every 10 s stderr says how many are and why attempts failed since (the herd's curve).</summary>
    private static async Task<bool> UntilOnlineAsync(Process host, SimulatedFleet fleet, int units, TimeSpan limit)
    {
        var watch = Stopwatch.StartNew();
        TimeSpan reported = TimeSpan.Zero;
        host.Refresh();
        (TimeSpan host, TimeSpan load) cpu = (host.TotalProcessorTime, Process.GetCurrentProcess().TotalProcessorTime);
        while (true)
        {
            int online = int.Parse(await AskAsync(host, "count"), CultureInfo.InvariantCulture);
            if (online == units)
            {
                return true;
            }

            if (watch.Elapsed > limit)
            {
                return false;
            }

            if (watch.Elapsed - reported >= TimeSpan.FromSeconds(10))
            {
                TimeSpan interval = watch.Elapsed - reported;
                reported = watch.Elapsed;
                host.Refresh();
                (TimeSpan host, TimeSpan load) now = (host.TotalProcessorTime, Process.GetCurrentProcess().TotalProcessorTime);
                string pending = await AskAsync(host, "pending");
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {reported.TotalSeconds:0} s: {online} online, {pending} pending; CPU host {(now.host - cpu.host) / interval:0.00} load {(now.load - cpu.load) / interval:0.00} cores; failed attempts since: {fleet.TakeFailures()}"));
                cpu = now;
            }

            await Task.Delay(250);
        }
    }

    /// <summary>Raises the open-file limit (the process runs as root here; elsewhere the soft limit rises to the hard one).</summary>
    private static void RaiseFileLimit(int wanted)
    {
        if (!OperatingSystem.IsLinux() || GetRLimit(7, out RLimit current) != 0)
        {
            return;
        }

        var raised = new RLimit { Current = (ulong)wanted, Maximum = Math.Max(current.Maximum, (ulong)wanted) };
        if (SetRLimit(7, ref raised) != 0)
        {
            raised = new RLimit { Current = current.Maximum, Maximum = current.Maximum };
            _ = SetRLimit(7, ref raised);
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", EntryPoint = "getrlimit")]
    private static partial int GetRLimit(int resource, out RLimit limit);

    [LibraryImport("libc", EntryPoint = "setrlimit")]
    private static partial int SetRLimit(int resource, ref RLimit limit);
}
