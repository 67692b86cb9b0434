using System.Net;
using RemoteSupport.Identities;
using RemoteSupport.Trust;

namespace RemoteSupport.Transport.Fleet;

/// <summary>What a console host that units connect to runs with: plain properties that bind from <c>IConfiguration</c>, keys in code.</summary>
public sealed class UnitDirectoryOptions
{
    /// <summary>Gets or sets the host's key: the vendor's party with the role <see cref="PartyRole.Vendor"/>, which units trust as the vendor of their ground rules.</summary>
    /// <value>Required; given in code.</value>
    public PartyIdentity? Identity { get; set; }

    /// <summary>Gets or sets the units' keys the host trusts (each customer's party id with the role unit).</summary>
    /// <value>Required; given in code.</value>
    public TrustStore? Trust { get; set; }

    /// <summary>Gets the customers whose units the host takes; any other is refused at the handshake.</summary>
    public IList<string> Customers { get; } = [];

    /// <summary>Gets or sets the TCP endpoint units connect to, as <c>address:port</c> (port 0 picks a free one).</summary>
    /// <value>Required.</value>
    public string? Listen { get; set; }

    /// <summary>Gets or sets the host's name in the directory (<see cref="OnlineUnit.HostId"/>).</summary>
    /// <value>The machine name by default.</value>
    public string HostId { get; set; } = Environment.MachineName;

    /// <summary>Gets or sets how many units the host holds; past it a unit is turned away with a GoAway (<c>host-full</c>) and <see cref="RetryAfterSeconds"/>.</summary>
    /// <value>The default is 25,000.</value>
    public int MaxUnits { get; set; } = 25_000;

    /// <summary>
    /// Gets or sets how many handshake steps are computed at once; more wait their turn (admission, never refusal).
    /// A connection takes a slot only once a handshake message has arrived and gives it back while it waits for
    /// the next, so a silent or stalled connection holds none.
    /// </summary>
    /// <value>The default is 64.</value>
    public int MaxConcurrentHandshakes { get; set; } = 64;

    /// <summary>
    /// Gets or sets how many accepted connections may be pending at once (not yet online: silent, waiting for
    /// admission, in the handshake or the announce); at the bound the host stops accepting and new connections
    /// wait in the kernel's listen backlog, so a flood of half-open connections holds at most this many.
    /// </summary>
    /// <value>The default is 1,024.</value>
    public int MaxPendingConnections { get; set; } = 1_024;

    /// <summary>Gets or sets how long a new connection has for the preface exchange, and again for the secure handshake, before it is closed.</summary>
    /// <value>The default is 10 seconds.</value>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Gets or sets how many new connections are admitted per second; more wait for the next second.</summary>
    /// <value>The default is 1,000.</value>
    public int MaxNewConnectionsPerSecond { get; set; } = 1_000;

    /// <summary>Gets or sets the heartbeat interval told to units in the welcome.</summary>
    /// <value>The default is 15 seconds.</value>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Gets or sets how long a unit may stay silent before the host takes it offline (<c>no-heartbeat</c>).</summary>
    /// <value>The default is 45 seconds (three intervals).</value>
    public TimeSpan HeartbeatTimeout { get; set; } = TimeSpan.FromSeconds(45);

    /// <summary>Gets or sets the retry-after a turned-away unit is told (it waits at least this long).</summary>
    /// <value>The default is 30 seconds.</value>
    public int RetryAfterSeconds { get; set; } = 30;

    /// <summary>Gets or sets the clock.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>
    /// Gets or sets the fleet's routing shared with the other console hosts (the PostgreSQL package's, registered by
    /// <c>AddRemoteSupportPostgreSql</c>); null keeps routing to this host's own units.
    /// </summary>
    public IUnitRouteStore? Routes { get; set; }

    /// <summary>Gets or sets how often the units online here are written to <see cref="Routes"/> again (a route lost comes back); 5 minutes by default.</summary>
    public TimeSpan RouteRewriteInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Gets or sets where the directory logs (a failed routing write); none when not set.</summary>
    public Microsoft.Extensions.Logging.ILogger Logger { get; set; } = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    /// <summary>Checks the options as the directory's constructor and the host's start do.</summary>
    /// <returns>Every problem, each in a sentence naming the setting; empty when valid.</returns>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (Identity is null || Identity.Role != PartyRole.Vendor)
        {
            problems.Add($"{nameof(Identity)} must be the vendor's key (role vendor): units trust the vendor of their ground rules.");
        }

