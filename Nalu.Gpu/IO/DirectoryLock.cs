using System.Diagnostics;
using System.Globalization;

namespace Nalu.Gpu.IO;

/// <summary>
/// An exclusive claim on a folder for the life of one run, so two runs never write the same results: the second is
/// refused with a message naming the owner. The lock is the operating system's own (an exclusive open of
/// <c>.lock</c>, which .NET takes with <c>flock</c> on Unix and a share mode on Windows), so a run that is killed,
/// even with kill -9, releases it, and the next run takes it over without any stale-lock heuristics.
/// </summary>
public sealed class DirectoryLock : IDisposable
{
    /// <summary>The lock file's name inside the folder.</summary>
    public const string LockFileName = ".lock";

    /// <summary>Who holds the lock, written beside it for the refusal message (informational only).</summary>
    public const string OwnerFileName = ".lock.owner";

    private readonly FileStream _stream;
    private readonly string _ownerPath;

    private DirectoryLock(FileStream stream, string ownerPath)
    {
        _stream = stream;
        _ownerPath = ownerPath;
    }

    /// <summary>Claims <paramref name="directory"/> (created if needed).</summary>
    /// <exception cref="IOException">Another run holds it; the message names that run's process, host and start time when known.</exception>
    public static DirectoryLock Acquire(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        Directory.CreateDirectory(directory);
        string lockPath = Path.Combine(directory, LockFileName);
        string ownerPath = Path.Combine(directory, OwnerFileName);
        FileStream stream;
        try
        {
            stream = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e) when (File.Exists(lockPath))
        {
            string owner = "another run";
            try
            {
                if (File.Exists(ownerPath))
                    owner = File.ReadAllText(ownerPath).Trim();
            }
            catch (IOException)
            {
            }

            throw new IOException($"'{directory}' is in use by {owner}; wait for it to finish or give another folder.", e);
        }

        using var process = Process.GetCurrentProcess();
        File.WriteAllText(ownerPath, string.Create(CultureInfo.InvariantCulture,
            $"process {Environment.ProcessId} ({process.ProcessName}) on {Environment.MachineName}, started {process.StartTime.ToUniversalTime():yyyy-MM-dd HH:mm:ss} UTC"));
        return new DirectoryLock(stream, ownerPath);
    }

    /// <summary>Releases the claim.</summary>
    public void Dispose()
    {
        try
        {
            File.Delete(_ownerPath);
        }
        catch (IOException)
        {
        }

        _stream.Dispose();
    }
}
