using System.Globalization;
using RemoteSupport.Documents;
using RemoteSupport.GroundRules;

namespace RemoteSupport.Sessions;

/// <summary>
/// The vendor side of one support session (docs/protocol/session.md): opened over a channel to the
/// unit's agent, asks to view or change data files and to run diagnostics, and collects the
/// unit-signed receipt at the close. One request at a time.
/// </summary>
public sealed class SupportSession : IDisposable
{
    /// <summary>The session protocol versions this console speaks.</summary>
    public static IReadOnlyList<int> SupportedVersions { get; } = [1];

    private readonly ISessionChannel _channel;
    private readonly ISessionStreams? _streams;
    private readonly SemaphoreSlim _one = new(1, 1);
    private readonly ITimer _heartbeat;
    private TimeSpan _heartbeatInterval = TimeSpan.FromSeconds(30);
    private int _nextRequest;
    private int _disposed;

    private SupportSession(ISessionChannel channel, ISessionStreams? streams, SessionMessage welcome)
    {
        _channel = channel;
        _streams = streams;
        SessionId = welcome.SessionId!;
        UnitId = welcome.UnitId ?? string.Empty;
        CustomerId = welcome.CustomerId ?? string.Empty;
        Version = welcome.Version ?? 0;
        Capabilities = welcome.Capabilities ?? [];
        _heartbeat = TimeProvider.System.CreateTimer(static state => _ = ((SupportSession)state!).SendHeartbeatAsync(), this, _heartbeatInterval, _heartbeatInterval);
    }

