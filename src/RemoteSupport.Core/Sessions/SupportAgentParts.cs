using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RemoteSupport.Audit;
using RemoteSupport.Authorization;
using RemoteSupport.Consent;
using RemoteSupport.DataFiles;
using RemoteSupport.Fixes;
using RemoteSupport.GroundRules;
using RemoteSupport.Identities;
using RemoteSupport.Ledger;

namespace RemoteSupport.Sessions;

/// <summary>
/// The collaborators an agent is assembled from by hand, when the integrator brings its own stores;
/// <see cref="SupportAgent.OpenAsync"/> builds them from <see cref="SupportAgentOptions"/> and one state folder.
/// </summary>
public sealed class SupportAgentParts
{
    /// <summary>Gets the unit's id.</summary>
    public required string UnitId { get; init; }

    /// <summary>Gets the customer that owns the unit.</summary>
    public required string CustomerId { get; init; }

    /// <summary>Gets the unit's identity: it signs session receipts.</summary>
    public required PartyIdentity Identity { get; init; }

    /// <summary>Gets the customer's authorizations of vendors.</summary>
    public required AuthorizationBook Authorizations { get; init; }

    /// <summary>Gets the jointly signed ground rules in force.</summary>
    public required GroundRulesBook GroundRules { get; init; }

    /// <summary>Gets the consent gate every operation passes.</summary>
    public required ConsentGate Gate { get; init; }

    /// <summary>Gets the data roots the vendor may be allowed into.</summary>
    public required DataFileStore DataFiles { get; init; }

    /// <summary>Gets the audit log (also the gate's audit sink).</summary>
    public required AuditLog Audit { get; init; }

    /// <summary>Gets the charge ledger sessions are metered into (opened with <see cref="GroundRules"/>: one source of the toll-charge policy).</summary>
    public required ChargeLedger Ledger { get; init; }

    /// <summary>Gets or sets the customer's approver, asked when the ground rules require an approval; none means such requests are denied.</summary>
    public IApprovalPrompt? ApprovalPrompt { get; set; }

    /// <summary>
    /// Gets or sets how long a console has, from its connection, to open the session channel and send its
    /// hello; past it the connection is refused with <c>hello-timeout</c>. Default 10 s.
    /// </summary>
    public TimeSpan HelloTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Gets or sets the largest file a view carries in its result (the session message limit is 16 MiB).
    /// A larger file streams on a channel of its own to a console that takes view streams; to one that
    /// does not, it is refused with <c>file-too-large</c> before a byte is read, and the session goes on.
    /// </summary>
    /// <value>The default is 8 MiB.</value>
    public long MaxViewBytes { get; set; } = 8L * 1024 * 1024;

    /// <summary>Gets or sets how long the vendor waits for an approver before the request is denied.</summary>
    /// <value>The default is 5 minutes.</value>
    public TimeSpan ApprovalTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Gets the diagnostics the integrator registered, by name: each returns its report.</summary>
    public IDictionary<string, Func<CancellationToken, Task<string>>> Diagnostics { get; } = new Dictionary<string, Func<CancellationToken, Task<string>>>(StringComparer.Ordinal);

    /// <summary>Gets or sets how fixes are received and installed; none means the unit takes no fixes over sessions.</summary>
    public FixInstallOptions? Fixes { get; set; }

    /// <summary>
    /// Gets or sets the durable contract state the books above are kept by, when there is one: documents given to
    /// <see cref="SupportAgent.AcceptAsync"/> go through it and survive a restart.
    /// </summary>
    public Contract.ContractState? Contract { get; set; }

    /// <summary>
    /// Gets or sets a value indicating whether the agent requests the vendor's signed compatibility specification in
    /// the welcome of each session whose console offers it; one signed by the vendor is kept in writing in
    /// <see cref="Contract"/> (<see cref="Contract.ContractState.CompatibilitySpecification"/>). Needs a <see cref="Contract"/>.
    /// </summary>
    public bool RequestCompatibilitySpecification { get; set; }

    /// <summary>Gets or sets the clock.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Gets or sets where the agent logs sessions, refusals and decisions.</summary>
    public ILogger Logger { get; set; } = NullLogger.Instance;
}
