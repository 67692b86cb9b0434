using System.Globalization;
using System.Text;
using RemoteSupport.Documents;

namespace RemoteSupport.Consent;

/// <summary>
/// The offline route of written approvals through a folder both sides reach (by default the unit's
/// state folder, <c>approvals/</c>): the unit writes each request it needs approved into <c>pending/</c>
/// and waits for the customer's approval desk (<see cref="ApprovalDesk"/>, <c>rsupport approvals watch</c>)
/// to write the signed approval, or a refusal, into <c>answers/</c>. Every file is written whole
/// (a temporary file, fsynced, renamed), so neither side ever reads a torn one. The layout is
/// <c>docs/formats/approvals.md</c>, "The approval folder".
/// </summary>
public static class ApprovalFolder
{
    /// <summary>The largest request file the desk reads (a request is at most a few KiB; <see cref="ApprovalRequest.Validate"/> bounds its fields).</summary>
    public const int MaxRequestBytes = 64 * 1024;

    /// <summary>Gets the approval folder inside a unit's state folder: <c>approvals</c>.</summary>
    /// <param name="stateFolder">The unit's state folder (<c>SupportAgentOptions.StateFolder</c>).</param>
    public static string InStateFolder(string stateFolder)
    {
        ArgumentException.ThrowIfNullOrEmpty(stateFolder);
        return Path.Combine(stateFolder, "approvals");
    }

    internal static string Pending(string folder) => Path.Combine(folder, "pending");

    internal static string Answers(string folder) => Path.Combine(folder, "answers");

    internal static string RequestFile(string folder, string requestId) => Path.Combine(Pending(folder), requestId + ".json");

    internal static string ApprovalFile(string folder, string requestId) => Path.Combine(Answers(folder), requestId + ".approval.json");

    internal static string RefusalFile(string folder, string requestId) => Path.Combine(Answers(folder), requestId + ".refused.json");

    /// <summary>Whether a request id can name files: 1 to 100 of <c>A-Z a-z 0-9 _ -</c> (the gate's are <c>request-</c> + 32 hex digits).</summary>
    internal static bool IsFileSafe(string requestId) =>
        requestId.Length is >= 1 and <= 100 && requestId.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-');

    /// <summary>Reads a whole small file, refusing one longer than <paramref name="limit"/> before a byte is read into memory.</summary>
    internal static async Task<byte[]?> ReadBoundedAsync(string path, int limit, CancellationToken cancellationToken)
    {
        try
        {
            var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 4096, FileOptions.Asynchronous);
            await using (stream.ConfigureAwait(false))
            {
                if (stream.Length > limit)
                {
                    return null;
                }

                byte[] content = new byte[(int)stream.Length];
                await stream.ReadExactlyAsync(content, cancellationToken).ConfigureAwait(false);
                return content;
            }
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    internal static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: a leftover answer is ignored (its request is no longer pending).
        }
    }
}

/// <summary>
/// The unit's side of <see cref="ApprovalFolder"/>: an <see cref="IApprovalPrompt"/> that writes the
/// request into the folder and waits for the desk's answer (the agent's <c>ApprovalTimeout</c> bounds
/// the wait; on the timeout the request is withdrawn). Set it as <c>SupportAgentOptions.ApprovalPrompt</c>.
/// </summary>
/// <param name="folder">The approval folder (<see cref="ApprovalFolder.InStateFolder"/> of the unit's state folder, by convention).</param>
/// <param name="timeProvider">The clock the polling waits on; the system clock when none.</param>
public sealed class FolderApprovalPrompt(string folder, TimeProvider? timeProvider = null) : IApprovalPrompt
{
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;

    /// <summary>Gets the approval folder.</summary>
    public string Folder { get; } = string.IsNullOrEmpty(folder) ? throw new ArgumentException("The approval folder is empty.", nameof(folder)) : Path.GetFullPath(folder);

    /// <summary>Gets how often the answers folder is looked at.</summary>
    /// <value>250 ms by default.</value>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Writes the request into <c>pending/</c>, waits for its answer, and withdraws the request when it ends.</summary>
    /// <returns>The signed approval the desk wrote, or null when the desk refused (or wrote something that is not an envelope).</returns>
    /// <param name="request">The request the approvers read.</param>
    /// <param name="cancellationToken">Withdraws the request (the agent's approval timeout cancels it).</param>
    public async ValueTask<SignedEnvelope?> RequestApprovalAsync(ApprovalRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!ApprovalFolder.IsFileSafe(request.RequestId))
        {
            throw new ArgumentException($"The request id '{request.RequestId}' cannot name a file (1 to 100 of A-Z a-z 0-9 _ -).", nameof(request));
        }

