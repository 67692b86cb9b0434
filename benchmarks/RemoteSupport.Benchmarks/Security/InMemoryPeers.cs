using System.IO.Pipelines;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using RemoteSupport.Identities;
using RemoteSupport.Transport.Framing;
using RemoteSupport.Transport.Security;
using RemoteSupport.Transport.Transports;
using RemoteSupport.Trust;

namespace RemoteSupport.Benchmarks.Security;

/// <summary>The two parties of the secure channel benchmarks, and a TLS 1.3 pair over the same kind of pipes.</summary>
internal sealed class InMemoryPeers : IDisposable
{
    private static readonly PipeOptions Pipes = new(
        readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline,
        pauseWriterThreshold: 4 * 1024 * 1024, resumeWriterThreshold: 2 * 1024 * 1024, useSynchronizationContext: false);

    private readonly PartyIdentity _technician = PartyIdentity.Create("contoso", PartyRole.Technician);
    private readonly PartyIdentity _unit = PartyIdentity.Create("fabrikam", PartyRole.Unit);
    private readonly NoiseStaticKey _consoleStatic = NoiseStaticKey.Generate();
    private readonly NoiseStaticKey _agentStatic = NoiseStaticKey.Generate();
    private readonly TrustStore _consoleTrust = new();
    private readonly TrustStore _agentTrust = new();
    private readonly X509Certificate2 _certificate;

    public InMemoryPeers()
    {
        _consoleTrust.Trust("fabrikam", PartyRole.Unit, _unit.PublicKey);
        _agentTrust.Trust("contoso", PartyRole.Technician, _technician.PublicKey);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=agent.fabrikam.example", key, HashAlgorithmName.SHA256);
        using X509Certificate2 created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        _certificate = X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pfx), null);
    }

    public byte[] AgentStaticPublicKey => _agentStatic.PublicKey.ToArray();

    public static TransportOptions TransportOptions => new() { InputPipeOptions = Pipes, OutputPipeOptions = Pipes };

    public async Task<(SecureConnection Console, SecureConnection Agent)> ConnectNoiseAsync(bool knownResponder)
    {
        (TransportConnection a, TransportConnection b) = InMemoryTransport.CreatePair(TransportOptions);
        var framing = new FramingOptions();
        Task<FramedConnection> consoleFramed = FramedConnection.StartAsync(a, framing).AsTask();
        FramedConnection agentFramed = await FramedConnection.StartAsync(b, framing);
        var consoleOptions = new SecureChannelOptions { Identity = _technician, TrustStore = _consoleTrust, StaticKey = _consoleStatic };
        consoleOptions.AcceptedPeers.Add(new ExpectedPeer("fabrikam", PartyRole.Unit));
        if (knownResponder)
        {
            consoleOptions.KnownResponderStaticKey = AgentStaticPublicKey;
        }

        var agentOptions = new SecureChannelOptions { Identity = _unit, TrustStore = _agentTrust, StaticKey = _agentStatic };
        agentOptions.AcceptedPeers.Add(new ExpectedPeer("contoso", PartyRole.Technician));
        Task<SecureConnection> console = SecureConnection.ConnectAsync(await consoleFramed, consoleOptions).AsTask();
        Task<SecureConnection> agent = SecureConnection.AcceptAsync(agentFramed, agentOptions).AsTask();
        return (await console, await agent);
    }

    public async Task<(SslStream Client, SslStream Server)> ConnectTlsAsync()
    {
        var toServer = new Pipe(Pipes);
        var toClient = new Pipe(Pipes);
        var client = new SslStream(new DuplexPipeStream(toClient.Reader, toServer.Writer), leaveInnerStreamOpen: false);
        var server = new SslStream(new DuplexPipeStream(toServer.Reader, toClient.Writer), leaveInnerStreamOpen: false);
        string thumbprint = _certificate.Thumbprint;
        Task clientAuth = client.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "agent.fabrikam.example",
            EnabledSslProtocols = SslProtocols.Tls13,
            RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate?.GetCertHashString() == thumbprint,
        });
        Task serverAuth = server.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
        {
            ServerCertificate = _certificate,
            EnabledSslProtocols = SslProtocols.Tls13,
            AllowTlsResume = false,
        });
        await Task.WhenAll(clientAuth, serverAuth);
        return (client, server);
    }

    public void Dispose()
    {
        _technician.Dispose();
        _unit.Dispose();
        _consoleStatic.Dispose();
        _agentStatic.Dispose();
        _certificate.Dispose();
    }

    /// <summary>A duplex stream over a pipe pair: what SslStream needs.</summary>
    private sealed class DuplexPipeStream(PipeReader input, PipeWriter output) : Stream
    {
        private readonly Stream _reader = input.AsStream();
        private readonly Stream _writer = output.AsStream();

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush() => _writer.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => _writer.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => _reader.Read(buffer, offset, count);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _reader.ReadAsync(buffer, cancellationToken);

        public override void Write(byte[] buffer, int offset, int count) => _writer.Write(buffer, offset, count);

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => _writer.WriteAsync(buffer, cancellationToken);

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _reader.Dispose();
                _writer.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
