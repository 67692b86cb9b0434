using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace RemoteSupport.DataFiles;

/// <summary>
/// Opens files below a data root so that nothing outside it can be reached (Linux): the root's
/// directory is opened, and every path is resolved by the kernel relative to it with <c>openat2</c> and
/// <c>RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS</c>: a symbolic link that stays inside the root is
/// followed, one that leads out (absolute, or through <c>..</c>, however the links are laid out) is
/// refused before a byte is read or written. There is no separate check, so nothing can be swapped
/// between a check and the use. Files are created, renamed and removed relative to the opened folder.
/// On a kernel without <c>openat2</c> (before 5.6) each folder is opened with <c>O_NOFOLLOW</c>
/// instead, and every link is refused.
/// </summary>
internal static partial class BeneathRoot
{
    private const int ENOENT = 2, EXDEV = 18, EEXIST = 17, ENOTDIR = 20, ENOSYS = 38, ELOOP = 40;
    private const long OpenAt2 = 437; // the same number on every Linux architecture
    private const ulong ResolveNoMagicLinks = 0x02, ResolveBeneath = 0x08;
    private static volatile bool _noOpenAt2;
    private const int ReadOnly = 0, WriteOnly = 1, Create = 0x40, Exclusive = 0x80, CloseOnExec = 0x80000;

    private static readonly bool Arm = RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm;
    private static readonly int DirectoryFlag = Arm ? 0x4000 : 0x10000;
    private static readonly int NoFollow = Arm ? 0x8000 : 0x20000;

    /// <summary>Gets whether this platform opens paths this way (Linux); elsewhere the store resolves links and checks the result.</summary>
    public static bool IsSupported => OperatingSystem.IsLinux();

    /// <summary>Opens the folder that holds <paramref name="canonical"/>'s last segment, creating missing folders when asked.</summary>
    /// <returns>The folder's descriptor, and the last segment's name.</returns>
    public static (SafeFileHandle Folder, string Name) OpenParent(string root, string canonical, bool create)
    {
        string[] segments = canonical.Split('/');
        return (OpenFolders(root, segments.AsSpan(0, segments.Length - 1), create, canonical), segments[^1]);
    }

    /// <summary>Opens <paramref name="canonical"/> itself as a folder.</summary>
    public static SafeFileHandle OpenFolder(string root, string canonical) => OpenFolders(root, canonical.Split('/'), create: false, canonical);

