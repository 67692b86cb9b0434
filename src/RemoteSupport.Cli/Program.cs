// rsupport: the command line of RemoteSupport (docs/guides/cli.md). Exit codes: 0 ok, 1 verification or
// policy refusal, 2 usage error, 3 I/O error (a file missing, unreadable, unwritable or not in its format),
// 4 an internal error (a bug: please report it with --verbose).
using RemoteSupport.Cli;

return await CliApplication.RunAsync(args, Console.Out, Console.Error, Console.In).ConfigureAwait(false);
