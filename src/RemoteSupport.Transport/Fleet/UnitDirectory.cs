using System.Net;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using RemoteSupport.Sessions;
using RemoteSupport.Transport.Channels;
using RemoteSupport.Transport.Sessions;
using RemoteSupport.Transport.Transports;

namespace RemoteSupport.Transport.Fleet;

/// <summary>A unit holding a standing connection to a console host.</summary>
/// <param name="CustomerId">The customer the unit belongs to (its authenticated key's party).</param>
/// <param name="UnitId">The unit's id within its customer.</param>
/// <param name="KeyId">The key id of the unit's authenticated key.</param>
/// <param name="KeyFingerprint">Its fingerprint, for people.</param>
/// <param name="AgentVersion">The agent's software version, as it announced.</param>
/// <param name="Capabilities">What the agent offers (session capabilities).</param>
/// <param name="ConnectedSince">When this standing connection was announced.</param>
/// <param name="LastHeartbeat">When the unit was last heard.</param>
/// <param name="HostId">The console host that holds the connection.</param>
public sealed record OnlineUnit(
    string CustomerId, string UnitId, string KeyId, string KeyFingerprint, string AgentVersion, IReadOnlyList<string> Capabilities,
    DateTimeOffset ConnectedSince, DateTimeOffset LastHeartbeat, string HostId);

/// <summary>A unit came online or went offline, and why.</summary>
/// <param name="Unit">The unit, as it was last known.</param>
/// <param name="IsOnline">Whether it is online now.</param>
/// <param name="Reason">Why it went offline (the line dropped, no heartbeat, replaced, withdrawn, the host stopping); <c>online</c> when it came online.</param>
public sealed record UnitPresenceChange(OnlineUnit Unit, bool IsOnline, string Reason);

/// <summary>
/// The vendor's side of the fleet (docs/protocol/fleet.md): a console host that units hold standing outbound
/// connections to. It knows which units are online, raises their comings and goings, and opens sessions on
/// them over those connections, each with its own end-to-end handshake between the technician's console and
/// the unit, so the host routes bytes it cannot read.
/// </summary>
public sealed partial class UnitDirectory : IHostedService, IAsyncDisposable
{
    private readonly UnitDirectoryOptions _options;
    private readonly Dictionary<(string Customer, string Unit), Standing> _online = [];
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _handshakes;
    private readonly SemaphoreSlim _pending;
    private readonly List<Task> _connections = [];
    private int _pruneAt = 64;
    private int _pendingCount;
    private TcpConnectionListener? _listener;
    private Task _accepting = Task.CompletedTask;
    private Task _sweeping = Task.CompletedTask;
    private readonly UnitRouteWriter? _routes;
    private long _admittedInSecond;
    private long _admissionSecond;

    /// <summary>Creates the directory from its options (checked by <see cref="UnitDirectoryOptions.Validate"/>).</summary>
    /// <exception cref="ArgumentException">The options are incomplete; the message lists every problem.</exception>
    public UnitDirectory(UnitDirectoryOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        IReadOnlyList<string> problems = options.Validate();
        if (problems.Count > 0)
        {
            Error.Argument(nameof(options), "The unit directory's options are incomplete: " + string.Join(" ", problems));
        }

        _options = options;
        _handshakes = new SemaphoreSlim(options.MaxConcurrentHandshakes, options.MaxConcurrentHandshakes);
        _pending = new SemaphoreSlim(options.MaxPendingConnections, options.MaxPendingConnections);
        _routes = options.Routes is null ? null : new UnitRouteWriter(options.Routes, options.HostId, () => Online, options.RouteRewriteInterval, options.Logger);
    }

    /// <summary>Creates the directory from options given by DI.</summary>
    public UnitDirectory(IOptions<UnitDirectoryOptions> options)
        : this((options ?? throw new ArgumentNullException(nameof(options))).Value)
    {
    }

    /// <summary>Raised when a unit comes online or goes offline (on the connection's task; keep it short).</summary>
    public event Action<UnitPresenceChange>? PresenceChanged;

