using System.CommandLine;

namespace RemoteSupport.Cli;

/// <summary>Shorthands for the options and arguments commands declare.</summary>
internal static class Opt
{
    public static Option<string> Required(string name, string description) => new(name) { Description = description, Required = true };

    public static Option<string?> Optional(string name, string description) => new(name) { Description = description };

    public static Option<string[]> Many(string name, string description, bool required = true) =>
        new(name) { Description = description, Required = required, AllowMultipleArgumentsPerToken = false, Arity = required ? ArgumentArity.OneOrMore : ArgumentArity.ZeroOrMore };

    public static Argument<string> File(string name, string description) => new(name) { Description = description };

    /// <summary>A command with its description and one example line, shown by --help.</summary>
    public static Command Command(string name, string description, string example)
    {
        var command = new Command(name, description);
        Examples.Add(command, example);
        return command;
    }

    /// <summary>A command with its description, one example line, and its arguments and options in order.</summary>
    public static Command Command(string name, string description, string example, params Symbol[] symbols)
    {
        Command command = Command(name, description, example);
        foreach (Symbol symbol in symbols)
        {
            switch (symbol)
            {
                case Argument argument:
                    command.Arguments.Add(argument);
                    break;
                case Option option:
                    command.Options.Add(option);
                    break;
                default:
                    throw new ArgumentException($"{symbol.Name} is neither an argument nor an option.", nameof(symbols));
            }
        }

        return command;
    }

    /// <summary>Each command's example, printed after its --help text.</summary>
    public static System.Runtime.CompilerServices.ConditionalWeakTable<Command, string> Examples { get; } = [];

    /// <summary>A date and time in ISO 8601 (an offset or Z required), or null.</summary>
    public static DateTimeOffset? Instant(ParseResult parse, Option<string?> option)
    {
        string? text = parse.GetValue(option);
        if (text is null)
        {
            return null;
        }

        return DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out DateTimeOffset value)
            && (text.EndsWith('Z') || text.Contains('+', StringComparison.Ordinal) || text.LastIndexOf('-') > 9)
            ? value
            : throw new CliException(ExitCode.Usage, $"{option.Name} '{text}' is not a date and time with an offset (e.g. 2026-12-01T09:00:00+01:00 or 2026-12-01T08:00:00Z).");
    }
}
