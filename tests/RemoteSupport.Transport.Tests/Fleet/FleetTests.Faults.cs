using System.Net;
using System.Net.Sockets;
using RemoteSupport.Ledger;
using RemoteSupport.Sessions;
using RemoteSupport.Transport.Channels;
using RemoteSupport.Transport.Fleet;
using RemoteSupport.Transport.Transports;
using RemoteSupport.Transport.Sessions;

namespace RemoteSupport.Transport.Tests.Fleet;

/// <summary>Faults of the fleet: a host that dies mid-session, a flood of connections that never speak.</summary>
public sealed partial class FleetTests
{
    [Fact]
    public async Task AHostKilledMidSession_TheUnitReconnects_AndTheSessionEndsWithItsReceiptAndExactCharges()
    {
        UnitDirectory first = await HostAsync();
        var relay = new TcpRelay(new IPEndPoint(IPAddress.Loopback, 0), first.BoundEndPoint!);
        IPEndPoint unitsDial = relay.EndPoint;
        UnitConnector unit = await UnitAsync("unit-7", _unit7, unitsDial);
        var ended = new TaskCompletionSource<SupportSessionEnded>(TaskCreationOptions.RunContinuationsAsynchronously);
        unit.SessionEnded += end => ended.TrySetResult(end);
        await UntilAsync(() => first.Find("fabrikam", "unit-7") is not null);
        SupportConsoleConnection connection = await first.OpenSessionAsync("fabrikam", "unit-7", Console(), Token);
        string sessionId = connection.Session.SessionId;
        (await connection.Session.ViewAsync("finance", "totals.csv", "fabrikam", "ticket 1", Token)).Succeeded.Should().BeTrue();

        await relay.DisposeAsync(); // the host dies: every connection it held is reset, with no goodbye
        SupportSessionEnded end = await ended.Task.WaitAsync(Token);
        UnitDirectory second = await HostAsync();
        await using var back = new TcpRelay(unitsDial, second.BoundEndPoint!); // the host's address answers again
        await UntilAsync(() => second.Find("fabrikam", "unit-7") is not null);
        await connection.DisposeAsync();

        SessionReceipt receipt = SessionReceipt.FromEnvelope(end.Receipt!);
        receipt.SessionId.Should().Be(sessionId);
        receipt.Ending.Should().NotBe("closed", "the line dropped under the session");
        receipt.Operations.Should().ContainSingle("the view before the host died is on the receipt");
        List<ChargeEntry> billed = [.. unit.Agent.Ledger.Entries];
        billed.Select(e => e.Charge.Kind).Should().Equal(ChargeKind.CallSetup, ChargeKind.ConnectTime);
        billed.Should().OnlyContain(e => e.Charge.SessionId == sessionId, "the reconnect bills nothing: no session ran on it");
        billed.Select(e => (e.Charge.Kind, e.Charge.AmountMinor)).Should().Equal(receipt.Charges.Select(c => (c.Kind, c.AmountMinor)));
    }

    [Fact]
    public async Task ARoutedConsoleThatClosesAfterItsHandshakeWithoutASession_IsReportedEnded_WithTheReason()
    {
        UnitDirectory directory = await HostAsync();
        UnitConnector unit = await UnitAsync("unit-7", _unit7, directory.BoundEndPoint!);
        var ended = new TaskCompletionSource<SupportSessionEnded>(TaskCreationOptions.RunContinuationsAsynchronously);
        unit.SessionEnded += end => ended.TrySetResult(end);
        await UntilAsync(() => directory.Find("fabrikam", "unit-7") is not null);

        TransportConnection line = await directory.OpenRouteAsync("fabrikam", "unit-7", Token);
        (_, MultiplexedConnection channels) = await Console().Options.ConnectAsync(line, initiator: true, Token);
        await channels.DisposeAsync(); // the technician's handshake is done; no session is opened
        SupportSessionEnded end = await ended.Task.WaitAsync(Token);

        end.Receipt.Should().BeNull("no session was opened, so none was receipted");
        end.Failure.Should().BeOfType<SessionProtocolException>().Which.Code.Should().Be("no-session");
        unit.Agent.Ledger.Entries.Should().BeEmpty("a routed connection without a session is not billed");
    }

