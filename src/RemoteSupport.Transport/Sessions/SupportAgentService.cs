using System.Globalization;
using System.Net;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using RemoteSupport.Documents;
using RemoteSupport.GroundRules;
using RemoteSupport.Identities;
using RemoteSupport.Sessions;
using RemoteSupport.Transport.Security;
using RemoteSupport.Transport.Transports;

namespace RemoteSupport.Transport.Sessions;

/// <summary>Where an agent's host takes its connections: plain properties that bind from <c>IConfiguration</c>.</summary>
public sealed class SupportAgentHostOptions
{
    /// <summary>Gets or sets the TCP endpoint consoles connect to, as <c>address:port</c> (<c>127.0.0.1:7700</c>, <c>[::]:7700</c>; port 0 picks a free one).</summary>
    /// <value>None by default; set this or <see cref="DialOut"/>.</value>
    public string? Listen { get; set; }

    /// <summary>
    /// Gets or sets the vendor console's TCP endpoint the unit dials out to, as <c>host:port</c>, where the
    /// customer's firewall allows only outbound lines; the unit dials again after each session.
    /// </summary>
    /// <value>None by default; set this or <see cref="Listen"/>.</value>
    public string? DialOut { get; set; }

    /// <summary>Gets or sets how long the unit waits before dialing out again after a failed attempt (doubled after each failure up to 30 s).</summary>
    /// <value>The default is 1 second.</value>
    public TimeSpan RedialDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Gets or sets how many connections the host serves at once, handshakes included (<see cref="SupportConnectionOptions.MaxConnections"/>).</summary>
    /// <value>The default is 256.</value>
    public int MaxConnections { get; set; } = 256;

    /// <summary>Gets or sets how many handshakes the host runs at once (<see cref="SupportConnectionOptions.MaxPendingHandshakes"/>).</summary>
    /// <value>The default is 128.</value>
    public int MaxPendingHandshakes { get; set; } = 128;

    /// <summary>Gets or sets how long an orderly close may take before the connection is aborted.</summary>
    /// <value>The default is 10 seconds.</value>
    public TimeSpan CloseTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Checks the options as the host's start does.</summary>
    /// <returns>Every problem, each in a sentence naming the setting; empty when valid.</returns>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if ((Listen is null) == (DialOut is null))
        {
            problems.Add($"Set one of {nameof(Listen)} (consoles connect to the unit) and {nameof(DialOut)} (the unit connects to the console).");
        }

        if (Listen is not null && (!IPEndPoint.TryParse(Listen, out _) || !HasPort(Listen)))
        {
            problems.Add($"{nameof(Listen)} is '{Listen}'; it must be address:port, such as 127.0.0.1:7700 or [::]:7700.");
        }

        if (DialOut is not null && ParseDialOut(DialOut) is null)
        {
            problems.Add($"{nameof(DialOut)} is '{DialOut}'; it must be host:port, such as console.contoso.example:7700.");
        }

        if (MaxConnections < 1 || MaxPendingHandshakes < 1)
        {
            problems.Add($"{nameof(MaxConnections)} and {nameof(MaxPendingHandshakes)} must each be at least 1.");
        }

        if (CloseTimeout <= TimeSpan.Zero || RedialDelay <= TimeSpan.Zero)
        {
            problems.Add($"{nameof(CloseTimeout)} and {nameof(RedialDelay)} must be positive.");
        }

        return problems;
    }

    /// <summary>Whether <paramref name="text"/> ends with an explicit <c>:port</c> (an address alone would pick a random port).</summary>
    private static bool HasPort(string text)
    {
        int colon = text.LastIndexOf(':');
        bool bracketed = text[0] == '[' && colon > 0 && text[colon - 1] == ']';
        return colon > 0 && colon < text.Length - 1 && text[(colon + 1)..].All(char.IsAsciiDigit)
            && (bracketed || text.Count(c => c == ':') == 1); // an IPv6 address takes its port after brackets
    }

    internal static EndPoint? ParseDialOut(string text)
    {
        if (IPEndPoint.TryParse(text, out IPEndPoint? address) && address.Port > 0)
        {
            return address;
        }

        int colon = text.LastIndexOf(':');
        return colon > 0 && int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port) && port is > 0 and <= 65535
            && Uri.CheckHostName(text[..colon]) != UriHostNameType.Unknown
            ? new DnsEndPoint(text[..colon], port)
            : null;
    }
}

