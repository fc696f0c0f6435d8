using ILGPU;

namespace Nalu.Gpu.Kernels.Kernels;

/// <summary>Data generation on the device for the step-by-step path and for evaluation sets.</summary>
public static class TaskKernels
{
    /// <summary>
    /// Sample <c>(counter, b)</c> of <paramref name="stream"/> for every (model, b): overwrites X (P·B·I)
    /// and Targets (P·B).
    /// </summary>
    public static void Generate(
        ArithmeticTaskArgs task, SampleRange range, int models, int batch, int stream, int counter,
        ArrayView<float> x, ArrayView<float> targets)
    {
        int total = models * batch;
        int stride = Grid.DimX * Group.DimX;
        var xs = new DeviceMemory(x);
        for (int k = Grid.GlobalIndex.X; k < total; k += stride)
        {
            int p = k / batch;
            targets[k] = ArithmeticTaskMath.Generate(
                task.Seeds[p], task.Ops[p], task.Inputs, task.SubsetSize, task.SubsetGap, range,
                (uint)stream, (uint)counter, k - p * batch, xs, k * task.Inputs);
        }
    }
}
