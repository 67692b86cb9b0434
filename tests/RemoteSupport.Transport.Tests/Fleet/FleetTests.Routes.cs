using RemoteSupport.Transport.Fleet;

namespace RemoteSupport.Transport.Tests.Fleet;

public sealed partial class FleetTests
{
    [Fact]
    public async Task AHostWritesItsUnitsRoutes_ClearsItsOldOnesAtStart_AndAnotherHostLocatesThem()
    {
        var routes = new RecordedRoutes();
        await routes.ApplyAsync([new UnitRouteChange(new UnitRoute("fabrikam", "unit-8", "host-a", "old", DateTimeOffset.UtcNow.AddHours(-1)), true)]);
        UnitDirectory hostA = await HostAsync(configure: o => o.Routes = routes);
        UnitDirectory hostB = await HostAsync(configure: o => { o.Routes = routes; o.HostId = "host-b"; });

        (await routes.FindAsync("fabrikam", "unit-8")).Should().BeNull("host-a's earlier run left it behind, and the start cleared it");
        UnitConnector unit = await UnitAsync("unit-7", _unit7, hostA.BoundEndPoint!);
        await UntilAsync(() => routes.Holds("fabrikam", "unit-7"));

        UnitRoute? seenFromB = await hostB.LocateAsync("fabrikam", "unit-7", Token);
        seenFromB.Should().NotBeNull();
        seenFromB!.HostId.Should().Be("host-a");
        seenFromB.KeyId.Should().Be(_unit7.PublicKey.KeyId);
        (await hostA.LocateAsync("fabrikam", "unit-7", Token))!.HostId.Should().Be("host-a", "the holding host answers from its own units");
        (await hostB.LocateAsync("fabrikam", "unit-9", Token)).Should().BeNull();

        await unit.StopAsync(Token);
        await UntilAsync(() => !routes.Holds("fabrikam", "unit-7"));
        (await hostB.LocateAsync("fabrikam", "unit-7", Token)).Should().BeNull("the unit's connection ended and host-a said so");
    }

    [Fact]
    public async Task ARouteWriteThatFails_IsRetried_UntilTheStoreTakesIt()
    {
        var routes = new RecordedRoutes { FailingWrites = 3 };
        UnitDirectory host = await HostAsync(configure: o => o.Routes = routes);
        await UnitAsync("unit-7", _unit7, host.BoundEndPoint!);

        await UntilAsync(() => routes.Holds("fabrikam", "unit-7"));

        routes.FailingWrites.Should().Be(0, "three writes failed before this one was taken");
    }

    [Fact]
    public async Task ARouteLostBehindTheHostsBack_IsWrittenAgain_WithoutTheUnitReconnecting()
    {
        var routes = new RecordedRoutes();
        UnitDirectory host = await HostAsync(configure: o => { o.Routes = routes; o.RouteRewriteInterval = TimeSpan.FromSeconds(1); });
        await UnitAsync("unit-7", _unit7, host.BoundEndPoint!);
        await UntilAsync(() => routes.Holds("fabrikam", "unit-7"));
        DateTimeOffset since = host.Find("fabrikam", "unit-7")!.ConnectedSince;

        routes.Forget("fabrikam", "unit-7");

        await UntilAsync(() => routes.Holds("fabrikam", "unit-7"));
        (await routes.FindAsync("fabrikam", "unit-7"))!.ConnectedSince.Should().Be(since, "the same connection, written again");
    }

    /// <summary>The routing's rules kept in a dictionary: what a directory writes, observed.</summary>
    private sealed class RecordedRoutes : IUnitRouteStore
    {
        private readonly Dictionary<(string, string), UnitRoute> _routes = [];

        public int FailingWrites { get; set; }

        public void Forget(string customerId, string unitId)
        {
            lock (_routes)
            {
                _routes.Remove((customerId, unitId));
            }
        }

        public bool Holds(string customerId, string unitId)
        {
            lock (_routes)
            {
                return _routes.ContainsKey((customerId, unitId));
            }
        }

        public Task ApplyAsync(IReadOnlyList<UnitRouteChange> changes, CancellationToken cancellationToken = default)
        {
            lock (_routes)
            {
                if (FailingWrites > 0)
                {
                    FailingWrites--;
                    throw new IOException("the database is away");
                }

                foreach (UnitRouteChange change in changes)
                {
                    (string, string) key = (change.Route.CustomerId, change.Route.UnitId);
                    UnitRoute? held = _routes.GetValueOrDefault(key);
                    if (change.IsOnline && (held is null || held.ConnectedSince <= change.Route.ConnectedSince))
                    {
                        _routes[key] = change.Route;
                    }
                    else if (!change.IsOnline && held is not null && held.HostId == change.Route.HostId && held.ConnectedSince <= change.Route.ConnectedSince)
                    {
                        _routes.Remove(key);
                    }
                }
            }

            return Task.CompletedTask;
        }

        public Task<int> ReleaseHostAsync(string hostId, CancellationToken cancellationToken = default)
        {
            lock (_routes)
            {
                return Task.FromResult(_routes.Where(r => r.Value.HostId == hostId).ToList().Count(r => _routes.Remove(r.Key)));
            }
        }

        public Task<UnitRoute?> FindAsync(string customerId, string unitId, CancellationToken cancellationToken = default)
        {
            lock (_routes)
            {
                return Task.FromResult(_routes.GetValueOrDefault((customerId, unitId)));
            }
        }
    }
}
