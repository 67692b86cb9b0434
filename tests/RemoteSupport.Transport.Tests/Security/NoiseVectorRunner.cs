using System.Text.Json;
using NSec.Cryptography;
using RemoteSupport.Tests;
using RemoteSupport.Transport.Security.Noise;

namespace RemoteSupport.Transport.Tests.Security;

/// <summary>
/// Reads Noise test vector files (the cacophony schema that other implementations write too) and runs
/// one vector: every handshake and transport ciphertext is compared byte for byte and every payload
/// decrypted. Optional fields (<c>handshake_hash</c>, <c>*_psks</c>, <c>*_remote_static</c>) are checked
/// when present and not required; <c>fail: true</c> vectors must be refused; a suite this library does
/// not run throws <see cref="NotSupportedException"/> naming it, so it fails and never passes.
/// The rules are written down in <c>tests/vectors/noise/README.md</c>.
/// </summary>
internal static class NoiseVectorRunner
{
    /// <summary>Gets the folder the vectors are read from: <c>NOISE_VECTORS_DIR</c>, or <c>tests/vectors/noise</c>.</summary>
    public static string Folder() => RepositoryPaths.Vectors("NOISE_VECTORS_DIR", "noise");

    /// <summary>Reads every <c>*.json</c> file in <paramref name="folder"/>; each case is named <c>file: protocol</c>.</summary>
    public static Dictionary<string, JsonElement> Load(string folder)
    {
        var vectors = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        if (!Directory.Exists(folder))
        {
            return vectors;
        }

        foreach (string file in Directory.GetFiles(folder, "*.json").Order(StringComparer.Ordinal))
        {
            using JsonDocument document = JsonDocument.Parse(File.ReadAllBytes(file));
            foreach (JsonElement vector in document.RootElement.GetProperty("vectors").EnumerateArray())
            {
                string name = $"{Path.GetFileName(file)}: {vector.GetProperty("protocol_name").GetString()}";
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

    /// <summary>Runs one vector; throws (an assertion failure, or <see cref="NotSupportedException"/>) when it does not hold.</summary>
    public static void Run(JsonElement vector)
    {
        string name = vector.GetProperty("protocol_name").GetString()!;
        if (vector.TryGetProperty("hybrid", out _))
        {
            throw new NotSupportedException($"Unsupported suite, not run: {name} (hybrid forward secrecy)");
        }

        NoiseProtocol protocol = NoiseProtocol.TryParse(name, out string? unsupported)
            ?? throw new NotSupportedException($"Unsupported suite, not run: {unsupported}");
        bool mustFail = vector.TryGetProperty("fail", out JsonElement fail) && fail.ValueKind == JsonValueKind.True;
        if (!mustFail)
        {
            RunMessages(protocol, vector);
            return;
        }

        Action act = () => RunMessages(protocol, vector);
        act.Should().Throw<Exception>($"{name} is marked fail: true, so its messages must be refused");
    }

    private static void RunMessages(NoiseProtocol protocol, JsonElement vector)
    {
        string name = protocol.Name;
        using NoiseHandshakeState initiator = Create(protocol, vector, "init", "resp", initiator: true);
        using NoiseHandshakeState responder = Create(protocol, vector, "resp", "init", initiator: false);
        NoiseCipherState? initiatorSend = null, responderSend = null, initiatorReceive = null, responderReceive = null;
        byte[] buffer = new byte[NoiseHandshakeState.MaxMessageLength];
        byte[] plain = new byte[NoiseHandshakeState.MaxMessageLength];
        int index = 0;
        try
        {
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
                        if (vector.TryGetProperty("handshake_hash", out JsonElement hash))
                        {
                            initiator.HandshakeHash.ToArray().Should().Equal(Convert.FromHexString(hash.GetString()!), $"handshake hash of {name}");
                        }

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
        }
        finally
        {
            foreach (NoiseCipherState? state in new[] { initiatorSend, initiatorReceive, responderSend, responderReceive })
            {
                state?.Dispose();
            }
        }
    }

    /// <summary>
    /// One side's handshake state. A pre-message key the vector omits (<c>*_remote_static</c>) is the public key
    /// of the peer's static key; one it gives must be that key.
    /// </summary>
    private static NoiseHandshakeState Create(NoiseProtocol protocol, JsonElement vector, string side, string peer, bool initiator)
    {
        byte[]? own = OptionalHex(vector, side + "_static");
        byte[]? peerStatic = OptionalHex(vector, peer + "_static");
        byte[]? rs = OptionalHex(vector, side + "_remote_static");
        bool needRs = initiator ? protocol.Pattern.ResponderPreStatic : protocol.Pattern.InitiatorPreStatic;
        if (needRs && peerStatic is not null)
        {
            byte[] derived = PublicKeyOf(peerStatic);
            if (rs is null)
            {
                rs = derived;
            }
            else
            {
                rs.Should().Equal(derived, $"{side}_remote_static of {protocol.Name} is the public key of {peer}_static");
            }
        }

        byte[] ephemeral = Hex(vector, side + "_ephemeral");
        List<byte[]> psks = vector.TryGetProperty(side + "_psks", out JsonElement list)
            ? list.EnumerateArray().Select(p => Convert.FromHexString(p.GetString()!)).ToList()
            : [];
        return NoiseHandshakeState.Create(protocol, initiator, Hex(vector, side + "_prologue"),
            own is null ? null : ImportPrivate(own), rs ?? [], psks, () => ImportPrivate(ephemeral));
    }

    private static byte[] PublicKeyOf(byte[] privateKey)
    {
        using X25519Key key = ImportPrivate(privateKey);
        return key.PublicKey;
    }

    private static X25519Key ImportPrivate(byte[] raw) => X25519Key.Import(raw);

    private static byte[]? OptionalHex(JsonElement element, string property) =>
        element.TryGetProperty(property, out JsonElement value) && value.ValueKind == JsonValueKind.String ? Convert.FromHexString(value.GetString()!) : null;

    private static byte[] Hex(JsonElement element, string property) => OptionalHex(element, property) ?? [];
}
