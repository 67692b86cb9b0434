using System.CommandLine;

namespace RemoteSupport.Cli;

/// <summary>
/// Where a passphrase comes from: a file, an environment variable or the first line of stdin; never argv,
/// never a prompt that waits.
/// </summary>
internal sealed class PassphraseOptions
{
    private readonly Option<FileInfo?> _file;
    private readonly Option<string?> _environment;
    private readonly Option<bool> _stdin;

    public PassphraseOptions(Command command, string purpose)
    {
        _file = new Option<FileInfo?>("--passphrase-file") { Description = $"Read the passphrase that {purpose} from the first line of this file." };
        _environment = new Option<string?>("--passphrase-env") { Description = $"Read the passphrase that {purpose} from this environment variable." };
        _stdin = new Option<bool>("--passphrase-stdin") { Description = $"Read the passphrase that {purpose} from the first line of stdin." };
        command.Options.Add(_file);
        command.Options.Add(_environment);
        command.Options.Add(_stdin);
        command.Validators.Add(result =>
        {
            int given = (result.GetValue(_file) is null ? 0 : 1) + (result.GetValue(_environment) is null ? 0 : 1) + (result.GetValue(_stdin) ? 1 : 0);
            if (given > 1)
            {
                result.AddError("Give the passphrase one way: --passphrase-file, --passphrase-env or --passphrase-stdin.");
            }
        });
    }

    /// <summary>Reads the passphrase, or null when none was given.</summary>
    public string? Read(ParseResult parse, CliConsole console)
    {
        if (parse.GetValue(_file) is { } file)
        {
            try
            {
                using StreamReader reader = file.OpenText();
                return NonEmpty(reader.ReadLine(), file.FullName);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                throw new CliException(ExitCode.IO, $"{file}: there is no such passphrase file.", e);
            }
        }

        if (parse.GetValue(_environment) is { } variable)
        {
            return Environment.GetEnvironmentVariable(variable) is { Length: > 0 } value
                ? value
                : throw new CliException(ExitCode.Usage, $"The environment variable {variable} holds no passphrase.");
        }

        return parse.GetValue(_stdin) ? NonEmpty(console.In.ReadLine(), "stdin") : null;
    }

    private static string NonEmpty(string? line, string source) =>
        string.IsNullOrEmpty(line) ? throw new CliException(ExitCode.Usage, $"{source}: the first line holds no passphrase.") : line;
}
