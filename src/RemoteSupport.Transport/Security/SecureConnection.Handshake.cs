using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using RemoteSupport.Identities;
using RemoteSupport.Transport.Framing;
using RemoteSupport.Transport.Security.Noise;
using RemoteSupport.Transport.Transports;
using RemoteSupport.Trust;

namespace RemoteSupport.Transport.Security;

public sealed partial class SecureConnection
{
    /// <summary>The prologue label; the prologue is this, a zero byte, and the protocol name.</summary>
    internal const string PrologueLabel = "RemoteSupport secure channel 1";

    /// <summary>What an identity proof's signature covers first.</summary>
    internal const string ProofLabel = "RemoteSupport secure channel identity 1";

    private const byte ProofVersion = 1;
    private const int ProofLength = 1 + PartyKey.RawKeyLength + 64 + 8;

    /// <summary>Gets the protocol names a responder accepts.</summary>
    public static IReadOnlyList<string> SupportedProtocols { get; } = BuildSupportedProtocols();

    /// <summary>Runs the handshake as the initiator: <c>XX</c>, or <c>IK</c> when <see cref="SecureChannelOptions.KnownResponderStaticKey"/> is set.</summary>
    /// <exception cref="SecureChannelException">The handshake failed; the connection is closed and the reason sent to the peer.</exception>
    public static ValueTask<SecureConnection> ConnectAsync(FramedConnection framed, SecureChannelOptions options, CancellationToken cancellationToken = default) =>
        HandshakeAsync(framed, options, initiator: true, cancellationToken);

    /// <summary>Runs the handshake as the responder, accepting <c>XX</c> and <c>IK</c> with the suites in <see cref="SupportedProtocols"/>.</summary>
    /// <exception cref="SecureChannelException">The handshake failed; the connection is closed and the reason sent to the peer.</exception>
    public static ValueTask<SecureConnection> AcceptAsync(FramedConnection framed, SecureChannelOptions options, CancellationToken cancellationToken = default) =>
        HandshakeAsync(framed, options, initiator: false, cancellationToken);

    internal static string ProtocolNameFor(bool knownResponder, SecureChannelCipher cipher)
    {
        string cipherName = cipher switch
        {
            SecureChannelCipher.AesGcm => "AESGCM",
            SecureChannelCipher.ChaChaPoly => "ChaChaPoly",
            _ => NoiseCipher.IsAesGcmSupported ? "AESGCM" : "ChaChaPoly",
        };
        return $"Noise_{(knownResponder ? "IK" : "XX")}_25519_{cipherName}_SHA256";
    }

    private static List<string> BuildSupportedProtocols()
    {
        var names = new List<string>();
        foreach (string pattern in new[] { "XX", "IK" })
        {
            if (NoiseCipher.IsAesGcmSupported)
            {
                names.Add($"Noise_{pattern}_25519_AESGCM_SHA256");
            }

            names.Add($"Noise_{pattern}_25519_ChaChaPoly_SHA256");
        }

        return names;
    }

    /// <summary>The handshake's prologue (docs/protocol/secure-channel.md): the label, a zero byte, the protocol name, in ASCII.</summary>
    internal static byte[] Prologue(string protocolName) => Encoding.ASCII.GetBytes(PrologueLabel + "\0" + protocolName);

