using RemoteSupport.Identities;
using RemoteSupport.Transport.Channels;
using RemoteSupport.Transport.Security;
using RemoteSupport.Transport.Sessions;
using RemoteSupport.Transport.Transports;

namespace RemoteSupport.Transport.Fleet;

/// <summary>One standing connection: admission, the handshake, the announce, heartbeats, and the unit's departure.</summary>
public sealed partial class UnitDirectory
{
    private SupportConnectionOptions? _connection;

    private SupportConnectionOptions Connection()
    {
        lock (_gate)
        {
            if (_connection is null)
            {
                var secure = new SecureChannelOptions
                {
                    Identity = _options.Identity, TrustStore = _options.Trust, StaticKey = NoiseStaticKey.Generate(), TimeProvider = _options.TimeProvider,
                    HandshakeTimeout = _options.HandshakeTimeout, HandshakeSlot = TakeHandshakeSlotAsync,
                };
                foreach (string customer in _options.Customers)
                {
                    secure.AcceptedPeers.Add(new ExpectedPeer(customer, PartyRole.Unit));
                }

                _connection = new SupportConnectionOptions
                {
                    Secure = secure, CloseTimeout = TimeSpan.FromSeconds(2), Framing = new Framing.FramingOptions { HandshakeTimeout = _options.HandshakeTimeout },
                };
            }

            return _connection;
        }
    }

