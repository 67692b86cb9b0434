using System.Globalization;
using RemoteSupport.Consent;
using RemoteSupport.DataFiles;
using RemoteSupport.GroundRules;
using RemoteSupport.Journal;

namespace RemoteSupport.Sessions;

/// <summary>The data-file and diagnostic operations a granted decision allows: list, view, change, run.</summary>
public sealed partial class SupportAgent
{
    private sealed partial class RunningSession
    {
        private async Task<SessionMessage> CarryOutAsync(SessionMessage message, SupportOperation operation, string target, ConsentDecision decision, CancellationToken cancellationToken)
        {
            try
            {
                switch (operation)
                {
                    case SupportOperation.ViewData when message.List == true:
                    {
                        (IReadOnlyList<DataFileEntry> entries, bool truncated) = Options.DataFiles.List(decision);
                        return Result(message.RequestId!, operation, target + " (list)", true, "none",
                            string.Create(CultureInfo.InvariantCulture, $"{entries.Count} files{(truncated ? " (truncated)" : string.Empty)}.")) with { Entries = entries, Truncated = truncated };
                    }

                    case SupportOperation.ViewData:
                        return await ViewAsync(message.RequestId!, target, decision, cancellationToken).ConfigureAwait(false);

                    case SupportOperation.ChangeData:
                    {
                        if (message.Content is null)
                        {
                            return Result(message.RequestId!, operation, target, false, "missing-content", "A change must carry the new content.");
                        }

                        DataFileEvidence evidence = await Options.DataFiles.ReplaceAsync(decision, message.Content, cancellationToken).ConfigureAwait(false);
                        try
                        {
                            await Options.Audit.RecordDataFileAsync(decision, evidence, cancellationToken).ConfigureAwait(false);
                        }
                        catch (Exception ex) when (ex is IOException or JournalException)
                        {
                            // The change happened: the report says so, with its hashes, and says the audit record failed.
                            return Result(message.RequestId!, operation, target, true, AuditFailedCode,
                                $"The file was replaced (SHA-256 {evidence.HashBefore ?? "none"} -> {evidence.HashAfter}), but its audit record could not be written: {ex.Message}", evidence);
                        }

                        return Result(message.RequestId!, operation, target, true, "none", "The file was replaced.", evidence);
                    }

                    case SupportOperation.RunDiagnostic:
                    {
                        // Exactly the diagnostic the gate decided on (and the approver approved), never another name.
                        string granted = decision.Request.Diagnostic!;
                        if (!Options.Diagnostics.TryGetValue(granted, out Func<CancellationToken, Task<string>>? run))
                        {
                            return Result(message.RequestId!, operation, target, false, "unknown-diagnostic", $"No diagnostic named '{granted}' is registered on this unit.");
                        }

                        string output = await run(cancellationToken).ConfigureAwait(false);
                        return Result(message.RequestId!, operation, target, true, "none", "The diagnostic ran.") with { Output = output };
                    }

                    default:
                        return Result(message.RequestId!, operation, target, false, "unsupported-operation", $"{operation} is not carried by session protocol 1.");
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return Result(message.RequestId!, operation, target, false, "failed", "The operation failed: " + ex.Message);
            }
        }
    }
}
