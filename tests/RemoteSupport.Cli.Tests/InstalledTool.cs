using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;

namespace RemoteSupport.Cli.Tests;

/// <summary>
/// The rsupport tool as its users get it: the package this project's build packed, installed with
/// <c>dotnet tool install --tool-path</c> from that folder alone (a private package cache, so no stale copy is used).
/// </summary>
public sealed class InstalledTool : IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "rs-cli-tool-" + Guid.NewGuid().ToString("N"));

    /// <summary>Gets the dotnet installation the tests run on (the installed tool's shim needs it).</summary>
    public static string DotnetRoot { get; } = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));

    /// <summary>Gets the folder the tool is installed in (put it on PATH to run <c>rsupport</c> by name).</summary>
    public string ToolPath => Path.Combine(_root, "tools");

    /// <summary>Gets the installed command.</summary>
    public string Executable => Path.Combine(ToolPath, "rsupport");

    /// <summary>Gets the package's version (the libraries' version).</summary>
    public string Version { get; private set; } = "";

    public async Task InitializeAsync()
    {
        string packages = Path.Combine(AppContext.BaseDirectory, "tool-package");
        string package = Directory.GetFiles(packages, "RemoteSupport.Cli.*.nupkg").Should().ContainSingle("the build packs the tool into {0}", packages).Subject;
        Version = Path.GetFileNameWithoutExtension(package)["RemoteSupport.Cli.".Length..];
        Directory.CreateDirectory(_root);
        string config = Path.Combine(_root, "nuget.config");
        await File.WriteAllTextAsync(config, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="packed" value="{packages}" />
              </packageSources>
            </configuration>
            """);
        var install = new ProcessStartInfo(Path.Combine(DotnetRoot, "dotnet"))
        {
            WorkingDirectory = _root,
            ArgumentList = { "tool", "install", "RemoteSupport.Cli", "--tool-path", ToolPath, "--version", Version, "--configfile", config },
            Environment = { ["NUGET_PACKAGES"] = Path.Combine(_root, "packages"), ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1", ["DOTNET_NOLOGO"] = "1" },
        };
        ToolRun run = await RunAsync(install, null);
        run.ExitCode.Should().Be(0, "dotnet tool install succeeds: {0}{1}", run.Stdout, run.Stderr);
        File.Exists(Executable).Should().BeTrue();
    }

    public Task DisposeAsync()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }

        return Task.CompletedTask;
    }

    /// <summary>Runs <c>rsupport</c> with <paramref name="arguments"/> in <paramref name="workingDirectory"/>.</summary>
    public Task<ToolRun> RunAsync(string workingDirectory, params string[] arguments) => RunAsync(workingDirectory, null, null, arguments);

    /// <summary>Runs <c>rsupport</c> with <paramref name="stdin"/> on its standard input and extra environment variables.</summary>
    public Task<ToolRun> RunAsync(string workingDirectory, string? stdin, IReadOnlyDictionary<string, string>? environment, params string[] arguments)
    {
        var start = new ProcessStartInfo(Executable) { WorkingDirectory = workingDirectory };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        Configure(start, environment);
        return RunAsync(start, stdin);
    }

    /// <summary>Sets what the tool's shim needs to find dotnet and keeps the output plain.</summary>
    public void Configure(ProcessStartInfo start, IReadOnlyDictionary<string, string>? environment = null)
    {
        start.Environment["DOTNET_ROOT"] = DotnetRoot;
        start.Environment["PATH"] = ToolPath + Path.PathSeparator + DotnetRoot + Path.PathSeparator + Environment.GetEnvironmentVariable("PATH");
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["NO_COLOR"] = "1";
        foreach ((string name, string value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }
    }

    /// <summary>Runs a process to its end, with its output captured and <paramref name="stdin"/> (or nothing) as its input.</summary>
    public static Task<ToolRun> RunAsync(ProcessStartInfo start, string? stdin) => RunAsync(start, stdin, null);

    /// <summary>
    /// Runs a process to its end and reads its peak resident set (VmHWM of /proc/PID/status, the kernel's high-water
    /// mark) every 5 ms while it runs: the last read before it exits is its peak up to then.
    /// </summary>
    public static async Task<(ToolRun Run, long PeakResidentBytes)> RunMeasuredAsync(ProcessStartInfo start)
    {
        long peak = 0;
        ToolRun run = await RunAsync(start, null, pid =>
        {
            try
            {
                foreach (string line in File.ReadLines($"/proc/{pid}/status"))
                {
                    if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    {
                        peak = Math.Max(peak, long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024);
                    }
                }
            }
            catch (IOException)
            {
                // It has just exited.
            }
        });
        return (run, peak);
    }

    private static async Task<ToolRun> RunAsync(ProcessStartInfo start, string? stdin, Action<int>? sample)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.RedirectStandardInput = true;
        start.UseShellExecute = false;
        start.StandardOutputEncoding = Encoding.UTF8;
        start.StandardErrorEncoding = Encoding.UTF8;
        using var process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
        }

        process.StandardInput.Close();
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        try
        {
            if (sample is not null)
            {
                while (!process.HasExited)
                {
                    sample(process.Id);
                    await Task.Delay(5, limit.Token);
                }
            }

            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{start.FileName} {string.Join(' ', start.ArgumentList)} did not end within 5 minutes.");
        }

        return new ToolRun(process.ExitCode, await stdout, await stderr);
    }
}

/// <summary>One run of the tool: its exit code and output.</summary>
public sealed record ToolRun(int ExitCode, string Stdout, string Stderr)
{
    /// <summary>Parses stdout as the one JSON object <c>--json</c> prints.</summary>
    public JsonObject Json() => JsonNode.Parse(Stdout)!.AsObject();

    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
}

[CollectionDefinition(nameof(InstalledTool))]
public sealed class InstalledToolCollection : ICollectionFixture<InstalledTool>
{
}
