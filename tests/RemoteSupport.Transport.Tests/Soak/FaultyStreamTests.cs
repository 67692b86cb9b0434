using System.Net;
using System.Net.Sockets;
using RemoteSupport.Soak;

namespace RemoteSupport.Transport.Tests.Soak;

/// <summary>Each fault of the soak's stream does exactly what it says at its byte, over a real TCP socket pair.</summary>
public sealed class FaultyStreamTests
{
    private static readonly byte[] Ten = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];

    [Fact]
    public async Task BitFlip_ToTheUnit_FlipsExactlyThatBitOfThatByte()
    {
        (FaultyStream stream, Socket peer) = await PairAsync(new ConnectionFault(FaultKind.BitFlip, FaultDirection.ConsoleToUnit, 5, 3, 0));
        using Socket _ = peer;
        await using FaultyStream __ = stream;

        await stream.WriteAsync(Ten);

        byte[] expected = [.. Ten];
        expected[5] ^= 8;
        (await ReceiveAsync(peer, 10)).Should().Equal(expected);
        stream.Struck.Should().BeTrue();
    }

    [Fact]
    public async Task BitFlip_FromTheUnit_FlipsTheByteTheConsoleReads()
    {
        (FaultyStream stream, Socket peer) = await PairAsync(new ConnectionFault(FaultKind.BitFlip, FaultDirection.UnitToConsole, 2, 0, 0));
        using Socket _ = peer;
        await using FaultyStream __ = stream;

        await peer.SendAsync(Ten);
        byte[] read = await ReadAsync(stream, 10);

        byte[] expected = [.. Ten];
        expected[2] ^= 1;
        read.Should().Equal(expected);
    }

    [Fact]
    public async Task Truncate_DeliversTheBytesBeforeTheFaultThenTheEnd_AndTheWriteFails()
    {
        (FaultyStream stream, Socket peer) = await PairAsync(new ConnectionFault(FaultKind.Truncate, FaultDirection.ConsoleToUnit, 4, 0, 0));
        using Socket _ = peer;
        await using FaultyStream __ = stream;

        await FluentActions.Awaiting(() => stream.WriteAsync(Ten).AsTask()).Should().ThrowAsync<IOException>();

        (await ReceiveToEndAsync(peer)).Should().Equal(Ten[..4]);
    }

    [Fact]
    public async Task HalfClose_EndsWhatTheUnitReads_WhileTheConsoleStillReadsTheUnit()
    {
        (FaultyStream stream, Socket peer) = await PairAsync(new ConnectionFault(FaultKind.HalfClose, FaultDirection.ConsoleToUnit, 3, 0, 0));
        using Socket _ = peer;
        await using FaultyStream __ = stream;

        await stream.WriteAsync(Ten);
        await stream.WriteAsync(Ten);
        (await ReceiveToEndAsync(peer)).Should().Equal(Ten[..3]);

        await peer.SendAsync(Ten);
        (await ReadAsync(stream, 10)).Should().Equal(Ten);
    }

    [Fact]
    public async Task Drop_FromTheUnit_AtTheFaultsByte_FailsTheConsolesRead_AndResetsTheUnitsSide()
    {
        (FaultyStream stream, Socket peer) = await PairAsync(new ConnectionFault(FaultKind.Drop, FaultDirection.UnitToConsole, 6, 0, 0));
        using Socket _ = peer;
        await using FaultyStream __ = stream;
        await peer.SendAsync(Ten);

        (await ReadAsync(stream, 6)).Should().Equal(Ten[..6]);
        await FluentActions.Awaiting(() => stream.ReadAsync(new byte[10]).AsTask()).Should().ThrowAsync<IOException>();

        await FluentActions.Awaiting(async () =>
        {
            for (int i = 0; i < 100; i++)
            {
                await peer.SendAsync(Ten);
                await Task.Delay(10);
            }
        }).Should().ThrowAsync<SocketException>("the console's side reset the connection");
    }

    [Fact]
    public async Task Stall_ToTheUnit_HoldsTheWriteAtTheFaultsByte_UntilTheStreamIsDisposed()
    {
        (FaultyStream stream, Socket peer) = await PairAsync(new ConnectionFault(FaultKind.Stall, FaultDirection.ConsoleToUnit, 2, 0, 0));
        using Socket _ = peer;

        Task write = stream.WriteAsync(Ten).AsTask();
        (await ReceiveAsync(peer, 2)).Should().Equal(Ten[..2]);
        write.IsCompleted.Should().BeFalse("the rest of the bytes are stalled");

        await stream.DisposeAsync();
        await FluentActions.Awaiting(() => write).Should().ThrowAsync<IOException>();
    }

    [Fact]
    public async Task ReplayEarlierStart_SendsAnEarlierConnectionsFirstBytes_BeforeItsOwn()
    {
        var replays = new ReplayBook();
        (FaultyStream earlier, Socket earlierPeer) = await PairAsync(ConnectionFault.None, replays);
        await earlier.WriteAsync("hello from before"u8.ToArray());
        (await ReceiveAsync(earlierPeer, 17)).Should().HaveCount(17);
        await earlier.DisposeAsync();
        earlierPeer.Dispose();

        (FaultyStream stream, Socket peer) = await PairAsync(new ConnectionFault(FaultKind.ReplayEarlierStart, FaultDirection.ConsoleToUnit, 0, 0, 0), replays);
        using Socket _ = peer;
        await using FaultyStream __ = stream;
        await stream.WriteAsync("now"u8.ToArray());

        (await ReceiveAsync(peer, 20)).Should().Equal("hello from beforenow"u8.ToArray());
        stream.Struck.Should().BeTrue();
    }

    [Fact]
    public async Task AFaultWhoseByteIsNeverReached_NeverStrikes()
    {
        (FaultyStream stream, Socket peer) = await PairAsync(new ConnectionFault(FaultKind.Drop, FaultDirection.ConsoleToUnit, 1000, 0, 0));
        using Socket _ = peer;
        await using FaultyStream __ = stream;

        await stream.WriteAsync(Ten);

        (await ReceiveAsync(peer, 10)).Should().Equal(Ten);
        stream.Struck.Should().BeFalse();
    }

    private static async Task<(FaultyStream Stream, Socket Peer)> PairAsync(ConnectionFault fault, ReplayBook? replays = null)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var console = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await console.ConnectAsync(listener.LocalEndPoint!);
        Socket peer = await listener.AcceptAsync();
        return (new FaultyStream(console, fault, 1, replays ?? new ReplayBook()), peer);
    }

    private static async Task<byte[]> ReceiveAsync(Socket socket, int count)
    {
        byte[] buffer = new byte[count];
        int read = 0;
        while (read < count)
        {
            int n = await socket.ReceiveAsync(buffer.AsMemory(read));
            n.Should().BePositive("{0} bytes were expected, the connection ended after {1}", count, read);
            read += n;
        }

        return buffer;
    }

    private static async Task<byte[]> ReceiveToEndAsync(Socket socket)
    {
        var all = new List<byte>();
        byte[] buffer = new byte[64];
        int n;
        while ((n = await socket.ReceiveAsync(buffer)) > 0)
        {
            all.AddRange(buffer[..n]);
        }

        return [.. all];
    }

    private static async Task<byte[]> ReadAsync(Stream stream, int count)
    {
        byte[] buffer = new byte[count];
        await stream.ReadExactlyAsync(buffer);
        return buffer;
    }
}
