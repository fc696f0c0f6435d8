using ILGPU;

namespace Nalu.Gpu.Kernels;

/// <summary>
/// Up to two disjoint intervals sampled uniformly by length, e.g. <c>U[-6,-2] ∪ U[2,6]</c>.
/// A single interval has an empty second one (<c>Low2 == High2</c>).
/// </summary>
public readonly struct SampleRange
{
    /// <summary>First interval.</summary>
    public readonly float Low1, High1;
    /// <summary>Second interval (empty when unused).</summary>
    public readonly float Low2, High2;

    /// <summary>Creates a range; bounds are validated by the host API.</summary>
    public SampleRange(float low1, float high1, float low2 = 0f, float high2 = 0f)
    {
        Low1 = low1;
        High1 = high1;
        Low2 = low2;
        High2 = high2;
    }

    /// <summary>Maps u ∈ [0,1) onto the range, uniformly by length.</summary>
    public float Map(float u)
    {
        float first = High1 - Low1;
        float second = High2 - Low2;
        float t = u * (first + second);
        return t < first ? Low1 + t : Low2 + (t - first);
    }
}

/// <summary>Sample generation shared by every kernel and the host, so data never depends on the path.</summary>
public static class ArithmeticTaskMath
{
    /// <summary>Start of the first subset for a model seed.</summary>
    public static int SubsetOffset(int seed, int inputs, int subsetSize, int subsetGap)
    {
        int choices = inputs - subsetGap - subsetSize + 1;
        int offset = (int)(CounterRng.Uniform((uint)seed, CounterRng.TaskStream, 0, 0) * choices);
        return offset < choices ? offset : choices - 1;
    }

    /// <summary>Writes sample (<paramref name="counter"/>, <paramref name="sample"/>) of a stream to x and returns its target.</summary>
    public static float Generate<TMem>(
        int seed, int op, int inputs, int subsetSize, int subsetGap, SampleRange range,
        uint stream, uint counter, int sample, TMem x, int xOffset)
        where TMem : struct, IFloatMemory
        => GenerateWithKey(op, inputs, subsetSize, subsetGap, range, SubsetOffset(seed, inputs, subsetSize, subsetGap),
            CounterRng.Key((uint)seed, stream), counter, sample, x, xOffset);

    /// <summary>
    /// <see cref="Generate{TMem}"/> with the seed's two
    /// derived values given: <paramref name="first"/> = <see cref="SubsetOffset"/> and <paramref name="key"/> =
    /// <c>CounterRng.Key(seed, stream)</c>. A caller drawing many samples of one seed computes them once
    /// (<see cref="ArithmeticSource"/> does).
    /// </summary>
    public static float GenerateWithKey<TMem>(
        int op, int inputs, int subsetSize, int subsetGap, SampleRange range, int first, ulong key,
        uint counter, int sample, TMem x, int xOffset, int steps = 1)
        where TMem : struct, IFloatMemory
    {
        // A sequence of T steps is T·I consecutive draws of the sample's stream (T = 1: the static task's draws, so its
        // data are unchanged); a and b sum the same two subsets over every step.
        int second = first + subsetGap;
        int count = steps * inputs;
        x.StoreUniform(xOffset, key, counter, (uint)(sample * count), count, range);
        float a = 0f, b = 0f;
        for (int t = 0; t < steps; t++)
        {
            int row = xOffset + t * inputs;
            for (int i = first; i < first + subsetSize; i++)
                a += x[row + i];
            for (int i = second; i < second + subsetSize; i++)
                b += x[row + i];
        }

        return Target(op, a, b);
    }

    /// <summary>op(a, b).</summary>
    public static float Target(int op, float a, float b) => op switch
    {
        (int)ArithmeticOp.Add => a + b,
        (int)ArithmeticOp.Sub => a - b,
        (int)ArithmeticOp.Mul => a * b,
        (int)ArithmeticOp.Div => a / b,
        (int)ArithmeticOp.Square => a * a,
        (int)ArithmeticOp.Identity => a,
        _ => MathF.Sqrt(a),
    };
}
