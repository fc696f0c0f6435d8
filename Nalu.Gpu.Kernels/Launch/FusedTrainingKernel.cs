using System.Runtime.CompilerServices;
using ILGPU;
using Nalu.Gpu.Kernels.Units;

namespace Nalu.Gpu.Kernels.Launch;

/// <summary>Everything one fused launch needs: several whole training steps for P models.</summary>
public struct FusedStepArgs
{
    /// <summary>P.</summary>
    public int Models;
    /// <summary>Samples per step.</summary>
    public int Batch;
    /// <summary>0-based index of the first step of this launch (keys the data and Adam's bias correction).</summary>
    public int FirstStep;
    /// <summary>Steps in this launch.</summary>
    public int Steps;
    /// <summary>(P) per-model seeds: they key each model's data stream.</summary>
    public ArrayView<int> Seeds;
    /// <summary>(P) per-model <see cref="ArithmeticOp"/> (generated data only).</summary>
    public ArrayView<int> Ops;
    /// <summary>Optimizer hyper-parameters.</summary>
    public OptimizerSettings Optimizer;
    /// <summary>(P) per-model learning rates.</summary>
    public ArrayView<float> LearningRates;
    /// <summary>(P, N); (N, P) for <see cref="FusedTrainingKernel.InterleavedSteps"/>, as every buffer below.</summary>
    public ArrayView<float> Parameters;
    /// <summary>(P, N) scratch for the gradient.</summary>
    public ArrayView<float> Gradients;
    /// <summary>(P, C)</summary>
    public ArrayView<float> Cache;
    /// <summary>(P, N, 2)</summary>
    public ArrayView<float> State;
    /// <summary>(P, I + 3·O + S + N) per-model scratch: one sample's x, y, dy, targets and saved values, then one slice's gradient.</summary>
    public ArrayView<float> Scratch;
    /// <summary>(P) training loss of each model's last step in this launch (mean over the batch).</summary>
    public ArrayView<float> Losses;
}

/// <summary>
/// A whole training step, fused: data (generated or stored: any <see cref="IDataSource"/>), forward, MSE, backward, gradient clipping and the
/// optimizer update, for several steps per launch, one model per thread. The unit math is the same
/// <see cref="IUnit"/> code every other kernel runs; only the loop order differs (samples in sequence,
/// so gradients accumulate without atomics or partial buffers).
/// </summary>
public static class FusedTrainingKernel
{
    /// <summary>
    /// Samples per slice of a step's batch. A step's gradient is the sum, in slice order, of per-slice sums that
    /// each start from zero and add their samples in order. Every path (this kernel, the native path with models
    /// in parallel or with a batch split across cores) sums in exactly this order, so a seed gives the same bits
    /// whatever the core count and whatever other models train beside it.
    /// </summary>
    public const int SamplesPerSlice = 16;

    /// <summary>Number of slices of a batch of <paramref name="batch"/> samples.</summary>
    public static int Slices(int batch) => (batch + SamplesPerSlice - 1) / SamplesPerSlice;

    /// <summary>Per-model scratch floats: x (I), y (O), dy (O), targets (O), saved (S), then one slice's gradient (N).</summary>
    public static int ScratchCount<TUnit>(TUnit unit) where TUnit : struct, IUnit =>
        SampleScratchCount(unit) + unit.ParameterCount;

    /// <summary>Scratch floats one sample needs: x (I), y (O), dy (O), targets (O), saved (S).</summary>
    public static int SampleScratchCount<TUnit>(TUnit unit) where TUnit : struct, IUnit =>
        unit.Inputs + 3 * unit.Outputs + unit.SavedCount;

    /// <summary>Runs <see cref="FusedStepArgs.Steps"/> steps; one work item per model, each model's data one row.</summary>
    public static void Steps<TUnit, TSource>(TUnit unit, TSource source, FusedStepArgs a)
        where TUnit : struct, IUnit
        where TSource : struct, IDataSource
    {
        int stride = Grid.DimX * Group.DimX;
        int n = unit.ParameterCount, c = unit.CacheCount, k = ScratchCount(unit);
        for (int p = Grid.GlobalIndex.X; p < a.Models; p += stride)
        {
            a.Losses[p] = TrainModel(unit, source, a,
                new DeviceMemory(a.Parameters.SubView(p * n, n)), new DeviceMemory(a.Gradients.SubView(p * n, n)),
                new DeviceMemory(a.Cache.SubView(p * c, c)), new DeviceMemory(a.State.SubView(2 * p * n, 2 * n)),
                new DeviceMemory(a.Scratch.SubView(p * k, k)), a.Seeds[p], a.Ops[p], a.LearningRates[p]);
        }
    }

