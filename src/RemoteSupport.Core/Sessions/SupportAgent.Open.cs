using RemoteSupport.Audit;
using RemoteSupport.Authorization;
using RemoteSupport.Consent;
using RemoteSupport.Contract;
using RemoteSupport.DataFiles;
using RemoteSupport.Documents;
using RemoteSupport.Evidence;
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
    /// durable state from <see cref="SupportAgentOptions.StateFolder"/> (audit journal with the contract state,
    /// charge ledger, fix work folder and inbox), offers the options' ground rules, authorizations and vendor
    /// root to the contract state (one it has moved past, such as a revoked authorization, is logged and left out),
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
            ContractState contract = Own(owned, await ContractState.OpenAsync(audit, options.Trust!, options.CustomerId, time, cancellationToken).ConfigureAwait(false));
            await OfferAsync(contract, options.GroundRules!, "ground rules", options, cancellationToken).ConfigureAwait(false);
            foreach (SignedEnvelope authorization in options.Authorizations)
            {
                await OfferAsync(contract, authorization, "authorization", options, cancellationToken).ConfigureAwait(false);
            }

            if (options.Fixes.InstallRoot is not null)
            {
                await OfferAsync(contract, options.Fixes.VendorRoot!, "vendor root", options, cancellationToken).ConfigureAwait(false);
            }

            await ImportUseFileAsync(contract, Path.Combine(state, "approval-uses.log"), cancellationToken).ConfigureAwait(false);
            AppendOnlyJournal ledgerJournal = await Own(owned, AppendOnlyJournal.OpenAsync(Path.Combine(state, "ledger.journal"), cancellationToken: cancellationToken)).ConfigureAwait(false);
            ChargeLedger ledger = Own(owned, await ChargeLedger.OpenAsync(ledgerJournal, contract.GroundRules, time, cancellationToken).ConfigureAwait(false));
            await contract.AttachLedgerAsync(ledger, cancellationToken).ConfigureAwait(false);
            var parts = new SupportAgentParts
            {
                UnitId = options.UnitId,
                CustomerId = options.CustomerId,
                Identity = options.Identity!,
                Authorizations = contract.Authorizations,
                GroundRules = contract.GroundRules,
                Contract = contract,
                Gate = new ConsentGate(options.Trust!, contract.Authorizations, contract.GroundRules, contract, audit, time),
                DataFiles = new DataFileStore(new Dictionary<string, string>(options.DataRoots, StringComparer.Ordinal)),
                Audit = audit,
                Ledger = ledger,
                ApprovalPrompt = options.ApprovalPrompt,
                HelloTimeout = options.HelloTimeout,
                ApprovalTimeout = options.ApprovalTimeout,
                RequestCompatibilitySpecification = options.RequestCompatibilitySpecification,
                MaxViewBytes = options.MaxViewBytes,
                Fixes = await FixesFromAsync(options, state, audit, contract.VendorRoot).ConfigureAwait(false),
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

    /// <summary>Gets the customer's authorizations of vendors (give a revocation to <see cref="AcceptAsync"/> while the agent runs).</summary>
    public AuthorizationBook Authorizations => _options.Authorizations;

    /// <summary>Gets the ground rules book (give an amendment to <see cref="AcceptAsync"/> while the agent runs).</summary>
    public GroundRulesBook GroundRules => _options.GroundRules;

    /// <summary>Gets the unit's durable contract state, or null for an agent built from parts without one.</summary>
    public ContractState? Contract => _options.Contract;

    /// <summary>
    /// Accepts a signed contract document while the agent runs (an authorization or revocation, a ground rules
    /// amendment, a key rotation, a new vendor root, a charge approval or dispute): journaled in the audit
    /// journal before it takes effect, so it survives a restart (<see cref="ContractState.AcceptAsync"/>).
    /// </summary>
    /// <returns>Accepted, or why not.</returns>
    /// <param name="document">The signed document.</param>
    /// <param name="cancellationToken">Stops waiting for the journal.</param>
    /// <exception cref="InvalidOperationException">The agent was built from parts without a <see cref="SupportAgentParts.Contract"/>.</exception>
    public Task<DocumentAcceptance> AcceptAsync(SignedEnvelope document, CancellationToken cancellationToken = default) =>
        RequireContract().AcceptAsync(document, cancellationToken);

    /// <summary>Revokes a trusted key on the unit, journaled first (<see cref="ContractState.RevokeKeyAsync"/>).</summary>
    /// <returns>True when the key was trusted and is now revoked.</returns>
    /// <param name="key">The key.</param>
    /// <param name="reason">Why.</param>
    /// <param name="cancellationToken">Stops waiting for the journal.</param>
    /// <exception cref="InvalidOperationException">The agent was built from parts without a <see cref="SupportAgentParts.Contract"/>.</exception>
    public Task<bool> RevokeKeyAsync(Identities.PartyKey key, string reason, CancellationToken cancellationToken = default) =>
        RequireContract().RevokeKeyAsync(key, reason, cancellationToken);

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

    /// <summary>
    /// Writes an evidence bundle of the unit for the period [<paramref name="from"/>, <paramref name="until"/>) into the
    /// new folder <paramref name="folder"/> (docs/formats/evidence.md): the trust snapshot, the audit and ledger journals
    /// with checkpoints the unit signs now, and the documents <paramref name="documents"/> adds (the vendor's statements
    /// with their CSV, session and install receipts, approvals); the manifest is signed with the unit's key.
    /// </summary>
    /// <returns>The signed manifest.</returns>
    /// <param name="folder">The bundle folder; it must not exist or be empty.</param>
    /// <param name="from">The start of the period.</param>
    /// <param name="until">The end of the period.</param>
    /// <param name="documents">Adds the documents the customer holds to the contents; none adds nothing.</param>
    /// <param name="cancellationToken">Stops the export.</param>
    /// <exception cref="InvalidOperationException">The agent has no contract state, or no ground rules are in force (the bundle names their vendor).</exception>
    public Task<SignedEnvelope> ExportEvidenceAsync(
        string folder, DateTimeOffset from, DateTimeOffset until, Action<EvidenceContents>? documents = null, CancellationToken cancellationToken = default)
    {
        ContractState contract = RequireContract();
        string vendorId = contract.GroundRules.Current?.VendorId ?? throw new InvalidOperationException("No ground rules are in force: the bundle has no vendor.");

        // No contract record is appended meanwhile, so the trust snapshot, the checkpoints and the journals agree.
        return contract.ExclusiveAsync(
            () =>
            {
                var contents = new EvidenceContents
                {
                    CustomerId = _options.CustomerId,
                    UnitId = _options.UnitId,
                    VendorId = vendorId,
                    From = from,
                    Until = until,
                    Trust = contract.Trust,
                    Audit = new EvidenceJournal(_options.Audit.Journal, SignAuditCheckpoint()),
                    Ledger = new EvidenceJournal(_options.Ledger.Journal, SignLedgerCheckpoint()),
                };
                documents?.Invoke(contents);
                return EvidenceBundle.WriteAsync(folder, contents, _options.Identity, _options.TimeProvider, cancellationToken);
            },
            cancellationToken);
    }

    private string SignCheckpoint(IRecordJournal journal, string log)
    {
        long size = journal.Count;
        return new Checkpoint($"{CheckpointKeyName}/{log}", size, journal.Root(size)).Sign(CheckpointKeyName, _options.Identity);
    }

    /// <summary>Closes what <see cref="OpenAsync"/> opened (the journals and the contract state); an agent built from its parts owns nothing.</summary>
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

    /// <summary>Whether the unit may offer itself to the vendor now (an authorization in force covers it); otherwise why not.</summary>
    internal bool OffersService(out string why) =>
        _options.Authorizations.OffersService(_options.UnitId, _options.GroundRules.CurrentHash, out why);

    private ContractState RequireContract() => _options.Contract
        ?? throw new InvalidOperationException("This agent was built from parts without a contract state: accept documents on its books directly.");

    /// <summary>The installer over the state folder's work folder; an install a crash interrupted is finished or rolled back first.</summary>
    private static async Task<FixInstallOptions?> FixesFromAsync(SupportAgentOptions options, string state, AuditLog audit, FixTrust? root)
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
            Trust = root!,
            Installer = installer,
            Context = () => new FixContext(options.UnitId, options.CustomerId, fixes.ContractId, product, installer.InstalledVersion(product) ?? fixes.InstalledVersion),
            Inbox = Path.Combine(state, "inbox"),
            HealthCheck = fixes.HealthCheck,
            MaxPackageBytes = fixes.MaxPackageBytes,
        };
    }

    /// <summary>
    /// Offers a document of the options to the contract state: one the state has moved past (a revoked
    /// authorization, an older version) is logged and left out, since the journal is the truth; any other refusal stops the open.
    /// </summary>
    private static async Task OfferAsync(ContractState contract, SignedEnvelope document, string what, SupportAgentOptions options, CancellationToken cancellationToken)
    {
        DocumentAcceptance acceptance = await contract.AcceptAsync(document, cancellationToken).ConfigureAwait(false);
        if (acceptance.Reason == DocumentRefusal.Superseded)
        {
            AgentLog.OptionsDocumentSuperseded(options.Logger, what, acceptance.Sentence);
        }
        else if (!acceptance.IsAccepted)
        {
            throw new InvalidOperationException($"The {what} given in the agent's options was refused ({acceptance.Reason}): {acceptance.Sentence}");
        }
    }

    /// <summary>Moves the approval use counts of 1.0.0-rc.1's side file into the journal, then renames the file (<c>.imported</c>), so no count is lost or counted twice.</summary>
    private static async Task ImportUseFileAsync(ContractState contract, string path, CancellationToken cancellationToken)
    {
        if (!File.Exists(path))
        {
            return;
        }

        var uses = new Dictionary<string, int>(StringComparer.Ordinal);
        string content = await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false);
        foreach (string line in content[..(content.LastIndexOf('\n') + 1)].Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            uses[line] = uses.GetValueOrDefault(line) + 1;
        }

        await contract.ImportUsesAsync(uses, cancellationToken).ConfigureAwait(false);
        File.Move(path, path + ".imported", overwrite: true);
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
