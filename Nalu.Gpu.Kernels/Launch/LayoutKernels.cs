using ILGPU;

namespace Nalu.Gpu.Kernels.Launch;

/// <summary>
/// Transposes between the row-major per-model layout (element j of model p at <c>p·E + j</c>, what models, checkpoints
/// and evaluation use) and the model-interleaved one (<c>j·P + p</c>, what <see cref="FusedTrainingKernel.InterleavedSteps"/>
/// trains in). Pure copies, so a round trip is exact.
/// </summary>
public static class LayoutKernels
{
    /// <summary><c>interleaved[j·P + p] = rows[p·E + j]</c> for P models of E elements; the writes are consecutive.</summary>
    public static void Interleave(int models, int elements, ArrayView<float> rows, ArrayView<float> interleaved)
    {
        int total = models * elements;
        int stride = Grid.DimX * Group.DimX;
        for (int k = Grid.GlobalIndex.X; k < total; k += stride)
        {
            int j = k / models, p = k - j * models;
            interleaved[k] = rows[p * elements + j];
        }
    }

    /// <summary><c>rows[p·E + j] = interleaved[j·P + p]</c> for P models of E elements; the writes are consecutive.</summary>
    public static void Deinterleave(int models, int elements, ArrayView<float> interleaved, ArrayView<float> rows)
    {
        int total = models * elements;
        int stride = Grid.DimX * Group.DimX;
        for (int k = Grid.GlobalIndex.X; k < total; k += stride)
        {
            int p = k / elements, j = k - p * elements;
            rows[k] = interleaved[j * models + p];
        }
    }
}
