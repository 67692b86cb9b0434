using System.Globalization;
using System.Net;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using RemoteSupport.Audit;
using RemoteSupport.Documents;
using RemoteSupport.Identities;
using RemoteSupport.Sessions;
using RemoteSupport.Transport.Channels;
using RemoteSupport.Transport.Security;
using RemoteSupport.Transport.Sessions;
using RemoteSupport.Transport.Transports;

namespace RemoteSupport.Transport.Fleet;

/// <summary>
/// The unit's side of the fleet (docs/protocol/fleet.md): opens the agent from its state folder, keeps one secure,
/// multiplexed outbound connection to the vendor's console hosts (tried in turn, reconnecting after any failure with
/// capped exponential backoff and full jitter, honouring a host's retry-after), sends heartbeats, and serves the
/// sessions the host routes to it, each checked by the agent exactly as a direct one. A unit no authorization covers
/// (revoked, expired) does not offer itself, and says why in its log and audit.
/// </summary>
public sealed class UnitConnector : IHostedService, IAsyncDisposable
{
    private static readonly TimeSpan WithdrawWait = TimeSpan.FromSeconds(2);
    private readonly SupportAgentOptions _agentOptions;
    private readonly UnitConnectorOptions _options;
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenSource _sessions = new();
    private readonly List<Task> _served = [];
    // The unit's Noise static key for routed sessions: one for the connector's life, not one per standing connection
    // (each is a guarded allocation; a unit that reconnects all day would leave one behind per connection).
    private readonly NoiseStaticKey _sessionKey = NoiseStaticKey.Generate();
    private SupportAgent? _agent;
    private Task _running = Task.CompletedTask;
    private string _state = "stopped";

    /// <summary>Creates the connector; nothing opens until <see cref="StartAsync"/>.</summary>
    /// <param name="agent">The agent's options (state folder, keys, trust, documents).</param>
    /// <param name="connector">The console hosts and the backoff.</param>
    public UnitConnector(SupportAgentOptions agent, UnitConnectorOptions connector)
    {
        ArgumentNullException.ThrowIfNull(agent);
        ArgumentNullException.ThrowIfNull(connector);
        _agentOptions = agent;
        _options = connector;
    }

    /// <summary>Creates the connector from options given by DI.</summary>
    public UnitConnector(IOptions<SupportAgentOptions> agent, IOptions<UnitConnectorOptions> connector)
        : this((agent ?? throw new ArgumentNullException(nameof(agent))).Value, (connector ?? throw new ArgumentNullException(nameof(connector))).Value)
    {
    }

    /// <summary>Raised when a routed session ends: its receipt, or the failure that ended it without one (a <see cref="SessionProtocolException"/> with code <c>no-session</c> when the technician's console closed the route after its handshake without opening a session).</summary>
    public event Action<SupportSessionEnded>? SessionEnded;

    /// <summary>Gets the agent, once started.</summary>
    /// <exception cref="InvalidOperationException">The connector has not started.</exception>
    public SupportAgent Agent => _agent ?? throw new InvalidOperationException("The unit connector has not started.");

    /// <summary>Gets what the connector is doing: <c>connecting</c>, <c>online</c> (with the host's id), <c>withdrawn</c> (with why), <c>backing off</c> (with the last problem), or <c>stopped</c>.</summary>
    public string State => Volatile.Read(ref _state);

    /// <summary>Opens the agent and starts holding the standing connection.</summary>
    /// <returns>A task that completes once the agent is open.</returns>
    /// <param name="cancellationToken">Stops the open.</param>
    /// <exception cref="ArgumentException">The options are incomplete; the message lists every problem.</exception>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        IReadOnlyList<string> problems = _options.Validate();
        if (problems.Count > 0)
        {
            Error.Argument("connector", "The unit connector's options are incomplete: " + string.Join(" ", problems));
        }

