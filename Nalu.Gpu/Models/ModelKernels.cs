using System.Runtime.Intrinsics;
using ILGPU;
using ILGPU.Runtime;
using Nalu.Gpu.Devices;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Kernels.Launch;
using Nalu.Gpu.Kernels.Units;

namespace Nalu.Gpu.Models;

/// <summary>The kernels of one model type, with the unit type erased so host code needs no generics.</summary>
internal interface IModelKernels
{
    void PrepareCache(BatchShape shape, UnitBuffers buffers);
    void Forward(BatchShape shape, UnitBuffers buffers);
    void Backward(BatchShape shape, UnitBuffers buffers);
    void ReduceGradients(BatchShape shape, UnitBuffers buffers);
    void FinishGradients(BatchShape shape, UnitBuffers buffers);
    void Constrain(BatchShape shape, UnitBuffers buffers);
    // The optimizer over the parameters that train at this step (IUnit.Trains).
    void NormScales(int models, int step, OptimizerSettings settings, OptimizerBuffers buffers);
    void Update(int models, int step, OptimizerSettings settings, OptimizerBuffers buffers);
    void FusedSteps<TSource>(TSource source, FusedStepArgs args) where TSource : struct, IDataSource;
    // The same, over model-interleaved buffers (FusedTrainingKernel.InterleavedSteps).
    void InterleavedSteps<TSource>(TSource source, FusedStepArgs args) where TSource : struct, IDataSource;
    GroupPlan PlanGroup(int models, int batch, long? sharedBytes = null);
    // Floats of shared memory the group kernel needs per model whatever else (GroupTrainingKernel.SharedFixedCount).
    long GroupSharedFixedFloats(int batch);
    void GroupSteps<TSource>(TSource source, FusedStepArgs args, GroupPlan plan, ArrayView<float> work) where TSource : struct, IDataSource;
    void Evaluate<TSource>(TSource source, EvaluationArgs args) where TSource : struct, IDataSource;
    // The native path's sources read host memory (ArithmeticSource, StoredSource<HostMemory>).
    void NativeSteps<TSource>(TSource source, FusedStepArgs args, NativeBuffers buffers) where TSource : struct, IDataSource;
    void NativeEvaluate<TSource>(TSource source, EvaluationArgs args, NativeBuffers buffers, double[] sums, int[] nonFinite)
        where TSource : struct, IDataSource;
    // Inference on the host for the native device: every model on its own rows of x (P × B × I) into y (P × B × O).
    void NativeForward(float[] parameters, float[] x, int models, int batch, float[] y, int workers);
    int ScratchPerModel { get; }
    int EvaluationScratch { get; }
    int ElementCount { get; }
    int CacheCount { get; }
    int SavedCount { get; }
}

/// <summary>Loads each kernel for <typeparamref name="TUnit"/> once per device and launches it with a grid-stride shape.</summary>
internal sealed class ModelKernels<TUnit> : IModelKernels where TUnit : struct, IUnit
{
    private readonly TUnit _unit;
    private readonly NaluDevice _device;

    public ModelKernels(NaluDevice device, TUnit unit)
    {
        _device = device;
        _unit = unit;
    }

    // Kernels compile on first use (the device keeps them), so a predict-only run compiles only the forward.
    private Action<KernelConfig, TUnit, BatchShape, UnitBuffers> PrepareKernel =>
        Load(nameof(UnitKernels.PrepareCache), UnitKernels.PrepareCache);

    private Action<KernelConfig, TUnit, BatchShape, UnitBuffers> ForwardKernel =>
        Load(nameof(UnitKernels.Forward), UnitKernels.Forward);

    private Action<KernelConfig, TUnit, BatchShape, UnitBuffers> BackwardKernel =>
        Load(nameof(UnitKernels.Backward), UnitKernels.Backward);

    private Action<KernelConfig, TUnit, BatchShape, UnitBuffers> FinishKernel =>
        Load(nameof(UnitKernels.FinishGradients), UnitKernels.FinishGradients);

