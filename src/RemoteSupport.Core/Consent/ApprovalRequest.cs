using System.Globalization;
using System.Text;
using System.Text.Json;
using RemoteSupport.Documents;
using RemoteSupport.GroundRules;

namespace RemoteSupport.Consent;

/// <summary>
/// A request for written approval that a person can read: what, which files, whose, why, the
/// ticket, the technician and how long (docs/formats/approvals.md, version 1). The approval signed
/// for it covers <see cref="RenderText"/> by its hash.
/// </summary>
public sealed record ApprovalRequest
{
    /// <summary>Gets the request's id.</summary>
    public required string RequestId { get; init; }

    /// <summary>Gets the support session.</summary>
    public required string SessionId { get; init; }

    /// <summary>Gets the technician's party.</summary>
    public required string TechnicianId { get; init; }

    /// <summary>Gets the technician's key id.</summary>
    public required string TechnicianKeyId { get; init; }

    /// <summary>Gets the operation.</summary>
    public required SupportOperation Operation { get; init; }

    /// <summary>Gets the data root, for data operations.</summary>
    public string? Root { get; init; }

    /// <summary>Gets the files, relative to the root.</summary>
    public IReadOnlyList<string> Paths { get; init; } = [];

    /// <summary>Gets the owner of the files: the customer or an affiliate.</summary>
    public string? Owner { get; init; }

    /// <summary>Gets the diagnostic's name, for a diagnostic.</summary>
    public string? Diagnostic { get; init; }

    /// <summary>Gets why the technician asks (the vendor's words, rendered quoted).</summary>
    public required string Reason { get; init; }

    /// <summary>Gets the support ticket.</summary>
    public string? Ticket { get; init; }

    /// <summary>Gets how long the approval is asked for, in seconds.</summary>
    public required int RequestedDurationSeconds { get; init; }

    /// <summary>Gets when it was asked.</summary>
    public required DateTimeOffset RequestedAt { get; init; }

    /// <summary>Gets the fix package's hash, for fix installs.</summary>
    public string? PackageHash { get; init; }

    /// <summary>Renders the request as the text the approver reads and signs (by hash).</summary>
    public string RenderText()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"RemoteSupport written approval request {RequestId}\n");
        string verb = Operation switch
        {
            SupportOperation.ViewData => "VIEW (read only)",
            SupportOperation.ChangeData => "CHANGE (replace, create or delete)",
            SupportOperation.InstallFix => "INSTALL a software fix on",
            _ => $"RUN the diagnostic {VendorText.Quote(Diagnostic ?? string.Empty)} on",
        };
        text.Append(CultureInfo.InvariantCulture, $"Technician {TechnicianId} (key {TechnicianKeyId}) asks to {verb}");
        if (Root is not null)
        {
            text.Append(CultureInfo.InvariantCulture, $" these data files of {Owner}:\n");
            foreach (string path in Paths)
            {
                text.Append(CultureInfo.InvariantCulture, $"  {Root}/{path}\n");
            }
        }
        else
        {
            text.Append(" this unit.\n");
        }

        if (PackageHash is not null)
        {
            text.Append(CultureInfo.InvariantCulture, $"Fix package SHA-256: {PackageHash}\n");
        }

        // The vendor's words, quoted on one line; Validate refuses control, format and separator characters.
        text.Append(CultureInfo.InvariantCulture, $"Reason (the vendor's words): {VendorText.Quote(Reason)}\n");
        if (Ticket is not null)
        {
            text.Append(CultureInfo.InvariantCulture, $"Ticket (the vendor's words): {VendorText.Quote(Ticket)}\n"); // no line when the vendor gave none
        }
        text.Append(CultureInfo.InvariantCulture, $"Session: {SessionId}\n");
        text.Append(CultureInfo.InvariantCulture, $"Requested at {RequestedAt.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z for {TimeSpan.FromSeconds(RequestedDurationSeconds):c}.\n");
        return text.ToString();
    }

    /// <summary>
    /// Checks what came from the vendor, as the gate does before it builds a request: the reason, ticket,
    /// root, owner and diagnostic name (no control, format or separator characters, bounded lengths) and the
    /// paths (canonical, no <c>*</c>). The offline route calls it on an imported request before anyone signs.
    /// </summary>
    /// <returns>Null when the request is sound, otherwise the sentence naming the problem.</returns>
    public string? Validate()
    {
        if (VendorText.CheckFields(Operation, Reason, Ticket, Root, Owner, Diagnostic) is { } problem)
        {
            return problem;
        }

        foreach (string path in Paths)
        {
            if (!DataFiles.DataPath.TryCanonicalize(path, out string canonical, out string error))
            {
                return error;
            }

            if (canonical != path)
            {
                return $"The path '{path}' is not canonical.";
            }
        }

        return null;
    }

    /// <summary>Gets the SHA-256 (lowercase hex) of <see cref="RenderText"/>, which the approval names.</summary>
    public string TextHash => DocumentJson.Hash(Encoding.UTF8.GetBytes(RenderText()));

    /// <summary>Exports the request for the offline route.</summary>
    public string ToJson() => Encoding.UTF8.GetString(DocumentJson.Serialize(this));

    /// <summary>Imports a request exported by <see cref="ToJson"/>, checked by <see cref="Validate"/>.</summary>
    /// <exception cref="FormatException">The text is not an approval request, or <see cref="Validate"/> refuses it.</exception>
    public static ApprovalRequest FromJson(string json)
    {
        ApprovalRequest request;
        try
        {
            request = JsonSerializer.Deserialize<ApprovalRequest>(json, DocumentJson.Options) ?? throw new FormatException("The approval request is empty.");
        }
        catch (JsonException ex)
        {
            throw new FormatException("Not an approval request: " + ex.Message, ex);
        }

        return request.Validate() is { } problem ? throw new FormatException("The approval request is refused: " + problem) : request;
    }
}

