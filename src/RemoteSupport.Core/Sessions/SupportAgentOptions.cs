using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RemoteSupport.Consent;
using RemoteSupport.Documents;
using RemoteSupport.Identities;
using RemoteSupport.Trust;

namespace RemoteSupport.Sessions;

/// <summary>
/// What an agent on a customer unit runs with, given once: the settings (plain properties that bind from
/// <c>IConfiguration</c>) and, in code, the unit's key, what it trusts and the contract's signed documents.
/// <see cref="SupportAgent.OpenAsync"/> opens the unit's durable state from <see cref="StateFolder"/>
/// and builds every collaborator from these; the DI registration does the same at host start.
/// </summary>
/// <remarks>
/// Party ids: a unit speaks for its customer. Its key is the customer's party id with the role
/// <see cref="PartyRole.Unit"/> (for example <c>fabrikam</c>/<c>unit</c>), and <see cref="UnitId"/>
/// names the unit within the customer (what an authorization's <c>units</c> list).
/// </remarks>
public sealed class SupportAgentOptions
{
    /// <summary>Gets or sets the unit's id within its customer (what an authorization's <c>units</c> name).</summary>
    /// <value>Required; no default.</value>
    public string UnitId { get; set; } = string.Empty;

    /// <summary>Gets or sets the id of the customer that owns the unit.</summary>
    /// <value>Required; no default. The unit's key, the ground rules and the authorizations must be this customer's.</value>
    public string CustomerId { get; set; } = string.Empty;

    /// <summary>
    /// Gets or sets the folder of the unit's durable state, created when missing: the audit journal
    /// (<c>audit.journal</c>, which also holds the unit's contract state: accepted documents, key revocations and
    /// approval uses), the charge ledger (<c>ledger.journal</c>), the fix installer's work folder (<c>fix-work/</c>)
    /// and the fix inbox (<c>inbox/</c>).
    /// </summary>
    /// <value>Required; no default.</value>
    public string StateFolder { get; set; } = string.Empty;

    /// <summary>Gets the data roots the vendor may be allowed into, by root name (the ground rules' data scopes name them).</summary>
    /// <value>Empty by default: no data file can be listed, viewed or changed.</value>
    public IDictionary<string, string> DataRoots { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>
    /// Gets or sets how long a console has, from its connection, to open the session channel and send its
    /// hello; past it the connection is refused with <c>hello-timeout</c>.
    /// </summary>
    /// <value>The default is 10 seconds.</value>
    public TimeSpan HelloTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Gets or sets a value indicating whether the unit requests the vendor's signed compatibility specification in
    /// each session whose console offers one (docs/protocol/session.md). One signed by the vendor of the ground
    /// rules in force is kept in writing in the contract state (<c>SupportAgent.Contract.CompatibilitySpecification</c>).
    /// </summary>
    /// <value>The default is false.</value>
    public bool RequestCompatibilitySpecification { get; set; }

    /// <summary>Gets or sets how long the vendor waits for an approver before the request is denied.</summary>
    /// <value>The default is 5 minutes.</value>
    public TimeSpan ApprovalTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Gets or sets the largest file a view carries in its result; a larger one streams on a channel of its
    /// own to a console that takes view streams, and is refused with <c>file-too-large</c> otherwise.
    /// </summary>
    /// <value>The default is 8 MiB; at most 12 MiB (a session message is at most 16 MiB).</value>
    public long MaxViewBytes { get; set; } = 8L * 1024 * 1024;

    /// <summary>Gets how fixes are received and installed; the unit takes fixes when <see cref="SupportAgentFixOptions.InstallRoot"/> is set.</summary>
    public SupportAgentFixOptions Fixes { get; } = new();

    /// <summary>Gets or sets the unit's identity (role <see cref="PartyRole.Unit"/>): it signs receipts and proves the unit on the secure channel.</summary>
    /// <value>Required; given in code (a key is never read from configuration text).</value>
    public PartyIdentity? Identity { get; set; }

    /// <summary>
    /// Gets or sets what the unit trusts: the customer's and approvers' keys, the vendor's and its
    /// technicians' keys. Documents, approvals and the technician on the secure channel are checked against it.
    /// </summary>
    /// <value>Required; given in code.</value>
    public TrustStore? Trust { get; set; }

    /// <summary>Gets or sets the jointly signed ground rules in force (accepted at open; a refusal fails the open with its sentence).</summary>
    /// <value>Required; given in code.</value>
    public SignedEnvelope? GroundRules { get; set; }

    /// <summary>Gets the customer-signed authorizations (and revocations) of vendors, accepted in order at open.</summary>
    /// <value>Empty by default: every vendor is refused until one is accepted.</value>
    public IList<SignedEnvelope> Authorizations { get; } = [];

    /// <summary>Gets or sets the customer's approver, asked when the ground rules require an approval.</summary>
    /// <value>None by default: requests that need an approval are denied.</value>
    public IApprovalPrompt? ApprovalPrompt { get; set; }

    /// <summary>Gets the diagnostics the integrator registers, by name: each returns its report.</summary>
    /// <value>Empty by default.</value>
    public IDictionary<string, Func<CancellationToken, Task<string>>> Diagnostics { get; } = new Dictionary<string, Func<CancellationToken, Task<string>>>(StringComparer.Ordinal);

    /// <summary>Gets or sets the clock.</summary>
    /// <value>The default is <see cref="TimeProvider.System"/>.</value>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Gets or sets where the agent logs sessions, refusals and decisions.</summary>
    /// <value>The default logs nothing; the DI registration uses the host's <c>ILoggerFactory</c>.</value>
    public ILogger Logger { get; set; } = NullLogger.Instance;

    /// <summary>
    /// Checks the options as <see cref="SupportAgent.OpenAsync"/> and the host's start do: every problem,
    /// each in a sentence naming the setting.
    /// </summary>
    /// <returns>The problems; empty when the options are complete.</returns>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        void Required(string value, string name, string why)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                problems.Add($"{name} is not set: {why}.");
            }
        }

        Required(UnitId, nameof(UnitId), "authorizations name the units they cover");
        Required(CustomerId, nameof(CustomerId), "the unit belongs to one customer");
        Required(StateFolder, nameof(StateFolder), "the audit journal, ledger and approval uses are kept there");
        if (Identity is null)
        {
            problems.Add($"{nameof(Identity)} is not set: the unit's key signs its receipts and proves it to consoles.");
        }
        else if (Identity.Role != PartyRole.Unit || (CustomerId.Length > 0 && Identity.PartyId != CustomerId))
        {
            problems.Add($"{nameof(Identity)} is {Identity.PartyId}/{Identity.Role.ToText()}; a unit's key is its customer's party id with the role unit ({CustomerId}/unit).");
        }

        if (Trust is null)
        {
            problems.Add($"{nameof(Trust)} is not set: no document, approval or technician could be checked.");
        }

        if (GroundRules is null)
        {
            problems.Add($"{nameof(GroundRules)} is not set: sessions need jointly signed ground rules in force.");
        }

        if (HelloTimeout <= TimeSpan.Zero || ApprovalTimeout <= TimeSpan.Zero)
        {
            problems.Add($"{nameof(HelloTimeout)} and {nameof(ApprovalTimeout)} must be positive.");
        }

        if (MaxViewBytes is < 1 or > 12L * 1024 * 1024)
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture, $"{nameof(MaxViewBytes)} is {MaxViewBytes}; it must be 1 byte to 12 MiB (a view's result travels in one session message of at most 16 MiB)."));
        }

        foreach ((string root, string path) in DataRoots)
        {
            if (!Directory.Exists(path))
            {
                problems.Add($"{nameof(DataRoots)}[{root}] is {path}, which is not a folder.");
            }
        }

        Fixes.Validate(problems);
        return problems;
    }
}

