using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using RemoteSupport.Documents;
using RemoteSupport.Fixes;
using RemoteSupport.GroundRules;
using RemoteSupport.Identities;
using RemoteSupport.Journal;
using RemoteSupport.Sessions;
using RemoteSupport.Transport.Framing;
using RemoteSupport.Trust;

namespace RemoteSupport.Fuzz;

/// <summary>The seed corpus: valid inputs of each target, as the library itself writes them (committed under fuzz/corpus).</summary>
internal static class Seeds
{
    public const string GroundRules = """
        {"version":1,"customerId":"fabrikam","vendorId":"contoso","timeZone":"Europe/Berlin",
         "operations":[{"operation":"view-data","permitted":true,"approval":{"groups":[{"name":"IT","partyId":"fabrikam","role":"approver","quorum":1}]}},
                       {"operation":"install-fix","permitted":true}],
         "maxApprovalLifetimeSeconds":28800,"dataScopes":[{"root":"finance","pathPatterns":["reports/*.csv"],"owner":"fabrikam"}],
         "hours":{"days":["monday","friday"],"from":"08:00","to":"18:00"},"maxSessionMinutes":240,
         "tollCharges":{"currency":"EUR","setupFeeMinor":500,"perMinuteMinor":120,"billingIncrementSeconds":60,"minimumMinor":500,
                        "sessionCapMinor":20000,"monthlyCapMinor":100000,"approvalThresholdMinor":10000}}
        """;

    public const string Request = """
        {"requestId":"request-1","sessionId":"session-1","technicianId":"contoso","technicianKeyId":"9b1c9071288643101e867d63647874e5",
         "operation":"view-data","root":"finance","paths":["reports/2026-11.csv"],"owner":"fabrikam","reason":"the report does not add up",
         "ticket":"T-1","requestedDurationSeconds":3600,"requestedAt":"2026-12-01T09:00:00+00:00"}
        """;

