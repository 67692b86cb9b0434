using System.Net;
using RemoteSupport.Identities;
using RemoteSupport.Transport.Security;
using RemoteSupport.Transport.Sessions;
using RemoteSupport.Transport.Transports;
using RemoteSupport.Trust;

namespace RemoteSupport.Transport.Tests.Sessions;

public sealed class CompatibilityTests : IDisposable
{
    private readonly PartyIdentity _vendorEndpoint = PartyIdentity.Create("contoso", PartyRole.Technician);
    private readonly PartyIdentity _unit = PartyIdentity.Create("fabrikam", PartyRole.Unit);
    private readonly CancellationTokenSource _stop = new(TimeSpan.FromSeconds(30));

    public void Dispose()
    {
        _vendorEndpoint.Dispose();
        _unit.Dispose();
        _stop.Dispose();
    }

    [Fact]
    public void TheSpecification_StatesWhatTheConfigurationDoes_InMarkdownAndJson()
    {
        SupportConnectionOptions options = VendorOptions();
        options.Channels = new Transport.Channels.MultiplexerOptions { KeepAliveInterval = TimeSpan.FromSeconds(45) };
        options.Secure.Cipher = SecureChannelCipher.ChaChaPoly;

        var spec = CompatibilitySpecification.Describe("contoso", options,
            [new CompatibilityEndpoint("tcp", "support.contoso.example", 7443, "unit dials console")], new LineRequirements(64_000, 800));

        spec.Protocols.Should().Contain(new KeyValuePair<string, string>("framing", "1.0")).And.ContainKey("session");
        spec.CipherSuites.Should().NotBeEmpty().And.OnlyContain(s => s.Contains("ChaChaPoly"), "the configuration allows only ChaChaPoly");
        spec.Limits["keepalive-interval-seconds"].Should().Be("45");
        string markdown = spec.ToMarkdown();
        markdown.Should().Contain("| tcp | support.contoso.example | 7443 | unit dials console |").And.Contain("at least 64 kbit/s").And.Contain("Format version 1");
        spec.ToText().Should().NotContain("`");
        CompatibilitySpecification.FromJson(spec.ToJson()).Should().BeEquivalentTo(spec);
    }

    [Fact]
    public async Task Preflight_AgainstTheVendorsEndpoint_ReportsReachabilityHandshakeVersionsRttAndThroughput()
    {
        await using TcpConnectionListener listener = TcpConnectionListener.Listen(new IPEndPoint(IPAddress.Loopback, 0));
        Task answering = AnswerOneAsync(listener);

        PreflightReport report = await Preflight.RunAsync(new TcpDialer(listener.BoundEndPoint), UnitOptions(), new LineRequirements(1_000_000, 500), 2 * 1024 * 1024, _stop.Token);
        await answering;

        report.Passed.Should().BeTrue(string.Join("; ", report.Problems));
        report.Reachable.Should().BeTrue();
        report.HandshakeSucceeded.Should().BeTrue();
        report.CipherSuite.Should().StartWith("Noise_XX_25519_");
        report.VersionDifferences.Should().BeEmpty();
        report.RoundTripTime.Should().BeGreaterThan(TimeSpan.Zero);
        report.ThroughputBitsPerSecond.Should().BeGreaterThan(1_000_000);
    }

    [Fact]
    public async Task Preflight_NamesWhatFails_AnUnreachableEndpoint_OrAnIdentityNotTrusted()
    {
        var closed = new IPEndPoint(IPAddress.Loopback, 1);
        PreflightReport unreachable = await Preflight.RunAsync(new TcpDialer(closed), UnitOptions(), new LineRequirements(1, 1000), cancellationToken: _stop.Token);
        unreachable.Reachable.Should().BeFalse();
        unreachable.Problems.Should().ContainSingle().Which.Should().StartWith("The endpoint is not reachable");

        await using TcpConnectionListener listener = TcpConnectionListener.Listen(new IPEndPoint(IPAddress.Loopback, 0));
        Task answering = AnswerOneAsync(listener);
        SupportConnectionOptions stranger = UnitOptions(trustVendor: false);
        PreflightReport untrusted = await Preflight.RunAsync(new TcpDialer(listener.BoundEndPoint), stranger, new LineRequirements(1, 1000), cancellationToken: _stop.Token);
        untrusted.Reachable.Should().BeTrue();
        untrusted.HandshakeSucceeded.Should().BeFalse();
        untrusted.Problems.Should().ContainSingle().Which.Should().StartWith("The secure handshake failed");
        await FluentActions.Awaiting(() => answering).Should().ThrowAsync<SecureChannelException>();
    }

    private async Task AnswerOneAsync(TcpConnectionListener listener)
    {
        TransportConnection? connection = await listener.AcceptAsync(_stop.Token);
        await Preflight.AnswerAsync(connection!, VendorOptions(), _stop.Token);
    }

    private SupportConnectionOptions VendorOptions()
    {
        var trust = new TrustStore();
        trust.Trust("fabrikam", PartyRole.Unit, _unit.PublicKey);
        var secure = new SecureChannelOptions { Identity = _vendorEndpoint, TrustStore = trust, StaticKey = NoiseStaticKey.Generate() };
        secure.AcceptedPeers.Add(new ExpectedPeer("fabrikam", PartyRole.Unit));
        return new SupportConnectionOptions { Secure = secure };
    }

    private SupportConnectionOptions UnitOptions(bool trustVendor = true)
    {
        var trust = new TrustStore();
        if (trustVendor)
        {
            trust.Trust("contoso", PartyRole.Technician, _vendorEndpoint.PublicKey);
        }

        var secure = new SecureChannelOptions { Identity = _unit, TrustStore = trust };
        secure.AcceptedPeers.Add(new ExpectedPeer("contoso", PartyRole.Technician));
        return new SupportConnectionOptions { Secure = secure };
    }
}
