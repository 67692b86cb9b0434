using Npgsql;

namespace RemoteSupport.PostgreSql.Tests;

/// <summary>
/// A test against a real PostgreSQL server, whose connection string is in <c>REMOTESUPPORT_POSTGRESQL</c>
/// (<c>.ci/run</c> starts one with <c>eng/postgres.sh</c>). Without it the test is reported as not run, with the
/// reason, never as passed; <c>.ci/run</c> fails when these tests did not run.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class PostgreSqlFactAttribute : FactAttribute
{
    public PostgreSqlFactAttribute()
    {
        if (PostgreSqlServer.ConnectionString is null)
        {
            Skip = $"Not run: no PostgreSQL server. Set {PostgreSqlServer.Variable} to an Npgsql connection string (.ci/run starts a server with eng/postgres.sh).";
        }
    }
}

/// <summary>The trait of every test that needs the server (<c>--filter Requires=PostgreSQL</c>).</summary>
public static class PostgreSqlTrait
{
    public const string Name = "Requires";
    public const string Value = "PostgreSQL";
}

/// <summary>A fresh database on the test server for one test, dropped afterwards.</summary>
public sealed class PostgreSqlServer : IAsyncDisposable
{
    public const string Variable = "REMOTESUPPORT_POSTGRESQL";

    private readonly string _name;

    private PostgreSqlServer(string name, NpgsqlDataSource database)
    {
        _name = name;
        Database = database;
    }

    public static string? ConnectionString => Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } value ? value : null;

    public NpgsqlDataSource Database { get; }

    public string DatabaseName => _name;

    public static async Task<PostgreSqlServer> CreateDatabaseAsync()
    {
        string name = "rs_test_" + Guid.NewGuid().ToString("N");
        await using (var admin = new NpgsqlConnection(ConnectionString))
        {
            await admin.OpenAsync();
            await using var create = new NpgsqlCommand($"create database {name}", admin);
            await create.ExecuteNonQueryAsync();
        }

        return new PostgreSqlServer(name, NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(ConnectionString) { Database = name, MaxPoolSize = 40 }.ConnectionString));
    }

    /// <summary>Runs SQL on the test database outside the package, as someone editing rows behind its back would.</summary>
    public async Task ExecuteAsync(string sql)
    {
        await using NpgsqlConnection connection = await Database.OpenConnectionAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await Database.DisposeAsync();
        NpgsqlConnection.ClearAllPools();
        await using var admin = new NpgsqlConnection(ConnectionString);
        await admin.OpenAsync();
        await using var drop = new NpgsqlCommand($"drop database if exists {_name} with (force)", admin);
        await drop.ExecuteNonQueryAsync();
    }
}
