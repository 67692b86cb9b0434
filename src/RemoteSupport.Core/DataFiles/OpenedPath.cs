using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace RemoteSupport.DataFiles;

/// <summary>
/// The real path of an open file, as the operating system names the file the handle refers to (links
/// resolved): <c>/proc/self/fd</c> on Linux, <c>fcntl(F_GETPATH)</c> on macOS,
/// <c>GetFinalPathNameByHandleW</c> on Windows. Where a path cannot be opened beneath a root, the data
/// store checks this before a byte is read or written.
/// </summary>
internal static partial class OpenedPath
{
    private const int MacGetPath = 50; // F_GETPATH
    private const int MacMaxPath = 1024; // MAXPATHLEN

    /// <summary>Throws unless the file behind <paramref name="handle"/> lies below <paramref name="root"/>.</summary>
    /// <exception cref="UnauthorizedAccessException">It does not (a link on the way led out), or its path cannot be told.</exception>
    public static void EnsureBelow(string root, SafeFileHandle handle, string canonical)
    {
        string? real = RealPathOf(handle);
        if (real is null || !real.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw new UnauthorizedAccessException($"The path '{canonical}' leads outside its data root ({real ?? "the opened file's path cannot be told"}); it is refused.");
        }
    }

    /// <summary>Gets the real path of an existing folder: every link on the way, from the top, resolved.</summary>
    public static string RealFolder(string folder)
    {
        string full = Path.GetFullPath(folder);
        string current = Path.GetPathRoot(full)!;
        foreach (string segment in full[current.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            current = Path.Combine(current, segment);
            if (new DirectoryInfo(current).ResolveLinkTarget(returnFinalTarget: true) is { } target)
            {
                current = RealFolder(target.FullName);
            }
        }

        return Path.TrimEndingDirectorySeparator(current);
    }

    /// <summary>Gets the real path of the file behind <paramref name="handle"/>, or null where it cannot be told.</summary>
    public static string? RealPathOf(SafeFileHandle handle)
    {
        if (OperatingSystem.IsWindows())
        {
            char[] buffer = new char[32_768];
            uint length = GetFinalPathNameByHandle(handle, buffer, (uint)buffer.Length, 0);
            if (length == 0 || length >= buffer.Length)
            {
                return null;
            }

            string path = new(buffer, 0, (int)length);
            return path.StartsWith(@"\\?\UNC\", StringComparison.Ordinal) ? @"\\" + path[8..]
                : path.StartsWith(@"\\?\", StringComparison.Ordinal) ? path[4..] : path;
        }

        int fd = (int)handle.DangerousGetHandle();
        if (OperatingSystem.IsMacOS() || OperatingSystem.IsMacCatalyst())
        {
            byte[] buffer = new byte[MacMaxPath];
            if (FcntlGetPath(fd, MacGetPath, buffer) == -1)
            {
                return null;
            }

            int end = Array.IndexOf(buffer, (byte)0);
            return System.Text.Encoding.UTF8.GetString(buffer, 0, end < 0 ? buffer.Length : end);
        }

        return new FileInfo("/proc/self/fd/" + fd.ToString(System.Globalization.CultureInfo.InvariantCulture)).LinkTarget;
    }

    [LibraryImport("kernel32.dll", EntryPoint = "GetFinalPathNameByHandleW", StringMarshalling = StringMarshalling.Utf16, SetLastError = true)]
    private static partial uint GetFinalPathNameByHandle(SafeFileHandle file, [Out] char[] path, uint length, uint flags);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int FcntlGetPath(int fd, int command, [Out] byte[] path);
}
