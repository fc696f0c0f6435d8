using System.Runtime.InteropServices;

namespace Nalu.Gpu.IO;

/// <summary>
/// How every output of the library and the command line is written, so that nothing the user owns is lost or
/// clobbered: regular files are replaced atomically (a temporary file in the same folder, flushed, then renamed
/// over the path), a symlink's target is written rather than the link replaced, a device or FIFO is written
/// through in place (never replaced by a regular file), and an output that is the same file as an input is
/// refused before any work starts.
/// </summary>
/// <remarks>
/// Errors always name the user's path, never the temporary file's. File identity is decided by device and inode
/// number on Linux (so hard links and <c>/proc/self/fd</c> paths are recognised) and by the fully resolved path
/// elsewhere.
/// </remarks>
public static class SafeFile
{
    /// <summary>Writes <paramref name="path"/> with <paramref name="write"/>, safely (see the class remarks).</summary>
    /// <exception cref="IOException">The path is a directory, or the write or rename failed; the message names <paramref name="path"/>.</exception>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(write);
        string target = ResolveLinks(Path.GetFullPath(path));
        string? temp = null;
        try
        {
            if (Directory.Exists(target))
                throw new IOException($"Cannot write '{path}': it is a directory.");
            if (File.Exists(target) && Kind(target) is FileKind.Special)
            {
                // A device, FIFO or socket: write into it; replacing it with a regular file would destroy it.
                using var stream = new FileStream(target, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1, FileOptions.None);
                write(stream);
                stream.Flush();
                return;
            }

            string? dir = Path.GetDirectoryName(target);
            if (!string.IsNullOrEmpty(dir))
                Directory.CreateDirectory(dir);
            temp = Path.Combine(dir ?? ".", "." + Path.GetFileName(target) + ".tmp-" + Guid.NewGuid().ToString("N"));
            try
            {
                using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
                {
                    write(stream);
                    // Without this a crash right after the rename could leave a renamed-but-empty file.
                    stream.Flush(flushToDisk: true);
                }

                File.Move(temp, target, overwrite: true);
            }
            catch
            {
                TryDelete(temp);
                throw;
            }
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException && !e.Message.Contains($"'{path}'", StringComparison.Ordinal))
        {
            throw new IOException($"Cannot write '{path}': {Describe(e, temp, target, path)}", e);
        }
    }

    /// <summary>Writes text (UTF-8) safely.</summary>
    public static void WriteAllText(string path, string contents) =>
        Write(path, s =>
        {
            using var writer = new StreamWriter(s, leaveOpen: true);
            writer.Write(contents);
        });

    /// <summary>Writes bytes safely.</summary>
    public static void WriteAllBytes(string path, byte[] contents) => Write(path, s => s.Write(contents));

    /// <summary>
    /// Refuses, before any work starts, an output that is the same file as an input or as another output. Each entry
    /// is the option (or role) that names it, for the message, and the path; null or empty paths and <c>-</c>
    /// (standard output) are skipped.
    /// </summary>
    /// <exception cref="ArgumentException">Two entries name the same file; the message names both options and the path.</exception>
    public static void EnsureDistinct(IEnumerable<(string Role, string? Path)> inputs, IEnumerable<(string Role, string? Path)> outputs)
    {
        var seen = new List<(string Role, string Path, object Identity, bool IsOutput)>();
        foreach (var (role, path, isOutput) in inputs.Select(i => (i.Role, i.Path, false)).Concat(outputs.Select(o => (o.Role, o.Path, true))))
        {
            if (string.IsNullOrEmpty(path) || path == "-")
                continue;
            var identity = Identity(path);
            foreach (var other in seen)
            {
                if ((isOutput || other.IsOutput) && other.Identity.Equals(identity))
                {
                    string what = isOutput && other.IsOutput ? "two outputs" : "an output and an input";
                    throw new ArgumentException(
                        $"{other.Role} '{other.Path}' and {role} '{path}' are the same file; refusing to write {what} to one file.");
                }
            }

            seen.Add((role, path, identity, isOutput));
        }
    }

    /// <summary>
    /// A value equal for two paths that name the same file: (device, inode) on Linux when the file exists, else the
    /// path with every symlink resolved.
    /// </summary>
    internal static object Identity(string path)
    {
        string full = ResolveLinks(Path.GetFullPath(path));
        if (File.Exists(full) && Stat(full) is { } st)
            return (st.Device, st.Inode);
        return OperatingSystem.IsWindows() ? full.ToUpperInvariant() : full;
    }

    /// <summary>The path with symlinks resolved, in the last component and in every folder above it.</summary>
    internal static string ResolveLinks(string fullPath)
    {
        string? dir = Path.GetDirectoryName(fullPath);
        string name = Path.GetFileName(fullPath);
        if (string.IsNullOrEmpty(dir) || string.IsNullOrEmpty(name))
            return fullPath;
        string resolvedDir = ResolveLinks(dir);
        string candidate = Path.Combine(resolvedDir, name);
        for (int hops = 0; hops < 40; hops++)
        {
            FileSystemInfo info = new FileInfo(candidate);
            if (info.LinkTarget is not { } link)
                return candidate;
            string next = Path.GetFullPath(link, Path.GetDirectoryName(candidate)!);
            candidate = ResolveLinks(next);
        }

        throw new IOException($"Too many levels of symbolic links at '{fullPath}'.");
    }

    private enum FileKind
    {
        Regular,
        Special,
    }

    private static FileKind Kind(string path) =>
        Stat(path) is { } st && (st.Mode & 0xF000) is not 0x8000 and not 0x4000 ? FileKind.Special : FileKind.Regular;

    private readonly record struct StatResult(ulong Device, ulong Inode, uint Mode);

    // glibc's `stat` (exported since 2.33) into a buffer; st_dev, st_ino and st_mode sit at fixed offsets in the
    // Linux x86-64 and arm64 ABIs. Anywhere else (or without the symbol) identity falls back to resolved paths and
    // every existing file counts as regular.
    [DllImport("libc", EntryPoint = "stat", SetLastError = true)]
    private static extern unsafe int LibcStat([MarshalAs(UnmanagedType.LPUTF8Str)] string path, byte* buffer);

    private static unsafe StatResult? Stat(string path)
    {
        if (!OperatingSystem.IsLinux())
            return null;
        int modeOffset = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => 24,
            Architecture.Arm64 => 16,
            _ => -1,
        };
        if (modeOffset < 0)
            return null;
        byte* buffer = stackalloc byte[256];
        try
        {
            if (LibcStat(path, buffer) != 0)
                return null;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return null;
        }

        return new StatResult(*(ulong*)buffer, *(ulong*)(buffer + 8), *(uint*)(buffer + modeOffset));
    }

    private static string Describe(Exception e, string? temp, string target, string path)
    {
        if (e is UnauthorizedAccessException)
            return "permission denied.";
        if (e.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase) || e.Message.Contains("disk full", StringComparison.OrdinalIgnoreCase))
            return "the disk is full.";
        // IOException messages quote the file they failed on, which is the temporary file's during the write.
        string message = e.Message;
        if (temp is not null)
            message = message.Replace(temp, path, StringComparison.Ordinal);
        return message.Replace(target, path, StringComparison.Ordinal);
    }

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
