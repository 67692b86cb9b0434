using RemoteSupport.Consent;
using RemoteSupport.DataFiles;
using RemoteSupport.Documents;

namespace RemoteSupport.Sessions;

/// <summary>Why the unit did not carry out an operation of a session.</summary>
public enum OperationFailure
{
    /// <summary>Carried out.</summary>
    None = 0,

    /// <summary>The consent gate refused it; <see cref="SessionOperationResult.ConsentReason"/> says which rule.</summary>
    NotConsented = 1,

    /// <summary>The customer's approver refused the request.</summary>
    ApprovalRefused = 2,

    /// <summary>No approver answered within the agent's approval timeout.</summary>
    ApprovalTimedOut = 3,

    /// <summary>The unit has no diagnostic of that name (refused before the gate).</summary>
    UnknownDiagnostic = 4,

    /// <summary>The file is larger than a view carries and the session takes no view streams.</summary>
    FileTooLarge = 5,

    /// <summary>The file changed while it was read; the view is incomplete.</summary>
    FileChanged = 6,

    /// <summary>A change carried no content.</summary>
    MissingContent = 7,

    /// <summary>A streamed view's bytes do not match the count and hash the unit reported (console side).</summary>
    ViewMismatch = 8,

    /// <summary>The unit does not carry that operation (or takes no fixes).</summary>
    Unsupported = 9,

    /// <summary>The unit tried and failed (the sentence says why), or a package was too large or truncated.</summary>
    Failed = 10,

    /// <summary>A code this version does not know (a newer agent's); <see cref="SessionOperationResult.Code"/> has it.</summary>
    Other = 11,
}

/// <summary>What every operation result of a session shares: whether it was carried out, why not, and a sentence.</summary>
public abstract record SessionOperationResult
{
    /// <summary>Gets why the operation was not carried out, or <see cref="OperationFailure.None"/>.</summary>
    public required OperationFailure Reason { get; init; }

    /// <summary>Gets the wire code (<c>none</c>, or kebab case: <c>outside-hours</c>, <c>approval-refused</c>, … in docs/protocol/session.md).</summary>
    public required string Code { get; init; }

    /// <summary>Gets a sentence for the technician.</summary>
    public required string Sentence { get; init; }

    /// <summary>Gets a value indicating whether the unit carried the operation out.</summary>
    public bool Succeeded => Reason == OperationFailure.None;

    /// <summary>Gets the consent gate's reason when <see cref="Reason"/> is <see cref="OperationFailure.NotConsented"/>.</summary>
    public ConsentReason? ConsentReason => Reason == OperationFailure.NotConsented && ConsentReasons.TryGetValue(Code, out ConsentReason reason) ? reason : null;

    private static readonly Dictionary<string, ConsentReason> ConsentReasons = Enum.GetValues<ConsentReason>()
        .Where(r => r != Consent.ConsentReason.None)
        .ToDictionary(r => DocumentJson.Kebab(r), StringComparer.Ordinal);

    private static readonly Dictionary<string, OperationFailure> Others = new(StringComparer.Ordinal)
    {
        ["approval-refused"] = OperationFailure.ApprovalRefused,
        ["approval-timed-out"] = OperationFailure.ApprovalTimedOut,
        ["unknown-diagnostic"] = OperationFailure.UnknownDiagnostic,
        ["file-too-large"] = OperationFailure.FileTooLarge,
        ["file-changed"] = OperationFailure.FileChanged,
        ["missing-content"] = OperationFailure.MissingContent,
        ["view-mismatch"] = OperationFailure.ViewMismatch,
        ["unsupported-operation"] = OperationFailure.Unsupported,
        ["failed"] = OperationFailure.Failed,
        ["package-too-large"] = OperationFailure.Failed,
        ["package-truncated"] = OperationFailure.Failed,
    };

    /// <summary>Reads the reason of a result the agent sent: <paramref name="succeeded"/> with its code.</summary>
    internal static OperationFailure ReasonOf(bool succeeded, string code) =>
        succeeded ? OperationFailure.None
        : ConsentReasons.ContainsKey(code) ? OperationFailure.NotConsented
        : Others.GetValueOrDefault(code, OperationFailure.Other);
}

/// <summary>The outcome of <see cref="SupportSession.ListAsync"/>.</summary>
public sealed record DataFileListResult : SessionOperationResult
{
    /// <summary>Gets the files below the folder (empty when refused).</summary>
    public IReadOnlyList<DataFileEntry> Entries { get; init; } = [];
}

/// <summary>The outcome of <see cref="SupportSession.ViewAsync"/> and <see cref="SupportSession.ViewToAsync"/>.</summary>
public sealed record DataFileViewResult : SessionOperationResult
{
    /// <summary>Gets the file's bytes (<see cref="SupportSession.ViewAsync"/>; <see langword="null"/> when refused or written to a stream).</summary>
    public byte[]? Content { get; init; }

    /// <summary>Gets the SHA-256 (hex) of the bytes the unit sent and audited.</summary>
    public string? Hash { get; init; }
}

/// <summary>The outcome of <see cref="SupportSession.ChangeAsync"/>.</summary>
public sealed record DataFileChangeResult : SessionOperationResult
{
    /// <summary>Gets the file's SHA-256 (hex) before the change (<see langword="null"/> for a new file).</summary>
    public string? HashBefore { get; init; }

    /// <summary>Gets the file's SHA-256 (hex) after the change.</summary>
    public string? HashAfter { get; init; }
}

/// <summary>The outcome of <see cref="SupportSession.RunDiagnosticAsync"/>.</summary>
public sealed record DiagnosticResult : SessionOperationResult
{
    /// <summary>Gets the diagnostic's report.</summary>
    public string? Output { get; init; }
}

/// <summary>The outcome of <see cref="SupportSession.PushFixAsync"/>.</summary>
public sealed record FixPushResult : SessionOperationResult
{
    /// <summary>Gets the unit-signed install receipt (also when the install was refused or rolled back, once the package was read).</summary>
    public SignedEnvelope? InstallReceipt { get; init; }
}
