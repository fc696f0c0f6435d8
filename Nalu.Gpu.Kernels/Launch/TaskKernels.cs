using ILGPU;

namespace Nalu.Gpu.Kernels.Launch;

/// <summary>Data on the device for the step-by-step (batched) path: any <see cref="IDataSource"/>, drawn into batch buffers.</summary>
public static class TaskKernels
{
    /// <summary>
    /// Sample <c>(step, b)</c> of <paramref name="source"/> for every (model, b): overwrites X (P·B·I)
    /// and Targets (P·B·O).
    /// </summary>
    public static void Generate<TSource>(
        TSource source, DataShape shape, ArrayView<int> seeds, ArrayView<int> ops,
        ArrayView<float> x, ArrayView<float> targets)
        where TSource : struct, IDataSource
    {
        int total = shape.Models * shape.Batch;
        int stride = Grid.DimX * Group.DimX;
        var xs = new DeviceMemory(x);
        var ts = new DeviceMemory(targets);
        for (int k = Grid.GlobalIndex.X; k < total; k += stride)
        {
            int p = k / shape.Batch;
            source.Sample(seeds[p], ops[p], shape.Step, k - p * shape.Batch, xs, k * shape.Inputs, ts, k * shape.Outputs);
        }
    }
}

/// <summary>The shape of one <see cref="TaskKernels.Generate{TSource}"/> launch.</summary>
public struct DataShape
{
    /// <summary>P.</summary>
    public int Models;
    /// <summary>B.</summary>
    public int Batch;
    /// <summary>I.</summary>
    public int Inputs;
    /// <summary>O.</summary>
    public int Outputs;
    /// <summary>The step drawn.</summary>
    public int Step;
}
