using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using RemoteSupport.Consent;
using RemoteSupport.DataFiles;
using RemoteSupport.GroundRules;

namespace RemoteSupport.Sessions;

/// <summary>
/// Views: a file up to <see cref="SupportAgentParts.MaxViewBytes"/> travels in the result; a larger one
/// streams on a channel of its own, one buffer in memory, and is audited for what was actually sent.
/// </summary>
public sealed partial class SupportAgent
{
    private sealed partial class RunningSession
    {
        private const int ViewBufferBytes = 1 << 16;

        private async Task<SessionMessage> ViewAsync(string requestId, string target, ConsentDecision decision, CancellationToken cancellationToken)
        {
            FileStream file = Options.DataFiles.OpenView(decision);
            await using (file.ConfigureAwait(false))
            {
                long length = file.Length;
                if (length <= Options.MaxViewBytes)
                {
                    byte[] content = new byte[length];
                    await file.ReadExactlyAsync(content, cancellationToken).ConfigureAwait(false);
                    string hash = Sha256Hex.Of(content);
                    var evidence = new DataFileEvidence(decision.Request.Root!, decision.CanonicalPath!, hash, hash);
                    await Options.Audit.RecordDataFileAsync(decision, evidence, cancellationToken).ConfigureAwait(false);
                    return Result(requestId, SupportOperation.ViewData, target, true, "none", "The file was read.", evidence) with { Content = content };
                }

                if (!takesViewStreams)
                {
                    // Nothing read, nothing audited as viewed; the session goes on.
                    return Result(requestId, SupportOperation.ViewData, target, false, "file-too-large", string.Create(CultureInfo.InvariantCulture,
                        $"'{decision.CanonicalPath}' is {length} bytes; a view carries at most {Options.MaxViewBytes}, and this console takes no view streams."));
                }

                return await StreamViewAsync(requestId, target, decision, file, length, cancellationToken).ConfigureAwait(false);
            }
        }

        /// <summary>
        /// Announces the stream, sends exactly the bytes read (at most the announced length) on channel
        /// <c>view/&lt;requestId&gt;</c>, then records and reports their count and hash. A line that drops
        /// midway is audited for the part sent, then ends the session.
        /// </summary>
        private async Task<SessionMessage> StreamViewAsync(string requestId, string target, ConsentDecision decision, FileStream file, long length, CancellationToken cancellationToken)
        {
            string name = "view/" + requestId;
            await SessionWire.SendAsync(channel, new SessionMessage { Type = SessionWire.ViewStream, RequestId = requestId, Stream = name, ContentLength = length }, cancellationToken).ConfigureAwait(false);
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long sent = 0;
            byte[] buffer = ArrayPool<byte>.Shared.Rent(ViewBufferBytes);
            try
            {
                Stream output = await streams!.OpenStreamAsync(name, cancellationToken).ConfigureAwait(false);
                await using (output.ConfigureAwait(false))
                {
                    while (sent < length)
                    {
                        int read = await file.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, length - sent)), cancellationToken).ConfigureAwait(false);
                        if (read == 0)
                        {
                            break; // the file shrank: what was sent is what is reported and audited
                        }

                        await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                        hash.AppendData(buffer, 0, read);
                        sent += read;
                        SessionTelemetry.CountBytes(read, sent: true, stream: true);
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException)
            {
                await RecordViewAsync(decision, hash, sent, complete: false).ConfigureAwait(false);
                throw;
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            DataFileEvidence evidence = await RecordViewAsync(decision, hash, sent, complete: sent == length).ConfigureAwait(false);
            bool whole = sent == length;
            return Result(requestId, SupportOperation.ViewData, target, whole, whole ? "none" : "file-changed",
                whole ? string.Create(CultureInfo.InvariantCulture, $"The file was read and streamed ({sent} bytes).")
                      : string.Create(CultureInfo.InvariantCulture, $"The file shrank while it was read: {sent} of {length} bytes were sent."),
                evidence) with { Stream = name, ContentLength = sent };
        }

        private async Task<DataFileEvidence> RecordViewAsync(ConsentDecision decision, IncrementalHash hash, long sent, bool complete)
        {
            string sentHash = Convert.ToHexStringLower(hash.GetCurrentHash());
            var evidence = new DataFileEvidence(decision.Request.Root!, decision.CanonicalPath!, sentHash, sentHash);
            await Options.Audit.RecordDataFileAsync(decision, evidence, (sent, complete), CancellationToken.None).ConfigureAwait(false);
            return evidence;
        }
    }
}
