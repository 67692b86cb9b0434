using System.Diagnostics;

namespace RemoteSupport.Benchmarks.PostgreSql;

/// <summary>The PostgreSQL server a benchmark runs against: <c>REMOTESUPPORT_POSTGRESQL</c>'s, or one <c>eng/postgres.sh</c> starts for the run.</summary>
internal static class BenchmarkServer
{
    /// <summary>Gets the connection string, starting a server in <paramref name="folder"/> when none is given.</summary>
    /// <returns>The connection string, and the started server's folder (null when the environment gave one).</returns>
    public static (string Connection, string? ServerFolder) Connect(string folder)
    {
        if (Environment.GetEnvironmentVariable("REMOTESUPPORT_POSTGRESQL") is { Length: > 0 } given)
        {
            return (given, null);
        }

        string server = Path.Combine(folder, "postgres");
        return (Run("start", server), server);
    }

    /// <summary>Stops the server <see cref="Connect"/> started.</summary>
    public static void Stop(string serverFolder) => Run("stop", serverFolder);

    /// <summary>Runs eng/postgres.sh (found above the benchmark's folder); returns its last line.</summary>
    private static string Run(string command, string folder)
    {
        string? root = AppContext.BaseDirectory;
        while (root is not null && !File.Exists(Path.Combine(root, "eng", "postgres.sh")))
        {
            root = Path.GetDirectoryName(root.TrimEnd(Path.DirectorySeparatorChar));
        }

        if (root is null)
        {
            throw new InvalidOperationException("Set REMOTESUPPORT_POSTGRESQL, or run from the repository (eng/postgres.sh starts a server).");
        }

        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(root, "eng", "postgres.sh"));
        start.ArgumentList.Add(command);
        start.ArgumentList.Add(folder);
        using Process process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0
            ? output.TrimEnd().Split('\n')[^1]
            : throw new InvalidOperationException($"eng/postgres.sh {command} failed ({process.ExitCode}).");
    }
}
