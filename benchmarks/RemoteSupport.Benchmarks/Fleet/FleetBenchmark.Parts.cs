using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using RemoteSupport.Authorization;
using RemoteSupport.Documents;
using RemoteSupport.GroundRules;
using RemoteSupport.Identities;
using RemoteSupport.Sessions;
using RemoteSupport.Transport.Channels;
using RemoteSupport.Transport.Fleet;
using RemoteSupport.Transport.Framing;
using RemoteSupport.Transport.Security;
using RemoteSupport.Transport.Sessions;
using RemoteSupport.Transport.Transports;
using RemoteSupport.Trust;

namespace RemoteSupport.Benchmarks.Fleet;

internal static partial class FleetBenchmark
{
    /// <summary>The console host process: a <see cref="UnitDirectory"/> answering one command per line on stdin.</summary>
    public static async Task<int> HostAsync(string folder)
    {
        Keys keys = await Keys.LoadAsync(folder);
        UnitDirectory directory = await StartDirectoryAsync(keys, "127.0.0.1:0");
        int port = directory.BoundEndPoint!.Port;
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true); // the same measure as the "rss" command
        Console.WriteLine($"ready {port} {Rss()}");
        var console = new SupportConsole(new SupportConsoleOptions { Identity = keys.Technician, Trust = keys.UnitTrust(), Customers = { "fabrikam" } });
        using var allocations = new AllocationSampler();
        // Console.In reads block their thread: read commands on a thread of their own, not one of the pool's two.
        while (await Task.Factory.StartNew(Console.In.ReadLine, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default) is { } command)
        {
            switch (command.Split(' '))
            {
                case ["allocations-start"]:
                    allocations.Start();
                    Console.WriteLine("started");
                    break;
                case ["allocations"]:
                    Console.WriteLine(allocations.Report(12));
                    break;
                case ["gc"]:
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{GC.GetTotalPauseDuration().TotalMilliseconds:0} {GC.CollectionCount(0)} {GC.CollectionCount(1)} {GC.CollectionCount(2)} {GC.GetTotalAllocatedBytes() / 1048576.0:0.0}MiB"));
                    break;
                case ["count"]:
                    Console.WriteLine(directory.Online.Count.ToString(CultureInfo.InvariantCulture));
                    break;
                case ["pending"]:
                    Console.WriteLine(directory.PendingConnections.ToString(CultureInfo.InvariantCulture));
                    break;
                case ["rss"]:
                    // What the idle units hold: after a collection that also returns the free memory the
                    // herd of handshakes left committed (reported too, before it is returned).
                    GC.Collect();
                    long plain = Rss();
                    GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                    GCMemoryInfo gc = GC.GetGCMemoryInfo();
                    Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"host: RSS {plain / 1048576.0:0.0} MiB after a plain collection, {Rss() / 1048576.0:0.0} MiB after an aggressive one; GC heap {gc.HeapSizeBytes / 1048576.0:0.0} MiB, committed {gc.TotalCommittedBytes / 1048576.0:0.0} MiB"));
                    Console.WriteLine(Rss().ToString(CultureInfo.InvariantCulture));
                    break;
                case ["open", string count]:
                    Console.WriteLine(await OpenSessionsAsync(directory, console, int.Parse(count, CultureInfo.InvariantCulture)));
                    break;
                case ["restart"]:
                    await directory.DisposeAsync();
                    directory = await StartDirectoryAsync(keys, $"127.0.0.1:{port}");
                    Console.WriteLine("restarted");
                    break;
                case ["quit"]:
                    await directory.DisposeAsync();
                    return 0;
            }
        }

        return 0;
    }

    private static async Task<UnitDirectory> StartDirectoryAsync(Keys keys, string listen)
    {
        var directory = new UnitDirectory(new UnitDirectoryOptions
        {
            Identity = keys.Vendor, Trust = keys.UnitTrust(), Customers = { "fabrikam" }, Listen = listen, HostId = "bench-host",
            HeartbeatInterval = Heartbeat, HeartbeatTimeout = Heartbeat * 6, RetryAfterSeconds = 5,
        });
        await directory.StartAsync(CancellationToken.None);
        return directory;
    }

    /// <summary>Opens sessions on random online units one after another; prints the p50 and p99 of the time to an open session, in ms.</summary>
    private static async Task<string> OpenSessionsAsync(UnitDirectory directory, SupportConsole console, int count)
    {
        IReadOnlyList<OnlineUnit> online = directory.Online;
        var times = new List<double>(count);
        for (int i = 0; i < count; i++)
        {
            OnlineUnit unit = online[Random.Shared.Next(online.Count)];
            long start = Stopwatch.GetTimestamp();
            await using SupportConsoleConnection connection = await directory.OpenSessionAsync(unit.CustomerId, unit.UnitId, console);
            times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            await connection.Session.CloseAsync();
        }

        return string.Create(CultureInfo.InvariantCulture, $"{Percentile(times, 0.5):0.0} {Percentile(times, 0.99):0.0}");
    }

    private static double Percentile(List<double> values, double p)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        values.Sort();
        return values[Math.Min(values.Count - 1, (int)Math.Ceiling(p * values.Count) - 1)];
    }

    private static long Rss()
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
            }
        }

        return 0;
    }

    /// <summary>The parties' keys, written by the load process and read by the host.</summary>
    private sealed class Keys
    {
        public required PartyIdentity Vendor { get; init; }

        public required PartyIdentity Technician { get; init; }

        public required PartyIdentity Customer { get; init; }

        public required PartyIdentity Unit { get; init; }

        public static async Task<Keys> CreateAsync(string folder)
        {
            var keys = new Keys
            {
                Vendor = PartyIdentity.Create("contoso", PartyRole.Vendor),
                Technician = PartyIdentity.Create("contoso", PartyRole.Technician),
                Customer = PartyIdentity.Create("fabrikam", PartyRole.Customer),
                Unit = PartyIdentity.Create("fabrikam", PartyRole.Unit),
            };
            foreach ((string name, PartyIdentity identity) in keys.All())
            {
                await KeyFile.SaveAsync(identity, Path.Combine(folder, name + ".key"));
            }

            return keys;
        }

        public static async Task<Keys> LoadAsync(string folder) => new()
        {
            Vendor = await KeyFile.LoadAsync(Path.Combine(folder, "vendor.key")),
            Technician = await KeyFile.LoadAsync(Path.Combine(folder, "technician.key")),
            Customer = await KeyFile.LoadAsync(Path.Combine(folder, "customer.key")),
            Unit = await KeyFile.LoadAsync(Path.Combine(folder, "unit.key")),
        };

        /// <summary>The host's trust: the units' key (every simulated unit holds the same one).</summary>
        public TrustStore UnitTrust()
        {
            var trust = new TrustStore();
            trust.Trust("fabrikam", PartyRole.Unit, Unit.PublicKey);
            return trust;
        }

        /// <summary>One agent serves every simulated unit's sessions (its authorization covers every unit).</summary>
        public SupportAgentOptions AgentOptions(string state)
        {
            var trust = new TrustStore();
            foreach (PartyIdentity party in new[] { Vendor, Technician, Customer })
            {
                trust.Trust(party.PartyId, party.Role, party.PublicKey);
            }

            SignedEnvelope rules = new SecurityGroundRules
            {
                Version = 1, CustomerId = "fabrikam", VendorId = "contoso", TimeZone = "UTC", MaxSessionMinutes = 120,
                Operations = [new(SupportOperation.ViewData, true, null)], DataScopes = [new("finance", ["**"], "fabrikam")],
                Hours = new(Enum.GetValues<DayOfWeek>(), "00:00", "00:00"), MaxApprovalLifetimeSeconds = 3600,
                TollCharges = new("EUR", 500, 120, 60, 500, 20_000, 100_000, 10_000),
            }.ToEnvelope().Sign(Customer).Sign(Vendor);
            var options = new SupportAgentOptions
            {
                UnitId = "unit-sim", CustomerId = "fabrikam", StateFolder = state, Identity = Unit, Trust = trust, GroundRules = rules,
                Authorizations =
                {
                    new ServiceAuthorization
                    {
                        AuthorizationId = "auth-bench", CustomerId = "fabrikam", VendorId = "contoso", Units = ["*"], VendorKeys = [Technician.PublicKey.ToString()],
                        GroundRulesHash = SecurityGroundRules.DocumentHash(rules), ValidFrom = DateTimeOffset.UtcNow.AddDays(-1), ValidUntil = DateTimeOffset.UtcNow.AddDays(1),
                    }.ToEnvelope().Sign(Customer),
                },
            };
            options.DataRoots["finance"] = Directory.CreateDirectory(Path.Combine(state, "finance")).FullName;
            return options;
        }

        private IEnumerable<(string Name, PartyIdentity Identity)> All() =>
            [("vendor", Vendor), ("technician", Technician), ("customer", Customer), ("unit", Unit)];
    }

    /// <summary>N units, each holding a standing connection as a <see cref="UnitConnector"/> does (announce, heartbeats, routed sessions, backoff).</summary>
    private sealed class SimulatedFleet(SupportAgent agent, Keys keys, IPEndPoint host, int units)
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly ConcurrentQueue<double> _heartbeats = new();
        private readonly ConcurrentDictionary<string, int> _failures = new();
        private readonly List<Task> _units = [];
        private readonly SupportAgentHost _sessions = new(agent, SessionOptions(keys));

        public void Start()
        {
            for (int i = 0; i < units; i++)
            {
                string unitId = "unit-" + i.ToString(CultureInfo.InvariantCulture);
                _units.Add(Task.Run(() => RunUnitAsync(unitId)));
            }
        }

        public void ResetHeartbeats() => _heartbeats.Clear();

        public double HeartbeatPercentile(double p) => Percentile([.. _heartbeats], p);

        public int HeartbeatCount => _heartbeats.Count;

        /// <summary>Takes the failed attempts since the last call, by kind (why a herd's tail is long).</summary>
        public string TakeFailures()
        {
            string text = string.Join("; ", _failures.OrderByDescending(f => f.Value).Select(f => $"{f.Value} {f.Key}"));
            _failures.Clear();
            return text.Length == 0 ? "none" : text;
        }

        public async Task StopAsync()
        {
            await _stop.CancelAsync();
            await Task.WhenAll(_units);
        }

        private static SupportConnectionOptions SessionOptions(Keys keys)
        {
            var secure = new SecureChannelOptions { Identity = keys.Unit, TrustStore = Trust(keys), StaticKey = NoiseStaticKey.Generate() };
            secure.AcceptedPeers.Add(new ExpectedPeer("contoso", PartyRole.Technician));
            return new SupportConnectionOptions { Secure = secure };
        }

        private static TrustStore Trust(Keys keys)
        {
            var trust = new TrustStore();
            trust.Trust("contoso", PartyRole.Vendor, keys.Vendor.PublicKey);
            trust.Trust("contoso", PartyRole.Technician, keys.Technician.PublicKey);
            return trust;
        }

        private async Task RunUnitAsync(string unitId)
        {
            var secure = new SecureChannelOptions { Identity = keys.Unit, TrustStore = Trust(keys) };
            secure.AcceptedPeers.Add(new ExpectedPeer("contoso", PartyRole.Vendor));
            var standing = new SupportConnectionOptions { Secure = secure, CloseTimeout = TimeSpan.FromSeconds(1) };
            int attempt = 0;
            while (!_stop.IsCancellationRequested)
            {
                int? retryAfter = null;
                try
                {
                    TransportConnection line = await UnitConnector.DialAsync(host, new UnitConnectorOptions().ConnectTimeout, _stop.Token);
                    (SecureConnection _, MultiplexedConnection channels) = await standing.ConnectAsync(line, initiator: true, _stop.Token);
                    await using (channels)
                    {
                        MultiplexedChannel presence = await channels.OpenChannelAsync(PresenceMessage.Channel, _stop.Token);
                        await presence.SendMessageAsync(new PresenceMessage
                        {
                            Type = PresenceMessage.Announce, Protocol = PresenceMessage.Version, CustomerId = "fabrikam", UnitId = unitId, AgentVersion = "bench", Capabilities = ["view-data"],
                        }.ToBytes(), _stop.Token);
                        if (Read(await presence.ReceiveMessageAsync(_stop.Token))?.Type != PresenceMessage.Welcome)
                        {
                            retryAfter = 5;
                            continue;
                        }

                        attempt = 0;
                        using var ended = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                        Task accepting = AcceptAsync(channels, ended.Token);
                        long sequence = 0;
                        using var ticks = new PeriodicTimer(Heartbeat); // as the connector: one timer a connection
                        while (!ended.IsCancellationRequested)
                        {
                            long sent = Stopwatch.GetTimestamp();
                            await presence.SendMessageAsync(new PresenceMessage { Type = PresenceMessage.Heartbeat, Sequence = ++sequence }.ToBytes(), ended.Token);
                            if (Read(await presence.ReceiveMessageAsync(ended.Token))?.Type != PresenceMessage.HeartbeatAck)
                            {
                                break; // a goaway, or the line ended
                            }

                            _heartbeats.Enqueue(Stopwatch.GetElapsedTime(sent).TotalMilliseconds);
                            await ticks.WaitForNextTickAsync(ended.Token);
                        }

                        await ended.CancelAsync();
                        await accepting;
                    }
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex)
                {
                    // Reconnect below, as a unit does after any failure.
                    _failures.AddOrUpdate(Kind(ex), 1, static (_, n) => n + 1);
                }

                if (_stop.IsCancellationRequested)
                {
                    return;
                }

                TimeSpan wait = retryAfter is { } seconds
                    ? TimeSpan.FromSeconds(seconds)
                    : UnitConnector.Backoff(attempt++, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60), Random.Shared.NextDouble());
                try
                {
                    await Task.Delay(wait, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }

        private async Task AcceptAsync(MultiplexedConnection channels, CancellationToken ended)
        {
            try
            {
                while (await channels.AcceptChannelAsync(ended) is { } channel)
                {
                    _ = ServeAsync(channel);
                }
            }
            catch (Exception)
            {
                // The standing connection ended.
            }
        }

        private async Task ServeAsync(MultiplexedChannel channel)
        {
            var line = new ChannelConnection(channel, "routed");
            try
            {
                await _sessions.ServeAsync(line, dialedOut: false);
            }
            catch (Exception)
            {
                // A session that failed is the console's report.
            }
            finally
            {
                await line.DisposeAsync();
            }
        }

        private static string Kind(Exception ex) => ex switch
        {
            SecureChannelException secure => $"secure channel: {secure.Error}",
            ConnectionAbortedException => "connection aborted",
            ChannelException channel => $"channel: {channel.Error}",
            FramingException framing => $"framing: {framing.Error}",
            _ => ex.GetType().Name,
        };

        private static PresenceMessage? Read(byte[]? bytes) => bytes is null ? null : PresenceMessage.Parse(bytes);
    }
}