    private Action<KernelConfig, TUnit, BatchShape, UnitBuffers> ConstrainKernel =>
        Load(nameof(UnitKernels.Constrain), UnitKernels.Constrain);

    private Action<KernelConfig, int, BatchShape, UnitBuffers> ReduceKernel =>
        _device.Kernel(nameof(UnitKernels.ReduceGradients),
            a => a.LoadStreamKernel<int, BatchShape, UnitBuffers>(UnitKernels.ReduceGradients));

    private Action<KernelConfig, TUnit, TSource, FusedStepArgs> FusedKernel<TSource>() where TSource : struct, IDataSource =>
        _device.Kernel((typeof(TUnit), typeof(TSource), nameof(FusedTrainingKernel)),
            a => a.LoadStreamKernel<TUnit, TSource, FusedStepArgs>(FusedTrainingKernel.Steps));

    private Action<KernelConfig, TUnit, TSource, FusedStepArgs> InterleavedKernel<TSource>() where TSource : struct, IDataSource =>
        _device.Kernel((typeof(TUnit), typeof(TSource), nameof(FusedTrainingKernel.InterleavedSteps)),
            a => a.LoadStreamKernel<TUnit, TSource, FusedStepArgs>(FusedTrainingKernel.InterleavedSteps));
    private Action<KernelConfig, TUnit, TSource, FusedStepArgs, GroupLayout> GroupKernel<TSource>() where TSource : struct, IDataSource =>
        _device.Kernel((typeof(TUnit), typeof(TSource), nameof(GroupTrainingKernel)),
            a => a.LoadStreamKernel<TUnit, TSource, FusedStepArgs, GroupLayout>(GroupTrainingKernel.Steps));

    private Action<KernelConfig, TUnit, TSource, EvaluationArgs> EvaluateKernel<TSource>() where TSource : struct, IDataSource =>
        _device.Kernel((typeof(TUnit), typeof(TSource), nameof(EvaluationKernel)),
            a => a.LoadStreamKernel<TUnit, TSource, EvaluationArgs>(EvaluationKernel.SquaredErrors));

    private Action<KernelConfig, TUnit, BatchShape, UnitBuffers> Load(string name, Action<TUnit, BatchShape, UnitBuffers> kernel) =>
        _device.Kernel((typeof(TUnit), name), a => a.LoadStreamKernel(kernel));

    public int ScratchPerModel => FusedTrainingKernel.ScratchCount(_unit);
    public int EvaluationScratch => EvaluationKernel.ScratchCount(_unit);
    public int ElementCount => _unit.ElementCount;
    public int CacheCount => _unit.CacheCount;
    public int SavedCount => _unit.SavedCount;

    public void PrepareCache(BatchShape shape, UnitBuffers buffers)
    {
        long items = (long)shape.Models * _unit.ElementCount;
        if (items > 0)
            PrepareKernel(_device.LaunchFor(items), _unit, shape, buffers);
    }

    public void Forward(BatchShape shape, UnitBuffers buffers) =>
        ForwardKernel(_device.LaunchFor((long)shape.Models * shape.Batch), _unit, shape, buffers);

    public void Backward(BatchShape shape, UnitBuffers buffers) =>
        BackwardKernel(_device.LaunchFor((long)shape.Models * shape.Chunks), _unit, shape, buffers);

    public void ReduceGradients(BatchShape shape, UnitBuffers buffers) =>
        ReduceKernel(_device.LaunchFor((long)shape.Models * _unit.ParameterCount), _unit.ParameterCount, shape, buffers);

    public void FinishGradients(BatchShape shape, UnitBuffers buffers)
    {
        long items = (long)shape.Models * _unit.ElementCount;
        if (items > 0)
            FinishKernel(_device.LaunchFor(items), _unit, shape, buffers);
    }

    public void Constrain(BatchShape shape, UnitBuffers buffers)
    {
        long items = (long)shape.Models * _unit.ElementCount;
        if (items > 0)
            ConstrainKernel(_device.LaunchFor(items), _unit, shape, buffers);
    }

