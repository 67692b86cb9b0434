using System.Buffers;
using System.Text;
using System.Text.Json;
using RemoteSupport.Audit;
using RemoteSupport.Authorization;
using RemoteSupport.Consent;
using RemoteSupport.Contract;
using RemoteSupport.Documents;
using RemoteSupport.Evidence;
using RemoteSupport.Fixes;
using RemoteSupport.GroundRules;
using RemoteSupport.Identities;
using RemoteSupport.Journal;
using RemoteSupport.Ledger;
using RemoteSupport.Sessions;
using RemoteSupport.Transport.Framing;
using RemoteSupport.Transport.Security;
using RemoteSupport.Transport.Sessions;
using RemoteSupport.Transport.Transports;
using RemoteSupport.Trust;

namespace RemoteSupport.Fuzz;

/// <summary>
/// One fuzz target per parser of untrusted bytes. Each feeds its input to the parser and catches exactly the refusals
/// the parser documents (a typed exception or a result value); anything else escapes and AFL++ records a crash.
/// A target that does not return within its time is a hang.
/// </summary>
internal static partial class Targets
{
    public static readonly IReadOnlyDictionary<string, Action<byte[]>> All = new Dictionary<string, Action<byte[]>>(StringComparer.Ordinal)
    {
        ["frame"] = Frame,
        ["handshake"] = Handshake,
        ["envelope"] = Envelope,
        ["documents"] = Documents,
        ["checkpoint"] = CheckpointNote,
        ["journal"] = JournalFile,
        ["fix-package"] = FixPackageFile,
        ["key-file"] = KeyFileBytes,
        ["session-message"] = SessionMessageBytes,
        ["approval-request"] = ApprovalRequestJson,
        ["contract-state"] = ContractStateRecords,
        ["sealed-records"] = SealedRecords,
        ["multiplexer"] = MultiplexerFrames,
    };

    private static readonly string Scratch = Directory.CreateTempSubdirectory("rs-fuzz-").FullName;

    /// <summary>The preface, then frames, as a framed connection reads them from the wire.</summary>
    private static void Frame(byte[] input)
    {
        var sequence = new ReadOnlySequence<byte>(input);
        SequencePosition consumed = sequence.Start;
        SequencePosition examined = sequence.Start;
        try
        {
            if (!FrameCodec.TryReadPreface(sequence, ref consumed, ref examined, out _, out _, out int maxPayload))
            {
                return;
            }

            while (FrameCodec.TryReadFrame(sequence, Math.Min(maxPayload, 1 << 20), ref consumed, ref examined, out Frame frame))
            {
                _ = frame.Payload.Length;
            }
        }
        catch (FramingException)
        {
        }
    }

    // Instrumented code may run only once SharpFuzz's runner has mapped AFL's coverage memory, so the keys are made
    // on a target's first input (a static field of Targets itself would be made before Fuzzer.OutOfProcess.Run).
    private static class Fixed
    {
        public static readonly PartyIdentity Endpoint = PartyIdentity.Create("contoso", PartyRole.Technician);
        public static readonly PartyIdentity Unit = PartyIdentity.Create("fabrikam", PartyRole.Unit);
        public static readonly NoiseStaticKey EndpointStatic = NoiseStaticKey.Generate();
        public static readonly PartyIdentity Technician = PartyIdentity.Create("contoso", PartyRole.Technician);

        public static readonly DocumentType[] DocumentTypes =
        [
            SecurityGroundRules.DocumentType, ServiceAuthorization.DocumentType, AuthorizationRevocation.DocumentType, Approval.DocumentType,
            FixManifest.DocumentType, VendorRoot.DocumentType, InstallReceipt.DocumentType, SessionReceipt.DocumentType, MonthlyStatement.DocumentType,
            EvidenceManifest.DocumentType, CompatibilitySpecification.DocumentType, KeyRotation.DocumentType,
        ];
    }

