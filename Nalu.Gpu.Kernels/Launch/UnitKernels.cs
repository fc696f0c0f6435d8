using ILGPU;
using ILGPU.Runtime;
using Nalu.Gpu.Kernels.Units;

namespace Nalu.Gpu.Kernels.Launch;

/// <summary>Shapes of a batched launch over a population of P models that share one architecture.</summary>
public struct BatchShape
{
    /// <summary>P: models, laid out one after another in every buffer.</summary>
    public int Models;
    /// <summary>B: samples per model.</summary>
    public int Batch;
    /// <summary>Sample chunks per model in the backward pass; each writes its own gradient partial.</summary>
    public int Chunks;
    /// <summary>Non-zero when the backward must write ∂L/∂x.</summary>
    public int NeedInputGradient;
    /// <summary>0-based training step (for regulariser schedules in <see cref="UnitKernels.FinishGradients{TUnit}"/>).</summary>
    public int Step;
    /// <summary>
    /// Non-zero for a training pass: the forward and backward get a training <see cref="SampleContext"/> keyed by
    /// <see cref="UnitBuffers.Seeds"/>, <see cref="Step"/> and the sample's index in the batch (the sNMU's noise).
    /// </summary>
    public int Training;
}

/// <summary>
/// Device buffers of a batched forward/backward. Per model p, with N parameters, C cache values,
/// S saved values per sample: Parameters/Gradients (P·N), Cache (P·C), X and Dx (P·B·I),
/// Y and Dy (P·B·O), Saved (P·B·S), Partials (P·Chunks·N).
/// </summary>
public struct UnitBuffers
{
    /// <summary>(P, N)</summary>
    public ArrayView<float> Parameters;
    /// <summary>(P, C)</summary>
    public ArrayView<float> Cache;
    /// <summary>(P, N)</summary>
    public ArrayView<float> Gradients;
    /// <summary>(P, Chunks, N)</summary>
    public ArrayView<float> Partials;
    /// <summary>(P, B, I)</summary>
    public ArrayView<float> X;
    /// <summary>(P, B, O)</summary>
    public ArrayView<float> Y;
    /// <summary>(P, B, S)</summary>
    public ArrayView<float> Saved;
    /// <summary>(P, B, O)</summary>
    public ArrayView<float> Dy;
    /// <summary>(P, B, I)</summary>
    public ArrayView<float> Dx;
    /// <summary>(P) model seeds; read only by a training pass (<see cref="BatchShape.Training"/>).</summary>
    public ArrayView<int> Seeds;
    /// <summary>
    /// (P) each model's mean batch loss of this step, for regularisers that depend on it (read by
    /// <see cref="UnitKernels.FinishGradients{TUnit}"/>); empty: 0 for every model.
    /// </summary>
    public ArrayView<float> Losses;
}

/// <summary>
/// Batch-parallel kernels for any <see cref="IUnit"/> (a layer or a whole <see cref="Chain{THead,TTail}"/>
/// model). All are explicitly grouped grid-stride loops: one launch shape for CPU and GPU.
/// </summary>
public static class UnitKernels
{
    /// <summary>The context of sample <paramref name="sample"/> of model <paramref name="p"/>: training only when the shape says so.</summary>
    private static SampleContext Context(BatchShape shape, UnitBuffers b, int p, int sample) =>
        shape.Training != 0 ? new SampleContext(b.Seeds[p], shape.Step, sample, true) : SampleContext.Inference;

    /// <summary>Cache refresh: one work item per (model, element). Overwrites the cache.</summary>
    public static void PrepareCache<TUnit>(TUnit unit, BatchShape shape, UnitBuffers b)
        where TUnit : struct, IUnit
    {
        int elements = unit.ElementCount;
        int total = shape.Models * elements;
        int stride = Grid.DimX * Group.DimX;
        int n = unit.ParameterCount, c = unit.CacheCount;
        var parameters = new DeviceMemory(b.Parameters);
        var cache = new DeviceMemory(b.Cache);
        for (int k = Grid.GlobalIndex.X; k < total; k += stride)
        {
            int p = k / elements;
            unit.PrepareCache(k - p * elements, parameters, p * n, cache, p * c);
        }
    }

    /// <summary>
    /// Forward: one work item per (model, sample). Overwrites Y and Saved; Saved is what
    /// <see cref="Backward"/> needs for the same samples.
    /// </summary>
    public static void Forward<TUnit>(TUnit unit, BatchShape shape, UnitBuffers b)
        where TUnit : struct, IUnit
    {
        int total = shape.Models * shape.Batch;
        int stride = Grid.DimX * Group.DimX;
        int n = unit.ParameterCount, c = unit.CacheCount, s = unit.SavedCount;
        int inputs = unit.Inputs, outputs = unit.Outputs;
        var parameters = new DeviceMemory(b.Parameters);
        var cache = new DeviceMemory(b.Cache);
        var x = new DeviceMemory(b.X);
        var y = new DeviceMemory(b.Y);
        var saved = new DeviceMemory(b.Saved);
        for (int k = Grid.GlobalIndex.X; k < total; k += stride)
        {
            int p = k / shape.Batch;
            unit.Forward(Context(shape, b, p, k - p * shape.Batch), parameters, p * n, cache, p * c, x, k * inputs, y, k * outputs, saved, k * s);
        }
    }

