using RemoteSupport.Documents;
using RemoteSupport.Sessions;
using RemoteSupport.Transport.Channels;
using RemoteSupport.Transport.Framing;
using RemoteSupport.Transport.Security;
using RemoteSupport.Transport.Transports;
using RemoteSupport.Trust;

namespace RemoteSupport.Transport.Sessions;

/// <summary>How a console or an agent connects: the secure channel's identity and trust, and the channel limits.</summary>
public sealed class SupportConnectionOptions
{
    /// <summary>Gets the secure channel options: this side's identity and static key, the trust store, the accepted peers.</summary>
    public required SecureChannelOptions Secure { get; init; }

    /// <summary>Gets or sets the framing options.</summary>
    public FramingOptions? Framing { get; set; }

    /// <summary>Gets or sets the channel limits.</summary>
    public MultiplexerOptions? Channels { get; set; }

    /// <summary>Gets or sets how long an orderly close may take before the connection is aborted.</summary>
    /// <value>The default is 10 s.</value>
    public TimeSpan CloseTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Gets or sets how many connections an agent host serves at once, handshakes included; a connection
    /// beyond it is closed at once, before any cryptography, and reported as <c>too-many-connections</c>.
    /// </summary>
    /// <value>The default is 256.</value>
    public int MaxConnections { get; set; } = 256;

    /// <summary>
    /// Gets or sets how many handshakes an agent host runs at once (each holds buffers until it completes or
    /// its <see cref="SecureChannelOptions.HandshakeTimeout"/> passes); a connection beyond it is closed at
    /// once and reported as <c>too-many-handshakes</c>.
    /// </summary>
    /// <value>The default is 128 (about 16 MiB of buffers at most).</value>
    public int MaxPendingHandshakes { get; set; } = 128;

    /// <summary>
    /// Gets or sets the vendor's signed compatibility specification (<see cref="CompatibilitySpecification.ToEnvelope"/>, signed by the
    /// vendor), handed to every agent that requests it in its welcome (docs/protocol/session.md); none when null.
    /// </summary>
    public Documents.SignedEnvelope? CompatibilitySpecification { get; set; }

    internal async Task<(SecureConnection Secure, MultiplexedConnection Channels)> ConnectAsync(
        TransportConnection connection, bool initiator, CancellationToken cancellationToken)
    {
        FramedConnection framed = await FramedConnection.StartAsync(connection, Framing, cancellationToken).ConfigureAwait(false);
        SecureConnection secure = initiator
            ? await SecureConnection.ConnectAsync(framed, Secure, cancellationToken).ConfigureAwait(false)
            : await SecureConnection.AcceptAsync(framed, Secure, cancellationToken).ConfigureAwait(false);
        return (secure, MultiplexedConnection.Start(secure, Channels));
    }
}

/// <summary>
/// The wiring of a unit's agent: each connection (accepted from a console, or dialed out to the
/// vendor's console where a firewall allows only outbound lines) gets the secure channel, channels,
/// and one session run by the <see cref="SupportAgent"/>.
/// </summary>
public sealed class SupportAgentHost(SupportAgent agent, SupportConnectionOptions options)
{
    private int _connections;
    private int _handshakes;