    /// <summary>The responder's side of the secure handshake, fed a valid preface then the input as the initiator's bytes.</summary>
    private static void Handshake(byte[] input)
    {
        var trust = new TrustStore();
        trust.Trust("fabrikam", PartyRole.Unit, Fixed.Unit.PublicKey);
        var options = new SecureChannelOptions { Identity = Fixed.Endpoint, TrustStore = trust, StaticKey = Fixed.EndpointStatic, HandshakeTimeout = TimeSpan.FromSeconds(2) };
        options.AcceptedPeers.Add(new ExpectedPeer("fabrikam", PartyRole.Unit));
        (TransportConnection client, TransportConnection server) = InMemoryTransport.CreatePair();
        try
        {
            Task accepting = Task.Run(async () =>
            {
                await using FramedConnection framed = await FramedConnection.StartAsync(server);
                await using SecureConnection secure = await SecureConnection.AcceptAsync(framed, options);
            });
            var preface = new ArrayBufferWriter<byte>();
            FrameCodec.WritePreface(preface, new FramingOptions().MaxFramePayload);
            client.Output.Write(preface.WrittenSpan);
            client.Output.Write(input);
            client.Output.FlushAsync().AsTask().GetAwaiter().GetResult();
            client.Output.Complete();
            if (!accepting.Wait(TimeSpan.FromSeconds(5)))
            {
                throw new TimeoutException("The responder did not end within 5 s of its input ending.");
            }
        }
        catch (AggregateException e) when (e.InnerExceptions.All(Expected))
        {
        }
        finally
        {
            client.DisposeAsync().AsTask().GetAwaiter().GetResult();
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        static bool Expected(Exception e) => e is SecureChannelException or FramingException or IOException or OperationCanceledException;
    }

    /// <summary>An envelope as every reader receives it, verified against a trust and, as a key rotation, applied.</summary>
    private static void Envelope(byte[] input)
    {
        if (!SignedEnvelope.TryParse(input, out SignedEnvelope? envelope, out _))
        {
            return;
        }

        var trust = new TrustStore();
        trust.Trust("fabrikam", PartyRole.Customer, Fixed.Unit.PublicKey);
        _ = trust.Verify(envelope!, new SignaturePolicy(SecurityGroundRules.DocumentType, new SignatureRequirement("fabrikam", PartyRole.Customer)));
        _ = trust.Rotate(envelope!);
        _ = envelope!.ToUtf8Json();
        ReadAll(envelope!);
    }

    /// <summary>The input as the payload of each document type, read by its reader.</summary>
    private static void Documents(byte[] input)
    {
        foreach (DocumentType type in Fixed.DocumentTypes)
        {
            ReadAll(SignedEnvelope.Create(type, input));
        }
    }


    private static void ReadAll(SignedEnvelope envelope)
    {
        Read(() => SecurityGroundRules.FromEnvelope(envelope));
        Read(() => ServiceAuthorization.FromEnvelope(envelope));
        Read(() => AuthorizationRevocation.FromEnvelope(envelope));
        Read(() => Approval.FromEnvelope(envelope));
        Read(() => FixManifest.FromEnvelope(envelope));
        Read(() => VendorRoot.FromEnvelope(envelope));
        Read(() => InstallReceipt.FromEnvelope(envelope));
        Read(() => SessionReceipt.FromEnvelope(envelope));
        Read(() => MonthlyStatement.FromEnvelope(envelope));
        Read(() => EvidenceManifest.FromEnvelope(envelope));
        Read(() => CompatibilitySpecification.FromEnvelope(envelope));
        var book = new GroundRulesBook(new TrustStore());
        _ = book.Accept(envelope);
        _ = new TrustStore().Rotate(envelope);
    }

    private static void Read(Func<object> read)
    {
        try
        {
            _ = read();
        }
        catch (FormatException)
        {
            // EnvelopeFormatException and the readers' own: the documented refusal.
        }
    }

    /// <summary>A signed checkpoint note, as a journal verifier reads it.</summary>
    private static void CheckpointNote(byte[] input)
    {
        string note = Encoding.UTF8.GetString(input);
        _ = Checkpoint.TryVerify(note, "fabrikam/unit-7", Fixed.Unit.PublicKey, out _, out _);
    }

    /// <summary>Arbitrary bytes as a journal file: opened (recovery truncates a torn tail), every record read, the tree built.</summary>
    private static void JournalFile(byte[] input)
    {
        string path = Path.Combine(Scratch, "fuzz.journal");
        File.WriteAllBytes(path, input);
        try
        {
            AppendOnlyJournal journal = AppendOnlyJournal.OpenAsync(path).GetAwaiter().GetResult();
            try
            {
                journal.ReadRangeAsync(0, journal.Count, (_, record) => _ = record.Length).GetAwaiter().GetResult();
                _ = journal.Root();
            }
            finally
            {
                journal.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
        }
        catch (JournalException)
        {
        }
    }

    private static readonly Lazy<FixTrust> FixRoot = new(() => new FixTrust(SignedEnvelope.Parse(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "fixtures", "vendor-root.json")))));

