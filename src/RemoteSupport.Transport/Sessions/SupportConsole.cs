using RemoteSupport.Identities;
using RemoteSupport.Transport.Security;
using RemoteSupport.Transport.Transports;
using RemoteSupport.Trust;

namespace RemoteSupport.Transport.Sessions;

/// <summary>What a vendor's console runs with, given once: the technician's key, the units it trusts, the customers it serves.</summary>
/// <remarks>A unit's key is its customer's party id with the role <see cref="PartyRole.Unit"/>: trust <c>fabrikam</c>/<c>unit</c> keys to open sessions with fabrikam's units.</remarks>
public sealed class SupportConsoleOptions
{
    /// <summary>Gets or sets the technician's identity (role <see cref="PartyRole.Technician"/>): the unit checks it against the customer's authorization.</summary>
    /// <value>Required; given in code.</value>
    public PartyIdentity? Identity { get; set; }

    /// <summary>Gets or sets the units' keys the console trusts (each customer's party id with the role unit).</summary>
    /// <value>Required; given in code.</value>
    public TrustStore? Trust { get; set; }

    /// <summary>Gets the customers whose units the console opens sessions with; a unit of any other customer is refused at the handshake.</summary>
    /// <value>Empty by default; at least one is required.</value>
    public IList<string> Customers { get; } = [];

    /// <summary>Gets or sets how long an orderly close may take before the connection is aborted.</summary>
    /// <value>The default is 10 seconds.</value>
    public TimeSpan CloseTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Gets or sets the vendor's signed compatibility specification, handed over in writing to every agent that
    /// requests it (<see cref="SupportConnectionOptions.CompatibilitySpecification"/>).
    /// </summary>
    /// <value>None by default.</value>
    public Documents.SignedEnvelope? CompatibilitySpecification { get; set; }

    /// <summary>Checks the options as the console's constructor and the host's start do.</summary>
    /// <returns>Every problem, each in a sentence naming the setting; empty when valid.</returns>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (Identity is null)
        {
            problems.Add($"{nameof(Identity)} is not set: the unit checks the technician's key against the customer's authorization.");
        }
        else if (Identity.Role != PartyRole.Technician)
        {
            problems.Add($"{nameof(Identity)} is a {Identity.Role.ToText()} key; a console needs a technician key.");
        }

        if (Trust is null)
        {
            problems.Add($"{nameof(Trust)} is not set: no unit could be authenticated.");
        }

        if (Customers.Count == 0)
        {
            problems.Add($"{nameof(Customers)} is empty: every unit would be refused.");
        }

        if (CloseTimeout <= TimeSpan.Zero)
        {
            problems.Add($"{nameof(CloseTimeout)} must be positive.");
        }

        return problems;
    }

    internal SupportConnectionOptions ToConnection()
    {
        var secure = new SecureChannelOptions { Identity = Identity, TrustStore = Trust };
        foreach (string customer in Customers)
        {
            secure.AcceptedPeers.Add(new ExpectedPeer(customer, PartyRole.Unit));
        }

        return new SupportConnectionOptions { Secure = secure, CloseTimeout = CloseTimeout, CompatibilitySpecification = CompatibilitySpecification };
    }
}

/// <summary>
/// The vendor's console: opens sessions with units it dials, or with units that dialed out to it
/// (where the customer's firewall allows only outbound lines), and states its compatibility specification.
/// </summary>
public sealed class SupportConsole
{
    /// <summary>Initializes a new instance of the <see cref="SupportConsole"/> class from the secure channel's options, for custom transports and trust.</summary>
    /// <param name="options">The connection options.</param>
    public SupportConsole(SupportConnectionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
    }

    /// <summary>Initializes a new instance of the <see cref="SupportConsole"/> class from its options, checked as the host's start checks them.</summary>
    /// <param name="options">The technician's key, the trusted units and the customers served.</param>
    /// <exception cref="ArgumentException">The options are incomplete; the message lists every problem.</exception>
    public SupportConsole(SupportConsoleOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        IReadOnlyList<string> problems = options.Validate();
        if (problems.Count > 0)
        {
            throw new ArgumentException("The console's options are incomplete: " + string.Join(" ", problems), nameof(options));
        }

        Options = options.ToConnection();
    }

    /// <summary>Gets the connection options the console runs with.</summary>
    public SupportConnectionOptions Options { get; }

    /// <summary>Dials a unit and opens a session.</summary>
    /// <returns>The connection with its open session.</returns>
    /// <param name="unit">How to reach the unit.</param>
    /// <param name="cancellationToken">Stops the dial, the handshake and the hello.</param>
    /// <exception cref="RemoteSupport.Sessions.SessionRefusedException">The agent refused the session (with the code and sentence the agent's host reports too).</exception>
    public async Task<SupportConsoleConnection> ConnectAsync(IConnectionDialer unit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(unit);
        TransportConnection connection = await unit.DialAsync(cancellationToken).ConfigureAwait(false);
        return await SupportConsoleConnection.OpenAsync(connection, dialed: true, Options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Opens a session over a connection a unit dialed out to the console (the unit runs the handshake as initiator).</summary>
    /// <returns>The connection with its open session.</returns>
    /// <param name="unitDialedOut">The connection the unit dialed.</param>
    /// <param name="cancellationToken">Stops the handshake and the hello.</param>
    public Task<SupportConsoleConnection> AcceptAsync(TransportConnection unitDialedOut, CancellationToken cancellationToken = default) =>
        SupportConsoleConnection.OpenAsync(unitDialedOut, dialed: false, Options, cancellationToken);

    /// <summary>The console's compatibility specification, generated from its options.</summary>
    /// <returns>The specification.</returns>
    /// <param name="vendorId">The vendor.</param>
    /// <param name="endpoints">Where units reach the vendor.</param>
    /// <param name="line">What the line needs.</param>
    public CompatibilitySpecification DescribeCompatibility(string vendorId, IReadOnlyList<CompatibilityEndpoint> endpoints, LineRequirements line) =>
        CompatibilitySpecification.Describe(vendorId, Options, endpoints, line);
}
