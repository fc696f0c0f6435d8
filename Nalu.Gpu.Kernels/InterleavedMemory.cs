using ILGPU;

namespace Nalu.Gpu.Kernels;

/// <summary>
/// One model's slice of a model-interleaved buffer as <see cref="IFloatMemory"/>: element j of model p lives at
/// <c>j·P + p</c>. In a thread-per-model kernel the 32 threads of a warp are 32 consecutive models, so every access
/// of a warp reads or writes 32 consecutive floats (one coalesced transaction) instead of 32 cache lines. The unit
/// math is untouched: it sees element j at index j, as with a row of the row-major layout.
/// </summary>
/// <remarks>
/// The vector primitives are the same plain loops, in the same order, as <see cref="DeviceMemory"/>'s, so a model
/// trains to the same bits in either layout on every ILGPU backend.
/// </remarks>
public struct InterleavedMemory : IFloatMemory
{
    /// <summary>The whole interleaved buffer (at least <c>elements · Models</c> floats).</summary>
    public ArrayView<float> View;
    /// <summary>P: the stride between consecutive elements of one model.</summary>
    public int Models;
    /// <summary>p: which model this memory is.</summary>
    public int Model;

    /// <summary>Model <paramref name="model"/> of <paramref name="models"/> in <paramref name="view"/>.</summary>
    public InterleavedMemory(ArrayView<float> view, int models, int model)
    {
        View = view;
        Models = models;
        Model = model;
    }

    /// <inheritdoc />
    public float this[int index]
    {
        readonly get => View[index * Models + Model];
        set => View[index * Models + Model] = value;
    }

    /// <inheritdoc />
    public readonly float Dot<TOther>(int offset, TOther other, int otherOffset, int count) where TOther : struct, IFloatMemory
    {
        float sum = 0f;
        for (int i = 0; i < count; i++)
            sum += this[offset + i] * other[otherOffset + i];
        return sum;
    }

    /// <inheritdoc />
    public void AddScaled<TOther>(int offset, float alpha, TOther x, int xOffset, int count) where TOther : struct, IFloatMemory
    {
        for (int i = 0; i < count; i++)
            this[offset + i] += alpha * x[xOffset + i];
    }

    /// <inheritdoc />
    public void StoreLogAbs<TOther>(int offset, TOther x, int xOffset, int count) where TOther : struct, IFloatMemory
    {
        for (int i = 0; i < count; i++)
            this[offset + i] = UnitMath.LogAbs(x[xOffset + i]);
    }

    /// <inheritdoc />
    public void CopyFrom<TOther>(int offset, TOther source, int sourceOffset, int count) where TOther : struct, IFloatMemory
    {
        for (int i = 0; i < count; i++)
            this[offset + i] = source[sourceOffset + i];
    }

    /// <inheritdoc />
    public void StoreUniform(int offset, ulong key, uint counter, uint firstIndex, int count, SampleRange range)
    {
        for (int i = 0; i < count; i++)
            this[offset + i] = range.Map(CounterRng.Uniform(key, counter, firstIndex + (uint)i));
    }
}
