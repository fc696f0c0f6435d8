using ILGPU;
using Nalu.Gpu.Kernels.Units;

namespace Nalu.Gpu.Kernels.Launch;

/// <summary>Where the group kernel keeps each group's work area (slice partials and per-thread sample scratch).</summary>
public struct GroupLayout
{
    /// <summary>
    /// (groups × <see cref="GroupTrainingKernel.WorkCount{TUnit}"/>) work areas in global memory, one per group (indexed by
    /// the group, not the model: a group trains its models one after another). Unused when <see cref="WorkInShared"/> is set.
    /// </summary>
    public ArrayView<float> Work;

    /// <summary>Non-zero: the work area follows the fixed part in shared memory (it fits); zero: it is in <see cref="Work"/>.</summary>
    public int WorkInShared;
}

/// <summary>
/// The whole training step, fused, with ONE THREAD GROUP PER MODEL (several steps per launch, as
/// <see cref="FusedTrainingKernel"/>). A group copies its model's parameters into shared memory once per launch;
/// every step then refreshes the cache in shared memory (threads over elements), runs the batch with threads over its
/// slices (each thread one slice of <see cref="FusedTrainingKernel.SamplesPerSlice"/> samples at a time, reading the
/// parameters and cache as a broadcast), adds the slice partials with threads over parameters, finishes the gradient
/// (threads over elements), clips, updates (threads over parameters) and constrains, with a group barrier between phases.
/// </summary>
/// <remarks>
/// <para>
/// <b>Bit-identical to <see cref="FusedTrainingKernel"/>.</b> The per-sample math is the same <see cref="IUnit"/> code
/// (<see cref="FusedTrainingKernel.AccumulateSlice"/>), over <see cref="DeviceMemory"/>, which wraps any ILGPU view: the
/// dynamic shared-memory view as well as a global one, so no second memory type and no second copy of any unit's math
/// exists. The reduction keeps the fused kernel's order exactly: each slice is summed from zero in sample order into its
/// own partial, slice 0's partial IS the gradient (the fused kernel adds slice 0 straight into the zeroed gradient, which
/// gives the same bits), and later partials are added in slice order by the thread that owns the parameter. Cache
/// refresh, gradient finishing, the regulariser and the constraints are per element and independent across elements
/// (the batched kernels already run them in parallel), the update is per parameter, and the clip-norm sum runs on one
/// thread in parameter order. So every parameter, the optimizer state and the loss come out with the fused kernel's bits;
/// the tests assert equality on the CPU accelerator. On CUDA equal bits are expected but not guaranteed: ILGPU emits
/// <c>mul.f32</c>/<c>add.f32</c> without a rounding mode, so ptxas may contract a pair into an <c>fma</c> differently in the
/// two kernels (not measured yet; the CUDA tests use a tolerance).
/// </para>
/// <para>
/// <b>Shared memory per group</b> (floats): parameters (N), cache (C), gradient (N), the slice losses (one per slice) and
/// the clip-norm scale (1): <see cref="SharedFixedCount{TUnit}"/>. The work area (slice partials, slices·N, then
/// x, y, dy, targets and saved values per thread) follows it in shared memory when all fits
/// <c>Accelerator.MaxSharedMemoryPerGroup</c>; otherwise it lives in global memory, one area per group
/// (<see cref="GroupLayout"/>). A unit whose fixed part alone does not fit is refused by the host with the sizes.
/// </para>
/// <para>
/// The order is what limits the parallelism: a batch of 128 has 8 slices, so 8 threads of a group run samples while the
/// rest wait; all of them share the per-parameter phases. One thread per sample would use a whole warp on the samples
/// but change the summation order, and with it the bits every other path agrees on.
/// </para>
/// </remarks>
public static class GroupTrainingKernel
{
    /// <summary>Shared floats every group needs whatever its size: parameters, cache, gradient, slice losses and the clip scale.</summary>
    public static int SharedFixedCount<TUnit>(TUnit unit, int batch) where TUnit : struct, IUnit =>
        2 * unit.ParameterCount + unit.CacheCount + FusedTrainingKernel.Slices(batch) + 1;

    /// <summary>Work floats of one group of <paramref name="threads"/> threads: a partial per slice, then sample scratch per thread.</summary>
    public static long WorkCount<TUnit>(TUnit unit, int batch, int threads) where TUnit : struct, IUnit =>
        (long)FusedTrainingKernel.Slices(batch) * unit.ParameterCount + (long)threads * FusedTrainingKernel.SampleScratchCount(unit);