    /// <summary>Accepts connections from <paramref name="listener"/> until it stops or <paramref name="cancellationToken"/> fires, serving each.</summary>
    /// <param name="listener">Where consoles connect.</param>
    /// <param name="sessionEnded">Called once per connection accepted, with its session's receipt, or the failure that ended the connection without one (a <see cref="SessionRefusedException"/> when the session was refused, with the code and sentence the console was told; a <see cref="SessionProtocolException"/> with code <c>no-session</c> when the console closed the connection after its handshake without opening a session).</param>
    /// <param name="cancellationToken">Stops accepting.</param>
    public async Task RunAsync(IConnectionListener listener, Action<SignedEnvelope?, Exception?>? sessionEnded = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(listener);
        var sessions = new List<Task>();
        try
        {
            while (await listener.AcceptAsync(cancellationToken).ConfigureAwait(false) is { } connection)
            {
                sessions.RemoveAll(t => t.IsCompleted);
                if (RefusalAtCapacity() is { } refusal)
                {
                    // Reported before the line closes, so whoever sees the close finds the report.
                    try
                    {
                        sessionEnded?.Invoke(null, refusal);
                    }
                    finally
                    {
                        await connection.DisposeAsync().ConfigureAwait(false);
                    }

                    continue;
                }

                sessions.Add(ServeOneAsync(connection, sessionEnded, cancellationToken));
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopped: the sessions in progress finish below.
        }

        await Task.WhenAll(sessions).ConfigureAwait(false);
    }

    /// <summary>
    /// Serves one connection: the handshake (as its initiator when the unit dialed out), channels, one
    /// session, then an orderly close.
    /// </summary>
    /// <returns>The session receipt, or <see langword="null"/> when the console closed the connection without opening a session.</returns>
    /// <exception cref="SecureChannelException">The console could not be authenticated.</exception>
    /// <exception cref="SessionRefusedException">The agent refused the session (the console was told the same code and sentence).</exception>
    /// <exception cref="SessionProtocolException">The console opened no session channel within the agent's <see cref="SupportAgentParts.HelloTimeout"/> (<c>hello-timeout</c>).</exception>
    public Task<SignedEnvelope?> ServeAsync(TransportConnection connection, bool dialedOut, CancellationToken cancellationToken = default) =>
        ServeCoreAsync(connection, dialedOut, null, CancellationToken.None, cancellationToken);

    /// <summary>Serves one connection as <see cref="ServeAsync(TransportConnection, bool, CancellationToken)"/> does; <paramref name="beforeSession"/> also stops it until its session channel is open (a host that stops taking connections drops the ones still in their handshake).</summary>
    internal Task<SignedEnvelope?> ServeAsync(TransportConnection connection, bool dialedOut, CancellationToken beforeSession, CancellationToken cancellationToken) =>
        ServeCoreAsync(connection, dialedOut, null, beforeSession, cancellationToken);

    private async Task<SignedEnvelope?> ServeCoreAsync(
        TransportConnection connection, bool dialedOut, Action? handshakeDone, CancellationToken beforeSession, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        SecureConnection secure;
        MultiplexedConnection channels;
        using var opening = CancellationTokenSource.CreateLinkedTokenSource(beforeSession, cancellationToken);
        try
        {
            (secure, channels) = await options.ConnectAsync(connection, dialedOut, opening.Token).ConfigureAwait(false);
        }
        finally
        {
            handshakeDone?.Invoke();
        }

        await using (channels.ConfigureAwait(false))
        {
            // The hello deadline starts here, one budget for the channel and the hello: a trusted key that
            // opens no channel is cut off, keepalives or not.
            long handshaken = agent.Time.GetTimestamp();
            MultiplexedChannel? channel;
            using (var deadline = new CancellationTokenSource(agent.HelloTimeout, agent.Time))
            using (var linked = CancellationTokenSource.CreateLinkedTokenSource(opening.Token, deadline.Token))
            {
                try
                {
                    channel = await channels.AcceptChannelAsync(linked.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (deadline.IsCancellationRequested && !opening.IsCancellationRequested)
                {
                    await channels.AbortAsync("no session channel in time").ConfigureAwait(false);
                    throw new SessionProtocolException("hello-timeout", string.Create(System.Globalization.CultureInfo.InvariantCulture,
                        $"The console opened no session channel within {agent.HelloTimeout.TotalSeconds:0.###} s of its handshake."));
                }
            }

            if (channel is null)
            {
                return null;
            }

            TrustedKey peer = secure.PeerIdentity;
            SignedEnvelope receipt;
            try
            {
                receipt = await agent.RunSessionAsync(
                    channel, new MultiplexedSessionStreams(channels), new SessionPeer(peer.PartyId, peer.Role, peer.Key),
                    agent.HelloTimeout - agent.Time.GetElapsedTime(handshaken), cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                // What was sent (a refusal, the receipt) reaches the console before the line closes.
                await channel.Output.CompleteAsync().ConfigureAwait(false);
                await CloseAsync(channels, options.CloseTimeout, cancellationToken).ConfigureAwait(false);
            }

            return receipt;
        }
    }

    internal static async Task CloseAsync(MultiplexedConnection channels, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var grace = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        grace.CancelAfter(timeout);
        try
        {
            await channels.ShutdownAsync("session over", grace.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The peer kept its side open: the connection was aborted.
        }
    }

    /// <summary>Counts a new connection in, or says which limit it is over (counting nothing).</summary>
    private SessionProtocolException? RefusalAtCapacity()
    {
        if (Interlocked.Increment(ref _connections) > options.MaxConnections)
        {
            Interlocked.Decrement(ref _connections);
            return new SessionProtocolException("too-many-connections", string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"The unit serves at most {options.MaxConnections} connections at once (SupportConnectionOptions.MaxConnections); this one was closed."));
        }

        if (Interlocked.Increment(ref _handshakes) > options.MaxPendingHandshakes)
        {
            Interlocked.Decrement(ref _handshakes);
            Interlocked.Decrement(ref _connections);
            return new SessionProtocolException("too-many-handshakes", string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"The unit runs at most {options.MaxPendingHandshakes} handshakes at once (SupportConnectionOptions.MaxPendingHandshakes); this one was closed."));
        }

        return null;
    }

    private async Task ServeOneAsync(TransportConnection connection, Action<SignedEnvelope?, Exception?>? sessionEnded, CancellationToken cancellationToken)
    {
        try
        {
            // ServeCoreAsync gives the handshake slot back once the handshake ends, whichever way.
            SignedEnvelope? receipt = await ServeCoreAsync(connection, dialedOut: false, () => Interlocked.Decrement(ref _handshakes), CancellationToken.None, cancellationToken).ConfigureAwait(false);
            // A connection that ends without a session still ends for a reason the host reports.
            SupportSessionEnded ended = SupportSessionEnded.Served(receipt);
            sessionEnded?.Invoke(ended.Receipt, ended.Failure);
        }
        catch (Exception ex) when (ex is SecureChannelException or FramingException or IOException or OperationCanceledException or SessionProtocolException)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            sessionEnded?.Invoke(null, ex);
        }
        finally
        {
            Interlocked.Decrement(ref _connections);
        }
    }
}

/// <summary>A console's connection to one unit: the secure channel, its channels, and the open session.</summary>
public sealed class SupportConsoleConnection : IAsyncDisposable
{
    private readonly TimeSpan _closeTimeout;
    private readonly MultiplexedChannel _channel;

    private SupportConsoleConnection(SecureConnection secure, MultiplexedConnection channels, MultiplexedChannel channel, SupportSession session, TimeSpan closeTimeout)
    {
        _channel = channel;
        Secure = secure;
        Channels = channels;
        Session = session;
        _closeTimeout = closeTimeout;
    }

    /// <summary>Gets the secure channel (the unit's authenticated identity is <see cref="SecureConnection.PeerIdentity"/>).</summary>
    public SecureConnection Secure { get; }

    /// <summary>Gets the channels the session runs on.</summary>
    public MultiplexedConnection Channels { get; }

    /// <summary>Gets the session.</summary>
    public SupportSession Session { get; }

    /// <summary>
    /// Opens a session over <paramref name="connection"/>: dialed by the console, or accepted from a unit
    /// that dialed out (<paramref name="dialed"/> false).
    /// </summary>
    /// <exception cref="SessionRefusedException">The agent refused the session (with the code and sentence the agent's host reports too).</exception>
    /// <exception cref="SecureChannelException">The unit could not be authenticated.</exception>
    public static async Task<SupportConsoleConnection> OpenAsync(
        TransportConnection connection, bool dialed, SupportConnectionOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(options);
        (SecureConnection secure, MultiplexedConnection channels) = await options.ConnectAsync(connection, dialed, cancellationToken).ConfigureAwait(false);
        try
        {
            MultiplexedChannel channel = await channels.OpenChannelAsync("session", cancellationToken).ConfigureAwait(false);
            SupportSession session = await SupportSession.OpenAsync(
                channel, new MultiplexedSessionStreams(channels), SupportSession.SupportedVersions, options.CompatibilitySpecification, cancellationToken).ConfigureAwait(false);
            return new SupportConsoleConnection(secure, channels, channel, session, options.CloseTimeout);
        }
        catch
        {
            await channels.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Closes the connection in order (after <see cref="SupportSession.CloseAsync"/>), or aborts it after the close timeout.</summary>
    public async ValueTask DisposeAsync()
    {
        Session.Dispose();
        await _channel.Output.CompleteAsync().ConfigureAwait(false);
        await _channel.Input.CompleteAsync().ConfigureAwait(false);
        await SupportAgentHost.CloseAsync(Channels, _closeTimeout, CancellationToken.None).ConfigureAwait(false);
        await Channels.DisposeAsync().ConfigureAwait(false);
    }
}