    public void NormScales(int models, int step, OptimizerSettings settings, OptimizerBuffers buffers) =>
        _device.Kernel((typeof(TUnit), nameof(OptimizerKernels.UnitNormScales)),
                a => a.LoadStreamKernel<TUnit, int, int, OptimizerSettings, OptimizerBuffers>(OptimizerKernels.UnitNormScales))
            (_device.LaunchFor(models), _unit, models, step, settings, buffers);

    public void Update(int models, int step, OptimizerSettings settings, OptimizerBuffers buffers)
    {
        long items = (long)models * _unit.ParameterCount;
        if (items > 0)
        {
            _device.Kernel((typeof(TUnit), nameof(OptimizerKernels.UnitUpdate)),
                    a => a.LoadStreamKernel<TUnit, int, int, OptimizerSettings, OptimizerBuffers>(OptimizerKernels.UnitUpdate))
                (_device.LaunchFor(items), _unit, models, step, settings, buffers);
        }
    }

    public void FusedSteps<TSource>(TSource source, FusedStepArgs args) where TSource : struct, IDataSource =>
        FusedKernel<TSource>()(_device.LaunchFor(args.Models), _unit, source, args);

    public void InterleavedSteps<TSource>(TSource source, FusedStepArgs args) where TSource : struct, IDataSource =>
        InterleavedKernel<TSource>()(_device.LaunchFor(args.Models, gpuGroupSize: 32), _unit, source, args);
    public long GroupSharedFixedFloats(int batch) => GroupTrainingKernel.SharedFixedCount(_unit, batch);

    /// <summary>
    /// The group kernel's launch for <paramref name="models"/> models: enough threads per group for the batch's slices (a
    /// multiple of the warp, at most the device's group size), as many groups as models up to what the device keeps
    /// resident, and the work area in shared memory when it fits there with the fixed part.
    /// </summary>
    /// <exception cref="NotSupportedException">The unit's parameters, cache and gradient do not fit the device's shared memory per group.</exception>
    /// <param name="models">P.</param>
    /// <param name="batch">Samples per step.</param>
    /// <param name="sharedBytes">Shared memory to plan with (null: the device's per-group maximum); tests lower it to force the global work area.</param>
    public GroupPlan PlanGroup(int models, int batch, long? sharedBytes = null)
    {
        var accelerator = _device.Accelerator;
        int warp = Math.Max(1, accelerator.WarpSize), maxThreads = accelerator.MaxNumThreadsPerGroup;
        int slices = FusedTrainingKernel.Slices(batch);
        int threads = Math.Min(maxThreads, (slices + warp - 1) / warp * warp);
        long limit = Math.Min(sharedBytes ?? long.MaxValue, accelerator.MaxSharedMemoryPerGroup);
        long fixedFloats = GroupTrainingKernel.SharedFixedCount(_unit, batch);
        long workFloats = GroupTrainingKernel.WorkCount(_unit, batch, threads);
        if (4 * fixedFloats > limit)
        {
            throw new NotSupportedException(
                $"The group strategy keeps a model's {_unit.ParameterCount} parameters, {_unit.CacheCount} cache values, its gradient and " +
                $"{slices} slice losses in shared memory: {4 * fixedFloats:N0} bytes, more than the {limit:N0} bytes per group " +
                $"of {_device.ShortName}. Use the fused strategy for this model.");
        }

        bool workInShared = 4 * (fixedFloats + workFloats) <= limit;
        int resident = accelerator.AcceleratorType == AcceleratorType.CPU
            ? accelerator.NumMultiprocessors
            : accelerator.NumMultiprocessors * Math.Max(1, accelerator.MaxNumThreadsPerMultiprocessor / threads);
        int groups = Math.Max(1, Math.Min(models, resident));
        if (!workInShared && (long)groups * workFloats > int.MaxValue)
            throw new NotSupportedException($"The group strategy's work areas ({groups} × {workFloats:N0} floats) exceed 2^31 floats.");
        int sharedFloats = (int)(workInShared ? fixedFloats + workFloats : fixedFloats);
        return new GroupPlan(
            new KernelConfig(groups, threads, SharedMemoryConfig.RequestDynamic<float>(sharedFloats)),
            workInShared, workInShared ? 0 : groups * workFloats);
    }

