using System.CommandLine;
using Npgsql;
using RemoteSupport.Journal;
using RemoteSupport.Ledger;
using RemoteSupport.PostgreSql.Journal;

namespace RemoteSupport.Cli;

/// <summary>
/// Where a command's charge ledger (and statement journal) are: single journal files (<c>--ledger</c>,
/// <c>--statements</c>), or the vendor's books (<see cref="VendorBooks"/>'s journals <c>ledger/{customer}</c> and
/// <c>statements</c>) in a folder (<c>--books</c>) or in PostgreSQL (<c>--books-database-env</c>: the variable holding
/// the connection string, never the string itself, since it may hold a password).
/// </summary>
internal sealed class Books
{
    private readonly Option<string?> _ledger;
    private readonly Option<string?>? _statements;
    private readonly Option<string?> _folder;
    private readonly Option<string?> _database;
    private readonly bool _existingLedger;

    /// <param name="command">The command the options are added to.</param>
    /// <param name="withStatements">Whether the command also needs the statement journal.</param>
    /// <param name="existingLedger">Whether a ledger file must already exist (a statement from a mistyped path would be empty).</param>
    public Books(Command command, bool withStatements, bool existingLedger)
    {
        _existingLedger = existingLedger;
        _ledger = Opt.Optional("--ledger", "The ledger: one journal file (docs/formats/journal.md; created when missing).");
        _folder = Opt.Optional("--books", "Or: the vendor's books folder (the journal files of AddRemoteSupportVendorBooks): the customer's ledger and the statement journal in it.");
        _database = Opt.Optional("--books-database-env", "Or: the environment variable holding the Npgsql connection string of the vendor's books in PostgreSQL (AddRemoteSupportPostgreSql).");
        command.Options.Add(_ledger);
        if (withStatements)
        {
            _statements = Opt.Optional("--statements", "With --ledger: the vendor's statement journal file (numbers without gaps; created when missing).");
            command.Options.Add(_statements);
        }

        command.Options.Add(_folder);
        command.Options.Add(_database);
        command.Validators.Add(result =>
        {
            int given = (result.GetValue(_ledger) is null ? 0 : 1) + (result.GetValue(_folder) is null ? 0 : 1) + (result.GetValue(_database) is null ? 0 : 1);
            if (given != 1)
            {
                result.AddError("Give the ledger one way: --ledger FILE, --books FOLDER or --books-database-env NAME.");
            }
            else if (_statements is not null && (result.GetValue(_ledger) is null) != (result.GetValue(_statements) is null))
            {
                result.AddError("--ledger and --statements go together (with --books or --books-database-env the books hold both).");
            }
        });
    }

    /// <summary>Opens the customer's ledger journal and, when the command has one, the statement journal.</summary>
    public async Task<OpenBooks> OpenAsync(ParseResult parse, string customerId, CancellationToken cancellationToken)
    {
        if (parse.GetValue(_ledger) is { } ledgerFile)
        {
            if (_existingLedger && !File.Exists(ledgerFile))
            {
                throw new CliException(ExitCode.IO, $"{ledgerFile}: there is no such ledger journal.");
            }

            AppendOnlyJournal ledger = await OpenFileAsync(ledgerFile, cancellationToken).ConfigureAwait(false);
            try
            {
                AppendOnlyJournal? statements = _statements is not null && parse.GetValue(_statements) is { } statementsFile ? await OpenFileAsync(statementsFile, cancellationToken).ConfigureAwait(false) : null;
                return new OpenBooks(ledger, statements, [ledger, statements], null, ledgerFile);
            }
            catch
            {
                await ledger.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }

        string? folder = parse.GetValue(_folder);
        NpgsqlDataSource? database = folder is null ? Database(parse.GetValue(_database)!) : null;
        IRecordJournalStore store = database is null ? new FileRecordJournalStore(folder!) : new PostgreSqlRecordJournalStore(database);
        string where = folder ?? $"PostgreSQL ({parse.GetValue(_database)})";
        try
        {
            IRecordJournal ledger = await store.OpenJournalAsync(VendorBooks.LedgerJournalName(customerId), cancellationToken).ConfigureAwait(false);
            IRecordJournal? statements = _statements is null ? null : await store.OpenJournalAsync(VendorBooks.StatementsJournalName, cancellationToken).ConfigureAwait(false);
            return new OpenBooks(ledger, statements, [store, database], store, where);
        }
        catch (Exception e) when (e is NpgsqlException or JournalException or IOException)
        {
            await store.DisposeAsync().ConfigureAwait(false);
            if (database is not null)
            {
                await database.DisposeAsync().ConfigureAwait(false);
            }

            throw new CliException(ExitCode.IO, $"{where}: {CliConsole.Sentence(e.Message)}", e);
        }
    }

    private static NpgsqlDataSource Database(string variable)
    {
        string connection = Environment.GetEnvironmentVariable(variable) is { Length: > 0 } value
            ? value
            : throw new CliException(ExitCode.Usage, $"--books-database-env {variable}: the environment variable is not set.");
        try
        {
            return NpgsqlDataSource.Create(connection);
        }
        catch (ArgumentException e)
        {
            throw new CliException(ExitCode.Usage, $"--books-database-env {variable}: not an Npgsql connection string ({CliConsole.Sentence(e.Message).TrimEnd('.')}).", e);
        }
    }

    private static async Task<AppendOnlyJournal> OpenFileAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            return await AppendOnlyJournal.OpenAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (JournalException e)
        {
            throw new CliException(ExitCode.IO, $"{path}: {CliConsole.Sentence(e.Message)}", e);
        }
    }
}

/// <summary>The journals a command works on, closed together.</summary>
internal sealed class OpenBooks(IRecordJournal ledger, IRecordJournal? statements, IReadOnlyList<IAsyncDisposable?> owned, IRecordJournalStore? store, string where) : IAsyncDisposable
{
    public IRecordJournal Ledger { get; } = ledger;

    public IRecordJournal? Statements { get; } = statements;

    /// <summary>Gets the store the journals came from, when not single files.</summary>
    public IRecordJournalStore? Store { get; } = store;

    /// <summary>Gets what errors name: the ledger file, the books folder or the database variable.</summary>
    public string Where { get; } = where;

    public async ValueTask DisposeAsync()
    {
        foreach (IAsyncDisposable? disposable in owned)
        {
            if (disposable is not null)
            {
                await disposable.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
