using ILGPU;
using Nalu.Gpu.Kernels.Units;

namespace Nalu.Gpu.Kernels.Launch;

/// <summary>Inputs of an evaluation launch: a fixed data set per model, from a source (generated or stored) read at step 0.</summary>
public struct EvaluationArgs
{
    /// <summary>P.</summary>
    public int Models;
    /// <summary>Samples in the set.</summary>
    public int Samples;
    /// <summary>Work items per model; each sums its own share of samples.</summary>
    public int Chunks;
    /// <summary>(P) per-model seeds.</summary>
    public ArrayView<int> Seeds;
    /// <summary>(P) per-model <see cref="ArithmeticOp"/> (generated data only).</summary>
    public ArrayView<int> Ops;
    /// <summary>(P, N)</summary>
    public ArrayView<float> Parameters;
    /// <summary>(P, C), prepared.</summary>
    public ArrayView<float> Cache;
    /// <summary>(P·Chunks, I + 2·O + S) scratch.</summary>
    public ArrayView<float> Scratch;
    /// <summary>(P, Chunks) output: sums of squared errors, and (P, Chunks) counts of non-finite outputs.</summary>
    public ArrayView<double> SquaredErrors;
    /// <summary>(P, Chunks): outputs that were NaN or infinite (excluded from the sums).</summary>
    public ArrayView<int> NonFinite;
}

/// <summary>Sum of squared errors of each model on a data set (any <see cref="IDataSource"/>), without host round-trips per sample.</summary>
public static class EvaluationKernel
{
    /// <summary>Scratch floats per work item: x (I), y (O), targets (O), saved (S).</summary>
    public static int ScratchCount<TUnit>(TUnit unit) where TUnit : struct, IUnit =>
        unit.Inputs + 2 * unit.Outputs + unit.SavedCount;

    /// <summary>One work item per (model, chunk); each sums its samples in order, in double.</summary>
    public static void SquaredErrors<TUnit, TSource>(TUnit unit, TSource source, EvaluationArgs a)
        where TUnit : struct, IUnit
        where TSource : struct, IDataSource
    {
        int total = a.Models * a.Chunks;
        int stride = Grid.DimX * Group.DimX;
        var parameters = new DeviceMemory(a.Parameters);
        var cache = new DeviceMemory(a.Cache);
        var scratch = new DeviceMemory(a.Scratch);
        for (int k = Grid.GlobalIndex.X; k < total; k += stride)
        {
            int p = k / a.Chunks;
            var e = EvaluateChunk(unit, source, a, p, k - p * a.Chunks, a.Seeds[p], a.Ops[p],
                parameters, cache, scratch, k * ScratchCount(unit));
            a.SquaredErrors[k] = e.Sum;
            a.NonFinite[k] = e.NonFinite;
        }
    }

    /// <summary>
    /// The squared errors of model <paramref name="p"/> over chunk <paramref name="chunk"/> of the set, generic over
    /// memory so the native CPU path runs exactly this code. Non-finite outputs are counted, not summed.
    /// </summary>
    public static ErrorSum EvaluateChunk<TUnit, TSource, TMem>(
        TUnit unit, TSource source, EvaluationArgs a, int p, int chunk, int seed, int op, TMem parameters, TMem cache, TMem scratch, int scratchOff)
        where TUnit : struct, IUnit
        where TSource : struct, IDataSource
        where TMem : struct, IFloatMemory
    {
        int n = unit.ParameterCount, c = unit.CacheCount;
        int inputs = unit.Inputs, outputs = unit.Outputs;
        int perChunk = (a.Samples + a.Chunks - 1) / a.Chunks;
        int xOff = scratchOff, yOff = xOff + inputs, tOff = yOff + outputs, savedOff = tOff + outputs;
        int first = chunk * perChunk;
        int last = first + perChunk < a.Samples ? first + perChunk : a.Samples;
        double sum = 0.0;
        int bad = 0;
        for (int sample = first; sample < last; sample++)
        {
            source.Sample(seed, op, 0, sample, scratch, xOff, scratch, tOff);
            unit.Forward(SampleContext.Inference, parameters, p * n, cache, p * c, scratch, xOff, scratch, yOff, scratch, savedOff);
            for (int o = 0; o < outputs; o++)
            {
                double d = (double)scratch[yOff + o] - scratch[tOff + o];
                if (double.IsFinite(d))
                    sum += d * d;
                else
                    bad++;
            }
        }

        return new ErrorSum(sum, bad);
    }
}

/// <summary>A chunk's sum of squared errors and its count of non-finite outputs.</summary>
public readonly struct ErrorSum
{
    /// <summary>Σ (y − t)² over the finite outputs.</summary>
    public readonly double Sum;

    /// <summary>Outputs that were NaN or infinite.</summary>
    public readonly int NonFinite;

    /// <summary>Creates the pair.</summary>
    public ErrorSum(double sum, int nonFinite)
    {
        Sum = sum;
        NonFinite = nonFinite;
    }
}