    public void GroupSteps<TSource>(TSource source, FusedStepArgs args, GroupPlan plan, ArrayView<float> work)
        where TSource : struct, IDataSource =>
        GroupKernel<TSource>()(plan.Config, _unit, source, args, new GroupLayout { Work = work, WorkInShared = plan.WorkInShared ? 1 : 0 });

    /// <summary>
    /// The forward of every (model, sample) as plain C# over pinned host arrays, on <paramref name="workers"/> threads:
    /// what <see cref="UnitKernels.Forward{TUnit}"/> computes, without ILGPU's CPU accelerator (which simulates a GPU's
    /// threads and is many times slower for long sequences). Inference context, as the kernel's.
    /// </summary>
    public unsafe void NativeForward(float[] parameters, float[] x, int models, int batch, float[] y, int workers)
    {
        var unit = _unit;
        int n = unit.ParameterCount, c = unit.CacheCount, inputs = unit.Inputs, outputs = unit.Outputs, saved = Math.Max(1, unit.SavedCount);
        var cache = new float[Math.Max(1, models * c)];
        fixed (float* pp = parameters, pc = cache, px = x, py = y)
        {
            for (int p = 0; p < models; p++)
            {
                for (int e = 0; e < unit.ElementCount; e++)
                    unit.PrepareCache(e, new HostMemory(pp), p * n, new HostMemory(pc), p * c);
            }

            nint pParameters = (nint)pp, pCache = (nint)pc, pX = (nint)px, pY = (nint)py;
            Parallel.For(0, models * batch, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, workers) },
                () => (nint)System.Runtime.InteropServices.NativeMemory.Alloc((nuint)saved * sizeof(float)),
                (k, _, scratch) =>
                {
                    int p = k / batch;
                    unit.Forward(SampleContext.Inference, new HostMemory((float*)pParameters), p * n, new HostMemory((float*)pCache), p * c,
                        new HostMemory((float*)pX), k * inputs, new HostMemory((float*)pY), k * outputs, new HostMemory((float*)scratch), 0);
                    return scratch;
                },
                scratch => System.Runtime.InteropServices.NativeMemory.Free((void*)scratch));
        }
    }

    public unsafe void NativeSteps<TSource>(TSource source, FusedStepArgs a, NativeBuffers b) where TSource : struct, IDataSource
    {
        var parameters = new HostMemory((float*)b.Parameters);
        var gradients = new HostMemory((float*)b.Gradients);
        var cache = new HostMemory((float*)b.Cache);
        var state = new HostMemory((float*)b.State);
        int workers = b.Workers;
        int slices = FusedTrainingKernel.Slices(a.Batch);
        if (!NativeTeam.SplitsBatch(a.Models, workers, slices))
        {
            // Enough models to fill the cores: one model per task, exactly the fused kernel's body.
            var unit = _unit;
            int pn = _unit.ParameterCount, pc = _unit.CacheCount, ps = ScratchPerModel;
            Parallel.For(0, a.Models, new ParallelOptions { MaxDegreeOfParallelism = workers }, p =>
                b.Losses[p] = FusedTrainingKernel.TrainModel(unit, source, a,
                    new HostMemory((float*)b.Parameters + p * pn), new HostMemory((float*)b.Gradients + p * pn),
                    new HostMemory((float*)b.Cache + p * pc), new HostMemory((float*)b.State + 2 * p * pn),
                    new HostMemory((float*)b.Scratch + p * ps), b.Seeds[p], b.Ops[p], b.LearningRates[p]));
            return;
        }

        var team = b.Team ?? throw new InvalidOperationException("The native batch split needs a NativeTeam in NativeBuffers.");
        var losses = new float[slices];
        var shared = new float[2]; // the step's mean loss, then the clip-norm factor
        var unitCopy = _unit;
        team.Run(w => SplitSteps(unitCopy, source, a, b, team, w, losses, shared));
    }

    /// <summary>
    /// Worker <paramref name="w"/>'s part of the batch-split step, the group kernel's phases (<see cref="GroupTrainingKernel"/>)
    /// with the team's threads as the group: the cache refresh over elements; the slices of the batch (slice k on worker
    /// k mod W, each summed from zero in sample order into its own partial); the partials folded in slice order over
    /// parameters; the gradient finished over elements; the clip-norm sum on worker 0 in parameter order; the update over
    /// parameters; the constraints over elements. Every element and parameter is computed by exactly the code and in
    /// exactly the order of the fused kernel, so the bits do not depend on the number of workers.
    /// </summary>
    private static unsafe void SplitSteps<TSource>(
        TUnit unit, TSource source, FusedStepArgs a, NativeBuffers b, NativeTeam team, int w, float[] losses, float[] shared)
        where TSource : struct, IDataSource
    {
        var parameters = new HostMemory((float*)b.Parameters);
        var gradients = new HostMemory((float*)b.Gradients);
        var cache = new HostMemory((float*)b.Cache);
        var state = new HostMemory((float*)b.State);
        var partials = new HostMemory((float*)b.Partials);
        var scratch = new HostMemory((float*)b.WorkerScratch);
        int n = unit.ParameterCount, elements = unit.ElementCount, workers = team.Workers;
        int slices = FusedTrainingKernel.Slices(a.Batch);
        int scratchOff = w * FusedTrainingKernel.SampleScratchCount(unit);
        // Shares in whole 64-byte lines of floats, so no two workers write the same cache line.
        var (firstElement, lastElement) = team.Share(w, elements, 16);
        var (firstParameter, lastParameter) = team.Share(w, n, 16);
        for (int p = 0; p < a.Models; p++)
        {
            int pOff = p * n, cOff = p * unit.CacheCount;
            int seed = b.Seeds[p], op = b.Ops[p];
            float learningRate = b.LearningRates[p];
            for (int s = 0; s < a.Steps; s++)
            {
                int step = a.FirstStep + s;
                for (int e = firstElement; e < lastElement; e++)
                    unit.PrepareCache(e, parameters, pOff, cache, cOff);
                team.Barrier();

                for (int slice = w; slice < slices; slice += workers)
                {
                    new Span<float>((float*)b.Partials + (long)slice * n, n).Clear();
                    losses[slice] = FusedTrainingKernel.AccumulateSlice(unit, source, a, step, seed, op, slice,
                        parameters, pOff, cache, cOff, partials, slice * n, scratch, scratchOff);
                }

                team.Barrier();
                FoldSlices((float*)b.Gradients + pOff, (float*)b.Partials, slices, n, firstParameter, lastParameter);
                if (w == 0)
                {
                    float loss = 0f;
                    for (int slice = 0; slice < slices; slice++)
                        loss += losses[slice];
                    shared[0] = loss / (a.Batch * unit.Outputs);
                }

                team.Barrier();
                float stepLoss = shared[0];
                for (int e = firstElement; e < lastElement; e++)
                    FusedTrainingKernel.FinishElement(unit, e, step, stepLoss, parameters, pOff, gradients, pOff);
                team.Barrier();

                float normScale = 1f;
                if (a.Optimizer.ClipNorm > 0f)
                {
                    // The clip norm's sum stays on one worker, in parameter order: the fused kernel's bits.
                    if (w == 0)
                        shared[1] = FusedTrainingKernel.ClipNormScale(unit, step, a.Optimizer, gradients, pOff, n);
                    team.Barrier();
                    normScale = shared[1];
                }

                var factors = OptimizerMath.Factors(a.Optimizer, step);
                for (int j = firstParameter; j < lastParameter; j++)
                {
                    if (unit.Trains(j, step))
                    {
                        FusedTrainingKernel.UpdateParameter(a.Optimizer, learningRate, factors, normScale,
                            parameters, pOff + j, gradients, pOff + j, state, 2 * (pOff + j));
                    }
                }

                team.Barrier();
                for (int e = firstElement; e < lastElement; e++)
                    unit.Constrain(e, parameters, pOff);
                team.Barrier();
            }

            if (w == 0)
                b.Losses[p] = shared[0];
        }
    }

    /// <summary>
    /// <c>gradient[j] = partials[0·n + j] + partials[1·n + j] + …</c> over the slices in order, for j in
    /// <c>[first, last)</c>: each parameter's sum is the fused kernel's left fold over slices (slice 0 added to a zeroed
    /// gradient gives slice 0's bits: a partial that starts at +0 is never −0), so the bits are the same. SIMD runs across
    /// parameters (a lane per j), never across slices.
    /// </summary>
    private static unsafe void FoldSlices(float* gradient, float* partials, int slices, int n, int first, int last)
    {
        int j = first;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; j <= last - 8; j += 8)
            {
                var sum = Vector256.Load(partials + j);
                for (int k = 1; k < slices; k++)
                    sum += Vector256.Load(partials + (long)k * n + j);
                Vector256.Store(sum, gradient + j);
            }
        }

        for (; j < last; j++)
        {
            float sum = partials[j];
            for (int k = 1; k < slices; k++)
                sum += partials[(long)k * n + j];
            gradient[j] = sum;
        }
    }

    public unsafe void NativeEvaluate<TSource>(TSource source, EvaluationArgs a, NativeBuffers b, double[] sums, int[] nonFinite)
        where TSource : struct, IDataSource
    {
        var parameters = new HostMemory((float*)b.Parameters);
        var cache = new HostMemory((float*)b.Cache);
        var scratch = new HostMemory((float*)b.WorkerScratch);
        int scratchCount = EvaluationKernel.ScratchCount(_unit);
        var unit = _unit;
        int total = a.Models * a.Chunks, workers = Math.Min(b.Workers, total);
        // Worker w takes work items w, w + workers, … and owns scratch slot w: a fixed, race-free split.
        Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, w =>
        {
            for (int k = w; k < total; k += workers)
            {
                int p = k / a.Chunks;
                var e = EvaluationKernel.EvaluateChunk(unit, source, a, p, k - p * a.Chunks, b.Seeds[p], b.Ops[p],
                    parameters, cache, scratch, w * scratchCount);
                sums[k] = e.Sum;
                nonFinite[k] = e.NonFinite;
            }
        });
    }

    public void Evaluate<TSource>(TSource source, EvaluationArgs args) where TSource : struct, IDataSource =>
        EvaluateKernel<TSource>()(_device.LaunchFor((long)args.Models * args.Chunks), _unit, source, args);
}