/// <summary>A session the agent's host served has ended: its receipt, or why the connection ended without one.</summary>
/// <param name="Receipt">The unit-signed receipt; <see langword="null"/> when the session was refused or the connection failed.</param>
/// <param name="Failure">What ended the connection (a refused handshake, a hello timeout, a host at capacity, <c>no-session</c> when the console closed the connection after its handshake without opening a session…); <see langword="null"/> after a session.</param>
public sealed record SupportSessionEnded(SignedEnvelope? Receipt, Exception? Failure)
{
    /// <summary>
    /// How a connection that was served to its end ended: with its session's receipt, or, when the console closed it
    /// after the handshake without opening a session, with a <see cref="SessionProtocolException"/> of code <c>no-session</c>.
    /// </summary>
    internal static SupportSessionEnded Served(SignedEnvelope? receipt) =>
        receipt is null ? new(null, new SessionProtocolException("no-session", "The console closed the connection after its handshake without opening a session.")) : new(receipt, null);
}

/// <summary>
/// The agent as a hosted service: at start it opens the agent from its options (the unit's durable state
/// from one folder), then listens for consoles (or dials out to the vendor's console) and serves a session
/// on each connection; at stop it stops taking connections, lets the sessions in progress end, and
/// closes the journals. Registered by <c>AddRemoteSupportAgent</c>; usable without DI too.
/// </summary>
public sealed class SupportAgentService : IHostedService, IAsyncDisposable
{
    private static readonly TimeSpan MaxRedialDelay = TimeSpan.FromSeconds(30);
    private readonly SupportAgentOptions _options;
    private readonly SupportAgentHostOptions _host;
    private readonly CancellationTokenSource _stop = new(); // stops taking connections (and dialing out)
    private readonly CancellationTokenSource _sessions = new(); // ends the sessions in progress: only when the stop's wait is cut short
    private SupportAgent? _agent;
    private TcpConnectionListener? _listener;
    private Task _serving = Task.CompletedTask;

    /// <summary>Initializes a new instance of the <see cref="SupportAgentService"/> class; nothing opens before <see cref="StartAsync"/>.</summary>
    /// <param name="options">The agent's settings and documents.</param>
    /// <param name="host">Where connections come from.</param>
    /// <param name="loggers">The host's loggers, used when <see cref="SupportAgentOptions.Logger"/> is not set.</param>
    public SupportAgentService(IOptions<SupportAgentOptions> options, IOptions<SupportAgentHostOptions> host, ILoggerFactory? loggers = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(host);
        _options = options.Value;
        _host = host.Value;
        if (_options.Logger is NullLogger && loggers is not null)
        {
            _options.Logger = loggers.CreateLogger("RemoteSupport.Agent");
        }
    }

    /// <summary>Raised when a session the host served ends, or a connection ends without one (on the connection's task; keep it short).</summary>
    public event Action<SupportSessionEnded>? SessionEnded;

    /// <summary>Gets the agent, once started.</summary>
    /// <exception cref="InvalidOperationException">The service has not started.</exception>
    public SupportAgent Agent => _agent ?? throw new InvalidOperationException("The agent service has not started.");

    /// <summary>Gets the endpoint the host listens on, once started with <see cref="SupportAgentHostOptions.Listen"/> (the port picked when it was 0).</summary>
    public IPEndPoint? BoundEndPoint => _listener?.BoundEndPoint;

