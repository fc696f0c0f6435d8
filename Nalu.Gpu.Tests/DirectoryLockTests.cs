using Nalu.Gpu.IO;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>Two sweeps on one --out: the second is refused with the owner's name instead of training everything again.</summary>
public sealed class DirectoryLockTests : IDisposable
{
    private readonly string _dir = Directory.CreateDirectory(
        Path.Combine(Path.GetTempPath(), "nalu-lock-" + Guid.NewGuid().ToString("N"))).FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ASecondClaimIsRefusedWithTheOwnerAndAReleasedOneIsTakenOver()
    {
        using (DirectoryLock.Acquire(_dir))
        {
            var e = Assert.Throws<IOException>(() => DirectoryLock.Acquire(_dir));
            Assert.Contains($"process {Environment.ProcessId}", e.Message);
            Assert.Contains(_dir, e.Message);
        }

        using (DirectoryLock.Acquire(_dir))
        {
            // Taken over after the first was released (as after a killed run: the OS drops the lock with the process).
        }
    }

    [Fact]
    public void ExperimentArithmeticOnABusyFolderExitsOneAndNamesTheOwner()
    {
        using var busy = DirectoryLock.Acquire(_dir);
        var (code, stdout, stderr) = CliTests.RunCli("experiment", "arithmetic", "--units", "nac", "--ops", "add", "--seeds", "1",
            "--steps", "10", "--eval-every", "10", "--inputs", "10", "--subset", "3", "--gap", "3", "--eval-samples", "100",
            "--threshold-samples", "1000", "--device", "cpu", "--out", _dir);
        Assert.True(code == 1, $"exit {code}\n{stdout}\n{stderr}");
        Assert.Contains("in use by process", stderr);
        Assert.False(File.Exists(Path.Combine(_dir, "results.jsonl")));
    }
}
