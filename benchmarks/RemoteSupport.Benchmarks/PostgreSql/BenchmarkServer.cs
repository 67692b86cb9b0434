using System.Diagnostics;
using Npgsql;

namespace RemoteSupport.Benchmarks.PostgreSql;

/// <summary>
/// A fresh database for one benchmark run, on <c>REMOTESUPPORT_POSTGRESQL</c>'s server or on one <c>eng/postgres.sh</c>
/// starts for the run; dropped (and the server stopped, if started) when disposed. Fresh, so that what earlier runs
/// left in the package's tables never weighs on this run's figures, nor on one method's more than its ceiling's.
/// </summary>
internal sealed class BenchmarkServer : IDisposable
{
    private readonly string _server;
    private readonly string? _serverFolder;
    private readonly string _name = "rs_bench_" + Guid.NewGuid().ToString("N");

    private BenchmarkServer(string server, string? serverFolder)
    {
        _server = server;
        _serverFolder = serverFolder;
        using (var admin = new NpgsqlConnection(server))
        {
            admin.Open();
            using var create = new NpgsqlCommand($"create database {_name}", admin);
            create.ExecuteNonQuery();
        }

        ConnectionString = new NpgsqlConnectionStringBuilder(server) { Database = _name }.ConnectionString;
    }

    /// <summary>Gets the connection string of the run's database.</summary>
    public string ConnectionString { get; }

    /// <summary>Creates the run's database, starting a server in <paramref name="folder"/> when the environment names none.</summary>
    /// <returns>The database.</returns>
    public static BenchmarkServer Start(string folder) =>
        Environment.GetEnvironmentVariable("REMOTESUPPORT_POSTGRESQL") is { Length: > 0 } given
            ? new BenchmarkServer(given, null)
            : new BenchmarkServer(Run("start", Path.Combine(folder, "postgres")), Path.Combine(folder, "postgres"));

    /// <summary>Drops the run's database; stops the server if this run started it.</summary>
    public void Dispose()
    {
        NpgsqlConnection.ClearAllPools();
        using (var admin = new NpgsqlConnection(_server))
        {
            admin.Open();
            using var drop = new NpgsqlCommand($"drop database if exists {_name} with (force)", admin);
            drop.ExecuteNonQuery();
        }

        if (_serverFolder is not null)
        {
            Run("stop", _serverFolder);
        }
    }

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