    /// <summary>Opens the agent and starts taking connections.</summary>
    /// <returns>A task that completes once the agent is open and the listener bound.</returns>
    /// <param name="cancellationToken">Stops the start.</param>
    /// <exception cref="OptionsValidationException">The host options are incomplete (every problem is in <see cref="OptionsValidationException.Failures"/>).</exception>
    /// <exception cref="ArgumentException">The agent's options are incomplete; the message lists every problem.</exception>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        IReadOnlyList<string> problems = _host.Validate();
        if (problems.Count > 0)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(SupportAgentHostOptions), problems);
        }

        _agent = await SupportAgent.OpenAsync(_options, cancellationToken).ConfigureAwait(false);
        var secure = new SecureChannelOptions { Identity = _options.Identity, TrustStore = _options.Trust, StaticKey = NoiseStaticKey.Generate() };
        SecurityGroundRules rules = _agent.GroundRules.Current!;
        secure.AcceptedPeers.Add(new ExpectedPeer(rules.VendorId, PartyRole.Technician)); // the vendor the ground rules are with
        var connection = new SupportConnectionOptions
        {
            Secure = secure,
            MaxConnections = _host.MaxConnections,
            MaxPendingHandshakes = _host.MaxPendingHandshakes,
            CloseTimeout = _host.CloseTimeout,
        };
        var host = new SupportAgentHost(_agent, connection);
        if (_host.Listen is not null)
        {
            _listener = TcpConnectionListener.Listen(IPEndPoint.Parse(_host.Listen));
            // Disposing the listener stops the accepting; the token is the sessions'.
            _serving = host.RunAsync(_listener, (receipt, failure) => SessionEnded?.Invoke(new SupportSessionEnded(receipt, failure)), _sessions.Token);
        }
        else
        {
            _serving = DialOutAsync(host, SupportAgentHostOptions.ParseDialOut(_host.DialOut!)!, _stop.Token, _sessions.Token);
        }
    }

    /// <summary>Stops taking connections, waits for the sessions in progress (until <paramref name="cancellationToken"/>), and closes the agent.</summary>
    /// <returns>A task that completes when the agent is closed.</returns>
    /// <param name="cancellationToken">Ends the wait for sessions in progress.</param>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_listener is not null)
        {
            await _listener.DisposeAsync().ConfigureAwait(false);
        }

        // The sessions in progress end on their own (closed by their consoles, or at their time limit);
        // when the host's shutdown wait runs out they are cut off, and the journals close only after.
        using (cancellationToken.Register(() => _sessions.Cancel()))
        {
            try
            {
                await _serving.ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_sessions.IsCancellationRequested)
            {
                // Cut off by the host's shutdown timeout.
            }
        }

        if (_agent is not null)
        {
            await _agent.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Stops the service if it runs.</summary>
    /// <returns>A task that completes when everything is closed.</returns>
    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await StopAsync(CancellationToken.None).ConfigureAwait(false);
        }

        _stop.Dispose();
        _sessions.Dispose();
    }

    private async Task DialOutAsync(SupportAgentHost host, EndPoint console, CancellationToken stop, CancellationToken sessions)
    {
        var dialer = new TcpDialer(console);
        TimeSpan delay = _host.RedialDelay;
        while (!stop.IsCancellationRequested)
        {
            bool served = false;
            try
            {
                TransportConnection line = await dialer.DialAsync(stop).ConfigureAwait(false);
                SignedEnvelope? receipt = await host.ServeAsync(line, dialedOut: true, beforeSession: stop, sessions).ConfigureAwait(false);
                served = receipt is not null;
                Report(SupportSessionEnded.Served(receipt));
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested || sessions.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Whatever failed, the unit keeps dialing: the outbound line is its only way in.
                Report(new SupportSessionEnded(null, ex));
            }

            if (served)
            {
                delay = _host.RedialDelay;
                continue;
            }

            try
            {
                // Real time, whatever the contract's clock: the line is what is waited for.
                await Task.Delay(delay, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            delay = delay * 2 < MaxRedialDelay ? delay * 2 : MaxRedialDelay;
        }
    }

    /// <summary>Raises <see cref="SessionEnded"/>; a handler that throws does not stop the dialing.</summary>
    private void Report(SupportSessionEnded ended)
    {
        try
        {
            SessionEnded?.Invoke(ended);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            AgentServiceLog.HandlerFailed(_options.Logger, ex);
        }
    }
}

/// <summary>What the agent's hosted service logs.</summary>
internal static partial class AgentServiceLog
{
    [LoggerMessage(EventId = 20, Level = LogLevel.Warning, Message = "A SessionEnded handler threw; the agent goes on.")]
    public static partial void HandlerFailed(ILogger logger, Exception exception);
}