    /// <summary>Writes the seeds of <paramref name="only"/> (every target when empty), and the fixtures when every target's are written.</summary>
    public static void Write(string folder, IReadOnlyCollection<string> only)
    {
        _only = only;
        string corpus = Path.Combine(folder, "corpus");
        string fixtures = Path.Combine(folder, "fixtures");
        Directory.CreateDirectory(fixtures);
        using PartyIdentity customer = PartyIdentity.Create("fabrikam", PartyRole.Customer);
        using PartyIdentity vendor = PartyIdentity.Create("contoso", PartyRole.Vendor);
        using PartyIdentity unit = PartyIdentity.Create("fabrikam", PartyRole.Unit);

        var preface = new ArrayBufferWriter<byte>();
        FrameCodec.WritePreface(preface, FrameCodec.DefaultMaxFramePayload);
        var frames = new ArrayBufferWriter<byte>();
        frames.Write(preface.WrittenSpan);
        FrameCodec.WriteFrame(frames, FrameType.Handshake, FrameFlags.None, 0, RandomNumberGenerator.GetBytes(32));
        FrameCodec.WriteFrame(frames, FrameType.ChannelOpen, FrameFlags.None, 1, "view"u8);
        FrameCodec.WriteFrame(frames, FrameType.Data, FrameFlags.EndOfStream, 1, "hello"u8);
        FrameCodec.WriteFrame(frames, FrameType.Ping, FrameFlags.None, 0, new byte[8]);
        Put(corpus, "frame", "frames", frames.WrittenSpan.ToArray());
        Put(corpus, "frame", "preface", preface.WrittenSpan.ToArray());

        // The multiplexer's peer (the initiator: odd channel ids) opens channel 1 with a 64 KiB window, sends one message, pings, ends.
        var channels = new ArrayBufferWriter<byte>();
        FrameCodec.WriteFrame(channels, FrameType.ChannelOpen, FrameFlags.None, 1, [0, 1, 0, 0, .. "view"u8]);
        FrameCodec.WriteFrame(channels, FrameType.Data, FrameFlags.None, 1, [0, 0, 0, 5, .. "hello"u8]);
        FrameCodec.WriteFrame(channels, FrameType.WindowUpdate, FrameFlags.None, 1, [0, 0, 16, 0]);
        FrameCodec.WriteFrame(channels, FrameType.Ping, FrameFlags.None, 0, new byte[8]);
        FrameCodec.WriteFrame(channels, FrameType.Data, FrameFlags.EndOfStream, 1, []);
        Put(corpus, "multiplexer", "open-message-end", channels.WrittenSpan.ToArray());

        // sealed-records: mode 0 (raw frames after the handshake), 1 (records read as messages), 2 (records under a multiplexer).
        Put(corpus, "sealed-records", "raw-data-frame", [0, .. frames.WrittenSpan[preface.WrittenCount..]]);
        Put(corpus, "sealed-records", "messages", [1, .. Record(1, 0, 0, 0, "hello"u8), .. Record(1, 0, 0, 0, [])]);
        Put(corpus, "sealed-records", "channels", [2, .. Record(0, FrameType.ChannelOpen, 0, 1, [0, 1, 0, 0, .. "view"u8]),
            .. Record(0, FrameType.Data, 0, 1, [0, 0, 0, 5, .. "hello"u8]), .. Record(0, FrameType.Ping, 0, 0, new byte[8]),
            .. Record(0, FrameType.Data, FrameFlags.EndOfStream, 1, [])]);

        var handshake = new ArrayBufferWriter<byte>();
        FrameCodec.WriteFrame(handshake, FrameType.Handshake, FrameFlags.None, 0, RandomNumberGenerator.GetBytes(32));
        Put(corpus, "handshake", "xx-message-1", handshake.WrittenSpan.ToArray());
        Put(corpus, "handshake", "empty", []);

        SecurityGroundRules rules = SecurityGroundRules.FromEnvelope(SignedEnvelope.Create(SecurityGroundRules.DocumentType, Encoding.UTF8.GetBytes(GroundRules)));
        SignedEnvelope signedRules = rules.ToEnvelope().Sign(customer).Sign(vendor);
        SignedEnvelope rotation = KeyRotation.Create("fabrikam", PartyRole.Customer, 2, 1, [customer.PublicKey]).Sign(customer);
        Put(corpus, "envelope", "ground-rules", signedRules.ToUtf8Json());
        Put(corpus, "envelope", "key-rotation", rotation.ToUtf8Json(indented: true));
        Put(corpus, "documents", "ground-rules", Encoding.UTF8.GetBytes(GroundRules));
        Put(corpus, "documents", "key-rotation", rotation.Payload.ToArray());

        using PartyIdentity release = PartyIdentity.Create("contoso", PartyRole.Vendor);
        var root = new VendorRoot { VendorId = "contoso", Version = 1, Threshold = 1, Expires = DateTimeOffset.UtcNow.AddYears(20), ReleaseKeys = [release.PublicKey.ToString()] };
        SignedEnvelope signedRoot = root.ToEnvelope().Sign(release);
        if (only.Count == 0)
        {
            // The fix-package seeds are signed under this root: they are written only together.
            File.WriteAllBytes(Path.Combine(fixtures, "vendor-root.json"), signedRoot.ToUtf8Json(indented: true));
        }

        Put(corpus, "envelope", "vendor-root", signedRoot.ToUtf8Json());
        Put(corpus, "documents", "vendor-root", signedRoot.Payload.ToArray());

        string scratch = Directory.CreateTempSubdirectory("rs-fuzz-seeds-").FullName;
        try
        {
            string source = Path.Combine(scratch, "source");
            Directory.CreateDirectory(Path.Combine(source, "bin"));
            File.WriteAllBytes(Path.Combine(source, "bin", "app.dll"), RandomNumberGenerator.GetBytes(5000));
            File.WriteAllText(Path.Combine(source, "notes.txt"), "fix");
            var template = new FixManifest
            {
                PackageId = "ledger-2.4.0", Product = "ledger", Version = "2.4.0", ChunkSize = 4096,
                AppliesTo = new FixTarget("ledger", "2.0.0", "3.0.0", ["*"], "fabrikam", null),
                CreatedAt = DateTimeOffset.UtcNow, ExpiresAt = DateTimeOffset.UtcNow.AddYears(20), ReleaseNotes = "seed", Files = [],
            };
            string package = Path.Combine(scratch, "fix.rsfix");
            FixManifest manifest = FixPackage.BuildAsync(source, template, [release], package).GetAwaiter().GetResult();
            Put(corpus, "fix-package", "ledger-2.4.0", File.ReadAllBytes(package));
            Put(corpus, "documents", "fix-manifest", manifest.ToEnvelope().Payload.ToArray());

            string journalPath = Path.Combine(scratch, "seed.journal");
            AppendOnlyJournal journal = AppendOnlyJournal.OpenAsync(journalPath).GetAwaiter().GetResult();
            for (int i = 0; i < 3; i++)
            {
                journal.AppendAsync(Encoding.UTF8.GetBytes($"{{\"record\":{i}}}")).AsTask().GetAwaiter().GetResult();
            }

            Put(corpus, "checkpoint", "audit", Encoding.UTF8.GetBytes(new Checkpoint("fabrikam/unit-7/audit", journal.Count, journal.Root()).Sign("fabrikam/unit-7", unit)));
            journal.DisposeAsync().AsTask().GetAwaiter().GetResult();
            Put(corpus, "journal", "three-records", File.ReadAllBytes(journalPath));

            string plain = Path.Combine(scratch, "plain.key");
            string sealedKey = Path.Combine(scratch, "sealed.key");
            KeyFile.SaveAsync(customer, plain).GetAwaiter().GetResult();
            using PartyIdentity approver = PartyIdentity.Create("fabrikam", PartyRole.Approver); // a key is exported once
            KeyFile.SaveAsync(approver, sealedKey, new KeyFileOptions { Passphrase = "seed", Argon2MemoryKiB = 8192 }).GetAwaiter().GetResult();
            Put(corpus, "key-file", "unsealed", File.ReadAllBytes(plain));
            Put(corpus, "key-file", "sealed", File.ReadAllBytes(sealedKey));
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }

        Put(corpus, "session-message", "hello", new SessionMessage { Type = "hello", Protocol = SessionMessage.ProtocolName, Versions = [1], Capabilities = ["view-data"], Software = "seed" }.ToBytes());
        Put(corpus, "session-message", "view", Encoding.UTF8.GetBytes("""{"type":"view","requestId":"r-1","root":"finance","path":"reports/a.csv"}"""));
        Put(corpus, "approval-request", "view-data", Encoding.UTF8.GetBytes(Request));
        Put(corpus, "documents", "approval-request", Encoding.UTF8.GetBytes(Request));

        byte[] record = Encoding.UTF8.GetBytes("""{"schemaVersion":1,"kind":"document-accepted","at":"2026-12-01T09:00:00+00:00","fields":{"document-sha256":"00"}}""");
        Put(corpus, "contract-state", "one-record", [(byte)(record.Length >> 8), (byte)record.Length, .. record]);
        Put(corpus, "contract-state", "empty", []);
    }

    /// <summary>One record of a <c>sealed-records</c> input (kind 0: a sealed frame; 1: a message).</summary>
    private static byte[] Record(byte kind, FrameType type, FrameFlags flags, ushort channel, ReadOnlySpan<byte> payload) =>
        [kind, (byte)type, (byte)flags, (byte)(channel >> 8), (byte)channel, (byte)(payload.Length >> 8), (byte)payload.Length, .. payload];

    private static IReadOnlyCollection<string> _only = [];

    private static void Put(string corpus, string target, string name, byte[] content)
    {
        if (_only.Count > 0 && !_only.Contains(target))
        {
            return;
        }

        string folder = Path.Combine(corpus, target);
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, name), content);
    }
}