        if (Trust is null)
        {
            problems.Add($"{nameof(Trust)} is not set: no unit could be authenticated.");
        }

        if (Customers.Count == 0)
        {
            problems.Add($"{nameof(Customers)} is empty: every unit would be refused.");
        }

        if (Listen is null || !IPEndPoint.TryParse(Listen, out _))
        {
            problems.Add($"{nameof(Listen)} must be an address:port to listen on ('{Listen}' given).");
        }

        if (MaxUnits < 1 || MaxConcurrentHandshakes < 1 || MaxPendingConnections < 1 || MaxNewConnectionsPerSecond < 1 || RetryAfterSeconds < 1)
        {
            problems.Add($"{nameof(MaxUnits)}, {nameof(MaxConcurrentHandshakes)}, {nameof(MaxPendingConnections)}, {nameof(MaxNewConnectionsPerSecond)} and {nameof(RetryAfterSeconds)} must be at least 1.");
        }

        if (RouteRewriteInterval < TimeSpan.FromSeconds(1))
        {
            problems.Add($"{nameof(RouteRewriteInterval)} must be at least 1 s.");
        }

        if (HandshakeTimeout <= TimeSpan.Zero)
        {
            problems.Add($"{nameof(HandshakeTimeout)} must be positive.");
        }

        if (HeartbeatInterval < TimeSpan.FromSeconds(1) || HeartbeatTimeout <= HeartbeatInterval)
        {
            problems.Add($"{nameof(HeartbeatInterval)} must be at least 1 s and {nameof(HeartbeatTimeout)} longer than it.");
        }

        return problems;
    }
}

/// <summary>How a unit holds its standing connection to the vendor's console hosts: plain properties that bind from <c>IConfiguration</c>.</summary>
public sealed class UnitConnectorOptions
{
    /// <summary>Gets the console hosts' TCP endpoints, as <c>host:port</c>, tried in turn.</summary>
    /// <value>At least one is required.</value>
    public IList<string> Endpoints { get; } = [];

    /// <summary>Gets or sets the first backoff after a failure; each further failure doubles it, up to <see cref="MaxBackoff"/>, and the wait is a random time from zero to that (full jitter).</summary>
    /// <value>The default is 1 second.</value>
    public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Gets or sets the cap of the backoff.</summary>
    /// <value>The default is 60 seconds.</value>
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Gets or sets how long a TCP connect may take before the unit gives it up, backs off and tries the next host
    /// (the kernel alone retries a dropped SYN 1, 3, 7, 15, 31 and 63 s after the first, about two minutes in all).
    /// </summary>
    /// <value>The default is 30 seconds: five SYNs, and the next host well before the kernel would give up.</value>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Gets or sets how often the unit sends a heartbeat when the host's welcome names no interval, and how often it checks that it may still offer itself.</summary>
    /// <value>The default is 15 seconds.</value>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Checks the options as the connector's start does.</summary>
    /// <returns>Every problem, each in a sentence naming the setting; empty when valid.</returns>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (Endpoints.Count == 0)
        {
            problems.Add($"{nameof(Endpoints)} is empty: the unit has no console host to connect to.");
        }

        foreach (string endpoint in Endpoints.Where(e => UnitConnector.ParseEndPoint(e) is null))
        {
            problems.Add($"{nameof(Endpoints)} holds '{endpoint}', which is not host:port.");
        }

        if (InitialBackoff <= TimeSpan.Zero || MaxBackoff < InitialBackoff)
        {
            problems.Add($"{nameof(InitialBackoff)} must be positive and {nameof(MaxBackoff)} at least as long.");
        }

        if (HeartbeatInterval < TimeSpan.FromSeconds(1))
        {
            problems.Add($"{nameof(HeartbeatInterval)} must be at least 1 second.");
        }

        if (ConnectTimeout <= TimeSpan.Zero)
        {
            problems.Add($"{nameof(ConnectTimeout)} must be positive.");
        }

        return problems;
    }
}