    /// <summary>
    /// As <see cref="Steps{TUnit, TSource}"/> over model-interleaved buffers: element j of model p of every buffer of
    /// <paramref name="a"/> (parameters, gradients, cache, state, scratch) is at <c>j·P + p</c> (see
    /// <see cref="InterleavedMemory"/>), so the threads of a warp, consecutive models, touch consecutive floats. The
    /// same <see cref="TrainModel"/> runs, so each model trains to the same bits as in the row layout.
    /// </summary>
    public static void InterleavedSteps<TUnit, TSource>(TUnit unit, TSource source, FusedStepArgs a)
        where TUnit : struct, IUnit
        where TSource : struct, IDataSource
    {
        int stride = Grid.DimX * Group.DimX;
        for (int p = Grid.GlobalIndex.X; p < a.Models; p += stride)
        {
            a.Losses[p] = TrainModel(unit, source, a,
                new InterleavedMemory(a.Parameters, a.Models, p), new InterleavedMemory(a.Gradients, a.Models, p),
                new InterleavedMemory(a.Cache, a.Models, p), new InterleavedMemory(a.State, a.Models, p),
                new InterleavedMemory(a.Scratch, a.Models, p), a.Seeds[p], a.Ops[p], a.LearningRates[p]);
        }
    }

    /// <summary>
    /// The per-model body, generic over memory so every layout and the native CPU path run exactly this code. Each
    /// memory is this model's own, from element 0: parameters (N), gradients (N), cache (C), optimizer state (2N) and
    /// scratch (<see cref="ScratchCount"/>). Returns the last step's mean training loss (the MSE of the batch, without
    /// any regulariser).
    /// </summary>
    public static float TrainModel<TUnit, TSource, TMem>(
        TUnit unit, TSource source, FusedStepArgs a, TMem parameters, TMem gradients, TMem cache, TMem state, TMem scratch,
        int seed, int op, float learningRate)
        where TUnit : struct, IUnit
        where TSource : struct, IDataSource
        where TMem : struct, IFloatMemory
    {
        int n = unit.ParameterCount;
        int sliceOff = SampleScratchCount(unit);
        int slices = Slices(a.Batch);
        float lastLoss = 0f;
        for (int s = 0; s < a.Steps; s++)
        {
            int step = a.FirstStep + s;
            BeginStep(unit, parameters, 0, cache, 0, gradients, 0);
            // Slice 0 accumulates straight into the zeroed gradient (0 + x is x exactly); later slices go through
            // the slice buffer, as the split native path does.
            float loss = AccumulateSlice(unit, source, a, step, seed, op, 0, parameters, 0, cache, 0, gradients, 0, scratch, 0);
            for (int slice = 1; slice < slices; slice++)
            {
                for (int j = 0; j < n; j++)
                    scratch[sliceOff + j] = 0f;
                loss += AccumulateSlice(unit, source, a, step, seed, op, slice, parameters, 0, cache, 0, scratch, sliceOff, scratch, 0);
                for (int j = 0; j < n; j++)
                    gradients[j] += scratch[sliceOff + j];
            }

            lastLoss = loss / (a.Batch * unit.Outputs);
            FinishStep(unit, a.Optimizer, learningRate, step, lastLoss, parameters, gradients, state, 0);
        }

        return lastLoss;
    }

    /// <summary>
    /// Samples of slice <paramref name="slice"/> of a step (see <see cref="SamplesPerSlice"/>): ACCUMULATES their raw
    /// gradients at <paramref name="gOff"/> and returns their summed squared error. Uses the sample part of the scratch
    /// at <paramref name="scratchOff"/>.
    /// </summary>
    public static float AccumulateSlice<TUnit, TSource, TMem>(
        TUnit unit, TSource source, FusedStepArgs a, int step, int seed, int op, int slice,
        TMem parameters, int pOff, TMem cache, int cOff, TMem gradients, int gOff, TMem scratch, int scratchOff)
        where TUnit : struct, IUnit
        where TSource : struct, IDataSource
        where TMem : struct, IFloatMemory
    {
        int first = slice * SamplesPerSlice;
        int last = first + SamplesPerSlice < a.Batch ? first + SamplesPerSlice : a.Batch;
        return AccumulateSamples(unit, source, a, step, seed, op, first, last, parameters, pOff, cache, cOff, gradients, gOff, scratch, scratchOff);
    }

    /// <summary>Step start: refreshes the cache and zeroes the gradient block at <paramref name="gOff"/>.</summary>
    public static void BeginStep<TUnit, TMem>(TUnit unit, TMem parameters, int pOff, TMem cache, int cOff, TMem gradients, int gOff)
        where TUnit : struct, IUnit
        where TMem : struct, IFloatMemory
    {
        int elements = unit.ElementCount, n = unit.ParameterCount;
        for (int e = 0; e < elements; e++)
            unit.PrepareCache(e, parameters, pOff, cache, cOff);
        for (int j = 0; j < n; j++)
            gradients[gOff + j] = 0f;
    }