    /// <summary>Opens <paramref name="canonical"/> below <paramref name="root"/> for reading; null when there is no such file.</summary>
    public static FileStream? OpenRead(string root, string canonical)
    {
        using SafeFileHandle rootFolder = OpenRoot(root);
        int fd = Resolve(rootFolder, canonical, ReadOnly | CloseOnExec);
        if (fd < 0)
        {
            int error = Marshal.GetLastPInvokeError();
            return error == ENOENT ? null : throw Failure(error, canonical);
        }

        return new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Read);
    }

    /// <summary>Creates <paramref name="name"/> in <paramref name="folder"/>, which must not exist yet.</summary>
    public static FileStream CreateNew(SafeFileHandle folder, string name, string canonical)
    {
        int fd = OpenAt(folder, name, WriteOnly | Create | Exclusive | NoFollow | CloseOnExec, Convert.ToInt32("644", 8));
        return fd < 0 ? throw Failure(Marshal.GetLastPInvokeError(), canonical) : new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Write);
    }

    /// <summary>Renames <paramref name="from"/> to <paramref name="to"/> within <paramref name="folder"/> (replacing it) and flushes the folder.</summary>
    public static void Replace(SafeFileHandle folder, string from, string to, string canonical)
    {
        if (RenameAt(folder, from, folder, to) != 0)
        {
            throw Failure(Marshal.GetLastPInvokeError(), canonical);
        }

        Flush(folder);
    }

    /// <summary>Removes <paramref name="name"/> from <paramref name="folder"/> (a link is removed, never followed) and flushes the folder.</summary>
    public static void Delete(SafeFileHandle folder, string name, string canonical, bool missingIsFine)
    {
        if (UnlinkAt(folder, name, 0) != 0)
        {
            int error = Marshal.GetLastPInvokeError();
            if (!(missingIsFine && error == ENOENT))
            {
                throw Failure(error, canonical);
            }
        }

        Flush(folder);
    }

    /// <summary>Gets a path naming the open folder itself (<c>/proc/self/fd/N</c>), for enumerating what is in it.</summary>
    public static string PathOf(SafeFileHandle folder) => "/proc/self/fd/" + folder.DangerousGetHandle().ToInt32().ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static SafeFileHandle OpenRoot(string root)
    {
        int fd = Open(root, ReadOnly | DirectoryFlag | CloseOnExec);
        return fd >= 0 ? new SafeFileHandle(fd, ownsHandle: true)
            : throw new IOException($"Could not open the data root folder: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}.");
    }

    /// <summary>
    /// Opens <paramref name="relative"/> below <paramref name="root"/> with <c>openat2(RESOLVE_BENEATH)</c>; without
    /// <c>openat2</c>, component by component with <c>O_NOFOLLOW</c>. Returns the descriptor, or -1 with the error set.
    /// </summary>
    private static int Resolve(SafeFileHandle root, string relative, int flags)
    {
        if (!_noOpenAt2)
        {
            var how = new OpenHow { Flags = (ulong)flags, Mode = 0, Resolve = ResolveBeneath | ResolveNoMagicLinks };
            long fd = Syscall(OpenAt2, root, relative, ref how, (nuint)Marshal.SizeOf<OpenHow>());
            if (fd >= 0 || Marshal.GetLastPInvokeError() != ENOSYS)
            {
                return (int)fd;
            }

            _noOpenAt2 = true;
        }

        string[] segments = relative.Split('/');
        using var current = new SafeFileHandle(OpenAt(root, ".", ReadOnly | DirectoryFlag | CloseOnExec, 0), ownsHandle: true);
        SafeFileHandle at = current;
        var opened = new List<SafeFileHandle>();
        try
        {
            for (int i = 0; i < segments.Length; i++)
            {
                bool last = i == segments.Length - 1;
                int next = OpenAt(at, segments[i], (last ? flags : ReadOnly | DirectoryFlag | CloseOnExec) | NoFollow, 0);
                if (next < 0 || last)
                {
                    return next;
                }

                at = new SafeFileHandle(next, ownsHandle: true);
                opened.Add(at);
            }

            return -1;
        }
        finally
        {
            int error = Marshal.GetLastPInvokeError();
            opened.ForEach(h => h.Dispose());
            Marshal.SetLastPInvokeError(error);
        }
    }

    private static SafeFileHandle OpenFolders(string root, ReadOnlySpan<string> segments, bool create, string canonical)
    {
        SafeFileHandle rootFolder = OpenRoot(root);
        if (segments.IsEmpty)
        {
            return rootFolder;
        }

        // One resolution for a folder that exists; folder by folder only where some must be created.
        int whole = Resolve(rootFolder, string.Join('/', segments.ToArray()), ReadOnly | DirectoryFlag | CloseOnExec);
        if (whole >= 0 || !create || Marshal.GetLastPInvokeError() != ENOENT)
        {
            int error = Marshal.GetLastPInvokeError();
            rootFolder.Dispose();
            return whole >= 0 ? new SafeFileHandle(whole, ownsHandle: true) : throw Failure(error, canonical);
        }

        SafeFileHandle current = rootFolder;
        for (int i = 0; i < segments.Length; i++)
        {
            string prefix = string.Join('/', segments[..(i + 1)].ToArray());
            int next = Resolve(rootFolder, prefix, ReadOnly | DirectoryFlag | CloseOnExec);
            if (next < 0 && create && Marshal.GetLastPInvokeError() == ENOENT)
            {
                if (MkdirAt(current, segments[i], Convert.ToInt32("755", 8)) != 0 && Marshal.GetLastPInvokeError() != EEXIST)
                {
                    int error = Marshal.GetLastPInvokeError();
                    DisposeBoth(current, rootFolder);
                    throw Failure(error, canonical);
                }

                Flush(current);
                next = Resolve(rootFolder, prefix, ReadOnly | DirectoryFlag | CloseOnExec);
            }

            if (next < 0)
            {
                int error = Marshal.GetLastPInvokeError();
                DisposeBoth(current, rootFolder);
                throw Failure(error, canonical);
            }

            if (current != rootFolder)
            {
                current.Dispose();
            }

            current = new SafeFileHandle(next, ownsHandle: true);
        }

        rootFolder.Dispose();
        return current;
    }

    private static void DisposeBoth(SafeFileHandle current, SafeFileHandle root)
    {
        current.Dispose();
        root.Dispose();
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct OpenHow
    {
        public ulong Flags;
        public ulong Mode;
        public ulong Resolve;
    }

    [LibraryImport("libc", EntryPoint = "syscall", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial long Syscall(long number, SafeFileHandle folder, string path, ref OpenHow how, nuint size);

    private static void Flush(SafeFileHandle folder) => _ = Fsync(folder); // best effort, as DurableDirectory: EINVAL where a file system cannot

    private static Exception Failure(int error, string canonical) => error switch
    {
        EXDEV => new UnauthorizedAccessException($"The path '{canonical}' leads outside its data root (through a symbolic link); it is refused."),
        ELOOP => new UnauthorizedAccessException($"The path '{canonical}' passes through a symbolic link that cannot be followed safely; it is refused."),
        ENOTDIR => new UnauthorizedAccessException($"The path '{canonical}' has a file where a folder should be."),
        ENOENT => new FileNotFoundException($"'{canonical}' does not exist in its data root."),
        _ => new IOException($"'{canonical}': {Marshal.GetPInvokeErrorMessage(error)} (errno {error})."),
    };

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "openat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int OpenAt(SafeFileHandle folder, string name, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "mkdirat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int MkdirAt(SafeFileHandle folder, string name, int mode);

    [LibraryImport("libc", EntryPoint = "renameat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int RenameAt(SafeFileHandle fromFolder, string from, SafeFileHandle toFolder, string to);

    [LibraryImport("libc", EntryPoint = "unlinkat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int UnlinkAt(SafeFileHandle folder, string name, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(SafeFileHandle fd);
}
