using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace RemoteSupport.Cli;

/// <summary>rsupport's exit codes (docs/guides/cli.md); stable across versions.</summary>
internal enum ExitCode
{
    /// <summary>Done; every check passed.</summary>
    Ok = 0,

    /// <summary>Read fine, but refused: a signature, trust, expiry, passphrase, policy or verification finding.</summary>
    Refused = 1,

    /// <summary>The command line is wrong: an unknown command or option, a missing or malformed value.</summary>
    Usage = 2,

    /// <summary>A file is missing, unreadable or unwritable, or is not in the format it should be.</summary>
    IO = 3,

    /// <summary>A bug in rsupport or the libraries (run again with <c>--verbose</c> and report it).</summary>
    Internal = 4,
}

/// <summary>An expected refusal of a command: its exit code and one sentence naming the file and the problem.</summary>
internal sealed class CliException(ExitCode code, string sentence, Exception? inner = null) : Exception(sentence, inner)
{
    public ExitCode Code { get; } = code;
}

/// <summary>
/// Where a command's result goes: text (Spectre.Console, plain when redirected) or exactly one JSON object on
/// stdout with <c>--json</c>; errors as one sentence on stderr.
/// </summary>
internal sealed class CliConsole
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public CliConsole(TextWriter stdout, TextWriter stderr, TextReader stdin, bool json, bool verbose)
    {
        Out = stdout;
        Error = stderr;
        In = stdin;
        IsJson = json;
        IsVerbose = verbose;
        bool terminal = ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected;
        Ansi = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(stdout),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = terminal ? InteractionSupport.Detect : InteractionSupport.No,
        });
        if (!terminal)
        {
            Ansi.Profile.Width = 160;
        }

        IsTerminal = terminal;
    }

    public TextWriter Out { get; }

    public TextWriter Error { get; }

    public TextReader In { get; }

    public bool IsJson { get; }

    /// <summary>Gets the clock every command reads (validity windows, expiries, approval times).</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;

    public bool IsVerbose { get; }

    /// <summary>Gets whether stdout is a terminal (progress bars and colours only then).</summary>
    public bool IsTerminal { get; }

    public IAnsiConsole Ansi { get; }

    /// <summary>Prints a command's report and returns its exit code.</summary>
    public int Done(Report report, ExitCode code = ExitCode.Ok)
    {
        if (IsJson)
        {
            var result = new JsonObject { ["ok"] = code == ExitCode.Ok, ["exitCode"] = (int)code };
            if (code != ExitCode.Ok && report.Refusal is { } refusal)
            {
                result["error"] = refusal;
            }

            foreach (KeyValuePair<string, JsonNode?> pair in report.Json)
            {
                result[pair.Key] = pair.Value?.DeepClone();
            }

            Out.WriteLine(result.ToJsonString(Indented));
        }
        else
        {
            report.Render(Ansi);
        }

        if (code != ExitCode.Ok && report.Refusal is { } sentence)
        {
            Error.WriteLine($"rsupport: {sentence}");
        }

        return (int)code;
    }

    /// <summary>Reports a failure: one sentence on stderr (the stack trace too with --verbose), one JSON object with --json.</summary>
    public int Fail(ExitCode code, string sentence, Exception? exception)
    {
        Error.WriteLine($"rsupport: {sentence}");
        if (IsVerbose && exception is not null)
        {
            Error.WriteLine(exception.ToString());
        }

        if (IsJson)
        {
            Out.WriteLine(new JsonObject { ["ok"] = false, ["exitCode"] = (int)code, ["error"] = sentence }.ToJsonString(Indented));
        }

        return (int)code;
    }

    public int Fail(Exception exception) => exception switch
    {
        CliException cli => Fail(cli.Code, cli.Message, cli.InnerException ?? cli),
        OperationCanceledException => Fail(ExitCode.Refused, "Interrupted before the command finished; nothing it was writing was left half-written.", exception),
        FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException or IOException =>
            Fail(ExitCode.IO, Sentence(exception.Message), exception),
        _ => Fail(ExitCode.Internal, $"Internal error ({exception.GetType().Name}): {Sentence(exception.Message)} Run again with --verbose and report it.", exception),
    };

    /// <summary>A message as one sentence: trimmed, ending in a full stop.</summary>
    public static string Sentence(string message)
    {
        string trimmed = message.Trim().ReplaceLineEndings(" ");
        return trimmed.EndsWith('.') || trimmed.EndsWith('?') || trimmed.EndsWith('!') ? trimmed : trimmed + ".";
    }
}
