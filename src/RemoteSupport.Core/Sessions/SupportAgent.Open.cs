using RemoteSupport.Audit;
using RemoteSupport.Authorization;
using RemoteSupport.Consent;
using RemoteSupport.DataFiles;
using RemoteSupport.Documents;
using RemoteSupport.Fixes;
using RemoteSupport.GroundRules;
using RemoteSupport.Journal;
using RemoteSupport.Ledger;

namespace RemoteSupport.Sessions;

/// <summary>An agent opened from its options: the unit's durable state in one folder, every collaborator built once.</summary>
public sealed partial class SupportAgent : IAsyncDisposable
{
    private readonly List<object> _owned = [];

    /// <summary>
    /// Checks <paramref name="options"/> (<see cref="SupportAgentOptions.Validate"/>), opens the unit's
    /// durable state from <see cref="SupportAgentOptions.StateFolder"/> (audit journal, charge ledger,
    /// approval use counter, fix work folder and inbox), accepts the ground rules and authorizations,
    /// and builds the consent gate, the data file store and the fix installer from them.
    /// </summary>
    /// <returns>The agent; dispose it to close its journals.</returns>
    /// <param name="options">The agent's settings and the contract's documents.</param>
    /// <param name="cancellationToken">Stops the open (the journals' recovery).</param>
    /// <exception cref="ArgumentException">The options are incomplete or inconsistent; the message lists every problem.</exception>
    /// <exception cref="InvalidOperationException">A document given in the options was refused (its sentence says why).</exception>
    /// <exception cref="JournalException">A journal in the state folder is damaged.</exception>
    public static async Task<SupportAgent> OpenAsync(SupportAgentOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        IReadOnlyList<string> problems = options.Validate();
        if (problems.Count > 0)
        {
            Error.Argument(nameof(options), "The agent's options are incomplete: " + string.Join(" ", problems));
        }

        TimeProvider time = options.TimeProvider;
        var owned = new List<object>();
        try
        {
            string state = Directory.CreateDirectory(options.StateFolder).FullName;
            AppendOnlyJournal auditJournal = await Own(owned, AppendOnlyJournal.OpenAsync(Path.Combine(state, "audit.journal"), cancellationToken: cancellationToken)).ConfigureAwait(false);
            var audit = new AuditLog(auditJournal, time);
            var groundRules = new GroundRulesBook(options.Trust!) { CustomerId = options.CustomerId };
            Accepted(groundRules.Accept(options.GroundRules!), "ground rules");
            var authorizations = new AuthorizationBook(options.Trust!, time) { CustomerId = options.CustomerId };
            foreach (SignedEnvelope authorization in options.Authorizations)
            {
                Accepted(authorizations.Accept(authorization), "authorization");
            }

            AppendOnlyJournal ledgerJournal = await Own(owned, AppendOnlyJournal.OpenAsync(Path.Combine(state, "ledger.journal"), cancellationToken: cancellationToken)).ConfigureAwait(false);
            ChargeLedger ledger = Own(owned, await ChargeLedger.OpenAsync(ledgerJournal, groundRules, time, cancellationToken).ConfigureAwait(false));
            FileApprovalUseCounter uses = Own(owned, FileApprovalUseCounter.Open(Path.Combine(state, "approval-uses.log")));
            var parts = new SupportAgentParts
            {
                UnitId = options.UnitId,
                CustomerId = options.CustomerId,
                Identity = options.Identity!,
                Authorizations = authorizations,
                GroundRules = groundRules,
                Gate = new ConsentGate(options.Trust!, authorizations, groundRules, uses, audit, time),
                DataFiles = new DataFileStore(new Dictionary<string, string>(options.DataRoots, StringComparer.Ordinal)),
                Audit = audit,
                Ledger = ledger,
                ApprovalPrompt = options.ApprovalPrompt,
                HelloTimeout = options.HelloTimeout,
                ApprovalTimeout = options.ApprovalTimeout,
                MaxViewBytes = options.MaxViewBytes,
                Fixes = await FixesFromAsync(options, state, audit).ConfigureAwait(false),
                TimeProvider = time,
                Logger = options.Logger,
            };
            foreach ((string name, Func<CancellationToken, Task<string>> diagnostic) in options.Diagnostics)
            {
                parts.Diagnostics[name] = diagnostic;
            }

            var agent = new SupportAgent(parts);
            agent._owned.AddRange(owned);
            return agent;
        }
        catch
        {
            await DisposeAllAsync(owned).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Gets the customer's authorizations of vendors (accept a revocation here while the agent runs).</summary>
    public AuthorizationBook Authorizations => _options.Authorizations;

    /// <summary>Gets the ground rules book (accept an amendment here while the agent runs).</summary>
    public GroundRulesBook GroundRules => _options.GroundRules;

    /// <summary>Gets the unit's audit log.</summary>
    public AuditLog Audit => _options.Audit;

    /// <summary>Gets the charge ledger sessions are metered into.</summary>
    public ChargeLedger Ledger => _options.Ledger;

    /// <summary>Gets the key name the unit signs its checkpoints under: <c>&lt;customer&gt;/&lt;unit&gt;</c> (for example <c>fabrikam/unit-7</c>).</summary>
    public string CheckpointKeyName => $"{_options.CustomerId}/{_options.UnitId}";

    /// <summary>
    /// Signs a checkpoint of the unit's audit journal with the unit's key, under <see cref="CheckpointKeyName"/>, with
    /// the origin <c>&lt;customer&gt;/&lt;unit&gt;/audit</c>. A verifier learns the key from the customer's own
    /// enrolment of the unit (its <c>unit</c> key in the customer's trust store), never from the checkpoint.
    /// </summary>
    /// <returns>The signed note (docs/formats/journal.md).</returns>
    public string SignAuditCheckpoint() => SignCheckpoint(_options.Audit.Journal, "audit");

    /// <summary>Signs a checkpoint of the unit's charge ledger as <see cref="SignAuditCheckpoint"/> does, with the origin <c>&lt;customer&gt;/&lt;unit&gt;/ledger</c>.</summary>
    /// <returns>The signed note.</returns>
    public string SignLedgerCheckpoint() => SignCheckpoint(_options.Ledger.Journal, "ledger");

    private string SignCheckpoint(IRecordJournal journal, string log)
    {
        long size = journal.Count;
        return new Checkpoint($"{CheckpointKeyName}/{log}", size, journal.Root(size)).Sign(CheckpointKeyName, _options.Identity);
    }

    /// <summary>Closes what <see cref="OpenAsync"/> opened (the journals and the approval use counter); an agent built from its parts owns nothing.</summary>
    /// <returns>A task that completes when every journal is closed.</returns>
    public async ValueTask DisposeAsync()
    {
        List<object> owned;
        lock (_owned)
        {
            owned = [.. _owned];
            _owned.Clear();
        }

        await DisposeAllAsync(owned).ConfigureAwait(false);
    }

    /// <summary>The installer over the state folder's work folder; an install a crash interrupted is finished or rolled back first.</summary>
    private static async Task<FixInstallOptions?> FixesFromAsync(SupportAgentOptions options, string state, AuditLog audit)
    {
        SupportAgentFixOptions fixes = options.Fixes;
        if (fixes.InstallRoot is null)
        {
            return null;
        }

        var installer = new FixInstaller(fixes.InstallRoot, Path.Combine(state, "fix-work"), options.Identity!, options.TimeProvider, audit);
        await installer.RecoverAsync().ConfigureAwait(false);
        string product = fixes.Product!;
        return new FixInstallOptions
        {
            Trust = new FixTrust(fixes.VendorRoot!, options.TimeProvider),
            Installer = installer,
            Context = () => new FixContext(options.UnitId, options.CustomerId, fixes.ContractId, product, installer.InstalledVersion(product) ?? fixes.InstalledVersion),
            Inbox = Path.Combine(state, "inbox"),
            HealthCheck = fixes.HealthCheck,
            MaxPackageBytes = fixes.MaxPackageBytes,
        };
    }

    private static void Accepted(DocumentAcceptance acceptance, string what)
    {
        if (!acceptance.IsAccepted)
        {
            throw new InvalidOperationException($"The {what} given in the agent's options was refused ({acceptance.Reason}): {acceptance.Sentence}");
        }
    }

    private static T Own<T>(List<object> owned, T item)
        where T : notnull
    {
        owned.Add(item);
        return item;
    }

    private static async Task<T> Own<T>(List<object> owned, Task<T> opening)
        where T : notnull => Own(owned, await opening.ConfigureAwait(false));

    private static async Task DisposeAllAsync(List<object> owned)
    {
        // The last opened closes first: the ledger before its journal.
        for (int i = owned.Count - 1; i >= 0; i--)
        {
            switch (owned[i])
            {
                case IAsyncDisposable asynchronous:
                    await asynchronous.DisposeAsync().ConfigureAwait(false);
                    break;
                case IDisposable synchronous:
                    synchronous.Dispose();
                    break;
            }
        }
    }
}
