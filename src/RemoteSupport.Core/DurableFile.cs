using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;

namespace RemoteSupport;

/// <summary>
/// Writes a whole file so that a crash leaves either the old file or the new one, never a torn one: a
/// temporary file beside the target, written and fsynced, renamed into place, and the folder fsynced
/// (<see cref="DurableDirectory"/>) so the new name is on disk too.
/// </summary>
internal static class DurableFile
{
    /// <summary>Writes <paramref name="content"/> to <paramref name="path"/> durably.</summary>
    /// <param name="path">The file to write.</param>
    /// <param name="content">Its whole content.</param>
    /// <param name="overwrite">Whether an existing file is replaced; when false and one appears meanwhile, the rename fails with an <see cref="IOException"/>.</param>
    /// <param name="unixMode">The temporary file's permissions on Unix (the renamed file keeps them); the process default when null.</param>
    /// <param name="opened">Checks the temporary file's handle before a byte is written (for example that it is where it should be).</param>
    /// <param name="cancellationToken">Stops the write (the temporary file is removed).</param>
    public static async Task WriteAsync(
        string path, ReadOnlyMemory<byte> content, bool overwrite, UnixFileMode? unixMode = null, Action<SafeFileHandle>? opened = null,
        CancellationToken cancellationToken = default)
    {
        string temporary = TemporaryBeside(path);
        try
        {
            FileStream stream = new(temporary, Options(unixMode, FileOptions.Asynchronous));
            await using (stream.ConfigureAwait(false))
            {
                opened?.Invoke(stream.SafeFileHandle);
                await stream.WriteAsync(content, cancellationToken).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite);
            DurableDirectory.FlushFor(path);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    /// <summary>Writes <paramref name="content"/> over <paramref name="path"/> durably, synchronously (small records such as the installer's journal).</summary>
    /// <param name="path">The file to write.</param>
    /// <param name="content">Its whole content.</param>
    public static void Write(string path, ReadOnlySpan<byte> content)
    {
        string temporary = TemporaryBeside(path);
        try
        {
            using (var stream = new FileStream(temporary, Options(null, FileOptions.None)))
            {
                stream.Write(content);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
            DurableDirectory.FlushFor(path);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    private static string TemporaryBeside(string path) => path + "." + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6)) + ".tmp";

    private static FileStreamOptions Options(UnixFileMode? unixMode, FileOptions options)
    {
        var streamOptions = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None, Options = options };
        if (unixMode is { } mode && !OperatingSystem.IsWindows())
        {
            streamOptions.UnixCreateMode = mode;
        }

        return streamOptions;
    }
}
