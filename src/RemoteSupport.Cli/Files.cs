using System.Text;
using RemoteSupport.Documents;

namespace RemoteSupport.Cli;

/// <summary>Reading and writing the files commands take and give, every failure as a sentence naming the file.</summary>
internal static class Files
{
    /// <summary>The largest JSON document read whole (an envelope is at most 1 MiB; the rest is slack for indentation).</summary>
    public const int MaxDocumentBytes = 4 * 1024 * 1024;

    public static async Task<byte[]> ReadDocumentAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous);
            if (stream.Length > MaxDocumentBytes)
            {
                throw new CliException(ExitCode.IO, $"{path}: the file is {stream.Length} bytes; a document is at most {MaxDocumentBytes} bytes.");
            }

            byte[] content = new byte[stream.Length];
            await stream.ReadExactlyAsync(content, cancellationToken).ConfigureAwait(false);
            return content;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new CliException(ExitCode.IO, $"{path}: there is no such file.", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException(ExitCode.IO, $"{path}: {CliConsole.Sentence(e.Message)}", e);
        }
    }

    /// <summary>The first bytes of a file, leading whitespace skipped (to tell a JSON document from a binary one).</summary>
    public static async Task<byte[]> ReadDocumentHeadAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous);
            byte[] head = new byte[64];
            int read = await stream.ReadAtLeastAsync(head, head.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            return [.. head.AsSpan(0, read).TrimStart(" \t\r\n"u8)];
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new CliException(ExitCode.IO, $"{path}: there is no such file or folder.", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException(ExitCode.IO, $"{path}: {CliConsole.Sentence(e.Message)}", e);
        }
    }

    public static async Task<SignedEnvelope> ReadEnvelopeAsync(string path, CancellationToken cancellationToken)
    {
        byte[] content = await ReadDocumentAsync(path, cancellationToken).ConfigureAwait(false);
        if (!SignedEnvelope.TryParse(content, out SignedEnvelope? envelope, out string? error))
        {
            throw new CliException(ExitCode.IO, $"{path}: not a signed document ({error?.TrimEnd('.')}).");
        }

        return envelope!;
    }

    /// <summary>Reads a document of one type from an envelope, refusing any other type.</summary>
    public static async Task<(SignedEnvelope Envelope, T Document)> ReadDocumentAsync<T>(
        string path, DocumentType type, Func<SignedEnvelope, T> read, CancellationToken cancellationToken)
    {
        SignedEnvelope envelope = await ReadEnvelopeAsync(path, cancellationToken).ConfigureAwait(false);
        return (envelope, Parse(path, envelope, type, read));
    }

    public static T Parse<T>(string path, SignedEnvelope envelope, DocumentType type, Func<SignedEnvelope, T> read)
    {
        if (envelope.PayloadType != type.PayloadType)
        {
            throw new CliException(ExitCode.IO, $"{path}: a {Describe(envelope.PayloadType)}, not a {type.Kind}.");
        }

        try
        {
            return read(envelope);
        }
        catch (Exception e) when (e is FormatException or System.Text.Json.JsonException or ArgumentException or InvalidOperationException)
        {
            throw new CliException(ExitCode.IO, $"{path}: a malformed {type.Kind} ({CliConsole.Sentence(e.Message).TrimEnd('.')}).", e);
        }
    }

    /// <summary>The document kind a payload type names, or the payload type itself.</summary>
    public static string Describe(string payloadType) =>
        DocumentType.TryParse(payloadType, out DocumentType? type) ? type!.Kind : $"document of type '{payloadType}'";

    /// <summary>Writes a file whole or not at all: a temporary file in the same folder, flushed to disk, renamed into place.</summary>
    public static async Task WriteAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        string full = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(full)!;
        string temporary = Path.Combine(folder, $".{Path.GetFileName(full)}.{Guid.NewGuid():n}.tmp");
        try
        {
            await using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous))
            {
                await stream.WriteAsync(content, cancellationToken).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temporary);
            string reason = e is DirectoryNotFoundException ? "its folder does not exist" : CliConsole.Sentence(e.Message).TrimEnd('.');
            throw new CliException(ExitCode.IO, $"{path}: cannot write the file ({reason}).", e);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    public static Task WriteTextAsync(string path, string text, CancellationToken cancellationToken) =>
        WriteAsync(path, Encoding.UTF8.GetBytes(text), cancellationToken);

    public static Task WriteEnvelopeAsync(string path, SignedEnvelope envelope, CancellationToken cancellationToken) =>
        WriteAsync(path, envelope.ToUtf8Json(indented: true), cancellationToken);

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
