using System.Text;
using System.Text.Json.Nodes;
using RemoteSupport.Documents;
using RemoteSupport.Evidence;
using RemoteSupport.Identities;
using RemoteSupport.Journal;
using RemoteSupport.Ledger;

namespace RemoteSupport.Tests.Evidence;

public sealed class EvidenceVerifierTests
{
    private static readonly string[] EveryArtifact =
    [
        "trust.json", "audit.journal", "audit.checkpoint", "ledger.journal", "ledger.checkpoint", "statements.journal", "statements.checkpoint",
        "statements/fabrikam-2026-10-1.json", "statements/fabrikam-2026-10-1.csv",
    ];

    [Fact]
    public async Task AUnitsBundle_VerifiesOffline_UnderTheAuditorsOwnTrust()
    {
        await using EvidenceWorld world = await EvidenceWorld.CreateAsync();
        SignedEnvelope manifest = await world.WriteAsync();

        EvidenceVerification verified = await world.VerifyAsync();

        verified.IsValid.Should().BeTrue(verified.Sentence);
        verified.Artifacts.Select(a => a.Kind).Distinct().Should().BeEquivalentTo(
            "trust", "audit-journal", "audit-checkpoint", "ledger-journal", "ledger-checkpoint", "statements-journal", "statements-checkpoint",
            "statement", "statement-csv", "session-receipt", "install-receipt", "approval");
        EvidenceManifest.FromEnvelope(manifest).Artifacts.Select(a => a.Path).Should().Contain(EveryArtifact);
    }

    [Theory]
    [InlineData("trust.json")]
    [InlineData("audit.journal")]
    [InlineData("audit.checkpoint")]
    [InlineData("ledger.journal")]
    [InlineData("ledger.checkpoint")]
    [InlineData("statements.journal")]
    [InlineData("statements.checkpoint")]
    [InlineData("statements/fabrikam-2026-10-1.json")]
    [InlineData("statements/fabrikam-2026-10-1.csv")]
    [InlineData("receipts/session-")]
    [InlineData("receipts/install-")]
    [InlineData("approvals/approval-")]
    public async Task OneByteChangedInAnyArtifact_IsFound_NamingIt(string artifact)
    {
        await using EvidenceWorld world = await EvidenceWorld.CreateAsync();
        await world.WriteAsync();
        string path = PathOf(world, artifact);
        byte[] bytes = await File.ReadAllBytesAsync(path);
        bytes[bytes.Length / 2] ^= 0x20;
        await File.WriteAllBytesAsync(path, bytes);

        EvidenceVerification verified = await world.VerifyAsync();

        verified.Findings.Should().ContainSingle(f => f.Reason == EvidenceProblem.HashMismatch)
            .Which.Artifact.Should().Be(Relative(world, path));
    }