    /// <summary>
    /// Runs <see cref="FusedStepArgs.Steps"/> steps; one group per model (a grid-stride loop over models, so fewer groups than
    /// models also work). Needs dynamic shared memory of <see cref="SharedFixedCount{TUnit}"/> floats, plus
    /// <see cref="WorkCount{TUnit}"/> when <see cref="GroupLayout.WorkInShared"/> is set. <see cref="FusedStepArgs.Scratch"/>
    /// and <see cref="FusedStepArgs.Gradients"/>' role as an accumulator are not used; the final gradient and cache are written
    /// back, as the fused kernel leaves them.
    /// </summary>
    public static void Steps<TUnit, TSource>(TUnit unit, TSource source, FusedStepArgs a, GroupLayout layout)
        where TUnit : struct, IUnit
        where TSource : struct, IDataSource
    {
        var shared = SharedMemory.GetDynamic<float>();
        int t = Group.IdxX, threads = Group.DimX, group = Grid.IdxX, groups = Grid.DimX;
        int n = unit.ParameterCount, c = unit.CacheCount, elements = unit.ElementCount;
        int slices = FusedTrainingKernel.Slices(a.Batch);
        int paramsOff = 0, cacheOff = n, gradOff = n + c, lossOff = 2 * n + c, scaleOff = lossOff + slices;
        int fixedCount = scaleOff + 1;
        int workCount = (int)WorkCount(unit, a.Batch, threads);
        int sampleCount = FusedTrainingKernel.SampleScratchCount(unit);
        var sm = new DeviceMemory(shared);
        var work = layout.WorkInShared != 0 ? sm : new DeviceMemory(layout.Work);
        int workOff = layout.WorkInShared != 0 ? fixedCount : group * workCount;
        int sampleOff = workOff + slices * n + t * sampleCount;
        var state = new DeviceMemory(a.State);

        for (int p = group; p < a.Models; p += groups)
        {
            int pOff = p * n, cOff = p * c;
            int seed = a.Seeds[p], op = a.Ops[p];
            float learningRate = a.LearningRates[p];
            for (int j = t; j < n; j += threads)
                shared[paramsOff + j] = a.Parameters[pOff + j];
            Group.Barrier();

            float lastLoss = 0f;
            for (int s = 0; s < a.Steps; s++)
            {
                int step = a.FirstStep + s;
                for (int e = t; e < elements; e += threads)
                    unit.PrepareCache(e, sm, paramsOff, sm, cacheOff);
                Group.Barrier();

                // Threads over slices: each slice from zero, samples in order (the fused kernel's per-slice sums).
                for (int slice = t; slice < slices; slice += threads)
                {
                    int partOff = workOff + slice * n;
                    for (int j = 0; j < n; j++)
                        work[partOff + j] = 0f;
                    shared[lossOff + slice] = FusedTrainingKernel.AccumulateSlice(unit, source, a, step, seed, op, slice,
                        sm, paramsOff, sm, cacheOff, work, partOff, work, sampleOff);
                }

                Group.Barrier();

                // Threads over parameters: slice 0's partial, then the others in slice order. Thread 0 also sums the
                // slice losses in slice order: the step's mean batch loss, which a regulariser may read.
                for (int j = t; j < n; j += threads)
                {
                    float g = work[workOff + j];
                    for (int slice = 1; slice < slices; slice++)
                        g += work[workOff + slice * n + j];
                    shared[gradOff + j] = g;
                }

                if (t == 0)
                {
                    float loss = shared[lossOff];
                    for (int slice = 1; slice < slices; slice++)
                        loss += shared[lossOff + slice];
                    shared[scaleOff] = loss / (a.Batch * unit.Outputs);
                }

                Group.Barrier();
                lastLoss = shared[scaleOff];
                for (int e = t; e < elements; e += threads)
                    FusedTrainingKernel.FinishElement(unit, e, step, lastLoss, sm, paramsOff, sm, gradOff);

                Group.Barrier();
                // The clip norm's sum stays on one thread, in parameter order: the fused kernel's bits.
                if (t == 0)
                    shared[scaleOff] = FusedTrainingKernel.ClipNormScale(unit, step, a.Optimizer, sm, gradOff, n);

                Group.Barrier();
                float normScale = shared[scaleOff];
                var factors = OptimizerMath.Factors(a.Optimizer, step);
                for (int j = t; j < n; j += threads)
                {
                    if (unit.Trains(j, step))
                    {
                        FusedTrainingKernel.UpdateParameter(a.Optimizer, learningRate, factors, normScale,
                            sm, paramsOff + j, sm, gradOff + j, state, 2 * (pOff + j));
                    }
                }

                Group.Barrier();
                for (int e = t; e < elements; e += threads)
                    unit.Constrain(e, sm, paramsOff);
                Group.Barrier();
            }

            // The gradient and cache are written back as the fused kernel leaves them (no step: untouched).
            for (int j = t; j < n; j += threads)
            {
                a.Parameters[pOff + j] = shared[paramsOff + j];
                if (a.Steps > 0)
                    a.Gradients[pOff + j] = shared[gradOff + j];
            }

            for (int j = t; j < c && a.Steps > 0; j += threads)
                a.Cache[cOff + j] = shared[cacheOff + j];
            if (t == 0)
                a.Losses[p] = lastLoss;
            // The next model of this group overwrites the shared memory only after every thread has written back.
            Group.Barrier();
        }
    }
}