    private static async ValueTask<SecureConnection> HandshakeAsync(FramedConnection framed, SecureChannelOptions options, bool initiator, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(framed);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        using var timeout = new CancellationTokenSource(options.HandshakeTimeout, options.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        NoiseStaticKey? ownedStatic = options.StaticKey is null ? NoiseStaticKey.Generate() : null;
        NoiseStaticKey staticKey = options.StaticKey ?? ownedStatic!;
        NoiseHandshakeState? handshake = null;
        byte[]? message = null;
        byte[]? payload = null;
        IDisposable? slot = null;
        try
        {
            if (initiator)
            {
                string name = ProtocolNameFor(!options.KnownResponderStaticKey.IsEmpty, options.Cipher);
                NoiseProtocol protocol = NoiseProtocol.TryParse(name, out string? unsupported)
                    ?? throw new SecureChannelException(SecureChannelError.ProtocolNotAllowed, unsupported ?? name);
                handshake = NoiseHandshakeState.Create(protocol, true, Prologue(name), staticKey.Key, options.KnownResponderStaticKey.Span);
            }

            message = ArrayPool<byte>.Shared.Rent(MaxNoiseMessage);
            payload = ArrayPool<byte>.Shared.Rent(MaxNoiseMessage);
            bool myStaticKnown = initiator && handshake!.Protocol.Pattern.InitiatorPreStatic;
            bool proofSent = false;
            bool first = true;
            TrustedKey? peer = null;
            long peerRekeyAfter = 0;
            while (handshake is null || !handshake.IsCompleted)
            {
                if (handshake is not null && handshake.IsMyTurn)
                {
                    if (handshake.Protocol.Pattern.Messages[handshake.MessageIndex].Contains(NoiseToken.S))
                    {
                        myStaticKnown = true;
                    }

                    bool includeProof = myStaticKnown && !proofSent;
                    int length = handshake.WriteMessage(h => includeProof ? Proof(options, staticKey.PublicKey.Span, h) : [], message);
                    proofSent |= includeProof;
                    if (first && initiator)
                    {
                        // The first frame names the protocol, so the responder can build the same state.
                        byte[] name = Encoding.ASCII.GetBytes(handshake.Protocol.Name);
                        byte[] framedMessage = new byte[1 + name.Length + length];
                        framedMessage[0] = (byte)name.Length;
                        name.CopyTo(framedMessage, 1);
                        message.AsSpan(0, length).CopyTo(framedMessage.AsSpan(1 + name.Length));
                        framed.WriteFrame(FrameType.Handshake, FrameFlags.None, 0, framedMessage);
                    }
                    else
                    {
                        framed.WriteFrame(FrameType.Handshake, FrameFlags.None, 0, message.AsSpan(0, length));
                    }

                    first = false;
                    await framed.FlushAsync(linked.Token).ConfigureAwait(false);
                    continue;
                }

                slot?.Dispose(); // a side waiting for its peer holds no handshake slot
                slot = null;
                byte[] received = await ReadHandshakeFrameAsync(framed, linked.Token).ConfigureAwait(false);
                if (options.HandshakeSlot is { } takeSlot)
                {
                    slot = await takeSlot(linked.Token).ConfigureAwait(false);
                }

                ReadOnlySpan<byte> noiseMessage = received;
                if (handshake is null)
                {
                    (handshake, noiseMessage) = await StartResponderAsync(framed, received, staticKey).ConfigureAwait(false);
                    myStaticKnown = handshake.Protocol.Pattern.ResponderPreStatic;
                    first = false;
                }

                int payloadLength;
                try
                {
                    payloadLength = handshake.ReadMessage(noiseMessage, payload);
                }
                catch (NoiseException ex)
                {
                    string hint = !initiator && handshake.Protocol.Pattern.ResponderPreStatic
                        ? " The initiator may hold an outdated static key of this responder; it can retry with XX."
                        : string.Empty;
                    throw await FailHandshakeAsync(framed, SecureChannelError.HandshakeFailed, ex.Message + hint).ConfigureAwait(false);
                }

                if (payloadLength > 0)
                {
                    if (peer is not null)
                    {
                        throw await FailHandshakeAsync(framed, SecureChannelError.HandshakeFailed, "The peer sent a second identity proof.").ConfigureAwait(false);
                    }

                    (peer, peerRekeyAfter, string? rejection) = VerifyProof(payload.AsSpan(0, payloadLength), handshake.RemoteStaticPublicKey, handshake.PayloadHandshakeHash, options);
                    if (peer is null)
                    {
                        throw await FailHandshakeAsync(framed, SecureChannelError.IdentityRejected, rejection!).ConfigureAwait(false);
                    }
                }
            }

            if (peer is null)
            {
                throw await FailHandshakeAsync(framed, SecureChannelError.IdentityRejected, "The peer completed the handshake without proving its identity.").ConfigureAwait(false);
            }

            (NoiseCipherState initiatorToResponder, NoiseCipherState responderToInitiator) = handshake.Split();
            try
            {
                // The responder confirms it accepted the initiator's identity (the initiator may finish
                // its last handshake message before the responder has judged it).
                if (initiator)
                {
                    slot?.Dispose(); // waiting for the confirmation holds no handshake slot either
                    slot = null;
                    byte[] confirmation = await ReadHandshakeFrameAsync(framed, linked.Token).ConfigureAwait(false);
                    if (!OpenConfirmation(responderToInitiator, confirmation))
                    {
                        throw await FailHandshakeAsync(framed, SecureChannelError.HandshakeFailed, "The responder's handshake confirmation failed authentication.").ConfigureAwait(false);
                    }
                }
                else
                {
                    framed.WriteFrame(FrameType.Handshake, FrameFlags.None, 0, SealConfirmation(responderToInitiator));
                    await framed.FlushAsync(linked.Token).ConfigureAwait(false);
                }

                var outcome = new HandshakeOutcome(handshake.Protocol.Name, peer, handshake.RemoteStaticPublicKey.ToArray(), handshake.HandshakeHash.ToArray(), peerRekeyAfter);
                return initiator
                    ? new SecureConnection(framed, outcome, initiatorToResponder, responderToInitiator, options.RekeyAfterBytes, options.MaxMessageSize, isInitiator: true)
                    : new SecureConnection(framed, outcome, responderToInitiator, initiatorToResponder, options.RekeyAfterBytes, options.MaxMessageSize, isInitiator: false);
            }
            catch
            {
                // No connection owns the transport keys: they are zeroed and freed here, not left to a finalizer.
                initiatorToResponder.Dispose();
                responderToInitiator.Dispose();
                throw;
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            string reason = string.Create(CultureInfo.InvariantCulture, $"The handshake did not complete within {options.HandshakeTimeout.TotalSeconds:0.###} s.");
            await framed.CloseWithErrorAsync((uint)SecureChannelError.Timeout, reason, ConnectionCloseReason.HandshakeTimeout).ConfigureAwait(false);
            throw new SecureChannelException(SecureChannelError.Timeout, reason);
        }
        catch (OperationCanceledException)
        {
            await framed.CloseWithErrorAsync((uint)SecureChannelError.HandshakeFailed, "The handshake was canceled.", ConnectionCloseReason.Aborted).ConfigureAwait(false);
            throw;
        }
        finally
        {
            slot?.Dispose();
            handshake?.Dispose();
            ownedStatic?.Dispose();
            if (message is not null)
            {
                ArrayPool<byte>.Shared.Return(message);
            }

            if (payload is not null)
            {
                ArrayPool<byte>.Shared.Return(payload, clearArray: true);
            }
        }
    }

    private const byte Accepted = 0x01;

    private static byte[] SealConfirmation(NoiseCipherState send)
    {
        byte[] sealedConfirmation = new byte[1 + TagLength];
        Span<byte> header = stackalloc byte[FrameCodec.HeaderSize];
        FrameCodec.WriteHeader(header, (uint)sealedConfirmation.Length, FrameType.Handshake, FrameFlags.None, 0);
        send.EncryptWithAd(header, [Accepted], sealedConfirmation);
        return sealedConfirmation;
    }

    private static bool OpenConfirmation(NoiseCipherState receive, byte[] sealedConfirmation)
    {
        if (sealedConfirmation.Length != 1 + TagLength)
        {
            return false;
        }

        Span<byte> header = stackalloc byte[FrameCodec.HeaderSize];
        FrameCodec.WriteHeader(header, (uint)sealedConfirmation.Length, FrameType.Handshake, FrameFlags.None, 0);
        Span<byte> plain = stackalloc byte[1];
        return receive.DecryptWithAd(header, sealedConfirmation, plain) == 1 && plain[0] == Accepted;
    }

    private static async ValueTask<(NoiseHandshakeState State, byte[] Message)> StartResponderAsync(FramedConnection framed, byte[] first, NoiseStaticKey staticKey)
    {
        int nameLength = first.Length > 0 ? first[0] : 0;
        if (nameLength == 0 || first.Length < 1 + nameLength)
        {
            throw await FailHandshakeAsync(framed, SecureChannelError.HandshakeFailed, "The first handshake message does not name its protocol.").ConfigureAwait(false);
        }

        string name = Encoding.ASCII.GetString(first, 1, nameLength);
        if (!SupportedProtocols.Contains(name, StringComparer.Ordinal))
        {
            throw await FailHandshakeAsync(framed, SecureChannelError.ProtocolNotAllowed,
                $"'{Printable(name)}' is not allowed; this side accepts {string.Join(", ", SupportedProtocols)}.").ConfigureAwait(false);
        }

        NoiseProtocol protocol = NoiseProtocol.TryParse(name, out _)!;
        NoiseHandshakeState state = NoiseHandshakeState.Create(protocol, false, Prologue(name), staticKey.Key, ReadOnlySpan<byte>.Empty);
        return (state, first[(1 + nameLength)..]);
    }

    private static async ValueTask<byte[]> ReadHandshakeFrameAsync(FramedConnection framed, CancellationToken cancellationToken)
    {
        FrameReadResult result;
        try
        {
            result = await framed.ReadFrameAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (FramingException ex)
        {
            throw new SecureChannelException(SecureChannelError.HandshakeFailed, "The connection failed during the handshake: " + ex.Message, ex);
        }

        if (result.IsCompleted)
        {
            throw await FailHandshakeAsync(framed, SecureChannelError.HandshakeFailed, "The connection ended during the handshake.").ConfigureAwait(false);
        }

        if (result.IsCanceled)
        {
            throw new OperationCanceledException("The handshake read was canceled.");
        }

        Frame frame = result.Frame;
        if (frame.Type == FrameType.GoAway)
        {
            (uint code, string reason) = ReadGoAway(frame);
            await framed.DisposeAsync().ConfigureAwait(false);
            SecureChannelError error = WireCode.Known(code, SecureChannelError.PeerClosed);
            throw new SecureChannelException(error, $"The peer refused the handshake: {reason}");
        }

        if (frame.Type != FrameType.Handshake || frame.ChannelId != 0)
        {
            throw await FailHandshakeAsync(framed, SecureChannelError.UnexpectedFrame,
                $"A {frame.Type} frame arrived before the handshake completed; nothing but handshake messages may.").ConfigureAwait(false);
        }

        return frame.Payload.ToArray();
    }

    private static async ValueTask<SecureChannelException> FailHandshakeAsync(FramedConnection framed, SecureChannelError error, string reason)
    {
        await framed.CloseWithErrorAsync((uint)error, reason, ConnectionCloseReason.SecurityFailure).ConfigureAwait(false);
        return new SecureChannelException(error, reason);
    }

    /// <summary>
    /// The identity proof: version, the Ed25519 public key, a signature over the label, this side's
    /// Noise static key, the handshake hash and the rekey interval, then the rekey interval.
    /// </summary>
    internal static byte[] Proof(SecureChannelOptions options, ReadOnlySpan<byte> noiseStatic, ReadOnlySpan<byte> handshakeHash)
    {
        PartyIdentity identity = options.Identity!;
        byte[] proof = new byte[ProofLength];
        proof[0] = ProofVersion;
        identity.PublicKey.RawKey.CopyTo(proof.AsSpan(1));
        BinaryPrimitives.WriteInt64BigEndian(proof.AsSpan(ProofLength - 8), options.RekeyAfterBytes);
        byte[] signed = SignedProofData(noiseStatic, handshakeHash, options.RekeyAfterBytes);
        identity.Sign(signed, proof.AsSpan(1 + PartyKey.RawKeyLength, 64));
        return proof;
    }

    private static byte[] SignedProofData(ReadOnlySpan<byte> noiseStatic, ReadOnlySpan<byte> handshakeHash, long rekeyAfter)
    {
        byte[] label = Encoding.ASCII.GetBytes(ProofLabel + "\0");
        byte[] data = new byte[label.Length + noiseStatic.Length + handshakeHash.Length + 8];
        label.CopyTo(data, 0);
        noiseStatic.CopyTo(data.AsSpan(label.Length));
        handshakeHash.CopyTo(data.AsSpan(label.Length + noiseStatic.Length));
        BinaryPrimitives.WriteInt64BigEndian(data.AsSpan(data.Length - 8), rekeyAfter);
        return data;
    }

    internal static (TrustedKey? Peer, long RekeyAfter, string? Rejection) VerifyProof(
        ReadOnlySpan<byte> proof, ReadOnlySpan<byte> peerNoiseStatic, ReadOnlySpan<byte> handshakeHash, SecureChannelOptions options)
    {
        if (proof.Length != ProofLength || proof[0] != ProofVersion || peerNoiseStatic.Length != NoiseHandshakeState.DhLength)
        {
            return (null, 0, "The peer's identity proof is malformed or unsigned.");
        }

        if (!PartyKey.TryFromRaw(proof.Slice(1, PartyKey.RawKeyLength), out PartyKey? key))
        {
            return (null, 0, "The peer's identity proof carries no valid Ed25519 key.");
        }

        long rekeyAfter = BinaryPrimitives.ReadInt64BigEndian(proof[(ProofLength - 8)..]);
        if (rekeyAfter is < 64 * 1024 or > 1L << 62)
        {
            return (null, 0, "The peer's identity proof announces a rekey interval outside [65536, 2^62].");
        }

        if (!key.Verify(SignedProofData(peerNoiseStatic, handshakeHash, rekeyAfter), proof.Slice(1 + PartyKey.RawKeyLength, 64)))
        {
            return (null, 0, $"The peer's identity proof for key {key.KeyId} does not verify: the key does not sign this session's static key and handshake.");
        }

        var problems = new List<string>();
        foreach (ExpectedPeer expected in options.AcceptedPeers)
        {
            SignatureProblem problem = options.TrustStore!.CheckKey(key, expected.Role, expected.PartyId, out TrustedKey? trusted);
            if (problem == SignatureProblem.None)
            {
                return (trusted, rekeyAfter, null);
            }

            problems.Add($"{expected.PartyId ?? "any party"}/{expected.Role.ToText()}: {Describe(problem)}");
        }

        return (null, 0, $"The peer's key {key.KeyId} ({key.Fingerprint}) is not accepted: {string.Join("; ", problems)}.");
    }

    private static string Describe(SignatureProblem problem) => problem switch
    {
        SignatureProblem.RevokedKey => "revoked",
        SignatureProblem.ExpiredKey => "expired",
        SignatureProblem.KeyNotYetValid => "not yet valid",
        _ => "not trusted",
    };

    private static string Printable(string text) =>
        new(text.Select(c => char.IsControl(c) ? '?' : c).Take(64).ToArray());
}
