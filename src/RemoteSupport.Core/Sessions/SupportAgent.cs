using System.Diagnostics;
using System.Globalization;
using RemoteSupport.Audit;
using RemoteSupport.Authorization;
using RemoteSupport.Consent;
using RemoteSupport.DataFiles;
using RemoteSupport.Documents;
using RemoteSupport.GroundRules;

namespace RemoteSupport.Sessions;

/// <summary>
/// The unit side of support sessions: refuses a vendor without an authorization under the ground rules
/// in force, passes every operation through the consent gate (asking the approver when needed), meters
/// the session into the ledger at its end, and signs a session receipt (docs/protocol/session.md).
/// </summary>
public sealed partial class SupportAgent
{
    /// <summary>The session protocol versions this agent speaks.</summary>
    public static IReadOnlyList<int> SupportedVersions { get; } = [1];

    private readonly SupportAgentParts _options;

    /// <summary>Initializes a new instance of the <see cref="SupportAgent"/> class.</summary>
    /// <exception cref="ArgumentException">A book holds documents for another customer than <see cref="SupportAgentParts.CustomerId"/>.</exception>
    public SupportAgent(SupportAgentParts options)
    {
        ArgumentNullException.ThrowIfNull(options);
        foreach (string? other in new[] { options.GroundRules.CustomerId, options.Authorizations.CustomerId })
        {
            if (other is not null && other != options.CustomerId)
            {
                Error.Argument(nameof(options), $"The unit belongs to customer {options.CustomerId}, but a book it was given is for customer {other}.");
            }
        }

        if (options.Ledger.GroundRules is { } ledgerRules && !ReferenceEquals(ledgerRules, options.GroundRules))
        {
            Error.Argument(nameof(options), "The ledger follows another ground rules book than the agent's: open it with the agent's GroundRules, so caps and rates come from the same rules in force.");
        }

        if (options.HelloTimeout <= TimeSpan.Zero)
        {
            Error.ArgumentOutOfRange(nameof(options), "HelloTimeout must be positive.");
        }

        if (options.MaxViewBytes is < 1 or > 12L * 1024 * 1024)
        {
            Error.ArgumentOutOfRange(nameof(options), "MaxViewBytes must be 1 byte to 12 MiB: a view's result travels in one session message of at most 16 MiB.");
        }

        _options = options;
    }

    /// <summary>Gets how long a console has from its connection to its hello.</summary>
    internal TimeSpan HelloTimeout => _options.HelloTimeout;

    /// <summary>Gets the agent's clock.</summary>
    internal TimeProvider Time => _options.TimeProvider;

    /// <summary>
    /// Runs one session over <paramref name="channel"/> with <paramref name="vendor"/> (as the secure
    /// channel authenticated it) until the console closes it or the connection drops.
    /// </summary>
    /// <returns>The unit-signed receipt.</returns>
    /// <exception cref="SessionRefusedException">The session was refused at its start (not authorized, no hello in time, no common version): the console was told the same code and sentence.</exception>
    /// <param name="channel">The session's message channel.</param>
    /// <param name="streams">Streams for fixes pushed on their own channels, or <see langword="null"/> to take none.</param>
    /// <param name="vendor">The technician as the secure channel authenticated it.</param>
    /// <param name="cancellationToken">Stops the session.</param>
    public Task<SignedEnvelope> RunSessionAsync(ISessionChannel channel, ISessionStreams? streams, SessionPeer vendor, CancellationToken cancellationToken = default) =>
        RunSessionAsync(channel, streams, vendor, _options.HelloTimeout, cancellationToken);

