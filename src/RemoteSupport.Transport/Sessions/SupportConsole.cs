using RemoteSupport.Transport.Transports;

namespace RemoteSupport.Transport.Sessions;

/// <summary>
/// The vendor's console: opens sessions with units it dials, or with units that dialed out to it
/// (where the customer's firewall allows only outbound lines), and states its compatibility specification.
/// </summary>
public sealed class SupportConsole(SupportConnectionOptions options)
{
    /// <summary>Gets the connection options the console runs with.</summary>
    public SupportConnectionOptions Options => options;

    /// <summary>Dials a unit and opens a session.</summary>
    /// <exception cref="RemoteSupport.Sessions.SessionProtocolException">The agent refused the session.</exception>
    public async Task<SupportConsoleConnection> ConnectAsync(IConnectionDialer unit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(unit);
        TransportConnection connection = await unit.DialAsync(cancellationToken).ConfigureAwait(false);
        return await SupportConsoleConnection.OpenAsync(connection, dialed: true, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Opens a session over a connection a unit dialed out to the console (the unit runs the handshake as initiator).</summary>
    public Task<SupportConsoleConnection> AcceptAsync(TransportConnection unitDialedOut, CancellationToken cancellationToken = default) =>
        SupportConsoleConnection.OpenAsync(unitDialedOut, dialed: false, options, cancellationToken);

    /// <summary>The console's compatibility specification, generated from its options.</summary>
    public CompatibilitySpecification DescribeCompatibility(string vendorId, IReadOnlyList<CompatibilityEndpoint> endpoints, LineRequirements line) =>
        CompatibilitySpecification.Describe(vendorId, options, endpoints, line);
}
