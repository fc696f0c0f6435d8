using System.Runtime.ExceptionServices;

namespace Nalu.Gpu.Models;

/// <summary>
/// A fixed team of threads for the native path's batch-split step: the calling thread is worker 0, and
/// <see cref="Workers"/> − 1 parked threads join it for each <see cref="Run"/>. Inside a run the workers meet at
/// <see cref="Barrier"/>, a spinning barrier that costs well under a microsecond, where a <c>Parallel.For</c> per phase
/// cost tens of microseconds (waking pool threads) and left one core idle during the serial phases.
/// </summary>
/// <remarks>
/// Measured before it was built (one NALU 100→2→1, batch 128, 2 cores): one core trained about as fast as two with a
/// <c>Parallel.For</c> per step, about 115,000 context switches per second. A run holds the team for a whole launch (many
/// steps), so threads are woken once per launch. If any worker throws, the others leave at their next barrier and
/// <see cref="Run"/> rethrows the first exception: a failing unit never hangs the team.
/// </remarks>
internal sealed class NativeTeam : IDisposable
{
    private readonly SemaphoreSlim _start = new(0);
    private Action<int>? _body;
    private int _pending;
    private int _arrived;
    private int _sense;
    private int _failed;
    private Exception? _error;
    private volatile bool _disposed;

    /// <summary>A team of <paramref name="workers"/> (the caller and <paramref name="workers"/> − 1 background threads).</summary>
    public NativeTeam(int workers)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        Workers = workers;
        for (int w = 1; w < workers; w++)
        {
            int index = w;
            new Thread(() => WorkerLoop(index)) { IsBackground = true, Name = $"nalu native worker {w}" }.Start();
        }
    }

    /// <summary>Threads in the team, the caller included.</summary>
    public int Workers { get; }

    /// <summary>Whether the native path splits each step's batch over a team rather than running one model per core.</summary>
    public static bool SplitsBatch(int models, int workers, int slices) => models < workers && workers > 1 && slices > 1;

    /// <summary>Runs <paramref name="body"/>(w) on every worker w at once and returns when all have finished.</summary>
    public void Run(Action<int> body)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _body = body;
        _error = null;
        _arrived = 0;
        Volatile.Write(ref _failed, 0);
        Volatile.Write(ref _pending, Workers - 1);
        if (Workers > 1)
            _start.Release(Workers - 1);
        Execute(0);
        var spin = new SpinWait();
        while (Volatile.Read(ref _pending) > 0)
            spin.SpinOnce(sleep1Threshold: -1);
        _body = null;
        if (_error is { } error)
            ExceptionDispatchInfo.Throw(error);
    }

    /// <summary>
    /// Waits until every worker has arrived (a sense-reversing barrier); what each wrote before it is visible to all after
    /// it. Throws <see cref="OperationCanceledException"/> to a waiting worker when another worker failed.
    /// </summary>
    public void Barrier()
    {
        if (Workers == 1)
            return;
        int sense = Volatile.Read(ref _sense);
        if (Interlocked.Increment(ref _arrived) == Workers)
        {
            // The last to arrive resets the count before releasing the others, so none can arrive at the next barrier early.
            _arrived = 0;
            Volatile.Write(ref _sense, sense ^ 1);
            return;
        }

        var spin = new SpinWait();
        while (Volatile.Read(ref _sense) == sense)
        {
            if (Volatile.Read(ref _failed) != 0)
                throw new OperationCanceledException("Another worker of the native team failed.");
            spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>Contiguous share <c>[first, last)</c> of <paramref name="count"/> items for worker <paramref name="w"/>, in whole blocks of <paramref name="align"/>.</summary>
    public (int First, int Last) Share(int w, int count, int align = 1)
    {
        int blocks = (count + align - 1) / align;
        int per = (blocks + Workers - 1) / Workers;
        int first = Math.Min(count, w * per * align);
        return (first, Math.Min(count, first + per * align));
    }

    private void Execute(int w)
    {
        try
        {
            _body!(w);
        }
        catch (OperationCanceledException) when (Volatile.Read(ref _failed) != 0)
        {
            // Left because another worker failed; that worker's exception is the one reported.
        }
        catch (Exception e)
        {
            if (Interlocked.CompareExchange(ref _failed, 1, 0) == 0)
                _error = e;
        }
    }

    private void WorkerLoop(int w)
    {
        while (true)
        {
            _start.Wait();
            if (_disposed)
                return;
            Execute(w);
            Interlocked.Decrement(ref _pending);
        }
    }

    /// <summary>Lets the parked threads end; a disposed team refuses <see cref="Run"/>.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        if (Workers > 1)
            _start.Release(Workers - 1);
    }
}