    /// <summary>Gets the endpoint units connect to, once started (the port picked when it was 0).</summary>
    public IPEndPoint? BoundEndPoint => _listener?.BoundEndPoint;

    /// <summary>Gets how many accepted connections are not yet online (at most <see cref="UnitDirectoryOptions.MaxPendingConnections"/>).</summary>
    public int PendingConnections => Volatile.Read(ref _pendingCount);

    /// <summary>Gets the units online now, a snapshot.</summary>
    public IReadOnlyList<OnlineUnit> Online
    {
        get
        {
            lock (_gate)
            {
                return [.. _online.Values.Select(s => s.Unit)];
            }
        }
    }

    /// <summary>Gets a unit if it is online, or null.</summary>
    /// <returns>The unit, or null when it is offline.</returns>
    /// <param name="customerId">The unit's customer.</param>
    /// <param name="unitId">The unit.</param>
    public OnlineUnit? Find(string customerId, string unitId)
    {
        lock (_gate)
        {
            return _online.GetValueOrDefault((customerId, unitId))?.Unit;
        }
    }

    /// <summary>
    /// Finds which console host holds a unit: this one when the unit is online here, else the shared routing
    /// (<see cref="UnitDirectoryOptions.Routes"/>) when there is one.
    /// </summary>
    /// <returns>The unit's route, or null when no host holds it.</returns>
    /// <param name="customerId">The unit's customer.</param>
    /// <param name="unitId">The unit.</param>
    /// <param name="cancellationToken">Stops the read of the shared routing.</param>
    public async Task<UnitRoute?> LocateAsync(string customerId, string unitId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(customerId);
        ArgumentNullException.ThrowIfNull(unitId);
        if (Find(customerId, unitId) is { } here)
        {
            return new UnitRoute(here.CustomerId, here.UnitId, here.HostId, here.KeyId, here.ConnectedSince);
        }

        return _options.Routes is null ? null : await _options.Routes.FindAsync(customerId, unitId, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Starts taking units' standing connections; with shared routing, first removes the routes an earlier run of this
    /// host left behind.
    /// </summary>
    /// <returns>A task that completes once the listener is bound.</returns>
    /// <param name="cancellationToken">Stops the removal of old routes.</param>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_routes is not null)
        {
            using var starting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            await _routes.ReleaseHostAsync(starting.Token).ConfigureAwait(false);
            _routes.Start(_stop.Token);
        }

        _listener = TcpConnectionListener.Listen(IPEndPoint.Parse(_options.Listen!), backlog: 4096);
        _accepting = AcceptAsync(_listener, _stop.Token);
        _sweeping = SweepSilentUnitsAsync(_stop.Token);
    }

    /// <summary>Stops taking connections and closes every standing connection (units reconnect to another host, or to this one when it is back).</summary>
    /// <returns>A task that completes when every connection is closed.</returns>
    /// <param name="cancellationToken">Ends the wait.</param>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_listener is not null)
        {
            await _listener.DisposeAsync().ConfigureAwait(false);
        }

        await _accepting.ConfigureAwait(false);
        await _sweeping.ConfigureAwait(false);
        Task[] connections;
        lock (_gate)
        {
            connections = [.. _connections];
        }

        try
        {
            await Task.WhenAll(connections).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (_routes is not null)
            {
                await _routes.StopAsync(CancellationToken.None).ConfigureAwait(false); // this host's routes go, whatever the wait did
            }
        }
    }