    /// <summary>
    /// Samples <c>[first, last)</c> of a step: draw from the source, forward, MSE gradient (of the mean over the whole
    /// batch), backward; ACCUMULATES raw gradients at <paramref name="gOff"/>. Returns the summed squared error.
    /// </summary>
    public static float AccumulateSamples<TUnit, TSource, TMem>(
        TUnit unit, TSource source, FusedStepArgs a, int step, int seed, int op, int first, int last,
        TMem parameters, int pOff, TMem cache, int cOff, TMem gradients, int gOff, TMem scratch, int scratchOff)
        where TUnit : struct, IUnit
        where TSource : struct, IDataSource
        where TMem : struct, IFloatMemory
    {
        int inputs = unit.Inputs, outputs = unit.Outputs;
        int xOff = scratchOff, yOff = xOff + inputs, dyOff = yOff + outputs, tOff = dyOff + outputs, savedOff = tOff + outputs;
        float scale = 2f / (a.Batch * outputs);
        float loss = 0f;
        for (int sample = first; sample < last; sample++)
        {
            source.Sample(seed, op, step, sample, scratch, xOff, scratch, tOff);
            var context = new SampleContext(seed, step, sample, true);
            unit.Forward(context, parameters, pOff, cache, cOff, scratch, xOff, scratch, yOff, scratch, savedOff);
            for (int o = 0; o < outputs; o++)
            {
                float diff = scratch[yOff + o] - scratch[tOff + o];
                loss += diff * diff;
                scratch[dyOff + o] = scale * diff;
            }

            unit.Backward(context, parameters, pOff, cache, cOff, scratch, xOff, scratch, savedOff, scratch, dyOff,
                gradients, gOff, false, scratch, xOff);
        }

        return loss;
    }

    /// <summary>
    /// Step end: finishes the gradient, adds the regulariser's (which may depend on the step's mean batch
    /// <paramref name="loss"/>), clips (by value, then by norm), applies the optimizer to the parameters that train this
    /// step (<see cref="IUnit.Trains"/>; the others and their optimizer state stay bit-unchanged, and stay out of the
    /// norm), then the units' constraints (clamps). Built from per-element pieces (<see cref="FinishElement"/>,
    /// <see cref="ClipNormScale"/>, <see cref="UpdateParameter"/>) that <see cref="GroupTrainingKernel"/> runs in parallel
    /// over elements and parameters with the same bits.
    /// </summary>
    public static void FinishStep<TUnit, TMem>(
        TUnit unit, OptimizerSettings optimizer, float learningRate, int step, float loss, TMem parameters, TMem gradients, TMem state, int pOff)
        where TUnit : struct, IUnit
        where TMem : struct, IFloatMemory
    {
        int elements = unit.ElementCount, n = unit.ParameterCount;
        for (int e = 0; e < elements; e++)
            FinishElement(unit, e, step, loss, parameters, pOff, gradients, pOff);

        float scale = ClipNormScale(unit, step, optimizer, gradients, pOff, n);
        var factors = OptimizerMath.Factors(optimizer, step);
        for (int j = 0; j < n; j++)
        {
            if (unit.Trains(j, step))
                UpdateParameter(optimizer, learningRate, factors, scale, parameters, pOff + j, gradients, pOff + j, state, 2 * (pOff + j));
        }

        for (int e = 0; e < elements; e++)
            unit.Constrain(e, parameters, pOff);
    }

    /// <summary>
    /// Work item <paramref name="element"/> of the step's end: turns its raw gradient into ∂L/∂parameters, then adds its
    /// regulariser's (given the step's mean batch <paramref name="loss"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void FinishElement<TUnit, TMem>(TUnit unit, int element, int step, float loss, TMem parameters, int pOff, TMem gradients, int gOff)
        where TUnit : struct, IUnit
        where TMem : struct, IFloatMemory
    {
        unit.FinishGradient(element, parameters, pOff, gradients, gOff);
        unit.Regularize(element, step, loss, parameters, pOff, gradients, gOff);
    }

    /// <summary>
    /// The clip-norm factor of the finished gradient at <paramref name="gOff"/> (1 when clip-norm is off): the squared
    /// value-clipped gradients of the parameters that train at <paramref name="step"/> (<see cref="IUnit.Trains"/>) summed
    /// in parameter order, a fixed order every path keeps.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ClipNormScale<TUnit, TMem>(TUnit unit, int step, OptimizerSettings optimizer, TMem gradients, int gOff, int n)
        where TUnit : struct, IUnit
        where TMem : struct, IFloatMemory
    {
        if (!(optimizer.ClipNorm > 0f))
            return 1f;
        float sum = 0f;
        for (int j = 0; j < n; j++)
        {
            if (!unit.Trains(j, step))
                continue;
            float g = OptimizerMath.ClipValue(optimizer, gradients[gOff + j]);
            sum += g * g;
        }

        return OptimizerMath.NormScale(optimizer, MathF.Sqrt(sum));
    }

    /// <summary>One parameter's update: its gradient clipped by value, scaled by the clip-norm factor, then the optimizer.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void UpdateParameter<TMem>(
        OptimizerSettings optimizer, float learningRate, StepFactors factors, float normScale,
        TMem parameters, int index, TMem gradients, int gradientIndex, TMem state, int stateIndex)
        where TMem : struct, IFloatMemory
    {
        float g = OptimizerMath.ClipValue(optimizer, gradients[gradientIndex]) * normScale;
        OptimizerMath.Update(optimizer, learningRate, factors, g, parameters, state, index, stateIndex);
    }
}
