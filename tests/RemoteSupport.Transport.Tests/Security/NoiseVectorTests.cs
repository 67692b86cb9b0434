using System.Text.Json;
using NSec.Cryptography;
using RemoteSupport.Transport.Security.Noise;

using RemoteSupport.Tests;

namespace RemoteSupport.Transport.Tests.Security;

/// <summary>
/// Runs every Noise test vector in <c>NOISE_VECTORS_DIR</c> (default <c>../shared/vectors/noise</c>
/// beside the repository), one test case per vector, named by its protocol name. Every handshake and
/// transport ciphertext and the handshake hash are compared byte for byte, every payload decrypted.
/// A vector of a suite this library cannot run fails as unsupported; it never passes.
/// </summary>
public class NoiseVectorTests
{
    private static readonly Lazy<Dictionary<string, JsonElement>> Vectors = new(Load);

    public static TheoryData<string> VectorNames()
    {
        var names = new TheoryData<string>();
        foreach (string name in Vectors.Value.Keys)
        {
            names.Add(name);
        }

        return names;
    }

    [Fact]
    [Trait("Category", "Conformance")]
    public void VectorFolder_HoldsVectors()
    {
        Vectors.Value.Should().NotBeEmpty($"the folder {VectorFolder()} must hold Noise vectors");
    }

    [Theory]
    [Trait("Category", "Conformance")]
    [MemberData(nameof(VectorNames))]
    public void Vector(string protocolName)
    {
        JsonElement vector = Vectors.Value[protocolName];
        string name = vector.GetProperty("protocol_name").GetString()!;
        NoiseProtocol protocol = NoiseProtocol.TryParse(name, out string? unsupported)
            ?? throw new NotSupportedException($"Unsupported suite, not run: {unsupported}");

        using NoiseHandshakeState initiator = Create(protocol, vector, "init", initiator: true);
        using NoiseHandshakeState responder = Create(protocol, vector, "resp", initiator: false);
        NoiseCipherState? initiatorSend = null, responderSend = null, initiatorReceive = null, responderReceive = null;
        byte[] buffer = new byte[NoiseHandshakeState.MaxMessageLength];
        byte[] plain = new byte[NoiseHandshakeState.MaxMessageLength];
        int index = 0;
        foreach (JsonElement message in vector.GetProperty("messages").EnumerateArray())
        {
            byte[] payload = Hex(message, "payload");
            byte[] expected = Hex(message, "ciphertext");
            bool fromInitiator = protocol.Pattern.IsOneWay || index % 2 == 0;
            if (!initiator.IsCompleted)
            {
                NoiseHandshakeState writer = fromInitiator ? initiator : responder;
                NoiseHandshakeState reader = fromInitiator ? responder : initiator;
                int written = writer.WriteMessage(payload, buffer);
                buffer.AsSpan(0, written).ToArray().Should().Equal(expected, $"handshake message {index} of {name}");
                int read = reader.ReadMessage(expected, plain);
                plain.AsSpan(0, read).ToArray().Should().Equal(payload, $"handshake payload {index} of {name}");
                if (initiator.IsCompleted)
                {
                    responder.IsCompleted.Should().BeTrue();
                    initiator.HandshakeHash.ToArray().Should().Equal(Hex(vector, "handshake_hash"), $"handshake hash of {name}");
                    responder.HandshakeHash.ToArray().Should().Equal(initiator.HandshakeHash.ToArray());
                    (initiatorSend, initiatorReceive) = initiator.Split();
                    (responderReceive, responderSend) = responder.Split();
                }
            }
            else
            {
                NoiseCipherState sender = fromInitiator ? initiatorSend! : responderSend!;
                NoiseCipherState receiver = fromInitiator ? responderReceive! : initiatorReceive!;
                int written = sender.EncryptWithAd(ReadOnlySpan<byte>.Empty, payload, buffer);
                buffer.AsSpan(0, written).ToArray().Should().Equal(expected, $"transport message {index} of {name}");
                int read = receiver.DecryptWithAd(ReadOnlySpan<byte>.Empty, expected, plain);
                read.Should().Be(payload.Length, $"transport message {index} of {name} decrypts");
                plain.AsSpan(0, read).ToArray().Should().Equal(payload);
            }

            index++;
        }

        initiator.IsCompleted.Should().BeTrue($"{name}'s messages complete the handshake");
        foreach (NoiseCipherState? state in new[] { initiatorSend, initiatorReceive, responderSend, responderReceive })
        {
            state?.Dispose();
        }
    }

    private static NoiseHandshakeState Create(NoiseProtocol protocol, JsonElement vector, string side, bool initiator)
    {
        Key? s = vector.TryGetProperty(side + "_static", out JsonElement staticKey) ? ImportPrivate(Convert.FromHexString(staticKey.GetString()!)) : null;
        byte[] rs = vector.TryGetProperty(side + "_remote_static", out JsonElement remote) ? Convert.FromHexString(remote.GetString()!) : [];
        byte[] ephemeral = vector.TryGetProperty(side + "_ephemeral", out JsonElement e) ? Convert.FromHexString(e.GetString()!) : [];
        List<byte[]> psks = vector.TryGetProperty(side + "_psks", out JsonElement list)
            ? list.EnumerateArray().Select(p => Convert.FromHexString(p.GetString()!)).ToList()
            : [];
        return NoiseHandshakeState.Create(protocol, initiator, Hex(vector, side + "_prologue"), s, rs, psks, () => ImportPrivate(ephemeral));
    }

    private static Key ImportPrivate(byte[] raw) =>
        Key.Import(KeyAgreementAlgorithm.X25519, raw, KeyBlobFormat.RawPrivateKey, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.None });

    private static byte[] Hex(JsonElement element, string property) =>
        element.TryGetProperty(property, out JsonElement value) ? Convert.FromHexString(value.GetString()!) : [];

    internal static string VectorFolder() => RepositoryPaths.Vectors("NOISE_VECTORS_DIR", "noise");

    private static Dictionary<string, JsonElement> Load()
    {
        var vectors = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        string folder = VectorFolder();
        if (!Directory.Exists(folder))
        {
            return vectors;
        }

        foreach (string file in Directory.GetFiles(folder, "*.json").Order(StringComparer.Ordinal))
        {
            using JsonDocument document = JsonDocument.Parse(File.ReadAllBytes(file));
            foreach (JsonElement vector in document.RootElement.GetProperty("vectors").EnumerateArray())
            {
                string name = vector.GetProperty("protocol_name").GetString()!;
                string key = name;
                for (int n = 2; vectors.ContainsKey(key); n++)
                {
                    key = $"{name} #{n}";
                }

                vectors[key] = vector.Clone();
            }
        }

        return vectors;
    }
}
