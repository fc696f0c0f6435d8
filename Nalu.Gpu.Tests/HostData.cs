using Nalu.Gpu.Kernels;
using Nalu.Gpu.Kernels.Units;
using Nalu.Gpu.Models;
using Nalu.Gpu.Tasks;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>
/// A managed float array as <see cref="IFloatMemory"/>, with the plain definitions of the vector primitives, so the
/// tests can run the task's own generator (<see cref="ArithmeticTaskMath.Generate{TMem}"/>) on the host and get the
/// data every training and evaluation path draws, bit for bit, without touching any kernel code.
/// </summary>
public readonly struct ArrayMemory(float[] data) : IFloatMemory
{
    public float[] Data { get; } = data;

    public float this[int index]
    {
        get => Data[index];
        set => Data[index] = value;
    }

    public float Dot<TOther>(int offset, TOther other, int otherOffset, int count) where TOther : struct, IFloatMemory
    {
        float sum = 0f;
        for (int i = 0; i < count; i++)
            sum += Data[offset + i] * other[otherOffset + i];
        return sum;
    }

    public void AddScaled<TOther>(int offset, float alpha, TOther x, int xOffset, int count) where TOther : struct, IFloatMemory
    {
        for (int i = 0; i < count; i++)
            Data[offset + i] += alpha * x[xOffset + i];
    }

    public void StoreLogAbs<TOther>(int offset, TOther x, int xOffset, int count) where TOther : struct, IFloatMemory
    {
        for (int i = 0; i < count; i++)
            Data[offset + i] = MathF.Log(MathF.Abs(x[xOffset + i]) + 1e-7f);
    }

    public void StoreUniform(int offset, ulong key, uint counter, uint firstIndex, int count, SampleRange range)
    {
        for (int i = 0; i < count; i++)
            Data[offset + i] = range.Map(CounterRng.Uniform(key, counter, firstIndex + (uint)i));
    }

    public void CopyFrom<TOther>(int offset, TOther source, int sourceOffset, int count) where TOther : struct, IFloatMemory
    {
        for (int i = 0; i < count; i++)
            Data[offset + i] = source[sourceOffset + i];
    }
}

/// <summary>Host-side data and references for the host-API tests.</summary>
public static class HostData
{
    /// <summary>
    /// Samples <c>[first, first + count)</c> of (<paramref name="stream"/>, <paramref name="counter"/>) for a model seed and op:
    /// x (count × I) and the targets (count), drawn with the task's own generator on the host.
    /// Training draws step <c>s</c> from <see cref="CounterRng.TrainStream"/> with counter s; evaluation sets use
    /// counter 0 of <see cref="CounterRng.InterpolationStream"/> / <see cref="CounterRng.ExtrapolationStream"/>.
    /// </summary>
    public static (float[] X, float[] Targets) Generate(
        ArithmeticTask task, int seed, ArithmeticOp op, SampleInterval range, uint stream, uint counter, int first, int count)
    {
        int inputs = task.Inputs;
        var x = new float[count * inputs];
        var t = new float[count];
        var memory = new ArrayMemory(x);
        var deviceRange = new SampleRange(range.Low1, range.High1, range.Low2, range.High2);
        for (int k = 0; k < count; k++)
        {
            t[k] = ArithmeticTaskMath.Generate(seed, (int)op, inputs, task.SubsetSize, task.SubsetGap, deviceRange,
                stream, counter, first + k, memory, k * inputs);
        }

        return (x, t);
    }

    /// <summary>The double reference's layer list for a NAC/NAC•/NALU/dense architecture (PReLU has its own reference).</summary>
    public static ReferenceLayer[] ReferenceLayers(ModelArchitecture architecture) => architecture.Layers.Select(l => l.Kind switch
    {
        UnitKind.Nac => ReferenceLayer.Nac(l.Inputs, l.Outputs),
        UnitKind.NacMult => ReferenceLayer.NacMult(l.Inputs, l.Outputs),
        UnitKind.Nalu => ReferenceLayer.Nalu(l.Inputs, l.Outputs, l.Untied),
        UnitKind.Dense => ReferenceLayer.Dense(l.Inputs, l.Outputs, Enum.Parse<ReferenceActivation>(l.Activation.ToString())),
        _ => throw new ArgumentOutOfRangeException(nameof(architecture), l.Kind, "No double reference for this layer kind."),
    }).ToArray();

    public static double[] Widen(ReadOnlySpan<float> values)
    {
        var wide = new double[values.Length];
        for (int k = 0; k < values.Length; k++)
            wide[k] = values[k];
        return wide;
    }

    public static int[] Bits(float[] values) => values.Select(BitConverter.SingleToInt32Bits).ToArray();

    /// <summary>Largest |actual − expected| / (atol + rtol·|expected|): below 1 passes <see cref="Tolerance.AssertClose(ReadOnlySpan{double}, ReadOnlySpan{float}, ValueTuple{double, double}, string)"/>.</summary>
    public static double WorstRatio(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, (double Atol, double Rtol) tol)
    {
        Assert.Equal(expected.Length, actual.Length);
        double worst = 0;
        for (int k = 0; k < expected.Length; k++)
            worst = Math.Max(worst, Math.Abs(expected[k] - actual[k]) / (tol.Atol + tol.Rtol * Math.Abs(expected[k])));
        return worst;
    }
}
