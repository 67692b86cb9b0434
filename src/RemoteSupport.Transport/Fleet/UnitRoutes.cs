namespace RemoteSupport.Transport.Fleet;

/// <summary>Which console host holds a unit's standing connection, and since when.</summary>
/// <param name="CustomerId">The unit's customer.</param>
/// <param name="UnitId">The unit.</param>
/// <param name="HostId">The console host that holds the connection (<see cref="UnitDirectoryOptions.HostId"/>).</param>
/// <param name="KeyId">The key id the unit authenticated with.</param>
/// <param name="ConnectedSince">When the connection was announced, by the holding host's clock.</param>
public sealed record UnitRoute(string CustomerId, string UnitId, string HostId, string KeyId, DateTimeOffset ConnectedSince);

/// <summary>A unit came online on a host (<see cref="IsOnline"/>), or its connection there ended.</summary>
/// <param name="Route">The connection's route.</param>
/// <param name="IsOnline">True when the connection came up; false when it ended.</param>
public sealed record UnitRouteChange(UnitRoute Route, bool IsOnline);

/// <summary>
/// The fleet's routing shared by the vendor's console hosts: which host holds which unit, so a technician on any
/// host finds the unit (the PostgreSQL package keeps it in a table). Each <see cref="UnitDirectory"/> with
/// <see cref="UnitDirectoryOptions.Routes"/> set writes its comings and goings here, coalesced and in batches, off the
/// connections' paths.
/// </summary>
public interface IUnitRouteStore
{
    /// <summary>
    /// Applies changes in order. An online change claims the unit for its host unless a connection announced later
    /// holds it (the newest connection wins, whichever host wrote first); an ended connection removes the unit's route
    /// only while that host's connection, announced no later, still holds it.
    /// </summary>
    /// <returns>A task that completes once the changes are durable.</returns>
    /// <param name="changes">The changes, oldest first.</param>
    /// <param name="cancellationToken">Stops the write (all or none of the changes are applied).</param>
    Task ApplyAsync(IReadOnlyList<UnitRouteChange> changes, CancellationToken cancellationToken = default);

    /// <summary>Removes every route <paramref name="hostId"/> holds: a host starting (after a crash left its routes behind) or stopping.</summary>
    /// <returns>How many routes were removed.</returns>
    /// <param name="hostId">The host.</param>
    /// <param name="cancellationToken">Stops the write.</param>
    Task<int> ReleaseHostAsync(string hostId, CancellationToken cancellationToken = default);

    /// <summary>Finds which host holds a unit.</summary>
    /// <returns>The route, or null when no host holds the unit.</returns>
    /// <param name="customerId">The unit's customer.</param>
    /// <param name="unitId">The unit.</param>
    /// <param name="cancellationToken">Stops the read.</param>
    Task<UnitRoute?> FindAsync(string customerId, string unitId, CancellationToken cancellationToken = default);
}
