using System.Net.Security;
using BenchmarkDotNet.Attributes;
using RemoteSupport.Transport.Security;

namespace RemoteSupport.Benchmarks.Security;

/// <summary>
/// Secure channel throughput over the in-memory transport: 1 MiB of messages per operation, each
/// sent and received. <c>SslStream</c> (baseline): TLS 1.3 with an in-process ECDSA P-256 certificate
/// over the same kind of duplex pipe. <c>Noise</c>: <see cref="SecureConnection"/> (XX, AES-GCM where supported).
/// </summary>
[MemoryDiagnoser]
public class SecureChannelBenchmarks
{
    private const int BytesPerOperation = 1024 * 1024;
    private InMemoryPeers _peers = null!;
    private SecureConnection _console = null!;
    private SecureConnection _agent = null!;
    private SslStream _tlsClient = null!;
    private SslStream _tlsServer = null!;
    private byte[] _message = null!;
    private byte[] _readBuffer = null!;
    private int _messages;

    [Params(64, 1024, 65536)]
    public int PayloadSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _peers = new InMemoryPeers();
        (_console, _agent) = _peers.ConnectNoiseAsync(knownResponder: false).GetAwaiter().GetResult();
        (_tlsClient, _tlsServer) = _peers.ConnectTlsAsync().GetAwaiter().GetResult();
        _message = new byte[PayloadSize];
        new Random(3).NextBytes(_message);
        _readBuffer = new byte[PayloadSize];
        _messages = BytesPerOperation / PayloadSize;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _console.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _agent.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _tlsClient.Dispose();
        _tlsServer.Dispose();
        _peers.Dispose();
    }

    [Benchmark(Baseline = true)]
    public async Task<long> SslStream()
    {
        long received = 0;
        for (int i = 0; i < _messages; i++)
        {
            await _tlsClient.WriteAsync(_message);
            await _tlsServer.ReadExactlyAsync(_readBuffer);
            received += _readBuffer.Length;
        }

        return received;
    }

    [Benchmark]
    public async Task<long> Noise()
    {
        long received = 0;
        for (int i = 0; i < _messages; i++)
        {
            await _console.SendAsync(_message);
            SecureReceiveResult result = await _agent.ReceiveAsync();
            received += result.Message.Length;
        }

        return received;
    }
}

/// <summary>Handshakes per second: Noise XX and IK (mutual, Ed25519 identity proofs) against a full TLS 1.3 handshake (server certificate only).</summary>
[MemoryDiagnoser]
public class SecureChannelHandshakeBenchmarks
{
    private InMemoryPeers _peers = null!;

    [GlobalSetup]
    public void Setup() => _peers = new InMemoryPeers();

    [GlobalCleanup]
    public void Cleanup() => _peers.Dispose();

    [Benchmark(Baseline = true)]
    public async Task Tls13Handshake()
    {
        (SslStream client, SslStream server) = await _peers.ConnectTlsAsync();
        await client.DisposeAsync();
        await server.DisposeAsync();
    }

    [Benchmark]
    public async Task NoiseXXHandshake()
    {
        (SecureConnection console, SecureConnection agent) = await _peers.ConnectNoiseAsync(knownResponder: false);
        await console.DisposeAsync();
        await agent.DisposeAsync();
    }

    [Benchmark]
    public async Task NoiseIKHandshake()
    {
        (SecureConnection console, SecureConnection agent) = await _peers.ConnectNoiseAsync(knownResponder: true);
        await console.DisposeAsync();
        await agent.DisposeAsync();
    }
}
