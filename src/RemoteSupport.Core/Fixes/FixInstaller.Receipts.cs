using System.Text;
using RemoteSupport.Documents;

namespace RemoteSupport.Fixes;

/// <summary>The installer's receipts: signed, kept pending on disk until the audit journal holds them.</summary>
public sealed partial class FixInstaller
{
    private async Task<SignedEnvelope> ReceiptAsync(FixManifest? manifest, string? packageHash, string sessionId, InstallResult result, string reason, IReadOnlyList<InstalledFile> files)
    {
        SignedEnvelope signed = SignReceipt(manifest, packageHash, sessionId, result, reason, files);
        if (_audit is not null)
        {
            await RecordAsync(signed, WritePending(signed.ToJson()), result).ConfigureAwait(false);
        }

        return signed;
    }

    private SignedEnvelope SignReceipt(FixManifest? manifest, string? packageHash, string sessionId, InstallResult result, string reason, IReadOnlyList<InstalledFile> files)
    {
        var receipt = new InstallReceipt
        {
            PackageId = manifest?.PackageId,
            Version = manifest?.Version,
            PackageHash = packageHash,
            SessionId = sessionId,
            Outcome = result,
            Reason = reason,
            Files = files,
            At = _time.GetUtcNow(),
        };
        return SignedEnvelope.Create(InstallReceipt.DocumentType, DocumentJson.Serialize(receipt)).Sign(_unit);
    }

    /// <summary>
    /// Keeps a receipt on disk until the audit journal holds it: one whose append fails (a full disk) is appended by the
    /// next install or <see cref="RecoverAsync"/>. Named in time order (a version 7 GUID), so receipts are audited in order.
    /// </summary>
    private string WritePending(string receiptJson)
    {
        string pending = Path.Combine(_work, PendingReceiptPrefix + Guid.CreateVersion7().ToString("N") + ".json");
        DurableFile.Write(pending, Encoding.UTF8.GetBytes(receiptJson));
        return pending;
    }

    private async Task RecordAsync(SignedEnvelope signed, string pending, InstallResult result)
    {
        try
        {
            await RecordReceiptAsync(signed).ConfigureAwait(false);
            File.Delete(pending);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException && result == InstallResult.Installed)
        {
            // Left pending; the caller still learns the install happened.
        }
    }

    private const string PendingReceiptPrefix = "pending-receipt-";

    /// <summary>Appends receipts whose audit record failed earlier, oldest name first, and removes each once recorded.</summary>
    private async Task RecordPendingReceiptsAsync()
    {
        if (_audit is null)
        {
            return;
        }

        foreach (string file in Directory.GetFiles(_work, PendingReceiptPrefix + "*.json").Order(StringComparer.Ordinal))
        {
            await RecordReceiptAsync(SignedEnvelope.Parse(File.ReadAllBytes(file))).ConfigureAwait(false);
            File.Delete(file);
            DurableDirectory.FlushFor(file);
        }
    }

    private async Task RecordReceiptAsync(SignedEnvelope signed)
    {
        InstallReceipt receipt = InstallReceipt.FromEnvelope(signed);
        await _audit!.RecordAsync(Audit.AuditEvents.FixReceipt(receipt, signed, _unit.PublicKey.KeyId)).ConfigureAwait(false);
    }
}