/// <summary>
/// A launch of <see cref="GroupTrainingKernel"/>: grid, group and dynamic shared memory, whether the work area is in shared
/// memory, and otherwise how many floats of global work area it needs (<see cref="GroupLayout.Work"/>).
/// </summary>
internal sealed record GroupPlan(KernelConfig Config, bool WorkInShared, long GlobalWorkFloats);

/// <summary>Host pointers (into CPU-accelerator buffers and pinned arrays) for the native CPU path.</summary>
internal sealed class NativeBuffers
{
    public required IntPtr Parameters, Gradients, Cache, State, Scratch, Partials, WorkerScratch;
    public required int Workers;
    /// <summary>The team that runs a batch-split step (<see cref="NativeTeam.SplitsBatch"/>); null where none is needed.</summary>
    public NativeTeam? Team;
    public required int[] Seeds, Ops;
    public required float[] LearningRates, Losses;
}

/// <summary>Creates <see cref="ModelKernels{TUnit}"/> for a unit whose type is known only at run time.</summary>
internal static class ModelKernels
{
    public static IModelKernels Create(NaluDevice device, IUnit unit) =>
        (IModelKernels)Activator.CreateInstance(typeof(ModelKernels<>).MakeGenericType(unit.GetType()), device, unit)!;
}
