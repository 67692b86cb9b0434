using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using RemoteSupport.Transport.Framing;
using RemoteSupport.Transport.Transports;

namespace RemoteSupport.Transport.Tests.Transports;

public sealed class TcpTransportTests : IAsyncLifetime
{
    private static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(30);
    private TcpConnectionListener _listener = null!;
    private readonly CancellationTokenSource _stop = new(TestTimeout);

    public Task InitializeAsync()
    {
        _listener = TcpConnectionListener.Listen(new IPEndPoint(IPAddress.Loopback, 0));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _listener.DisposeAsync();
        _stop.Dispose();
    }

    [Fact]
    public async Task Listener_BindsAnEphemeralLoopbackPort()
    {
        _listener.BoundEndPoint.Port.Should().BePositive();
        _listener.LocalEndPoint.Should().Be($"tcp://127.0.0.1:{_listener.BoundEndPoint.Port}");
        await using TransportConnection client = await new TcpDialer(_listener.BoundEndPoint).DialAsync(_stop.Token);
        await using TransportConnection? server = await _listener.AcceptAsync(_stop.Token);
        server!.RemoteEndPoint.Should().StartWith("tcp://127.0.0.1:");
    }

    [Fact]
    public async Task AnIdleSocket_WaitsWithoutAReceiveBuffer_AndStillReceivesWhatComesNext()
    {
        await using TransportConnection client = await new TcpDialer(_listener.BoundEndPoint).DialAsync(_stop.Token);
        await using TransportConnection server = (await _listener.AcceptAsync(_stop.Token))!;
        var pumped = (PumpedConnection)server;

        for (int round = 0; round < 3; round++)
        {
            await client.Output.WriteAsync(new byte[100_000], _stop.Token); // more than one receive buffer
            long read = 0;
            while (read < 100_000)
            {
                ReadResult result = await server.Input.ReadAsync(_stop.Token);
                read += result.Buffer.Length;
                server.Input.AdvanceTo(result.Buffer.End);
            }

            read.Should().Be(100_000);
            while (pumped.HoldsReceiveBuffer)
            {
                await Task.Delay(5, _stop.Token); // the loop returns to its zero-byte wait; a pending real receive never does
            }
        }

        await client.Output.CompleteAsync();
        ReadResult end = await server.Input.ReadAsync(_stop.Token);
        end.IsCompleted.Should().BeTrue("the end of the stream still arrives through the zero-byte wait");
        server.CloseReason.Should().Be(ConnectionCloseReason.RemoteClose);
    }

    [Fact]
    public async Task FramesRoundTrip_OverRealSockets()
    {
        Task<string[]> echo = ServeEchoAsync();
        await using FramedConnection client = await DialFramedAsync();

        for (int i = 0; i < 50; i++)
        {
            client.WriteFrame(FrameType.Data, FrameFlags.None, 1, Encoding.UTF8.GetBytes($"hello {i}"));
        }

        client.WriteFrame(FrameType.Data, FrameFlags.None, 2, new byte[60_000]);
        await client.FlushAsync(_stop.Token);
        var replies = new List<string>();
        for (int i = 0; i < 51; i++)
        {
            FrameReadResult result = await client.ReadFrameAsync(_stop.Token);
            result.HasFrame.Should().BeTrue();
            replies.Add(result.Frame.ChannelId == 1 ? Encoding.UTF8.GetString(result.Frame.Payload.ToArray()) : $"{result.Frame.Payload.Length} bytes");
        }

        replies.Take(50).Should().Equal(Enumerable.Range(0, 50).Select(i => $"hello {i}"));
        replies[50].Should().Be("60000 bytes");
        await client.CloseAsync("test done", _stop.Token);
        (await echo).Should().ContainSingle().Which.Should().StartWith("RemoteClose");
    }

    [Fact]
    public async Task GarbageClient_IsClosedWithItsReason_AndTheListenerKeepsServing()
    {
        Task<string[]> server = ServeEchoAsync(connections: 2);

        // A client that speaks HTTP to us.
        using (var garbage = new Socket(SocketType.Stream, ProtocolType.Tcp))
        {
            await garbage.ConnectAsync(_listener.BoundEndPoint, _stop.Token);
            await garbage.SendAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray(), SocketFlags.None, _stop.Token);
            byte[] buffer = new byte[1024];
            int total = 0;
            int read;
            while ((read = await garbage.ReceiveAsync(buffer.AsMemory(total), SocketFlags.None, _stop.Token)) > 0)
            {
                total += read;
            }

            total.Should().BeGreaterThan(FrameCodec.PrefaceSize, "the server sends its preface and then a GoAway naming the problem");
            Encoding.UTF8.GetString(buffer, 0, total).Should().Contain("does not speak RemoteSupport framing");
        }

        await using FramedConnection good = await DialFramedAsync();
        good.WriteFrame(FrameType.Data, FrameFlags.None, 1, "still here?"u8);
        await good.FlushAsync(_stop.Token);
        FrameReadResult reply = await good.ReadFrameAsync(_stop.Token);
        Encoding.UTF8.GetString(reply.Frame.Payload.ToArray()).Should().Be("still here?");
        await good.CloseAsync("done", _stop.Token);