        _agent = await SupportAgent.OpenAsync(_agentOptions, cancellationToken).ConfigureAwait(false);
        _running = RunAsync(_agent, _stop.Token);
    }

    /// <summary>Withdraws from the host, lets routed sessions in progress end (until <paramref name="cancellationToken"/>), and closes the agent.</summary>
    /// <returns>A task that completes when the agent is closed.</returns>
    /// <param name="cancellationToken">Ends the wait for sessions in progress.</param>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        using (cancellationToken.Register(() => _sessions.Cancel()))
        {
            await _running.ConfigureAwait(false);
            Task[] served;
            lock (_served)
            {
                served = [.. _served];
            }

            await Task.WhenAll(served).ConfigureAwait(false);
        }

        if (_agent is not null)
        {
            await _agent.DisposeAsync().ConfigureAwait(false);
        }

        Volatile.Write(ref _state, "stopped");
    }

    /// <summary>Stops the connector if it runs.</summary>
    /// <returns>A task that completes when everything is closed.</returns>
    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await StopAsync(CancellationToken.None).ConfigureAwait(false);
        }

        _stop.Dispose();
        _sessions.Dispose();
        _sessionKey.Dispose();
    }

    /// <summary>The wait before attempt <paramref name="attempt"/> (0-based) after a failure: a random time from zero to <c>min(max, initial · 2^attempt)</c> (full jitter).</summary>
    internal static TimeSpan Backoff(int attempt, TimeSpan initial, TimeSpan max, double random)
    {
        double ceiling = Math.Min(max.TotalMilliseconds, initial.TotalMilliseconds * Math.Pow(2, Math.Min(attempt, 30)));
        return TimeSpan.FromMilliseconds(ceiling * random);
    }

    /// <summary>
    /// Dials <paramref name="host"/>, giving up after <paramref name="timeout"/> with an <see cref="IOException"/> that
    /// says so. Without it, a connect whose SYN a full listen backlog dropped waits on the kernel's retries (1, 3, 7 … 63 s
    /// apart, about two minutes in all) while the host may long have had room.
    /// </summary>
    internal static async Task<TransportConnection> DialAsync(EndPoint host, TimeSpan timeout, CancellationToken stop)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(stop);
        limit.CancelAfter(timeout);
        try
        {
            return await new TcpDialer(host).DialAsync(limit.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
        {
            throw new IOException(string.Create(CultureInfo.InvariantCulture, $"Could not connect to {host} within {timeout.TotalSeconds:0.###} s."));
        }
    }

    internal static EndPoint? ParseEndPoint(string endpoint)
    {
        if (IPEndPoint.TryParse(endpoint, out IPEndPoint? ip) && ip.Port > 0)
        {
            return ip;
        }

        int colon = endpoint.LastIndexOf(':');
        return colon > 0 && int.TryParse(endpoint.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port) && port is > 0 and < 65536
            ? new DnsEndPoint(endpoint[..colon], port)
            : null;
    }

    private async Task RunAsync(SupportAgent agent, CancellationToken stop)
    {
        int attempt = 0;
        int next = 0;
        string? withdrawnFor = null;
        while (!stop.IsCancellationRequested)
        {
            TimeSpan wait;
            if (agent.OffersService(out string why) is false)
            {
                if (withdrawnFor != why)
                {
                    withdrawnFor = why;
                    await WithdrawnAsync(agent, why).ConfigureAwait(false);
                }

                wait = _options.HeartbeatInterval;
            }
            else
            {
                withdrawnFor = null;
                EndPoint host = ParseEndPoint(_options.Endpoints[next++ % _options.Endpoints.Count])!;
                Volatile.Write(ref _state, "connecting");
                (bool welcomed, int? retryAfter, string problem) = await HoldAsync(agent, host, stop).ConfigureAwait(false);
                attempt = welcomed ? 0 : attempt + 1;
                wait = Backoff(attempt, _options.InitialBackoff, _options.MaxBackoff, Random.Shared.NextDouble());
                if (retryAfter is { } seconds)
                {
                    wait = TimeSpan.FromSeconds(seconds) + Backoff(0, _options.InitialBackoff, _options.InitialBackoff, Random.Shared.NextDouble());
                }

                Volatile.Write(ref _state, "backing off: " + problem);
            }

            try
            {
                await Task.Delay(wait, _agentOptions.TimeProvider, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private async Task WithdrawnAsync(SupportAgent agent, string why)
    {
        AgentLog.UnitWithdrawn(_agentOptions.Logger, why);
        await agent.Audit.RecordAsync(AuditEvents.UnitWithdrawn(_agentOptions.TimeProvider.GetUtcNow(), why)).ConfigureAwait(false);
        Volatile.Write(ref _state, "withdrawn: " + why); // after the audit record: whoever sees the state finds the record
    }

    /// <summary>Holds one standing connection until it ends; says whether the host welcomed the unit, a retry-after it gave, and what ended it.</summary>
    private async Task<(bool Welcomed, int? RetryAfter, string Problem)> HoldAsync(SupportAgent agent, EndPoint host, CancellationToken stop)
    {
        bool welcomed = false;
        try
        {
            TransportConnection line = await DialAsync(host, _options.ConnectTimeout, stop).ConfigureAwait(false);
            (SecureConnection _, MultiplexedConnection channels) = await StandingOptions(agent).ConnectAsync(line, initiator: true, stop).ConfigureAwait(false);
            await using (channels.ConfigureAwait(false))
            {
                MultiplexedChannel presence = await channels.OpenChannelAsync(PresenceMessage.Channel, stop).ConfigureAwait(false);
                await presence.SendMessageAsync(new PresenceMessage
                {
                    Type = PresenceMessage.Announce, Protocol = PresenceMessage.Version, CustomerId = _agentOptions.CustomerId, UnitId = _agentOptions.UnitId,
                    AgentVersion = typeof(UnitConnector).Assembly.GetName().Version?.ToString(3), Capabilities = SessionWire.Capabilities,
                }.ToBytes(), stop).ConfigureAwait(false);
                PresenceMessage? answer = await ReceiveAsync(presence, stop).ConfigureAwait(false);
                if (answer?.Type == PresenceMessage.GoAway)
                {
                    return (false, answer.RetryAfterSeconds, "turned away: " + answer.Reason);
                }

                if (answer?.Type != PresenceMessage.Welcome)
                {
                    return (false, null, "the host did not welcome the unit");
                }

                welcomed = true;
                Volatile.Write(ref _state, "online: " + answer.HostId);
                TimeSpan interval = answer.HeartbeatSeconds is int seconds and > 0 ? TimeSpan.FromSeconds(Math.Min(seconds, 3600)) : _options.HeartbeatInterval; // at most an hour, whatever a host says
                using var ended = CancellationTokenSource.CreateLinkedTokenSource(stop);
                Task<(int?, string)> heartbeats = HeartbeatAsync(agent, presence, interval, ended.Token);
                Task<(int?, string)> listening = ListenAsync(presence, ended.Token);
                Task accepting = AcceptSessionsAsync(agent, channels, ended.Token);
                Task first = await Task.WhenAny(heartbeats, listening, accepting).ConfigureAwait(false);
                if (first == heartbeats && (await heartbeats.ConfigureAwait(false)).Item2.StartsWith("withdrawn", StringComparison.Ordinal))
                {
                    // The host closes the connection once it has read the withdrawal: wait for that, so the reason arrives first.
                    await Task.WhenAny(listening, Task.Delay(WithdrawWait, _agentOptions.TimeProvider, CancellationToken.None)).ConfigureAwait(false);
                }

                await ended.CancelAsync().ConfigureAwait(false);
                (int? retryAfter, string problem) = first == accepting ? (null, "the connection ended") : await ((Task<(int?, string)>)first).ConfigureAwait(false);
                await SupportAgentHost.CloseAsync(channels, TimeSpan.FromSeconds(2), CancellationToken.None).ConfigureAwait(false);
                return (true, retryAfter, problem);
            }
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or SecureChannelException or ChannelException or FormatException
            or Framing.FramingException or OperationCanceledException)
        {
            return (welcomed, null, stop.IsCancellationRequested ? "stopping" : ex.Message);
        }
    }

    /// <summary>Sends a heartbeat each interval; withdraws (and ends the connection) as soon as no authorization covers the unit.</summary>
    private async Task<(int?, string)> HeartbeatAsync(SupportAgent agent, MultiplexedChannel presence, TimeSpan interval, CancellationToken ended)
    {
        long sequence = 0;
        using var ticks = new PeriodicTimer(interval, _agentOptions.TimeProvider); // one timer for the connection, not one per heartbeat
        try
        {
            while (true)
            {
                if (!agent.OffersService(out string why))
                {
                    await presence.SendMessageAsync(new PresenceMessage { Type = PresenceMessage.Withdraw, Reason = why }.ToBytes(), ended).ConfigureAwait(false);
                    return (null, "withdrawn: " + why);
                }

                await presence.SendMessageAsync(new PresenceMessage { Type = PresenceMessage.Heartbeat, Sequence = ++sequence }.ToBytes(), ended).ConfigureAwait(false);
                await ticks.WaitForNextTickAsync(ended).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ChannelException)
        {
            return (null, "the connection ended");
        }
    }

    /// <summary>Reads the host's messages: heartbeat acknowledgements, and a GoAway with its retry-after.</summary>
    private static async Task<(int?, string)> ListenAsync(MultiplexedChannel presence, CancellationToken ended)
    {
        try
        {
            while (await ReceiveAsync(presence, ended).ConfigureAwait(false) is { } message)
            {
                if (message.Type == PresenceMessage.GoAway)
                {
                    return (message.RetryAfterSeconds, "sent away: " + message.Reason);
                }
            }

            return (null, "the host closed the connection");
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ChannelException or FormatException)
        {
            return (null, "the connection ended");
        }
    }

    /// <summary>Serves each session the host routes: a channel named <c>session</c> carrying a whole secure connection from the technician's console.</summary>
    private async Task AcceptSessionsAsync(SupportAgent agent, MultiplexedConnection channels, CancellationToken ended)
    {
        var host = new SupportAgentHost(agent, SessionOptions(agent));
        try
        {
            while (await channels.AcceptChannelAsync(ended).ConfigureAwait(false) is { } channel)
            {
                if (channel.Name != PresenceMessage.SessionChannel)
                {
                    channel.Reset("a unit takes only session channels from its host");
                    continue;
                }

                Task serving = ServeRoutedAsync(host, channel);
                lock (_served)
                {
                    _served.RemoveAll(t => t.IsCompleted);
                    _served.Add(serving);
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ChannelException)
        {
            // The standing connection ended; sessions in progress end with it, metered and receipted as dropped.
        }
    }

    private async Task ServeRoutedAsync(SupportAgentHost host, MultiplexedChannel channel)
    {
        var line = new ChannelConnection(channel, "routed session");
        SupportSessionEnded ended;
        try
        {
            ended = SupportSessionEnded.Served(await host.ServeAsync(line, dialedOut: false, _sessions.Token).ConfigureAwait(false));
        }
        catch (Exception ex)
        {
            ended = new SupportSessionEnded(null, ex); // a refusal, a failed handshake, or the cut-off at the end of the shutdown wait
        }
        finally
        {
            await line.DisposeAsync().ConfigureAwait(false);
        }

        SessionEnded?.Invoke(ended);
    }

    private SupportConnectionOptions StandingOptions(SupportAgent agent)
    {
        var secure = new SecureChannelOptions { Identity = _agentOptions.Identity, TrustStore = _agentOptions.Trust, TimeProvider = _agentOptions.TimeProvider };
        secure.AcceptedPeers.Add(new ExpectedPeer(agent.GroundRules.Current!.VendorId, PartyRole.Vendor)); // a console host of the vendor of the ground rules
        return new SupportConnectionOptions { Secure = secure, CloseTimeout = TimeSpan.FromSeconds(2) };
    }

    private SupportConnectionOptions SessionOptions(SupportAgent agent)
    {
        var secure = new SecureChannelOptions { Identity = _agentOptions.Identity, TrustStore = _agentOptions.Trust, StaticKey = _sessionKey, TimeProvider = _agentOptions.TimeProvider };
        secure.AcceptedPeers.Add(new ExpectedPeer(agent.GroundRules.Current!.VendorId, PartyRole.Technician));
        return new SupportConnectionOptions { Secure = secure };
    }

    private static async Task<PresenceMessage?> ReceiveAsync(MultiplexedChannel presence, CancellationToken cancellationToken)
    {
        byte[]? bytes = await presence.ReceiveMessageAsync(cancellationToken).ConfigureAwait(false);
        return bytes is null ? null : PresenceMessage.Parse(bytes);
    }
}