    /// <summary>Stops the directory if it runs.</summary>
    /// <returns>A task that completes when everything is closed.</returns>
    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await StopAsync(CancellationToken.None).ConfigureAwait(false);
        }

        _stop.Dispose();
        _handshakes.Dispose();
        _pending.Dispose();
        _routes?.Dispose();
        _connection?.Secure?.StaticKey?.Dispose(); // the host's Noise static key, generated with its first connection
    }

    /// <summary>
    /// Opens a support session on an online unit over its standing connection: a channel of that connection
    /// carries the session's own secure handshake between <paramref name="console"/>'s technician key and the
    /// unit's key, then the session protocol; the unit checks the technician exactly as for a direct connection.
    /// </summary>
    /// <returns>The session's connection, as <see cref="SupportConsole.ConnectAsync"/> gives it.</returns>
    /// <param name="customerId">The unit's customer.</param>
    /// <param name="unitId">The unit.</param>
    /// <param name="console">The technician's console.</param>
    /// <param name="cancellationToken">Stops the open.</param>
    /// <exception cref="SessionRefusedException">The unit is not online (<c>unit-offline</c>, at once), or the agent refused the session.</exception>
    public async Task<SupportConsoleConnection> OpenSessionAsync(string customerId, string unitId, SupportConsole console, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(console);
        TransportConnection line = await OpenRouteAsync(customerId, unitId, cancellationToken).ConfigureAwait(false);
        try
        {
            return await SupportConsoleConnection.OpenAsync(line, dialed: true, console.Options, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await line.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Opens the channel of a unit's standing connection that carries one routed session, as a connection of its own.</summary>
    /// <exception cref="SessionRefusedException">The unit is not online (<c>unit-offline</c>).</exception>
    internal async Task<TransportConnection> OpenRouteAsync(string customerId, string unitId, CancellationToken cancellationToken)
    {
        Standing? standing;
        lock (_gate)
        {
            standing = _online.GetValueOrDefault((customerId, unitId));
        }

        if (standing is null)
        {
            throw new SessionRefusedException("unit-offline", $"Unit {unitId} of {customerId} holds no connection to this host.");
        }

        MultiplexedChannel channel = await standing.Channels.OpenChannelAsync(PresenceMessage.SessionChannel, cancellationToken).ConfigureAwait(false);
        return new ChannelConnection(channel, $"{customerId}/{unitId} via {_options.HostId}");
    }

    private async Task AcceptAsync(TcpConnectionListener listener, CancellationToken stop)
    {
        try
        {
            while (true)
            {
                await _pending.WaitAsync(stop).ConfigureAwait(false); // at the bound, new connections wait in the backlog
                if (await listener.AcceptAsync(stop).ConfigureAwait(false) is not { } connection)
                {
                    break;
                }

                Interlocked.Increment(ref _pendingCount);
                Task serving = ServeAsync(new Lease(_pending, () => Interlocked.Decrement(ref _pendingCount)), connection, stop);
                lock (_gate)
                {
                    if (_connections.Count >= _pruneAt)
                    {
                        _connections.RemoveAll(t => t.IsCompleted); // amortized: a herd of accepts stays linear
                        _pruneAt = Math.Max(64, _connections.Count * 2);
                    }

                    _connections.Add(serving);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Stopped.
        }
    }

    /// <summary>Waits for admission: at most the configured new connections per second; nobody is turned away for it.</summary>
    private async Task AdmitAsync(CancellationToken stop)
    {
        while (true)
        {
            long second = _options.TimeProvider.GetUtcNow().ToUnixTimeSeconds();
            lock (_gate)
            {
                if (second != _admissionSecond)
                {
                    _admissionSecond = second;
                    _admittedInSecond = 0;
                }

                if (_admittedInSecond < _options.MaxNewConnectionsPerSecond)
                {
                    _admittedInSecond++;
                    break;
                }
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50), _options.TimeProvider, stop).ConfigureAwait(false);
        }
    }

    /// <summary>A handshake slot: taken when a handshake message has arrived, given back before waiting for the next.</summary>
    private async ValueTask<IDisposable> TakeHandshakeSlotAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _handshakes.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ObjectDisposedException ex)
        {
            throw new OperationCanceledException("The unit directory was disposed during the handshake.", ex);
        }

        return new Lease(_handshakes);
    }

    /// <summary>
    /// A place taken from a semaphore (a handshake slot, or a pending connection's place), given back once
    /// however often it is disposed, and even after the directory was disposed.
    /// </summary>
    private sealed class Lease(SemaphoreSlim places, Action? released = null) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                released?.Invoke();
                try
                {
                    places.Release();
                }
                catch (ObjectDisposedException)
                {
                    // The directory was disposed while this connection ended.
                }
            }
        }
    }
}