    private async Task ServeAsync(Lease pending, TransportConnection connection, CancellationToken stop)
    {
        SecureConnection secure;
        MultiplexedConnection channels;
        try
        {
            await AdmitAsync(stop).ConfigureAwait(false);
            (secure, channels) = await Connection().ConnectAsync(connection, initiator: false, stop).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SecureChannelException or IOException or OperationCanceledException or Framing.FramingException)
        {
            pending.Dispose();
            await connection.DisposeAsync().ConfigureAwait(false); // not a unit of ours, or it went away: nothing is registered
            return;
        }
        catch
        {
            pending.Dispose(); // a bug: the place is given back and the connection closed before it surfaces
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        await using (channels.ConfigureAwait(false))
        {
            Standing? standing = null;
            string reason = "dropped";
            try
            {
                try
                {
                    (standing, reason) = await AnnounceAsync(secure, channels, stop).ConfigureAwait(false);
                }
                finally
                {
                    pending.Dispose(); // online, turned away or gone: no longer pending
                }

                if (standing is not null)
                {
                    reason = await HeartbeatsAsync(standing, stop).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is IOException or ChannelException or FormatException or OperationCanceledException)
            {
                reason = stop.IsCancellationRequested ? "host-stopping" : "dropped";
                if (standing is not null && stop.IsCancellationRequested)
                {
                    await TrySendAsync(standing.Presence, new PresenceMessage { Type = PresenceMessage.GoAway, Reason = reason, RetryAfterSeconds = 1 }).ConfigureAwait(false);
                }
            }
            finally
            {
                if (standing is not null)
                {
                    Depart(standing, reason);
                    standing.Dispose();
                }
            }

            await SupportAgentHost.CloseAsync(channels, TimeSpan.FromSeconds(2), CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>Reads the unit's announce and registers it, or turns it away with a GoAway naming why and when to come back.</summary>
    private async Task<(Standing? Standing, string Reason)> AnnounceAsync(SecureConnection secure, MultiplexedConnection channels, CancellationToken stop)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stop);
        deadline.CancelAfter(_options.HeartbeatTimeout);
        MultiplexedChannel? presence = await channels.AcceptChannelAsync(deadline.Token).ConfigureAwait(false);
        if (presence is null || presence.Name != PresenceMessage.Channel)
        {
            return (null, "no presence channel");
        }

        byte[]? bytes = await presence.ReceiveMessageAsync(deadline.Token).ConfigureAwait(false);
        PresenceMessage? announce = bytes is null ? null : PresenceMessage.Parse(bytes);
        string customer = secure.PeerIdentity.PartyId;
        if (announce is not { Type: PresenceMessage.Announce, Protocol: PresenceMessage.Version, UnitId: { Length: > 0 } unitId } || announce.CustomerId != customer)
        {
            await TrySendAsync(presence, new PresenceMessage { Type = PresenceMessage.GoAway, Reason = "protocol-error" }).ConfigureAwait(false);
            return (null, "protocol-error");
        }

        DateTimeOffset now = _options.TimeProvider.GetUtcNow();
        var unit = new OnlineUnit(customer, unitId, secure.PeerIdentity.Key.KeyId, secure.PeerIdentity.Key.Fingerprint, announce.AgentVersion ?? "unknown",
            announce.Capabilities ?? [], now, now, _options.HostId);
        var standing = new Standing(unit, secure.PeerIdentity.Key, channels, presence, _options.TimeProvider.GetTimestamp(), stop);
        Standing? replaced;
        lock (_gate)
        {
            replaced = _online.GetValueOrDefault((customer, unitId));
            string? refusal = replaced is not null && !replaced.Key.Equals(standing.Key)
                ? $"unit-claimed: unit {unitId} of {customer} is online with another key ({replaced.Key.KeyId})."
                : replaced is null && _online.Count >= _options.MaxUnits ? $"host-full: this host holds {_options.MaxUnits} units." : null;
            if (refusal is not null)
            {
                standing.Dispose();
                standing = null;
                replaced = null;
                _ = TrySendAsync(presence, new PresenceMessage { Type = PresenceMessage.GoAway, Reason = refusal, RetryAfterSeconds = _options.RetryAfterSeconds });
                return (null, refusal);
            }

            _online[(customer, unitId)] = standing;
        }

        try
        {
            if (replaced is not null)
            {
                // The same key on a newer connection: the older one is closed, with the reason.
                await TrySendAsync(replaced.Presence, new PresenceMessage { Type = PresenceMessage.GoAway, Reason = "replaced: a newer connection of the same unit arrived." }).ConfigureAwait(false);
                await replaced.Channels.AbortAsync("replaced by a newer connection of the same unit").ConfigureAwait(false);
            }

            await presence.SendMessageAsync(new PresenceMessage
            {
                Type = PresenceMessage.Welcome, Protocol = PresenceMessage.Version, HostId = _options.HostId, HeartbeatSeconds = (int)_options.HeartbeatInterval.TotalSeconds,
            }.ToBytes(), stop).ConfigureAwait(false);
        }
        catch
        {
            // Registered but never welcomed: it leaves the directory, not a ghost counted against MaxUnits.
            Depart(standing, "dropped");
            standing.Dispose();
            throw;
        }

        _routes?.Post(unit, isOnline: true);
        PresenceChanged?.Invoke(new UnitPresenceChange(unit, true, "online"));
        return (standing, "online");
    }

    /// <summary>Answers heartbeats until the unit withdraws, goes silent past the heartbeat timeout (the sweep ends it), or the line ends.</summary>
    private async Task<string> HeartbeatsAsync(Standing standing, CancellationToken stop)
    {
        while (true)
        {
            byte[]? bytes;
            try
            {
                bytes = await standing.Presence.ReceiveMessageAsync(standing.Silenced).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!stop.IsCancellationRequested)
            {
                return "no-heartbeat";
            }

            if (bytes is null)
            {
                return "dropped";
            }

            PresenceMessage message = PresenceMessage.Parse(bytes);
            switch (message.Type)
            {
                case PresenceMessage.Heartbeat:
                    standing.Heard(_options.TimeProvider);
                    await standing.Presence.SendMessageAsync(new PresenceMessage { Type = PresenceMessage.HeartbeatAck, Sequence = message.Sequence }.ToBytes(), stop).ConfigureAwait(false);
                    break;
                case PresenceMessage.Withdraw:
                    return "withdrawn: " + (message.Reason ?? "no reason given");
                default:
                    return "protocol-error";
            }
        }
    }

    /// <summary>
    /// Ends the heartbeat wait of every unit silent past the heartbeat timeout: one timer for the host instead
    /// of one per heartbeat, so an idle unit's heartbeat allocates nothing that outlives it.
    /// </summary>
    private async Task SweepSilentUnitsAsync(CancellationToken stop)
    {
        TimeSpan every = TimeSpan.FromTicks(Math.Clamp(_options.HeartbeatTimeout.Ticks / 8, TimeSpan.TicksPerMillisecond * 100, TimeSpan.TicksPerSecond));
        using var ticks = new PeriodicTimer(every, _options.TimeProvider);
        var silent = new List<Standing>();
        try
        {
            while (await ticks.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                long now = _options.TimeProvider.GetTimestamp();
                lock (_gate)
                {
                    foreach (Standing standing in _online.Values)
                    {
                        if (_options.TimeProvider.GetElapsedTime(standing.LastHeardTimestamp, now) > _options.HeartbeatTimeout)
                        {
                            silent.Add(standing);
                        }
                    }
                }

                foreach (Standing standing in silent)
                {
                    standing.Silence();
                }

                silent.Clear();
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Stopped.
        }
    }

    private void Depart(Standing standing, string reason)
    {
        bool removed;
        lock (_gate)
        {
            removed = _online.TryGetValue((standing.Unit.CustomerId, standing.Unit.UnitId), out Standing? current) && ReferenceEquals(current, standing);
            if (removed)
            {
                _online.Remove((standing.Unit.CustomerId, standing.Unit.UnitId));
            }
        }

        // A connection replaced by a newer one of the same unit leaves the unit online.
        if (removed)
        {
            _routes?.Post(standing.Unit, isOnline: false);
        }

        PresenceChanged?.Invoke(new UnitPresenceChange(standing.Unit, false, removed ? reason : "replaced"));
    }

    private static async Task TrySendAsync(MultiplexedChannel presence, PresenceMessage message)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await presence.SendMessageAsync(message.ToBytes(), timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ChannelException or OperationCanceledException)
        {
            // Best effort: the unit backs off either way.
        }
    }

    private sealed class Standing(OnlineUnit unit, PartyKey key, MultiplexedConnection channels, MultiplexedChannel presence, long announcedAt, CancellationToken stop)
    {
        private readonly CancellationTokenSource _silence = CancellationTokenSource.CreateLinkedTokenSource(stop);
        private long _lastHeardTimestamp = announcedAt;
        private long _lastHeartbeatUtcTicks = unit.LastHeartbeat.UtcTicks;

        /// <summary>Gets the unit as the directory shows it, with its last heartbeat (built on demand: a heartbeat allocates no record).</summary>
        public OnlineUnit Unit => unit with { LastHeartbeat = new DateTimeOffset(Volatile.Read(ref _lastHeartbeatUtcTicks), TimeSpan.Zero) };

        public PartyKey Key { get; } = key;

        public MultiplexedConnection Channels { get; } = channels;

        public MultiplexedChannel Presence { get; } = presence;

        public long LastHeardTimestamp => Volatile.Read(ref _lastHeardTimestamp);

        /// <summary>Gets the token the sweep cancels when the unit has been silent too long (or the host stops).</summary>
        public CancellationToken Silenced => _silence.Token;

        public void Heard(TimeProvider time)
        {
            Volatile.Write(ref _lastHeartbeatUtcTicks, time.GetUtcNow().UtcTicks);
            Volatile.Write(ref _lastHeardTimestamp, time.GetTimestamp());
        }

        public void Silence()
        {
            try
            {
                _silence.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // It departed meanwhile.
            }
        }

        public void Dispose() => _silence.Dispose();
    }
}