        Directory.CreateDirectory(ApprovalFolder.Pending(Folder));
        Directory.CreateDirectory(ApprovalFolder.Answers(Folder));
        string pending = ApprovalFolder.RequestFile(Folder, request.RequestId);
        string approval = ApprovalFolder.ApprovalFile(Folder, request.RequestId);
        string refusal = ApprovalFolder.RefusalFile(Folder, request.RequestId);
        // A stale answer of an earlier life of this id is never taken for this one.
        ApprovalFolder.TryDelete(approval);
        ApprovalFolder.TryDelete(refusal);
        await DurableFile.WriteAsync(pending, Encoding.UTF8.GetBytes(request.ToJson()), overwrite: true, cancellationToken: cancellationToken).ConfigureAwait(false);
        try
        {
            while (true)
            {
                if (File.Exists(refusal))
                {
                    return null;
                }

                if (await ApprovalFolder.ReadBoundedAsync(approval, SignedEnvelope.MaxEnvelopeBytes, cancellationToken).ConfigureAwait(false) is { } answer)
                {
                    return SignedEnvelope.TryParse(answer, out SignedEnvelope? envelope, out _) ? envelope : null;
                }

                await Task.Delay(PollInterval, _time, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            ApprovalFolder.TryDelete(pending);
            ApprovalFolder.TryDelete(approval);
            ApprovalFolder.TryDelete(refusal);
        }
    }
}

/// <summary>A request waiting in the approval folder, or a file there that is not one.</summary>
/// <param name="File">The request's file.</param>
/// <param name="Request">The request, when the file is one.</param>
/// <param name="Problem">Why the file is not a request the desk can show (too long, malformed, refused by <see cref="ApprovalRequest.Validate"/>), or null.</param>
public sealed record PendingApproval(string File, ApprovalRequest? Request, string? Problem);

/// <summary>
/// The customer's side of <see cref="ApprovalFolder"/>: lists the requests a unit waits on and delivers
/// the approvers' answers. The desk signs nothing itself: the approval is signed by the approver's key.
/// </summary>
/// <param name="folder">The approval folder.</param>
public sealed class ApprovalDesk(string folder)
{
    /// <summary>Gets the approval folder.</summary>
    public string Folder { get; } = string.IsNullOrEmpty(folder) ? throw new ArgumentException("The approval folder is empty.", nameof(folder)) : Path.GetFullPath(folder);

    /// <summary>Lists the requests waiting for an answer, oldest first (by the time requested, then id).</summary>
    /// <param name="cancellationToken">Stops the listing.</param>
    public async Task<IReadOnlyList<PendingApproval>> PendingAsync(CancellationToken cancellationToken = default)
    {
        string pending = ApprovalFolder.Pending(Folder);
        if (!Directory.Exists(pending))
        {
            return [];
        }

        var found = new List<PendingApproval>();
        foreach (string file in Directory.EnumerateFiles(pending, "*.json"))
        {
            string id = Path.GetFileNameWithoutExtension(file);
            if (!ApprovalFolder.IsFileSafe(id) || File.Exists(ApprovalFolder.ApprovalFile(Folder, id)) || File.Exists(ApprovalFolder.RefusalFile(Folder, id)))
            {
                continue;
            }

            byte[]? content = await ApprovalFolder.ReadBoundedAsync(file, ApprovalFolder.MaxRequestBytes, cancellationToken).ConfigureAwait(false);
            if (content is null)
            {
                if (File.Exists(file))
                {
                    found.Add(new PendingApproval(file, null, $"The request file is longer than {ApprovalFolder.MaxRequestBytes} bytes."));
                }

                continue; // or withdrawn meanwhile
            }

            try
            {
                ApprovalRequest request = ApprovalRequest.FromJson(Encoding.UTF8.GetString(content));
                found.Add(request.RequestId == id
                    ? new PendingApproval(file, request, null)
                    : new PendingApproval(file, null, $"The file is named {id} but holds request {request.RequestId}."));
            }
            catch (FormatException e)
            {
                found.Add(new PendingApproval(file, null, e.Message));
            }
        }

        return [.. found.OrderBy(p => p.Request?.RequestedAt ?? DateTimeOffset.MinValue).ThenBy(p => p.File, StringComparer.Ordinal)];
    }

    /// <summary>Delivers a signed approval of <paramref name="request"/> to the waiting unit.</summary>
    /// <returns>True when delivered; false when the request is no longer pending (the unit withdrew it, or it was answered).</returns>
    /// <param name="request">The request approved.</param>
    /// <param name="approval">The approval, signed by the approvers.</param>
    /// <param name="cancellationToken">Stops the write.</param>
    public Task<bool> ApproveAsync(ApprovalRequest request, SignedEnvelope approval, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(approval);
        return AnswerAsync(request, ApprovalFolder.ApprovalFile(Folder, request.RequestId), approval.ToUtf8Json(indented: true), cancellationToken);
    }

    /// <summary>Tells the waiting unit that <paramref name="request"/> is refused.</summary>
    /// <returns>True when delivered; false when the request is no longer pending.</returns>
    /// <param name="request">The request refused.</param>
    /// <param name="refusedAt">When (recorded in the refusal file).</param>
    /// <param name="cancellationToken">Stops the write.</param>
    public Task<bool> RefuseAsync(ApprovalRequest request, DateTimeOffset refusedAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        byte[] content = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $"{{\"requestId\":\"{request.RequestId}\",\"textHash\":\"{request.TextHash}\",\"refusedAt\":\"{refusedAt.ToUniversalTime():yyyy-MM-ddTHH:mm:ssZ}\"}}\n"));
        return AnswerAsync(request, ApprovalFolder.RefusalFile(Folder, request.RequestId), content, cancellationToken);
    }

    private async Task<bool> AnswerAsync(ApprovalRequest request, string answer, byte[] content, CancellationToken cancellationToken)
    {
        if (!ApprovalFolder.IsFileSafe(request.RequestId) || !File.Exists(ApprovalFolder.RequestFile(Folder, request.RequestId)))
        {
            return false;
        }

        try
        {
            await DurableFile.WriteAsync(answer, content, overwrite: false, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (IOException) when (File.Exists(answer))
        {
            return false; // answered meanwhile (by another desk)
        }

        return true; // the unit may take it (and withdraw the request) at once
    }
}