    /// <summary>A fix package as a unit verifies it (the committed vendor root signed the seeds, so the fuzzer reaches the chunks).</summary>
    private static void FixPackageFile(byte[] input)
    {
        using var stream = new MemoryStream(input, writable: false);
        _ = FixVerifier.VerifyAsync(stream, FixRoot.Value, new FixContext("unit-7", "fabrikam", null, "ledger", "2.3.0"), stagingFolder: null).GetAwaiter().GetResult();
    }

    /// <summary>A key file as it is loaded, without a passphrase (a passphrase would run Argon2 at the file's own cost on every input).</summary>
    private static void KeyFileBytes(byte[] input)
    {
        string path = Path.Combine(Scratch, "fuzz.key");
        File.WriteAllBytes(path, input);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        try
        {
            using PartyIdentity identity = KeyFile.LoadAsync(path, null).GetAwaiter().GetResult();
        }
        catch (KeyFileException)
        {
        }
    }

    /// <summary>One session message as the agent and the console parse it.</summary>
    private static void SessionMessageBytes(byte[] input)
    {
        try
        {
            _ = SessionMessage.Parse(input);
        }
        catch (SessionProtocolException)
        {
        }
    }

    /// <summary>An exported approval request (the offline route, the approval folder), with its canonical text.</summary>
    private static void ApprovalRequestJson(byte[] input)
    {
        try
        {
            ApprovalRequest request = ApprovalRequest.FromJson(Encoding.UTF8.GetString(input));
            _ = request.RenderText();
            _ = request.TextHash;
        }
        catch (FormatException)
        {
        }
    }

    /// <summary>
    /// The unit's contract state rebuilt from its audit journal (issue 13's state journal): the input is split into records
    /// (a 2-byte big-endian length before each), appended to a fresh journal, and the state replayed from it.
    /// </summary>
    private static void ContractStateRecords(byte[] input)
    {
        string path = Path.Combine(Scratch, "audit-" + Environment.ProcessId + ".journal");
        File.Delete(path);
        AppendOnlyJournal journal = AppendOnlyJournal.OpenAsync(path).GetAwaiter().GetResult();
        try
        {
            for (int at = 0; at + 2 <= input.Length;)
            {
                int length = (input[at] << 8) | input[at + 1];
                at += 2;
                int take = Math.Min(length, input.Length - at);
                journal.AppendAsync(input.AsMemory(at, take)).AsTask().GetAwaiter().GetResult();
                at += take;
            }

            var trust = new TrustStore();
            trust.Trust("fabrikam", PartyRole.Customer, Fixed.Unit.PublicKey);
            try
            {
                _ = ContractState.OpenAsync(new AuditLog(journal), trust, "fabrikam").GetAwaiter().GetResult();
            }
            catch (Exception e) when (e is FormatException or JsonException or JournalException)
            {
                // A record that is not an audit event: the documented refusal of a corrupt journal.
            }
        }
        finally
        {
            journal.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }
}
