using System.Text;
using RemoteSupport.Samples.UnixSocketTransport;
using RemoteSupport.Transport.Framing;
using RemoteSupport.Transport.Transports;

using RemoteSupport.Tests;

namespace RemoteSupport.Transport.Tests.Transports;

public sealed class CustomTransportGuideTests : IDisposable
{
    private readonly string _socketPath = Path.Combine(Path.GetTempPath(), $"rs-{Guid.NewGuid():N}.sock");
    private readonly CancellationTokenSource _stop = new(TimeSpan.FromSeconds(30));

    public void Dispose()
    {
        File.Delete(_socketPath);
        _stop.Dispose();
    }

    [Fact]
    public void Guide_ShowsTheExampleFileVerbatim()
    {
        string root = RepositoryPaths.Root();
        string guide = File.ReadAllText(Path.Combine(root, "docs", "guides", "custom-transport.md")).ReplaceLineEndings("\n");
        string example = File.ReadAllText(Path.Combine(root, "samples", "RemoteSupport.Samples.UnixSocketTransport", "UnixSocketTransport.cs")).ReplaceLineEndings("\n");

        guide.Should().Contain("<!-- example: samples/RemoteSupport.Samples.UnixSocketTransport/UnixSocketTransport.cs -->\n```csharp\n" + example + "```");
    }

    [Fact]
    public async Task FramesFlow_OverTheGuidesUnixSocketTransport()
    {
        await using UnixSocketListener listener = UnixSocketListener.Listen(_socketPath);
        ValueTask<TransportConnection?> accepting = listener.AcceptAsync(_stop.Token);
        TransportConnection clientTransport = await new UnixSocketDialer(_socketPath).DialAsync(_stop.Token);
        TransportConnection serverTransport = (await accepting)!;

        ValueTask<FramedConnection> clientStart = FramedConnection.StartAsync(clientTransport, cancellationToken: _stop.Token);
        await using FramedConnection server = await FramedConnection.StartAsync(serverTransport, cancellationToken: _stop.Token);
        await using FramedConnection client = await clientStart;

        client.WriteFrame(FrameType.Data, FrameFlags.None, 7, "over a unix socket"u8);
        await client.FlushAsync(_stop.Token);
        FrameReadResult received = await server.ReadFrameAsync(_stop.Token);
        Encoding.UTF8.GetString(received.Frame.Payload.ToArray()).Should().Be("over a unix socket");
        received.Frame.ChannelId.Should().Be(7);
        serverTransport.RemoteEndPoint.Should().StartWith("unix:");

        await client.CloseAsync("bye", _stop.Token);
        (await server.ReadFrameAsync(_stop.Token)).Frame.Type.Should().Be(FrameType.GoAway);
        (await server.ReadFrameAsync(_stop.Token)).IsCompleted.Should().BeTrue();
        server.CloseReason.Should().Be(ConnectionCloseReason.RemoteClose);
    }

    [Fact]
    public async Task Dial_NothingListening_ThrowsIOException()
    {
        var dial = async () => await new UnixSocketDialer(_socketPath).DialAsync(_stop.Token);

        (await dial.Should().ThrowAsync<IOException>()).Which.Message.Should().Contain(_socketPath);
    }

    [Fact]
    public void StreamTransport_RefusesAStreamThatCannotWrite()
    {
        using var readOnly = new MemoryStream([1, 2, 3], writable: false);

        FluentActions.Invoking(() => StreamTransport.Connect(readOnly, "memory"))
            .Should().Throw<ArgumentException>().Which.ParamName.Should().Be("stream");
    }
}
