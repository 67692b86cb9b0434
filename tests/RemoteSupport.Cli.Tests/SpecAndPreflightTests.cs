using System.Net;
using System.Text.Json.Nodes;
using RemoteSupport.Identities;
using RemoteSupport.Transport.Security;
using RemoteSupport.Transport.Sessions;
using RemoteSupport.Transport.Transports;
using RemoteSupport.Trust;

namespace RemoteSupport.Cli.Tests;

/// <summary>The compatibility specification the vendor hands over, and the customer's preflight check of the vendor's endpoint.</summary>
[Collection(nameof(InstalledTool))]
public sealed class SpecAndPreflightTests(InstalledTool tool) : IDisposable
{
    private readonly Workspace _work = new(tool);

    public void Dispose() => _work.Dispose();

    [Fact]
    public async Task Spec_PrintsTheSpecificationAsMarkdownTextAndJson_AndTheSignedOneReadsBack()
    {
        await _work.OkAsync("key", "new", "--party", "contoso", "--role", "vendor", "--out", "contoso.key");

        ToolRun markdown = await _work.OkAsync("spec", "--vendor", "contoso", "--endpoint", "support.contoso.example:7443");
        JsonObject json = await _work.JsonAsync("spec", "--vendor", "contoso", "--endpoint", "support.contoso.example:7443", "--format", "json");
        await _work.OkAsync("spec", "--vendor", "contoso", "--endpoint", "support.contoso.example:7443", "--key", "contoso.key", "--out", "spec.json");
        ToolRun text = await _work.OkAsync("spec", "spec.json", "--format", "text");
        string noVendor = await _work.FailsAsync(2, "spec");

        markdown.Stdout.Should().StartWith("# Communications compatibility specification: contoso").And.Contain("| tcp | support.contoso.example | 7443 |").And.Contain("Noise_XX_25519_");
        json.ToJsonString().Should().Contain("support.contoso.example").And.Contain("Noise_XX_25519_");
        text.Stdout.Should().Contain("contoso").And.Contain("support.contoso.example").And.Contain("7443");
        noVendor.Should().Contain("--vendor");
    }

    [Fact]
    public async Task Preflight_PassesAgainstTheVendorsEndpoint_AndRefusesOneThatIsNotThere()
    {
        await _work.OkAsync("key", "new", "--party", "fabrikam", "--role", "unit", "--out", "unit.key");
        await _work.OkAsync("key", "new", "--party", "contoso", "--role", "technician", "--out", "endpoint.key");
        await _work.OkAsync("trust", "add", "--trust", "unit.trust", "endpoint.key");
        using PartyIdentity endpoint = await KeyFile.LoadAsync(_work.File("endpoint.key"), null);
        using PartyIdentity unit = await KeyFile.LoadAsync(_work.File("unit.key"), null);
        var trust = new TrustStore();
        trust.Trust("fabrikam", PartyRole.Unit, unit.PublicKey);
        var secure = new SecureChannelOptions { Identity = endpoint, TrustStore = trust, StaticKey = NoiseStaticKey.Generate() };
        secure.AcceptedPeers.Add(new ExpectedPeer("fabrikam", PartyRole.Unit));
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await using TcpConnectionListener listener = TcpConnectionListener.Listen(new IPEndPoint(IPAddress.Loopback, 0));
        Task answering = Task.Run(async () =>
        {
            TransportConnection? connection = await listener.AcceptAsync(stop.Token);
            await Preflight.AnswerAsync(connection!, new SupportConnectionOptions { Secure = secure }, stop.Token);
        });
        var at = (IPEndPoint)listener.BoundEndPoint;

        JsonObject passed = await _work.JsonAsync("preflight", $"127.0.0.1:{at.Port}", "--key", "unit.key", "--trust", "unit.trust", "--vendor", "contoso", "--max-rtt", "5000", "--min-bandwidth", "1");
        await answering;
        await listener.DisposeAsync();
        ToolRun closed = await _work.RunAsync("preflight", $"127.0.0.1:{at.Port}", "--key", "unit.key", "--trust", "unit.trust", "--vendor", "contoso", "--json");

        ((bool)passed["passed"]!).Should().BeTrue();
        ((bool)passed["handshake"]!).Should().BeTrue();
        ((string)passed["cipherSuite"]!).Should().StartWith("Noise_XX_25519_");
        passed["versionDifferences"]!.AsArray().Should().BeEmpty();
        closed.ExitCode.Should().Be(1, closed.ToString());
        ((bool)closed.Json()["reachable"]!).Should().BeFalse();
        ((string)closed.Json()["error"]!).Should().StartWith($"127.0.0.1:{at.Port}: The endpoint is not reachable");
    }
}