    /// <summary>Runs one session as the public overload does, with <c>helloWithin</c> left of <see cref="SupportAgentParts.HelloTimeout"/> for the hello (a host spent the rest waiting for the channel).</summary>
    internal async Task<SignedEnvelope> RunSessionAsync(ISessionChannel channel, ISessionStreams? streams, SessionPeer vendor, TimeSpan helloWithin, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(channel);
        ArgumentNullException.ThrowIfNull(vendor);
        TimeProvider time = _options.TimeProvider;

        // Authorization first: a trusted but unauthorized key is refused before it may send anything.
        SecurityGroundRules? rules = _options.GroundRules.Current;
        AuthorizationCheck authorized = _options.Authorizations.Check(vendor.PartyId, vendor.Key, _options.UnitId, _options.GroundRules.CurrentHash);
        string? notAuthorized = rules is null ? "No jointly signed ground rules are in force on this unit."
            : rules.CustomerId != _options.CustomerId ? $"The ground rules in force are for customer {rules.CustomerId}; this unit belongs to {_options.CustomerId}."
            : authorized.IsAuthorized ? null : authorized.Sentence;
        if (notAuthorized is not null)
        {
            await _options.Audit.RecordAsync(AuditEvents.AuthorizationRefused(time.GetUtcNow(), Actor(vendor), notAuthorized), cancellationToken).ConfigureAwait(false);
            Refused("not-authorized", notAuthorized, vendor);
            throw await RefuseAsync(channel, "not-authorized", notAuthorized, cancellationToken).ConfigureAwait(false);
        }

        SessionMessage hello;
        using (var helloDeadline = new CancellationTokenSource(helloWithin > TimeSpan.Zero ? helloWithin : TimeSpan.FromTicks(1), time))
        using (var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, helloDeadline.Token))
        {
            try
            {
                hello = await SessionWire.ReceiveAsync(channel, linked.Token).ConfigureAwait(false) ?? throw new SessionProtocolException("protocol-error", "The console ended before its hello.");
            }
            catch (SessionProtocolException ex)
            {
                throw await RefuseAsync(channel, ex.Code, ex.Message, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (helloDeadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                string sentence = string.Create(CultureInfo.InvariantCulture, $"No hello within {_options.HelloTimeout.TotalSeconds:0.###} s of the connection.");
                Refused("hello-timeout", sentence, vendor);
                throw await RefuseAsync(channel, "hello-timeout", sentence, cancellationToken).ConfigureAwait(false);
            }
        }

        string? refusal = CheckHello(hello, out int version);
        if (refusal is not null)
        {
            Refused("version-mismatch", refusal, vendor);
            throw await RefuseAsync(channel, "version-mismatch", refusal, cancellationToken).ConfigureAwait(false);
        }

        bool takesViewStreams = streams is not null && hello.Capabilities?.Contains(SessionWire.ViewStreamCapability) == true;
        bool asksSpecification = _options.RequestCompatibilitySpecification && _options.Contract is not null
            && hello.Capabilities?.Contains(SessionWire.SpecificationCapability) == true;
        var session = new RunningSession(
            this, channel, streams, vendor, "session-" + Guid.NewGuid().ToString("n"), time.GetUtcNow(), TimeSpan.FromMinutes(rules!.MaxSessionMinutes), takesViewStreams,
            asksSpecification);
        using Activity? activity = SessionTelemetry.Activities.StartActivity("remotesupport.session", ActivityKind.Server);
        activity?.SetTag("remotesupport.session.id", session.Id);
        activity?.SetTag("remotesupport.unit", _options.UnitId);
        activity?.SetTag("remotesupport.vendor", vendor.PartyId);
        SessionTelemetry.Sessions.Add(1, new KeyValuePair<string, object?>("outcome", "opened"));
        AgentLog.SessionOpened(_options.Logger, session.Id, vendor.PartyId, vendor.Key.KeyId, _options.UnitId, version);
        await _options.Audit.RecordAsync(AuditEvents.SessionOpened(session.OpenedAt, session.Id, Actor(vendor), _options.UnitId, version), cancellationToken).ConfigureAwait(false);
        await SessionWire.SendAsync(channel, new SessionMessage
        {
            Type = SessionWire.Welcome,
            Version = version,
            SessionId = session.Id,
            UnitId = _options.UnitId,
            CustomerId = _options.CustomerId,
            Capabilities = SessionWire.Capabilities,
            Requests = asksSpecification ? [SessionWire.SpecificationCapability] : null,
        }, cancellationToken).ConfigureAwait(false);
        return await session.RunAsync(cancellationToken).ConfigureAwait(false);
    }

    private void Refused(string code, string sentence, SessionPeer vendor)
    {
        SessionTelemetry.Sessions.Add(1, new KeyValuePair<string, object?>("outcome", "refused"));
        AgentLog.SessionRefused(_options.Logger, vendor.PartyId, vendor.Key.KeyId, code, sentence);
    }

    private static string Actor(SessionPeer vendor) => vendor.PartyId + "/" + vendor.Key.KeyId;

    private static string? CheckHello(SessionMessage hello, out int version)
    {
        version = 0;
        if (hello.Type != SessionWire.Hello || hello.Protocol != SessionMessage.ProtocolName)
        {
            return $"The console did not open with a '{SessionMessage.ProtocolName}' hello.";
        }

        IReadOnlyList<int> offered = hello.Versions ?? [];
        int[] common = [.. offered.Intersect(SupportedVersions)];
        if (common.Length == 0)
        {
            return string.Create(CultureInfo.InvariantCulture,
                $"No common session protocol version: the console speaks {string.Join(", ", offered)}; this agent speaks {string.Join(", ", SupportedVersions)}.");
        }

        version = common.Max();
        return null;
    }

    /// <summary>Tells the console the session is refused, and returns the refusal to throw: the same code and sentence the console's <see cref="SessionRefusedException"/> carries.</summary>
    private static async Task<SessionRefusedException> RefuseAsync(ISessionChannel channel, string code, string sentence, CancellationToken cancellationToken)
    {
        try
        {
            await SessionWire.SendAsync(channel, new SessionMessage { Type = SessionWire.Refused, Code = code, Sentence = sentence }, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException)
        {
            // The console is gone; the refusal is audited where it matters.
        }

        return new SessionRefusedException(code, sentence);
    }

    /// <summary>One session after its welcome.</summary>
    private sealed partial class RunningSession(
        SupportAgent agent, ISessionChannel channel, ISessionStreams? streams, SessionPeer vendor, string id, DateTimeOffset openedAt, TimeSpan maxDuration,
        bool takesViewStreams, bool asksSpecification)
    {
        private const string TimeLimitCode = "session-time-limit";
        private const int MaxSpecificationChars = 1024 * 1024; // a specification is a few kilobytes; its audit record stays far below the journal's limit
        private readonly List<SessionOperation> _operations = [];
        private DateTimeOffset _lastHeard;

        public string Id => id;

        public DateTimeOffset OpenedAt => openedAt;

        private SupportAgentParts Options => agent._options;

        public async Task<SignedEnvelope> RunAsync(CancellationToken cancellationToken)
        {
            string ending = "dropped";
            _lastHeard = openedAt;
            SignedEnvelope receipt;
            try
            {
                ending = await ServeAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                // Whatever ended the session (the close, a dropped line, a stop, a failure), it is metered once and receipted.
                DateTimeOffset closedAt = ending switch
                {
                    "closed" => Options.TimeProvider.GetUtcNow(),
                    "time-limit" => openedAt + maxDuration, // metered to the limit, never past it
                    _ => _lastHeard,
                };
                receipt = await CloseAsync(closedAt, ending).ConfigureAwait(false);
            }

            if (ending == "closed")
            {
                try
                {
                    await SessionWire.SendAsync(channel, new SessionMessage { Type = SessionWire.Receipt, Receipt = receipt.ToJson() }, cancellationToken).ConfigureAwait(false);
                }
                catch (IOException)
                {
                    // Kept in the audit log; the vendor can ask for it again.
                }
            }

            return receipt;
        }

        /// <returns>
        /// <c>closed</c> when the console closed the session, <c>dropped</c> when the line ended,
        /// <c>time-limit</c> when the ground rules' longest session was reached (the console is told why).
        /// </returns>
        private async Task<string> ServeAsync(CancellationToken cancellationToken)
        {
            TimeProvider time = Options.TimeProvider;
            DateTimeOffset limit = openedAt + maxDuration;
            using var atLimit = new CancellationTokenSource(Max(limit - time.GetUtcNow(), TimeSpan.Zero), time);
            using var receiving = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, atLimit.Token);
            try
            {
                if (asksSpecification)
                {
                    await ReceiveSpecificationAsync(receiving.Token).ConfigureAwait(false);
                }

                while (true)
                {
                    SessionMessage? message = await SessionWire.ReceiveAsync(channel, receiving.Token).ConfigureAwait(false);
                    if (message is null)
                    {
                        return "dropped";
                    }

                    _lastHeard = time.GetUtcNow();
                    if (message.Type == SessionWire.Close)
                    {
                        return "closed";
                    }

                    if (_lastHeard >= limit)
                    {
                        return await EndAtLimitAsync(message).ConfigureAwait(false);
                    }

                    if (message.Type == SessionWire.Heartbeat)
                    {
                        continue;
                    }

                    if (message.Type != SessionWire.Request || message.RequestId is null || message.Operation is null)
                    {
                        throw new SessionProtocolException("protocol-error", $"A '{message.Type}' message is not expected here.");
                    }

                    await SessionWire.SendAsync(channel, await HandleAsync(message, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
                }
            }
            catch (IOException)
            {
                return "dropped"; // metered up to the last message heard
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return "dropped"; // the agent is stopping
            }
            catch (OperationCanceledException) when (atLimit.IsCancellationRequested)
            {
                return await EndAtLimitAsync(null).ConfigureAwait(false);
            }
            catch (SessionProtocolException ex)
            {
                await RefuseAsync(channel, ex.Code, ex.Message, CancellationToken.None).ConfigureAwait(false);
                return "dropped";
            }
        }

        /// <summary>
        /// Takes the vendor's signed compatibility specification the welcome requested: the console's first message,
        /// within <see cref="SupportAgentParts.HelloTimeout"/>. The contract state keeps one signed by the vendor of the
        /// ground rules in force; anything else handed over is refused and logged, and the session goes on. Another
        /// message, or none in time, is a protocol error that ends the session (metered and receipted as dropped).
        /// </summary>
        private async Task ReceiveSpecificationAsync(CancellationToken cancellationToken)
        {
            using var deadline = new CancellationTokenSource(Options.HelloTimeout, Options.TimeProvider);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
            SessionMessage? answer;
            try
            {
                answer = await SessionWire.ReceiveAsync(channel, linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new SessionProtocolException("protocol-error", "The welcome requested the compatibility specification; none came within the hello timeout.");
            }

            if (answer is null)
            {
                throw new IOException("The console ended before the compatibility specification the welcome requested.");
            }

            _lastHeard = Options.TimeProvider.GetUtcNow();
            if (answer.Type != SessionWire.Specification || answer.Document is null)
            {
                throw new SessionProtocolException("protocol-error", $"The welcome requested the compatibility specification; the console sent '{answer.Type}'.");
            }

            DocumentAcceptance acceptance;
            if (answer.Document.Length > MaxSpecificationChars)
            {
                acceptance = DocumentAcceptance.Refused(DocumentRefusal.Malformed, $"The compatibility specification is over {MaxSpecificationChars} characters.");
            }
            else if (!SignedEnvelope.TryParse(System.Text.Encoding.UTF8.GetBytes(answer.Document), out SignedEnvelope? document, out string? error))
            {
                acceptance = DocumentAcceptance.Refused(DocumentRefusal.Malformed, error);
            }
            else if (document.PayloadType != RemoteSupport.Contract.ContractState.SpecificationType.PayloadType)
            {
                // Only the specification comes this way: an authorization, root or rotation handed over by a console is never accepted here.
                acceptance = DocumentAcceptance.Refused(DocumentRefusal.Malformed, $"The console handed over a '{document.PayloadType}', not a compatibility specification.");
            }
            else
            {
                acceptance = await Options.Contract!.AcceptAsync(document, cancellationToken).ConfigureAwait(false);
            }

            AgentLog.SpecificationReceived(Options.Logger, id, acceptance.IsAccepted ? "kept" : "refused", acceptance.Sentence);
        }

        /// <summary>Ends the session at the ground rules' limit: a request that came too late is refused and recorded, and the console is told why.</summary>
        private async Task<string> EndAtLimitAsync(SessionMessage? late)
        {
            string sentence = string.Create(CultureInfo.InvariantCulture,
                $"The session reached the ground rules' limit of {maxDuration.TotalMinutes:0.###} minutes and was ended by the unit.");
            if (late is { Type: "request", RequestId: { } requestId, Operation: { } operation })
            {
                _ = Result(requestId, operation, "session", false, TimeLimitCode, sentence);
            }

            await RefuseAsync(channel, TimeLimitCode, sentence, CancellationToken.None).ConfigureAwait(false);
            return "time-limit";
        }

        private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

        private async Task<SessionMessage> HandleAsync(SessionMessage message, CancellationToken cancellationToken)
        {
            SupportOperation operation = message.Operation!.Value;
            if (operation == SupportOperation.InstallFix)
            {
                return await InstallFixAsync(message, cancellationToken).ConfigureAwait(false);
            }

            string target = operation == SupportOperation.RunDiagnostic ? message.Diagnostic ?? string.Empty : $"{message.Root}:{message.Path}";
            if (operation == SupportOperation.RunDiagnostic && (message.Diagnostic is null || !Options.Diagnostics.ContainsKey(message.Diagnostic)))
            {
                // Refused before the gate: no approver is asked for a diagnostic the unit cannot run.
                return Result(message.RequestId!, operation, target, false, "unknown-diagnostic", $"No diagnostic named '{message.Diagnostic}' is registered on this unit.");
            }

            (ConsentDecision decision, string code) = await DecideAsync(message.RequestId!, Request(message, operation), cancellationToken).ConfigureAwait(false);
            if (!decision.IsGranted)
            {
                return Result(message.RequestId!, operation, target, false, code, decision.Sentence);
            }

            return await CarryOutAsync(message, operation, target, decision, cancellationToken).ConfigureAwait(false);
        }

        private ConsentRequest Request(SessionMessage message, SupportOperation operation, string? packageHash = null) =>
            new()
            {
                SessionId = id,
                UnitId = Options.UnitId,
                VendorId = vendor.PartyId,
                TechnicianId = vendor.PartyId,
                TechnicianKey = vendor.Key,
                Operation = operation,
                Diagnostic = operation == SupportOperation.RunDiagnostic ? message.Diagnostic : null,
                Root = message.Root,
                Path = message.Path,
                Owner = message.Owner,
                Reason = message.Reason ?? "troubleshooting",
                Ticket = message.Ticket,
                PackageHash = packageHash,
            };

        /// <summary>The code of a change that was made but whose evidence record failed (succeeded, with this code).</summary>
        private const string AuditFailedCode = "audit-failed";


        private SessionMessage Result(
            string requestId, SupportOperation operation, string target, bool succeeded, string code, string sentence, DataFileEvidence? evidence = null, string? hashAfter = null)
        {
            _operations.Add(new SessionOperation(requestId, operation, target, succeeded, code, evidence?.HashBefore, evidence?.HashAfter ?? hashAfter));
            string operationName = DocumentJson.Kebab(operation);
            string outcome = succeeded ? "done" : code;
            SessionTelemetry.ConsentDecisions.Add(1, new KeyValuePair<string, object?>("operation", operationName), new KeyValuePair<string, object?>("outcome", code));
            AgentLog.Operation(Options.Logger, id, requestId, operationName, target, outcome);
            return new SessionMessage
            {
                Type = SessionWire.OperationResult,
                RequestId = requestId,
                Succeeded = succeeded,
                Code = code,
                Sentence = sentence,
                HashBefore = evidence?.HashBefore,
                HashAfter = evidence?.HashAfter,
            };
        }
    }
}
