using Nalu.Gpu.Models;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>The native path's worker team: barriers order the phases, a failing worker never hangs the others, disposal.</summary>
public sealed class NativeTeamTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(5)]   // more workers than this machine's cores: the barrier must still make progress
    public void EveryWorkerSeesWhatAllWroteBeforeTheBarrier(int workers)
    {
        using var team = new NativeTeam(workers);
        var written = new int[workers];
        var seen = new int[workers];
        for (int round = 1; round <= 50; round++)
        {
            int r = round;
            team.Run(w =>
            {
                written[w] = r * (w + 1);
                team.Barrier();
                int sum = 0;
                foreach (int v in written)
                    sum += v;
                seen[w] = sum;
                team.Barrier();
            });
            int expected = round * workers * (workers + 1) / 2;
            Assert.All(seen, s => Assert.Equal(expected, s));
        }
    }

    [Fact]
    public void AFailingWorkerEndsTheRunWithItsExceptionAndTheTeamStaysUsable()
    {
        using var team = new NativeTeam(3);
        var error = Assert.Throws<InvalidOperationException>(() => team.Run(w =>
        {
            if (w == 2)
                throw new InvalidOperationException("worker 2 failed");
            team.Barrier();   // workers 0 and 1 wait here for a worker that never arrives
            team.Barrier();
        }));
        Assert.Equal("worker 2 failed", error.Message);

        int ran = 0;
        team.Run(w =>
        {
            Interlocked.Increment(ref ran);
            team.Barrier();
        });
        Assert.Equal(3, ran);
    }

    [Fact]
    public void RunAfterDisposeThrowsObjectDisposedException()
    {
        var team = new NativeTeam(2);
        team.Dispose();
        team.Dispose();
        Assert.Throws<ObjectDisposedException>(() => team.Run(_ => { }));
    }

    [Theory]
    [InlineData(2, 202, 16)]
    [InlineData(3, 606, 16)]
    [InlineData(5, 7, 1)]
    [InlineData(4, 3, 16)]
    public void SharesCoverEveryItemOnceInWholeBlocks(int workers, int count, int align)
    {
        using var team = new NativeTeam(workers);
        int next = 0;
        for (int w = 0; w < workers; w++)
        {
            var (first, last) = team.Share(w, count, align);
            Assert.True(first == last || first == next, $"worker {w} starts at {first}, expected {next}");
            Assert.True(first == last || first % align == 0);
            next = Math.Max(next, last);
        }

        Assert.Equal(count, next);
    }
}
