using ILGPU;

namespace Nalu.Gpu.Kernels.Launch;

/// <summary>Mean squared error over each model's B·O outputs.</summary>
public static class LossKernels
{
    /// <summary>
    /// <c>dy = 2(y − t)/(B·O)</c> per element, the gradient of the per-model mean. Overwrites Dy.
    /// <paramref name="perModel"/> is B·O.
    /// </summary>
    public static void MseGradient(int models, int perModel, ArrayView<float> y, ArrayView<float> target, ArrayView<float> dy)
    {
        int total = models * perModel;
        int stride = Grid.DimX * Group.DimX;
        float scale = 2f / perModel;
        for (int k = Grid.GlobalIndex.X; k < total; k += stride)
            dy[k] = scale * (y[k] - target[k]);
    }

    /// <summary>Per-model mean of <c>(y − t)²</c>, summed in double in sample order. Overwrites Losses (P).</summary>
    public static void MseLoss(int models, int perModel, ArrayView<float> y, ArrayView<float> target, ArrayView<float> losses)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int p = Grid.GlobalIndex.X; p < models; p += stride)
        {
            double sum = 0.0;
            for (int k = p * perModel; k < (p + 1) * perModel; k++)
            {
                double d = y[k] - target[k];
                sum += d * d;
            }

            losses[p] = (float)(sum / perModel);
        }
    }
}