/// <summary>
/// A written approval: the scope the approvers sign (version 1). Its signatures, by the approver
/// groups the ground rules require, make it valid; it binds the request's text by hash.
/// </summary>
public sealed record Approval
{
    /// <summary>The document type of an approval.</summary>
    public static DocumentType DocumentType { get; } = new("approval", 1);

    /// <summary>Gets the approval's id (uses are counted per id).</summary>
    public required string ApprovalId { get; init; }

    /// <summary>Gets the request it answers.</summary>
    public required string RequestId { get; init; }

    /// <summary>Gets the SHA-256 of the request text the approvers read.</summary>
    public required string RequestTextHash { get; init; }

    /// <summary>Gets the session it is valid in.</summary>
    public required string SessionId { get; init; }

    /// <summary>Gets the technician key id it is valid for.</summary>
    public required string TechnicianKeyId { get; init; }

    /// <summary>Gets the operations it allows (view and change are separate).</summary>
    public required IReadOnlyList<SupportOperation> Operations { get; init; }

    /// <summary>Gets the data root.</summary>
    public string? Root { get; init; }

    /// <summary>Gets the path patterns it covers.</summary>
    public IReadOnlyList<string> PathPatterns { get; init; } = [];

    /// <summary>Gets the owners whose files it covers.</summary>
    public IReadOnlyList<string> Owners { get; init; } = [];

    /// <summary>Gets the start of validity, inclusive.</summary>
    public required DateTimeOffset ValidFrom { get; init; }

    /// <summary>Gets the end of validity, exclusive.</summary>
    public required DateTimeOffset ValidUntil { get; init; }

    /// <summary>Gets how many operations it allows.</summary>
    public required int MaxUses { get; init; }

    /// <summary>Gets the fix package hash it binds, for fix installs.</summary>
    public string? PackageHash { get; init; }

    /// <summary>Gets the diagnostics it allows by name, for <see cref="SupportOperation.RunDiagnostic"/>.</summary>
    public IReadOnlyList<string> Diagnostics { get; init; } = [];

    /// <summary>Creates the approval answering <paramref name="request"/> exactly as asked: its paths are literal, never patterns.</summary>
    /// <exception cref="ArgumentException">A requested path holds <c>*</c>, which would become a wildcard in the approval's patterns.</exception>
    public static Approval For(ApprovalRequest request, DateTimeOffset validFrom, int maxUses = 1)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Paths.FirstOrDefault(p => p.Contains('*', StringComparison.Ordinal)) is { } glob)
        {
            Error.Argument(nameof(request), $"The requested path '{glob}' holds '*': a requested path is literal, and '*' would make the approval cover other files.");
        }

        return new Approval
        {
            ApprovalId = "approval-" + Guid.NewGuid().ToString("N"),
            RequestId = request.RequestId,
            RequestTextHash = request.TextHash,
            SessionId = request.SessionId,
            TechnicianKeyId = request.TechnicianKeyId,
            Operations = [request.Operation],
            Root = request.Root,
            PathPatterns = request.Paths,
            Owners = request.Owner is null ? [] : [request.Owner],
            ValidFrom = validFrom,
            ValidUntil = validFrom.AddSeconds(request.RequestedDurationSeconds),
            MaxUses = maxUses,
            PackageHash = request.PackageHash,
            Diagnostics = request.Diagnostic is null ? [] : [request.Diagnostic],
        };
    }

    /// <summary>Creates the unsigned envelope the approvers sign.</summary>
    public SignedEnvelope ToEnvelope() => SignedEnvelope.Create(DocumentType, DocumentJson.Serialize(this));

    /// <summary>Reads an approval from an envelope (signatures are checked by the consent gate).</summary>
    public static Approval FromEnvelope(SignedEnvelope envelope)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        return DocumentJson.Deserialize<Approval>(envelope, DocumentType);
    }
}

/// <summary>The interactive route: the integrator shows the request to an approver on the unit, who signs or refuses.</summary>
public interface IApprovalPrompt
{
    /// <summary>Asks for approval; returns the signed approval, or null when refused.</summary>
    ValueTask<SignedEnvelope?> RequestApprovalAsync(ApprovalRequest request, CancellationToken cancellationToken = default);
}
