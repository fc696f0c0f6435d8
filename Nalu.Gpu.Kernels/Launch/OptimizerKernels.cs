using ILGPU;
using Nalu.Gpu.Kernels.Units;

namespace Nalu.Gpu.Kernels.Launch;

/// <summary>Optimizer buffers for P models of N parameters each.</summary>
public struct OptimizerBuffers
{
    /// <summary>(P, N), updated in place.</summary>
    public ArrayView<float> Parameters;
    /// <summary>(P, N), read only.</summary>
    public ArrayView<float> Gradients;
    /// <summary>(P, N, 2): two state slots per parameter.</summary>
    public ArrayView<float> State;
    /// <summary>(P): each model's learning rate.</summary>
    public ArrayView<float> LearningRates;
    /// <summary>(P): each model's gradient norm scale from <see cref="OptimizerKernels.NormScales"/>.</summary>
    public ArrayView<float> NormScales;
}

/// <summary>One launch updates every model's whole flat parameter buffer.</summary>
public static class OptimizerKernels
{
    /// <summary>
    /// Per model: the L2 norm of the value-clipped gradient, turned into the clip-by-norm scale
    /// (1 when clipping by norm is off). One work item per model, summed in double in index order.
    /// </summary>
    public static void NormScales(int models, int parameterCount, OptimizerSettings settings, OptimizerBuffers b)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int p = Grid.GlobalIndex.X; p < models; p += stride)
        {
            double sum = 0.0;
            for (int k = p * parameterCount; k < (p + 1) * parameterCount; k++)
            {
                double g = OptimizerMath.ClipValue(settings, b.Gradients[k]);
                sum += g * g;
            }

            b.NormScales[p] = OptimizerMath.NormScale(settings, (float)Math.Sqrt(sum));
        }
    }

    /// <summary>
    /// <see cref="NormScales"/> over the parameters of <paramref name="unit"/> that train at <paramref name="step"/>
    /// (<see cref="IUnit.Trains"/>), as the fused step sums them.
    /// </summary>
    public static void UnitNormScales<TUnit>(TUnit unit, int models, int step, OptimizerSettings settings, OptimizerBuffers b)
        where TUnit : struct, IUnit
    {
        int stride = Grid.DimX * Group.DimX;
        int parameterCount = unit.ParameterCount;
        for (int p = Grid.GlobalIndex.X; p < models; p += stride)
        {
            double sum = 0.0;
            for (int j = 0; j < parameterCount; j++)
            {
                if (!unit.Trains(j, step))
                    continue;
                double g = OptimizerMath.ClipValue(settings, b.Gradients[p * parameterCount + j]);
                sum += g * g;
            }

            b.NormScales[p] = OptimizerMath.NormScale(settings, (float)Math.Sqrt(sum));
        }
    }

    /// <summary>
    /// <see cref="Update"/> of the parameters of <paramref name="unit"/> that train at <paramref name="step"/>
    /// (<see cref="IUnit.Trains"/>); the others and their optimizer state are not touched.
    /// </summary>
    public static void UnitUpdate<TUnit>(TUnit unit, int models, int step, OptimizerSettings settings, OptimizerBuffers b)
        where TUnit : struct, IUnit
    {
        int parameterCount = unit.ParameterCount;
        int total = models * parameterCount;
        int stride = Grid.DimX * Group.DimX;
        var parameters = new DeviceMemory(b.Parameters);
        var state = new DeviceMemory(b.State);
        var factors = OptimizerMath.Factors(settings, step);
        for (int k = Grid.GlobalIndex.X; k < total; k += stride)
        {
            int p = k / parameterCount;
            if (!unit.Trains(k - p * parameterCount, step))
                continue;
            float g = OptimizerMath.ClipValue(settings, b.Gradients[k]) * b.NormScales[p];
            OptimizerMath.Update(settings, b.LearningRates[p], factors, g, parameters, state, k, 2 * k);
        }
    }

    /// <summary>The update: one work item per (model, parameter). Step is 0-based.</summary>
    public static void Update(int models, int parameterCount, int step, OptimizerSettings settings, OptimizerBuffers b)
    {
        int total = models * parameterCount;
        int stride = Grid.DimX * Group.DimX;
        var parameters = new DeviceMemory(b.Parameters);
        var state = new DeviceMemory(b.State);
        var factors = OptimizerMath.Factors(settings, step);
        for (int k = Grid.GlobalIndex.X; k < total; k += stride)
        {
            int p = k / parameterCount;
            float g = OptimizerMath.ClipValue(settings, b.Gradients[k]) * b.NormScales[p];
            OptimizerMath.Update(settings, b.LearningRates[p], factors, g, parameters, state, k, 2 * k);
        }
    }
}