    /// <summary>
    /// Backward: one work item per (model, chunk of samples). Each OVERWRITES its gradient partial with
    /// the raw gradient sum over its samples (deterministic: no atomics) and, when asked, OVERWRITES Dx.
    /// Follow with <see cref="ReduceGradients"/> and <see cref="FinishGradients{TUnit}"/>.
    /// </summary>
    public static void Backward<TUnit>(TUnit unit, BatchShape shape, UnitBuffers b)
        where TUnit : struct, IUnit
    {
        int total = shape.Models * shape.Chunks;
        int stride = Grid.DimX * Group.DimX;
        int n = unit.ParameterCount, c = unit.CacheCount, s = unit.SavedCount;
        int inputs = unit.Inputs, outputs = unit.Outputs;
        int perChunk = (shape.Batch + shape.Chunks - 1) / shape.Chunks;
        bool needDx = shape.NeedInputGradient != 0;
        var parameters = new DeviceMemory(b.Parameters);
        var cache = new DeviceMemory(b.Cache);
        var partials = new DeviceMemory(b.Partials);
        var x = new DeviceMemory(b.X);
        var saved = new DeviceMemory(b.Saved);
        var dy = new DeviceMemory(b.Dy);
        var dx = new DeviceMemory(b.Dx);
        for (int k = Grid.GlobalIndex.X; k < total; k += stride)
        {
            int p = k / shape.Chunks;
            int chunk = k - p * shape.Chunks;
            int partial = k * n;
            for (int j = 0; j < n; j++)
                partials[partial + j] = 0f;

            int first = chunk * perChunk;
            int last = first + perChunk < shape.Batch ? first + perChunk : shape.Batch;
            for (int sample = first; sample < last; sample++)
            {
                int row = p * shape.Batch + sample;
                unit.Backward(
                    Context(shape, b, p, sample), parameters, p * n, cache, p * c, x, row * inputs, saved, row * s, dy, row * outputs,
                    partials, partial, needDx, dx, row * inputs);
            }
        }
    }

    /// <summary>Sums the chunk partials in chunk order: one work item per (model, parameter). Overwrites Gradients.</summary>
    public static void ReduceGradients(int parameterCount, BatchShape shape, UnitBuffers b)
    {
        int total = shape.Models * parameterCount;
        int stride = Grid.DimX * Group.DimX;
        for (int k = Grid.GlobalIndex.X; k < total; k += stride)
        {
            int p = k / parameterCount;
            int j = k - p * parameterCount;
            int first = p * shape.Chunks * parameterCount + j;
            float sum = 0f;
            for (int chunk = 0; chunk < shape.Chunks; chunk++)
                sum += b.Partials[first + chunk * parameterCount];
            b.Gradients[k] = sum;
        }
    }

    /// <summary>Turns raw gradient sums into parameter gradients in place: one work item per (model, element).</summary>
    public static void FinishGradients<TUnit>(TUnit unit, BatchShape shape, UnitBuffers b)
        where TUnit : struct, IUnit
    {
        int elements = unit.ElementCount;
        int total = shape.Models * elements;
        int stride = Grid.DimX * Group.DimX;
        int n = unit.ParameterCount;
        var parameters = new DeviceMemory(b.Parameters);
        var gradients = new DeviceMemory(b.Gradients);
        for (int k = Grid.GlobalIndex.X; k < total; k += stride)
        {
            int p = k / elements;
            int element = k - p * elements;
            float loss = b.Losses.Length > 0 ? b.Losses[p] : 0f;
            unit.FinishGradient(element, parameters, p * n, gradients, p * n);
            unit.Regularize(element, shape.Step, loss, parameters, p * n, gradients, p * n);
        }
    }

    /// <summary>After the optimizer update: applies each unit's constraint (clamp) to its parameters, in place.</summary>
    public static void Constrain<TUnit>(TUnit unit, BatchShape shape, UnitBuffers b)
        where TUnit : struct, IUnit
    {
        int elements = unit.ElementCount;
        int total = shape.Models * elements;
        int stride = Grid.DimX * Group.DimX;
        int n = unit.ParameterCount;
        var parameters = new DeviceMemory(b.Parameters);
        for (int k = Grid.GlobalIndex.X; k < total; k += stride)
        {
            int p = k / elements;
            unit.Constrain(k - p * elements, parameters, p * n);
        }
    }
}