/// <summary>How an agent opened by <see cref="SupportAgent.OpenAsync"/> receives and installs fixes.</summary>
public sealed class SupportAgentFixOptions
{
    /// <summary>Gets or sets the folder the product is installed in; fixes are installed there.</summary>
    /// <value>None by default: the unit takes no fixes over sessions.</value>
    public string? InstallRoot { get; set; }

    /// <summary>Gets or sets the product installed in <see cref="InstallRoot"/> (what a fix manifest's target names).</summary>
    /// <value>Required with <see cref="InstallRoot"/>.</value>
    public string? Product { get; set; }

    /// <summary>Gets or sets the version installed before any fix (after one, the installer's record says).</summary>
    /// <value>Required with <see cref="InstallRoot"/>.</value>
    public string? InstalledVersion { get; set; }

    /// <summary>Gets or sets the contract this unit is under, when fix manifests target contracts.</summary>
    /// <value>None by default.</value>
    public string? ContractId { get; set; }

    /// <summary>Gets or sets the largest package accepted; a larger announced length is refused before a byte is read.</summary>
    /// <value>The default is 4 GiB.</value>
    public long MaxPackageBytes { get; set; } = 4L * 1024 * 1024 * 1024;

    /// <summary>Gets or sets the vendor root the unit pins for fixes (threshold-signed by the vendor's release keys).</summary>
    /// <value>Required with <see cref="InstallRoot"/>; given in code.</value>
    public SignedEnvelope? VendorRoot { get; set; }

    /// <summary>Gets or sets the health check run after the swap; false rolls the fix back.</summary>
    /// <value>The default reports healthy.</value>
    public Func<CancellationToken, Task<bool>> HealthCheck { get; set; } = _ => Task.FromResult(true);

    internal void Validate(List<string> problems)
    {
        if (InstallRoot is null)
        {
            return;
        }

        if (!Directory.Exists(InstallRoot))
        {
            problems.Add($"Fixes.{nameof(InstallRoot)} is {InstallRoot}, which is not a folder.");
        }

        if (string.IsNullOrWhiteSpace(Product) || string.IsNullOrWhiteSpace(InstalledVersion))
        {
            problems.Add($"Fixes.{nameof(Product)} and Fixes.{nameof(InstalledVersion)} must be set with Fixes.{nameof(InstallRoot)}: a fix manifest targets a product and a version range.");
        }

        if (VendorRoot is null)
        {
            problems.Add($"Fixes.{nameof(VendorRoot)} is not set: no fix package could be verified.");
        }

        if (MaxPackageBytes <= 0)
        {
            problems.Add($"Fixes.{nameof(MaxPackageBytes)} must be positive.");
        }
    }
}