    [Fact]
    public async Task AFloodOfSilentConnections_HoldsNoHandshakeSlot_AndNoMoreThanThePendingBound()
    {
        UnitDirectory directory = await HostAsync(configure: options =>
        {
            options.MaxConcurrentHandshakes = 1;
            options.MaxPendingConnections = 4;
            options.HandshakeTimeout = TimeSpan.FromSeconds(50); // longer than the test: only the bounds can let the unit in
        });
        var flood = new List<Socket>();
        try
        {
            for (int i = 0; i < 3; i++)
            {
                flood.Add(await ConnectSilentlyAsync(directory.BoundEndPoint!));
            }

            await UntilAsync(() => directory.PendingConnections == 3);
            await UnitAsync("unit-7", _unit7, directory.BoundEndPoint!);

            await UntilAsync(() => directory.Find("fabrikam", "unit-7") is not null); // past three silent connections and one handshake slot
            await UntilAsync(() => directory.PendingConnections == 3);
            for (int i = 0; i < 10; i++)
            {
                flood.Add(await ConnectSilentlyAsync(directory.BoundEndPoint!)); // the kernel completes them; the host need not accept
            }

            await UntilAsync(() => directory.PendingConnections == 4);
            await Task.Delay(300, Token); // time for the accept loop to take more, were it unbounded
            directory.PendingConnections.Should().Be(4, "at the bound the host stops accepting and the rest wait in the listen backlog");
            directory.Online.Should().ContainSingle().Which.UnitId.Should().Be("unit-7");
        }
        finally
        {
            foreach (Socket socket in flood)
            {
                socket.Dispose();
            }
        }
    }

    [Fact]
    public async Task AConnectThatTheHostNeverAnswers_GivesUpAtTheConnectTimeout()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // the full-backlog behaviour below (SYNs dropped) is Linux's; CI runs there
        }

        using var listener = new Socket(SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(0); // never accepted: once its one place is taken, the kernel drops further SYNs
        var endPoint = (IPEndPoint)listener.LocalEndPoint!;
        Task<TransportConnection> dial;
        for (int completed = 0; ; completed++)
        {
            completed.Should().BeLessThan(20, "a listen backlog of 0 holds a connection or two");
            dial = UnitConnector.DialAsync(endPoint, TimeSpan.FromMilliseconds(500), Token);
            if (await Task.WhenAny(dial, Task.Delay(TimeSpan.FromMilliseconds(200), Token)) != dial)
            {
                break; // this one waits on a dropped SYN
            }

            await (await dial).DisposeAsync(); // its place in the accept queue stays taken: nothing accepts it
        }

        Func<Task> waiting = () => dial;
        (await waiting.Should().ThrowAsync<IOException>()).Which.Message.Should().Contain("within 0.5 s");
    }

    private async Task<Socket> ConnectSilentlyAsync(IPEndPoint host)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(host, Token);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Relays TCP between units and a host; disposing it resets every relayed connection at once, as a host's death does.</summary>
    private sealed class TcpRelay : IAsyncDisposable
    {
        private readonly TcpListener _listener;
        private readonly IPEndPoint _target;
        private readonly List<Socket> _sockets = [];
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _accepting;

        public TcpRelay(IPEndPoint listen, IPEndPoint target)
        {
            _listener = new TcpListener(listen);
            _listener.Start();
            _target = target;
            _accepting = AcceptAsync();
        }

        public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndpoint;

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            lock (_sockets)
            {
                foreach (Socket socket in _sockets)
                {
                    socket.LingerState = new LingerOption(true, 0); // closing sends a reset
                    socket.Dispose();
                }
            }

            await _accepting;
            _stop.Dispose();
        }

        private async Task AcceptAsync()
        {
            try
            {
                while (true)
                {
                    Socket inbound = await _listener.AcceptSocketAsync(_stop.Token);
                    var outbound = new Socket(SocketType.Stream, ProtocolType.Tcp);
                    lock (_sockets)
                    {
                        _sockets.Add(inbound);
                        _sockets.Add(outbound);
                    }

                    await outbound.ConnectAsync(_target, _stop.Token);
                    _ = PumpAsync(inbound, outbound);
                    _ = PumpAsync(outbound, inbound);
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // Stopped.
            }
        }

        private static async Task PumpAsync(Socket from, Socket to)
        {
            byte[] buffer = new byte[16 * 1024];
            try
            {
                int received;
                while ((received = await from.ReceiveAsync(buffer, SocketFlags.None)) > 0)
                {
                    await to.SendAsync(buffer.AsMemory(0, received), SocketFlags.None);
                }

                to.Shutdown(SocketShutdown.Send);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                // Reset.
            }
        }
    }
}
