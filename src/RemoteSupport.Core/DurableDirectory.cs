using System.Runtime.InteropServices;

namespace RemoteSupport;

/// <summary>
/// Makes a directory's entries durable: after a file is created in it or renamed into it, the file's
/// contents may be on disk (flushed) while the name is not, and a power loss would lose it. On Unix the
/// directory itself is opened and fsynced; on Windows NTFS journals the metadata, so nothing is done.
/// </summary>
internal static partial class DurableDirectory
{
    private const int ReadOnly = 0; // O_RDONLY: the same on every Unix
    private const int Unsupported = 22; // EINVAL: a file system that cannot fsync a directory

    /// <summary>Flushes the entries of the directory that holds <paramref name="file"/>.</summary>
    /// <exception cref="IOException">The directory could not be opened or flushed (named, with the system's error).</exception>
    public static void FlushFor(string file)
    {
        string full = Path.GetFullPath(file);
        Flush(Path.GetDirectoryName(full) ?? Path.GetPathRoot(full)!);
    }

    /// <summary>Flushes the entries of <paramref name="directory"/>.</summary>
    /// <exception cref="IOException">The directory could not be opened or flushed (named, with the system's error).</exception>
    public static void Flush(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        int fd = Open(directory, ReadOnly);
        if (fd < 0)
        {
            throw Failure("open", directory, Marshal.GetLastPInvokeError());
        }

        try
        {
            if (Fsync(fd) != 0)
            {
                int error = Marshal.GetLastPInvokeError();
                if (error != Unsupported)
                {
                    throw Failure("flush", directory, error);
                }
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    private static IOException Failure(string what, string directory, int error) =>
        new($"Could not {what} the directory '{directory}' to make its entries durable: {Marshal.GetPInvokeErrorMessage(error)} (errno {error}).");

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
