using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using NSec.Cryptography;
using RemoteSupport.Documents;
using RemoteSupport.Identities;
using RemoteSupport.Trust;

namespace RemoteSupport.Benchmarks.Documents;

/// <summary>
/// Signing and verifying a signed document. Baseline: a bare Ed25519 signature over the payload
/// (NSec, the ceiling: no envelope, no trust store). Peer: ECDSA P-256 from the BCL, what a .NET
/// developer reaches for when signing documents (JWS ES256) without this library.
/// </summary>
[MemoryDiagnoser]
public class EnvelopeBenchmarks
{
    private static readonly DocumentType Type = new("benchmark", 1);
    private PartyIdentity _signer = null!;
    private Key _rawKey = null!;
    private ECDsa _ecdsa = null!;
    private byte[] _payload = null!;
    private byte[] _rawSignature = null!;
    private byte[] _ecdsaSignature = null!;
    private byte[] _envelopeJson = null!;
    private SignedEnvelope _envelope = null!;
    private TrustStore _trust = null!;
    private SignaturePolicy _policy = null!;

    [Params(256, 65536)]
    public int PayloadSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _payload = new byte[PayloadSize];
        new Random(42).NextBytes(_payload);
        _signer = PartyIdentity.Create("contoso", PartyRole.Vendor);
        _rawKey = Key.Create(SignatureAlgorithm.Ed25519);
        _ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        _rawSignature = SignatureAlgorithm.Ed25519.Sign(_rawKey, _payload);
        _ecdsaSignature = _ecdsa.SignData(_payload, HashAlgorithmName.SHA256);
        _envelope = SignedEnvelope.Create(Type, _payload).Sign(_signer);
        _envelopeJson = _envelope.ToUtf8Json();
        _trust = new TrustStore();
        _trust.Trust("contoso", PartyRole.Vendor, _signer.PublicKey);
        _policy = new SignaturePolicy(Type, new SignatureRequirement("contoso", PartyRole.Vendor));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _signer.Dispose();
        _rawKey.Dispose();
        _ecdsa.Dispose();
    }

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("Sign")]
    public byte[] RawEd25519Sign() => SignatureAlgorithm.Ed25519.Sign(_rawKey, _payload);

    [Benchmark]
    [BenchmarkCategory("Sign")]
    public byte[] EcdsaP256Sign() => _ecdsa.SignData(_payload, HashAlgorithmName.SHA256);

    [Benchmark]
    [BenchmarkCategory("Sign")]
    public byte[] EnvelopeSignToJson() => SignedEnvelope.Create(Type, _payload).Sign(_signer).ToUtf8Json();

    [Benchmark]
    [BenchmarkCategory("Verify")]
    public bool RawEd25519Verify() => SignatureAlgorithm.Ed25519.Verify(_rawKey.PublicKey, _payload, _rawSignature);

    [Benchmark]
    [BenchmarkCategory("Verify")]
    public bool EcdsaP256Verify() => _ecdsa.VerifyData(_payload, _ecdsaSignature, HashAlgorithmName.SHA256);

    [Benchmark]
    [BenchmarkCategory("Verify")]
    public bool EnvelopeParseAndVerify() => _trust.Verify(SignedEnvelope.Parse(_envelopeJson), _policy).IsValid;
}
