using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using RemoteSupport.Cli.Commands;

namespace RemoteSupport.Cli;

/// <summary>The command tree and the conventions every command shares: <c>--json</c>, <c>--verbose</c>, exit codes.</summary>
internal static class CliApplication
{
    /// <summary><c>--json</c> anywhere on the line: exactly one JSON object on stdout.</summary>
    public static readonly Option<bool> Json = new("--json")
    {
        Description = "Print exactly one JSON object on stdout (for pipelines) instead of text.",
        Recursive = true,
    };

    /// <summary><c>--verbose</c>: an error's stack trace on stderr.</summary>
    public static readonly Option<bool> Verbose = new("--verbose")
    {
        Description = "On an error, print its details and stack trace on stderr.",
        Recursive = true,
    };

    public static RootCommand Build(CliConsole console)
    {
        var root = new RootCommand(
            "rsupport: the RemoteSupport contract from the command line: keys, authorizations, co-signed ground rules, "
            + "written approvals, signed fixes, statements and offline verification.\n"
            + "Exit codes: 0 ok, 1 verification or policy refusal, 2 usage error, 3 I/O error, 4 internal error.");
        root.Options.Add(Json);
        root.Options.Add(Verbose);
        root.Subcommands.Add(KeyCommands.Build(console));
        root.Subcommands.Add(TrustCommands.Build(console));
        root.Subcommands.Add(AuthorizationCommands.BuildAuthorize(console));
        root.Subcommands.Add(AuthorizationCommands.BuildRevoke(console));
        root.Subcommands.Add(RulesCommands.Build(console));
        root.Subcommands.Add(ApprovalCommands.BuildApprove(console));
        root.Subcommands.Add(ApprovalCommands.BuildApprovals(console));
        root.Subcommands.Add(FixCommands.Build(console));
        root.Subcommands.Add(LedgerCommands.Build(console));
        root.Subcommands.Add(StatementCommands.Build(console));
        root.Subcommands.Add(VerifyCommand.Build(console));
        root.Subcommands.Add(SpecCommand.Build(console));
        root.Subcommands.Add(PreflightCommand.Build(console));
        HelpOption help = root.Options.OfType<HelpOption>().Single();
        help.Action = new HelpWithExample((HelpAction)help.Action!);
        return root;
    }

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, TextReader stdin)
    {
        bool json = args.Contains("--json", StringComparer.Ordinal);
        var console = new CliConsole(stdout, stderr, stdin, json, args.Contains("--verbose", StringComparer.Ordinal));
        RootCommand root = Build(console);
        ParseResult parsed = root.Parse(args);
        if (parsed.Errors.Count > 0 && parsed.Action is not HelpWithExample)
        {
            string command = parsed.CommandResult.Command is RootCommand ? "rsupport" : "rsupport " + CommandPath(parsed.CommandResult.Command);
            return console.Fail(ExitCode.Usage, $"{parsed.Errors[0].Message.TrimEnd('.')}; see '{command} --help'.", null);
        }

        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            return await parsed.InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false }, cancel.Token)
                .ConfigureAwait(false);
        }
        catch (Exception e)
        {
            return console.Fail(e);
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    private static string CommandPath(Command command)
    {
        var names = new List<string>();
        for (Command? c = command; c is not null and not RootCommand; c = c.Parents.OfType<Command>().FirstOrDefault())
        {
            names.Insert(0, c.Name);
        }

        return string.Join(' ', names);
    }

    /// <summary>The standard help, then the command's example.</summary>
    private sealed class HelpWithExample(HelpAction standard) : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            int result = standard.Invoke(parseResult);
            if (Opt.Examples.TryGetValue(parseResult.CommandResult.Command, out string? example))
            {
                parseResult.InvocationConfiguration.Output.WriteLine($"Example:\n  {example}\n");
            }

            return result;
        }
    }
}