    [Fact]
    public async Task TheTrustSnapshot_WithAKeyTheAuditorDoesNotHold_OrARevocationLeftOut_IsFound()
    {
        await using EvidenceWorld world = await EvidenceWorld.CreateAsync();
        await world.WriteAsync();
        using var extra = PartyIdentity.Create("contoso", PartyRole.Technician);
        JsonNode trust = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(world.Bundle, "trust.json")))!;
        JsonArray technicians = trust["keySets"]!.AsArray().Single(s => (string)s!["role"]! == "technician")!["keys"]!.AsArray();
        technicians.Add(new JsonObject { ["key"] = extra.PublicKey.ToString(), ["keyId"] = extra.PublicKey.KeyId, ["partyId"] = "contoso", ["role"] = "technician" });
        foreach (JsonNode? key in trust["keySets"]!.AsArray().SelectMany(s => s!["keys"]!.AsArray()))
        {
            key!.AsObject().Remove("revokedAt");
        }

        await RewriteAsync(world, "trust.json", trust.ToJsonString());

        EvidenceVerification verified = await world.VerifyAsync();

        verified.Findings.Should().OnlyContain(f => f.Artifact == "trust.json" && f.Reason == EvidenceProblem.Inconsistent);
        verified.Findings.Should().Contain(f => f.Sentence.Contains(extra.PublicKey.KeyId) && f.Sentence.Contains("no journaled rotation"));
        verified.Findings.Should().Contain(f => f.Sentence.Contains("revokes key") && f.Sentence.Contains("does not show it revoked"));
    }

    [Theory]
    [InlineData("audit")]
    [InlineData("ledger")]
    public async Task AJournalRecordRewritten_WithItsChecksumsRight_IsFoundByTheUnitsCheckpoint(string log)
    {
        await using EvidenceWorld world = await EvidenceWorld.CreateAsync();
        await world.WriteAsync();
        await RewriteJournalAsync(world, log + ".journal", (i, record) => i == 1 ? Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(record).Replace("fabrikam", "globex", StringComparison.Ordinal)) : record);
        await world.ResealAsync();

        EvidenceVerification verified = await world.VerifyAsync();

        verified.Findings.Should().Contain(f => f.Artifact == log + ".journal" && f.Reason == EvidenceProblem.JournalMismatch && f.Sentence.Contains("altered"));
    }

    [Theory]
    [InlineData("audit.checkpoint")]
    [InlineData("ledger.checkpoint")]
    [InlineData("statements.checkpoint")]
    public async Task ACheckpointSignedByAStranger_IsFound(string checkpoint)
    {
        await using EvidenceWorld world = await EvidenceWorld.CreateAsync();
        await world.WriteAsync();
        using var stranger = PartyIdentity.Create("fabrikam", PartyRole.Unit);
        string note = await File.ReadAllTextAsync(Path.Combine(world.Bundle, checkpoint));
        Checkpoint.TryVerifyBy(note, checkpoint == "statements.checkpoint" ? world.F.Vendor.PublicKey : world.Unit.PublicKey, out Checkpoint? read, out string keyName, out _).Should().BeTrue();
        await RewriteAsync(world, checkpoint, read!.Sign(keyName, stranger));

        EvidenceVerification verified = await world.VerifyAsync();

        verified.Findings.Should().ContainSingle().Which.Should().Match<EvidenceFinding>(f => f.Artifact == checkpoint && f.Reason == EvidenceProblem.NotSigned);
    }

    [Fact]
    public async Task ALedgerEntryPointingAtAnotherAuditRecord_IsFound_EvenWithTheLedgerCheckpointResigned()
    {
        await using EvidenceWorld world = await EvidenceWorld.CreateAsync();
        await world.WriteAsync();
        IReadOnlyList<byte[]> records = await RewriteJournalAsync(world, "ledger.journal",
            (i, record) => Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(record).Replace("\"auditRecord\":", "\"auditRecord\":1", StringComparison.Ordinal)));
        await RewriteAsync(world, "ledger.checkpoint", world.UnitCheckpoint("ledger", records));

        EvidenceVerification verified = await world.VerifyAsync();

        verified.Findings.Should().Contain(f => f.Artifact == "ledger.journal" && f.Reason == EvidenceProblem.Inconsistent && f.Sentence.Contains("not the charge-recorded record"));
        verified.Findings.Should().Contain(f => f.Artifact == "statements/fabrikam-2026-10-1.json" && f.Reason == EvidenceProblem.JournalMismatch,
            "the statement was issued over the ledger as it was");
    }

    [Fact]
    public async Task AStatementChanged_ItsCsvChanged_OrOneTheStatementsJournalLacks_IsFound()
    {
        await using EvidenceWorld world = await EvidenceWorld.CreateAsync();
        MonthlyStatement original = MonthlyStatement.FromEnvelope(world.Contents.Statements[0].Statement);
        SignedEnvelope forged = SignedEnvelope.Create(MonthlyStatement.DocumentType, DocumentJson.Serialize(original with { Number = 2 }))
            .AddSignature(world.Contents.Statements[0].Statement.Signatures[0]);
        SignedEnvelope unjournaled = (original with { Number = 3 }).ToEnvelope().Sign(world.F.Vendor);
        world.Contents.Statements.Add(new EvidenceStatement(forged, original.ToCsv()));
        world.Contents.Statements.Add(new EvidenceStatement(unjournaled, original.ToCsv().Replace("5.00", "50.00", StringComparison.Ordinal)));
        await world.WriteAsync();

        EvidenceVerification verified = await world.VerifyAsync();

        verified.Findings.Should().Contain(f => f.Artifact == "statements/fabrikam-2026-10-2.json" && f.Reason == EvidenceProblem.NotSigned);
        verified.Findings.Should().Contain(f => f.Artifact == "statements/fabrikam-2026-10-3.json" && f.Reason == EvidenceProblem.NotInJournal);
        verified.Findings.Should().Contain(f => f.Artifact == "statements/fabrikam-2026-10-3.csv" && f.Reason == EvidenceProblem.Inconsistent);
        verified.Findings.Should().NotContain(f => f.Artifact.Contains("-1."), "the real statement still verifies");
    }

    [Fact]
    public async Task AReceiptOrApprovalTheAuditJournalNeverSaw_OrSignedByAStranger_IsFound()
    {
        await using EvidenceWorld world = await EvidenceWorld.CreateAsync();
        using var strangerApprover = PartyIdentity.Create("fabrikam", PartyRole.Approver);
        world.Contents.SessionReceipts.Add(world.SessionReceiptFor("session-never").ToEnvelope().Sign(world.Unit));
        world.Contents.InstallReceipts.Add(SignedEnvelope.Create(RemoteSupport.Fixes.InstallReceipt.DocumentType, DocumentJson.Serialize(new RemoteSupport.Fixes.InstallReceipt
        {
            SessionId = "session-never", Outcome = RemoteSupport.Fixes.InstallResult.Installed, Reason = "installed", At = world.F.Time.GetUtcNow(),
        })).Sign(world.Unit));
        world.Contents.Approvals.Add(world.F.Approve(world.F.Request(path: "ledger/2026/other.db"), [world.F.ItApprover], a => a with { ApprovalId = "approval-never-used" }));
        world.Contents.Approvals.Add(world.F.Approve(world.F.Request(), [strangerApprover], a => a with { ApprovalId = "approval-by-a-stranger" }));
        await world.WriteAsync();

        EvidenceVerification verified = await world.VerifyAsync();

        verified.Findings.Should().HaveCount(4);
        verified.Findings.Where(f => f.Artifact.StartsWith("receipts/session-")).Should().ContainSingle().Which.Reason.Should().Be(EvidenceProblem.NotInAudit);
        verified.Findings.Where(f => f.Artifact.StartsWith("receipts/install-")).Should().ContainSingle().Which.Reason.Should().Be(EvidenceProblem.NotInAudit);
        verified.Findings.Should().Contain(f => f.Artifact.StartsWith("approvals/") && f.Reason == EvidenceProblem.NotInAudit && f.Sentence.Contains("approval-never-used"));
        verified.Findings.Should().Contain(f => f.Artifact.StartsWith("approvals/") && f.Reason == EvidenceProblem.NotSigned);
    }

    [Fact]
    public async Task AManifestSignedByAStranger_AFileAdded_AFileRemoved_OrAPathOutsideTheBundle_IsFound()
    {
        await using EvidenceWorld world = await EvidenceWorld.CreateAsync();
        await world.WriteAsync();
        using var stranger = PartyIdentity.Create("fabrikam", PartyRole.Unit);
        await world.ResealAsync(stranger);
        await File.WriteAllTextAsync(Path.Combine(world.Bundle, "extra.txt"), "slipped in");
        File.Delete(Path.Combine(world.Bundle, "ledger.checkpoint"));

        EvidenceVerification verified = await world.VerifyAsync();

        verified.Findings.Should().Contain(f => f.Artifact == EvidenceBundle.ManifestFile && f.Reason == EvidenceProblem.NotSigned);
        verified.Findings.Should().Contain(f => f.Artifact == "extra.txt" && f.Reason == EvidenceProblem.Unlisted);
        verified.Findings.Should().Contain(f => f.Artifact == "ledger.checkpoint" && f.Reason == EvidenceProblem.Missing);

        SignedEnvelope envelope = SignedEnvelope.Parse(await File.ReadAllTextAsync(Path.Combine(world.Bundle, EvidenceBundle.ManifestFile)));
        EvidenceManifest manifest = EvidenceManifest.FromEnvelope(envelope);
        EvidenceManifest outside = manifest with { Artifacts = [.. manifest.Artifacts, new EvidenceArtifact("../escape.txt", "trust", new string('0', 64), 0)] };
        await RewriteAsync(world, EvidenceBundle.ManifestFile, SignedEnvelope.Create(EvidenceManifest.DocumentType, DocumentJson.Serialize(outside)).Sign(world.Unit).ToJson());
        (await world.VerifyAsync()).Findings.Should().Contain(f => f.Artifact == "../escape.txt" && f.Reason == EvidenceProblem.Malformed);
    }

    [Fact]
    public async Task RecordsAppendedPastTheUnitsCheckpoint_AreNotEvidence()
    {
        await using EvidenceWorld world = await EvidenceWorld.CreateAsync();
        world.Contents.SessionReceipts.Add(world.SessionReceiptFor("session-slipped-in").ToEnvelope().Sign(world.Unit));
        await world.WriteAsync();
        SignedEnvelope slipped = world.Contents.SessionReceipts[1];
        await using (AppendOnlyJournal audit = await AppendOnlyJournal.OpenAsync(Path.Combine(world.Bundle, "audit.journal")))
        {
            await audit.AppendAsync(DocumentJson.Serialize(RemoteSupport.Audit.AuditEvents.SessionClosed(
                world.F.Time.GetUtcNow(), "session-slipped-in", "contoso/x", "closed", 0, DocumentJson.Hash(slipped.Payload.Span))));
        }

        await world.ResealAsync();

        EvidenceVerification verified = await world.VerifyAsync();

        verified.Findings.Should().ContainSingle().Which.Should().Match<EvidenceFinding>(f => f.Reason == EvidenceProblem.NotInAudit && f.Artifact.StartsWith("receipts/session-"),
            "the session-closed record naming it lies past the size the unit's checkpoint covers");
    }

    [Fact]
    public async Task MalformedManifestsAndSnapshots_AreFindings_NeverExceptions()
    {
        await using EvidenceWorld world = await EvidenceWorld.CreateAsync();
        await world.WriteAsync();
        string manifestPath = Path.Combine(world.Bundle, EvidenceBundle.ManifestFile);
        foreach (string payload in new[] { "{\"customerId\":\"fabrikam\",\"unitId\":\"unit-7\",\"vendorId\":\"contoso\",\"from\":\"2026-10-01T00:00:00Z\",\"until\":\"2026-11-01T00:00:00Z\",\"createdAt\":\"2026-11-02T00:00:00Z\",\"artifacts\":[null,{\"path\":\"a\\u0000b\",\"kind\":\"trust\",\"sha256\":\"00\",\"length\":1}]}", "null", "[]", "{\"customerId\":null,\"unitId\":null,\"vendorId\":null,\"from\":\"2026-10-01T00:00:00Z\",\"until\":\"2026-11-01T00:00:00Z\",\"createdAt\":\"2026-11-02T00:00:00Z\",\"artifacts\":null}" })
        {
            await File.WriteAllTextAsync(manifestPath, SignedEnvelope.Create(EvidenceManifest.DocumentType, Encoding.UTF8.GetBytes(payload)).Sign(world.Unit).ToJson());
            EvidenceVerification verified = await world.VerifyAsync();
            verified.IsValid.Should().BeFalse(payload);
            verified.Findings.Should().Contain(f => f.Artifact == EvidenceBundle.ManifestFile || f.Reason == EvidenceProblem.Unlisted, payload);
        }

        await world.ResealAsync();
        foreach (string snapshot in new[] { "{\"schemaVersion\":1,\"takenAt\":\"2026-11-02T00:00:00Z\",\"keySets\":null,\"retired\":[]}", "{\"schemaVersion\":2,\"takenAt\":\"2026-11-02T00:00:00Z\",\"keySets\":[],\"retired\":[]}", "7" })
        {
            await RewriteAsync(world, "trust.json", snapshot);
            (await world.VerifyAsync()).Findings.Should().ContainSingle().Which.Should().Match<EvidenceFinding>(f => f.Artifact == "trust.json" && f.Reason == EvidenceProblem.Malformed, snapshot);
        }
    }

    [Fact]
    public async Task AnArtifactThatIsALink_IsNotFollowed()
    {
        await using EvidenceWorld world = await EvidenceWorld.CreateAsync();
        await world.WriteAsync();
        string approval = PathOf(world, "approvals/");
        string outside = world.Folder.File("outside.json");
        File.Move(approval, outside);
        File.CreateSymbolicLink(approval, outside);

        EvidenceVerification verified = await world.VerifyAsync();

        verified.Findings.Should().Contain(f => f.Artifact == Relative(world, approval) && f.Reason == EvidenceProblem.Malformed && f.Sentence.Contains("link"));
    }

    private static string PathOf(EvidenceWorld world, string prefix) =>
        Directory.EnumerateFiles(world.Bundle, "*", SearchOption.AllDirectories).Single(p => Relative(world, p).StartsWith(prefix, StringComparison.Ordinal));

    private static string Relative(EvidenceWorld world, string path) => Path.GetRelativePath(world.Bundle, path).Replace('\\', '/');

    /// <summary>Replaces a file and seals the bundle again with the unit's key, as an exporter that lies would.</summary>
    private static async Task RewriteAsync(EvidenceWorld world, string artifact, string text)
    {
        await File.WriteAllTextAsync(Path.Combine(world.Bundle, artifact), text);
        if (artifact != EvidenceBundle.ManifestFile)
        {
            await world.ResealAsync();
        }
    }

    /// <summary>Writes a journal again with some records changed, every check of the journal format right.</summary>
    private static async Task<IReadOnlyList<byte[]>> RewriteJournalAsync(EvidenceWorld world, string artifact, Func<int, byte[], byte[]> change)
    {
        string path = Path.Combine(world.Bundle, artifact);
        IReadOnlyList<byte[]> records = await AppendOnlyJournal.ReadAllRecordsAsync(path);
        File.Delete(path);
        var changed = new List<byte[]>();
        await using (AppendOnlyJournal journal = await AppendOnlyJournal.OpenAsync(path))
        {
            for (int i = 0; i < records.Count; i++)
            {
                changed.Add(change(i, records[i]));
                await journal.AppendAsync(changed[^1]);
            }
        }

        await world.ResealAsync();
        return changed;
    }
}