        string[] outcomes = await server;
        outcomes[0].Should().StartWith("ProtocolError: The peer does not speak RemoteSupport framing");
        outcomes[1].Should().StartWith("RemoteClose");
    }

    [Fact]
    public async Task PeerThatDisappears_IsRecordedOnTheConnection()
    {
        await using TransportConnection client = await new TcpDialer(_listener.BoundEndPoint).DialAsync(_stop.Token);
        await using TransportConnection server = (await _listener.AcceptAsync(_stop.Token))!;

        client.Abort(ConnectionCloseReason.Aborted, "test aborts the client");
        System.IO.Pipelines.ReadResult result;
        try
        {
            do
            {
                result = await server.Input.ReadAsync(_stop.Token);
                server.Input.AdvanceTo(result.Buffer.End);
            }
            while (!result.IsCompleted);
        }
        catch (IOException)
        {
        }

        client.CloseReason.Should().Be(ConnectionCloseReason.Aborted);
        client.CloseDetail.Should().Be("test aborts the client");
        server.CloseReason.Should().BeOneOf(ConnectionCloseReason.RemoteClose, ConnectionCloseReason.TransportError);
    }

    [Fact]
    public async Task Dial_NothingListening_ThrowsIOExceptionNamingTheEndpoint()
    {
        var unused = new IPEndPoint(IPAddress.Loopback, _listener.BoundEndPoint.Port);
        await _listener.DisposeAsync();

        var dial = async () => await new TcpDialer(unused).DialAsync(_stop.Token);

        (await dial.Should().ThrowAsync<IOException>()).Which.Message.Should().Contain(unused.ToString());
    }

    [Fact]
    public async Task Accept_Canceled_Throws_AndStoppedListener_ReturnsNull()
    {
        using var cancel = new CancellationTokenSource();
        ValueTask<TransportConnection?> pending = _listener.AcceptAsync(cancel.Token);
        await cancel.CancelAsync();
        await FluentActions.Awaiting(async () => await pending).Should().ThrowAsync<OperationCanceledException>();

        ValueTask<TransportConnection?> waiting = _listener.AcceptAsync(_stop.Token);
        await _listener.DisposeAsync();
        (await waiting).Should().BeNull();
    }

    [Fact]
    public async Task Dispose_DrainsUnsentData_ThenHalfCloses()
    {
        await using TransportConnection client = await new TcpDialer(_listener.BoundEndPoint).DialAsync(_stop.Token);
        TransportConnection server = (await _listener.AcceptAsync(_stop.Token))!;

        byte[] big = new byte[4 * 1024 * 1024];
        Random.Shared.NextBytes(big);
        Task<byte[]> receiving = ReadToEndAsync(client);

        // Backpressure holds the writer until the reader has taken enough; then dispose drains the rest.
        await server.Output.WriteAsync(big, _stop.Token);
        Task disposing = server.DisposeAsync().AsTask();

        (await receiving).Should().Equal(big);
        await disposing;
        server.CloseReason.Should().Be(ConnectionCloseReason.LocalClose);
        client.CloseReason.Should().Be(ConnectionCloseReason.RemoteClose);
        await server.Closed.WaitAsync(_stop.Token);
    }

    private async Task<byte[]> ReadToEndAsync(TransportConnection connection)
    {
        using var received = new MemoryStream();
        while (true)
        {
            System.IO.Pipelines.ReadResult result = await connection.Input.ReadAsync(_stop.Token);
            foreach (ReadOnlyMemory<byte> segment in result.Buffer)
            {
                received.Write(segment.Span);
            }

            connection.Input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                return received.ToArray();
            }
        }
    }

    private async Task<FramedConnection> DialFramedAsync()
    {
        TransportConnection transport = await new TcpDialer(_listener.BoundEndPoint).DialAsync(_stop.Token);
        return await FramedConnection.StartAsync(transport, cancellationToken: _stop.Token);
    }

    /// <summary>Accepts connections and echoes Data frames; returns how each connection ended.</summary>
    private async Task<string[]> ServeEchoAsync(int connections = 1)
    {
        var outcomes = new string[connections];
        for (int i = 0; i < connections; i++)
        {
            TransportConnection transport = (await _listener.AcceptAsync(_stop.Token))!;
            FramedConnection? framed = null;
            try
            {
                framed = await FramedConnection.StartAsync(transport, cancellationToken: _stop.Token);
                while (true)
                {
                    FrameReadResult result = await framed.ReadFrameAsync(_stop.Token);
                    if (result.IsCompleted)
                    {
                        break;
                    }

                    if (result.Frame.Type == FrameType.Data)
                    {
                        framed.WriteFrame(FrameType.Data, FrameFlags.None, result.Frame.ChannelId, result.Frame.Payload.ToArray());
                        await framed.FlushAsync(_stop.Token);
                    }
                }
            }
            catch (FramingException)
            {
                // The connection is closed and its reason recorded.
            }
            finally
            {
                if (framed is not null)
                {
                    await framed.DisposeAsync();
                }
                else
                {
                    await transport.DisposeAsync();
                }
            }

            outcomes[i] = $"{transport.CloseReason}: {transport.CloseDetail}";
        }

        return outcomes;
    }
}
