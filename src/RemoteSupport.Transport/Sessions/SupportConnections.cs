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

    /// <summary>Gets or sets how long an orderly close may take before the connection is aborted. Default 10 s.</summary>
    public TimeSpan CloseTimeout { get; set; } = TimeSpan.FromSeconds(10);

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
    /// <summary>Accepts connections from <paramref name="listener"/> until it stops or <paramref name="cancellationToken"/> fires, serving each.</summary>
    /// <param name="listener">Where consoles connect.</param>
    /// <param name="sessionEnded">Called with each session's receipt (<see langword="null"/> when refused) or the failure that ended the connection.</param>
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
    /// <returns>The session receipt, or <see langword="null"/> when the session was refused.</returns>
    /// <exception cref="SecureChannelException">The console could not be authenticated.</exception>
    public async Task<SignedEnvelope?> ServeAsync(TransportConnection connection, bool dialedOut, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        (SecureConnection secure, MultiplexedConnection channels) = await options.ConnectAsync(connection, dialedOut, cancellationToken).ConfigureAwait(false);
        await using (channels.ConfigureAwait(false))
        {
            MultiplexedChannel? channel = await channels.AcceptChannelAsync(cancellationToken).ConfigureAwait(false);
            if (channel is null)
            {
                return null;
            }

            TrustedKey peer = secure.PeerIdentity;
            SignedEnvelope? receipt = await agent.RunSessionAsync(
                channel, new MultiplexedSessionStreams(channels), new SessionPeer(peer.PartyId, peer.Role, peer.Key), cancellationToken).ConfigureAwait(false);

            // What was sent (a refusal, the receipt) reaches the console before the line closes.
            await channel.Output.CompleteAsync().ConfigureAwait(false);
            await CloseAsync(channels, options.CloseTimeout, cancellationToken).ConfigureAwait(false);
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

    private async Task ServeOneAsync(TransportConnection connection, Action<SignedEnvelope?, Exception?>? sessionEnded, CancellationToken cancellationToken)
    {
        try
        {
            SignedEnvelope? receipt = await ServeAsync(connection, dialedOut: false, cancellationToken).ConfigureAwait(false);
            sessionEnded?.Invoke(receipt, null);
        }
        catch (Exception ex) when (ex is SecureChannelException or FramingException or IOException or OperationCanceledException or SessionProtocolException)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            sessionEnded?.Invoke(null, ex);
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
    /// <exception cref="SessionProtocolException">The agent refused the session (with its reason).</exception>
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
            SupportSession session = await SupportSession.OpenAsync(channel, new MultiplexedSessionStreams(channels), cancellationToken).ConfigureAwait(false);
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