    /// <summary>
    /// Gets or sets how often an idle session tells the agent the console is still there (default 30 s):
    /// a connection that drops is metered up to the last message the agent heard.
    /// </summary>
    public TimeSpan HeartbeatInterval
    {
        get => _heartbeatInterval;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(value, TimeSpan.Zero);
            _heartbeatInterval = value;
            _heartbeat.Change(value, value);
        }
    }

    /// <summary>Gets the session id the agent assigned.</summary>
    public string SessionId { get; }

    /// <summary>Gets the unit.</summary>
    public string UnitId { get; }

    /// <summary>Gets the customer that owns the unit.</summary>
    public string CustomerId { get; }

    /// <summary>Gets the protocol version both sides agreed on.</summary>
    public int Version { get; }

    /// <summary>Gets what the agent offers (<c>view-data</c>, <c>change-data</c>, <c>run-diagnostic</c>).</summary>
    public IReadOnlyList<string> Capabilities { get; }

    /// <summary>Gets or sets what to do while a request waits for the customer's approver (receives the text the approver reads).</summary>
    public Action<string>? ApprovalPending { get; set; }

    /// <summary>Opens a session: sends the hello and waits for the agent's welcome.</summary>
    /// <param name="channel">The session's message channel.</param>
    /// <param name="streams">Streams to push fixes on, or <see langword="null"/> when this console pushes none.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <exception cref="SessionProtocolException">The agent refused: <c>version-mismatch</c>, <c>not-authorized</c>, or <c>protocol-error</c>, with the agent's sentence.</exception>
    public static async Task<SupportSession> OpenAsync(ISessionChannel channel, ISessionStreams? streams = null, CancellationToken cancellationToken = default) =>
        await OpenAsync(channel, streams, SupportedVersions, null, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Opens a session as the public overload does; a console holding the vendor's signed compatibility
    /// specification offers it in its hello and hands it over when the agent's welcome requests it.
    /// </summary>
    internal static async Task<SupportSession> OpenAsync(
        ISessionChannel channel, ISessionStreams? streams, IReadOnlyList<int> versions, SignedEnvelope? specification, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(channel);
        IEnumerable<string> capabilities = streams is null ? SessionWire.Capabilities.Where(c => c != SessionWire.ViewStreamCapability) : SessionWire.Capabilities;
        await SessionWire.SendAsync(channel, new SessionMessage
        {
            Type = SessionWire.Hello,
            Protocol = SessionMessage.ProtocolName,
            Versions = versions,
            // A console takes views on channels of their own only when it has streams to take them on.
            Capabilities = specification is null ? [.. capabilities] : [.. capabilities, SessionWire.SpecificationCapability],
            Software = "RemoteSupport/" + typeof(SupportSession).Assembly.GetName().Version?.ToString(3),
        }, cancellationToken).ConfigureAwait(false);
        SessionMessage reply = await SessionWire.ReceiveAsync(channel, cancellationToken).ConfigureAwait(false)
            ?? throw new SessionProtocolException("protocol-error", "The agent ended the connection before its welcome.");
        if (reply.Type == SessionWire.Refused)
        {
            throw new SessionRefusedException(reply.Code ?? "refused", reply.Sentence ?? string.Empty);
        }

        if (reply.Type != SessionWire.Welcome || reply.SessionId is null || reply.Version is not int version || !versions.Contains(version))
        {
            throw new SessionProtocolException("protocol-error", $"The agent answered the hello with '{reply.Type}', not a welcome in a version offered.");
        }

        if (reply.Requests?.Contains(SessionWire.SpecificationCapability) == true && specification is not null)
        {
            await SessionWire.SendAsync(channel, new SessionMessage { Type = SessionWire.Specification, Document = specification.ToJson() }, cancellationToken).ConfigureAwait(false);
        }

        return new SupportSession(channel, streams, reply);
    }

    /// <summary>Asks to list the files below a data folder (listing names is viewing: the same consent as <see cref="ViewAsync"/>).</summary>
    /// <returns>The files, or why not.</returns>
    /// <param name="root">The data root.</param>
    /// <param name="folder">The folder below the root.</param>
    /// <param name="owner">Whose data the folder is (the customer or an affiliate).</param>
    /// <param name="reason">Why, in the vendor's words (shown to the approver).</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    public async Task<DataFileListResult> ListAsync(string root, string folder, string owner, string reason, CancellationToken cancellationToken = default)
    {
        SessionMessage reply = await RequestAsync(
            new SessionMessage { Type = SessionWire.Request, Operation = SupportOperation.ViewData, List = true, Root = root, Path = folder, Owner = owner, Reason = reason }, cancellationToken).ConfigureAwait(false);
        return new DataFileListResult { Reason = ReasonOf(reply), Code = CodeOf(reply), Sentence = reply.Sentence ?? string.Empty, Entries = reply.Entries ?? [] };
    }

    /// <summary>
    /// Asks to view a data file; the unit's consent gate (and its approver) decide. The content is in
    /// <see cref="DataFileViewResult.Content"/>; for a file too large to hold in memory use <see cref="ViewToAsync"/>.
    /// </summary>
    /// <returns>The file's bytes and hash, or why not.</returns>
    /// <param name="root">The data root.</param>
    /// <param name="path">The file below the root.</param>
    /// <param name="owner">Whose data the file is (the customer or an affiliate).</param>
    /// <param name="reason">Why, in the vendor's words (shown to the approver).</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    public async Task<DataFileViewResult> ViewAsync(string root, string path, string owner, string reason, CancellationToken cancellationToken = default)
    {
        using var content = new MemoryStream();
        DataFileViewResult result = await ViewToAsync(root, path, owner, reason, content, cancellationToken).ConfigureAwait(false);
        return result.Succeeded ? result with { Content = content.ToArray() } : result;
    }

    /// <summary>
    /// Asks to view a data file and writes its content to <paramref name="destination"/>: from the result
    /// when it is small, or from a channel of its own when the unit streams it (sessions opened with
    /// streams). A streamed view's bytes are checked against the count and SHA-256 the unit reports and
    /// audits; a mismatch is a failed result (<see cref="OperationFailure.ViewMismatch"/>).
    /// </summary>
    /// <returns>The file's hash, or why not (the content is in <paramref name="destination"/>).</returns>
    /// <param name="root">The data root.</param>
    /// <param name="path">The file below the root.</param>
    /// <param name="owner">Whose data the file is (the customer or an affiliate).</param>
    /// <param name="reason">Why, in the vendor's words (shown to the approver).</param>
    /// <param name="destination">Where the file's bytes are written.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    public async Task<DataFileViewResult> ViewToAsync(string root, string path, string owner, string reason, Stream destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        SessionMessage reply = await RequestAsync(
            new SessionMessage { Type = SessionWire.Request, Operation = SupportOperation.ViewData, Root = root, Path = path, Owner = owner, Reason = reason },
            cancellationToken, destination).ConfigureAwait(false);
        return new DataFileViewResult { Reason = ReasonOf(reply), Code = CodeOf(reply), Sentence = reply.Sentence ?? string.Empty, Hash = reply.HashBefore };
    }

    /// <summary>Asks to replace (or create) a data file with <paramref name="content"/>.</summary>
    /// <returns>The file's hashes before and after, or why not.</returns>
    /// <param name="root">The data root.</param>
    /// <param name="path">The file below the root.</param>
    /// <param name="owner">Whose data the file is (the customer or an affiliate).</param>
    /// <param name="content">The file's new bytes.</param>
    /// <param name="reason">Why, in the vendor's words (shown to the approver).</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    public async Task<DataFileChangeResult> ChangeAsync(string root, string path, string owner, ReadOnlyMemory<byte> content, string reason, CancellationToken cancellationToken = default)
    {
        SessionMessage reply = await RequestAsync(
            new SessionMessage { Type = SessionWire.Request, Operation = SupportOperation.ChangeData, Root = root, Path = path, Owner = owner, Reason = reason, Content = content.ToArray() },
            cancellationToken).ConfigureAwait(false);
        return new DataFileChangeResult { Reason = ReasonOf(reply), Code = CodeOf(reply), Sentence = reply.Sentence ?? string.Empty, HashBefore = reply.HashBefore, HashAfter = reply.HashAfter };
    }

    /// <summary>Runs a diagnostic the integrator registered on the unit.</summary>
    /// <returns>The diagnostic's report, or why not.</returns>
    /// <param name="name">The diagnostic's name.</param>
    /// <param name="reason">Why, in the vendor's words.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    public async Task<DiagnosticResult> RunDiagnosticAsync(string name, string reason = "troubleshooting", CancellationToken cancellationToken = default)
    {
        SessionMessage reply = await RequestAsync(
            new SessionMessage { Type = SessionWire.Request, Operation = SupportOperation.RunDiagnostic, Diagnostic = name, Reason = reason }, cancellationToken).ConfigureAwait(false);
        return new DiagnosticResult { Reason = ReasonOf(reply), Code = CodeOf(reply), Sentence = reply.Sentence ?? string.Empty, Output = reply.Output };
    }

    /// <summary>
    /// Pushes a signed fix package: streamed on its own channel, verified by the unit against its
    /// pinned vendor root, passed through the consent gate for this package hash (the approver is asked
    /// when the ground rules say so), installed; the result carries the unit-signed install receipt.
    /// </summary>
    /// <returns>The unit-signed install receipt, or why not.</returns>
    /// <param name="packagePath">The signed fix package.</param>
    /// <param name="reason">Why, in the vendor's words (shown to the approver).</param>
    /// <param name="cancellationToken">Stops the push.</param>
    /// <exception cref="InvalidOperationException">The session was opened without streams.</exception>
    public async Task<FixPushResult> PushFixAsync(string packagePath, string reason, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(packagePath);
        if (_streams is null)
        {
            throw new InvalidOperationException("This session was opened without streams; pass them to OpenAsync to push fixes.");
        }

        await _one.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            string id = NextRequestId();
            long length = new FileInfo(packagePath).Length;
            await SessionWire.SendAsync(_channel, new SessionMessage
            {
                Type = SessionWire.Request,
                RequestId = id,
                Operation = SupportOperation.InstallFix,
                Stream = "fix/" + id,
                PackageLength = length,
                Reason = reason,
            }, cancellationToken).ConfigureAwait(false);
            Stream upload = await _streams.OpenStreamAsync("fix/" + id, cancellationToken).ConfigureAwait(false);
            await using (upload.ConfigureAwait(false))
            {
                FileStream package = File.OpenRead(packagePath);
                await using (package.ConfigureAwait(false))
                {
                    await package.CopyToAsync(upload, 1 << 16, cancellationToken).ConfigureAwait(false);
                }

                SessionTelemetry.CountBytes(length, sent: true, stream: true);
            }

            SessionMessage reply = await AwaitResultAsync(id, cancellationToken).ConfigureAwait(false);
            return new FixPushResult
            {
                Reason = ReasonOf(reply),
                Code = CodeOf(reply),
                Sentence = reply.Sentence ?? string.Empty,
                InstallReceipt = reply.InstallReceipt is null ? null : SignedEnvelope.Parse(reply.InstallReceipt),
            };
        }
        finally
        {
            _one.Release();
        }
    }

    /// <summary>Closes the session and returns the receipt the unit signed (check its signature against the unit's key).</summary>
    public async Task<SignedEnvelope> CloseAsync(CancellationToken cancellationToken = default)
    {
        await _one.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await SessionWire.SendAsync(_channel, new SessionMessage { Type = SessionWire.Close }, cancellationToken).ConfigureAwait(false);
            SessionMessage reply = await SessionWire.ReceiveAsync(_channel, cancellationToken).ConfigureAwait(false)
                ?? throw new SessionProtocolException("protocol-error", "The agent ended the connection before the receipt.");
            if (reply.Type != SessionWire.Receipt || reply.Receipt is null)
            {
                throw new SessionProtocolException("protocol-error", $"The agent answered the close with '{reply.Type}', not a receipt.");
            }

            return SignedEnvelope.Parse(reply.Receipt);
        }
        finally
        {
            _one.Release();
        }
    }

    /// <summary>Stops the heartbeat and releases the session's lock; the channel belongs to the caller.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _heartbeat.Dispose();
            _one.Dispose();
        }
    }

    /// <summary>Sends a heartbeat unless a request is under way (its messages are heard anyway).</summary>
    private async Task SendHeartbeatAsync()
    {
        try
        {
            if (Volatile.Read(ref _disposed) != 0 || !await _one.WaitAsync(0).ConfigureAwait(false))
            {
                return;
            }
        }
        catch (ObjectDisposedException)
        {
            return;
        }

        try
        {
            await SessionWire.SendAsync(_channel, new SessionMessage { Type = SessionWire.Heartbeat }, CancellationToken.None).ConfigureAwait(false);
        }
        catch (IOException)
        {
            // The connection is gone; the next request says so.
        }
        finally
        {
            try
            {
                _one.Release();
            }
            catch (ObjectDisposedException)
            {
                // Disposed while the heartbeat was going out.
            }
        }
    }

    private static OperationFailure ReasonOf(SessionMessage reply) => SessionOperationResult.ReasonOf(reply.Succeeded == true, CodeOf(reply));

    private static string CodeOf(SessionMessage reply) => reply.Code ?? (reply.Succeeded == true ? "none" : "failed");

    private async Task<SessionMessage> RequestAsync(SessionMessage request, CancellationToken cancellationToken, Stream? viewDestination = null)
    {
        await _one.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            string id = NextRequestId();
            await SessionWire.SendAsync(_channel, request with { RequestId = id }, cancellationToken).ConfigureAwait(false);
            return await AwaitResultAsync(id, cancellationToken, viewDestination).ConfigureAwait(false);
        }
        finally
        {
            _one.Release();
        }
    }

    /// <summary>
    /// Takes a view's channel and copies what arrives to <paramref name="destination"/>, hashing it, one
    /// buffer at a time; more than the announced length is a protocol error (nothing is sized by it).
    /// </summary>
    private async Task<(long Bytes, string Hash)> ReceiveViewAsync(SessionMessage announced, Stream destination, CancellationToken cancellationToken)
    {
        (string Name, Stream Stream)? incoming = await _streams!.AcceptStreamAsync(cancellationToken).ConfigureAwait(false);
        if (incoming is not { } accepted || accepted.Name != announced.Stream || announced.ContentLength is not long length || length < 0)
        {
            throw new SessionProtocolException("protocol-error", $"The view of request {announced.RequestId} did not arrive on its announced stream.");
        }

        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 16);
        long received = 0;
        try
        {
            await using (accepted.Stream.ConfigureAwait(false))
            {
                int read;
                while ((read = await accepted.Stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    received += read;
                    if (received > length)
                    {
                        throw new SessionProtocolException("protocol-error", string.Create(CultureInfo.InvariantCulture,
                            $"The view of request {announced.RequestId} sent more than the {length} bytes announced."));
                    }

                    hash.AppendData(buffer, 0, read);
                    await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                    SessionTelemetry.CountBytes(read, sent: false, stream: true);
                }
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }

        return (received, Sha256Hex.Finish(hash));
    }

    private string NextRequestId() => "r" + (++_nextRequest).ToString(CultureInfo.InvariantCulture);

    /// <summary>Waits for request <paramref name="id"/>'s result; a view's content goes to <paramref name="viewDestination"/> (a mismatching stream turns the result into <c>view-mismatch</c>).</summary>
    private async Task<SessionMessage> AwaitResultAsync(string id, CancellationToken cancellationToken, Stream? viewDestination = null)
    {
        (long Bytes, string Hash)? streamed = null;
        while (true)
        {
            SessionMessage reply = await SessionWire.ReceiveAsync(_channel, cancellationToken).ConfigureAwait(false)
                ?? throw new SessionProtocolException("protocol-error", "The agent ended the connection during a request.");
            if (reply.Type == SessionWire.PendingApproval && reply.RequestId == id)
            {
                ApprovalPending?.Invoke(reply.ApprovalText ?? string.Empty);
                continue;
            }

            if (reply.Type == SessionWire.ViewStream && reply.RequestId == id && viewDestination is not null && _streams is not null && streamed is null)
            {
                streamed = await ReceiveViewAsync(reply, viewDestination, cancellationToken).ConfigureAwait(false);
                continue;
            }

            if (reply.Type == SessionWire.Refused)
            {
                throw new SessionProtocolException(reply.Code ?? "refused", "The agent ended the session: " + reply.Sentence);
            }

            if (reply.Type != SessionWire.OperationResult || reply.RequestId != id)
            {
                throw new SessionProtocolException("protocol-error", $"The agent answered request {id} with '{reply.Type}'.");
            }

            if (viewDestination is null || reply.Succeeded != true)
            {
                return reply;
            }

            if (streamed is not { } received)
            {
                await viewDestination.WriteAsync(reply.Content ?? [], cancellationToken).ConfigureAwait(false);
                return reply;
            }

            return received.Bytes == reply.ContentLength && received.Hash == reply.HashBefore
                ? reply
                : reply with
                {
                    Succeeded = false,
                    Code = "view-mismatch",
                    Sentence = string.Create(CultureInfo.InvariantCulture,
                        $"The unit reports {reply.ContentLength} bytes with SHA-256 {reply.HashBefore}; {received.Bytes} bytes with SHA-256 {received.Hash} arrived."),
                };
        }
    }
}
