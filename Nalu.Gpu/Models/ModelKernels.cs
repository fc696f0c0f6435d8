using ILGPU;
using ILGPU.Runtime;
using Nalu.Gpu.Devices;
using Nalu.Gpu.Kernels.Kernels;
using Nalu.Gpu.Kernels.Units;

namespace Nalu.Gpu.Models;

/// <summary>The kernels of one model type, with the unit type erased so host code needs no generics.</summary>
internal interface IModelKernels
{
    void PrepareCache(BatchShape shape, UnitBuffers buffers);
    void Forward(BatchShape shape, UnitBuffers buffers);
    void Backward(BatchShape shape, UnitBuffers buffers);
    void ReduceGradients(BatchShape shape, UnitBuffers buffers);
    void FinishGradients(BatchShape shape, UnitBuffers buffers);
    void FusedSteps(FusedStepArgs args);
    void Evaluate(EvaluationArgs args);
    int ScratchPerModel { get; }
    int EvaluationScratch { get; }
    int ElementCount { get; }
    int CacheCount { get; }
    int SavedCount { get; }
}

/// <summary>Loads each kernel for <typeparamref name="TUnit"/> once per device and launches it with a grid-stride shape.</summary>
internal sealed class ModelKernels<TUnit> : IModelKernels where TUnit : struct, IUnit
{
    private readonly TUnit _unit;
    private readonly NaluDevice _device;

    public ModelKernels(NaluDevice device, TUnit unit)
    {
        _device = device;
        _unit = unit;
    }

    // Kernels compile on first use (the device keeps them), so a predict-only run compiles only the forward.
    private Action<KernelConfig, TUnit, BatchShape, UnitBuffers> PrepareKernel =>
        Load(nameof(UnitKernels.PrepareCache), UnitKernels.PrepareCache);

    private Action<KernelConfig, TUnit, BatchShape, UnitBuffers> ForwardKernel =>
        Load(nameof(UnitKernels.Forward), UnitKernels.Forward);

    private Action<KernelConfig, TUnit, BatchShape, UnitBuffers> BackwardKernel =>
        Load(nameof(UnitKernels.Backward), UnitKernels.Backward);

    private Action<KernelConfig, TUnit, BatchShape, UnitBuffers> FinishKernel =>
        Load(nameof(UnitKernels.FinishGradients), UnitKernels.FinishGradients);

    private Action<KernelConfig, int, BatchShape, UnitBuffers> ReduceKernel =>
        _device.Kernel(nameof(UnitKernels.ReduceGradients),
            a => a.LoadStreamKernel<int, BatchShape, UnitBuffers>(UnitKernels.ReduceGradients));

    private Action<KernelConfig, TUnit, FusedStepArgs> FusedKernel =>
        _device.Kernel((typeof(TUnit), nameof(FusedTrainingKernel)),
            a => a.LoadStreamKernel<TUnit, FusedStepArgs>(FusedTrainingKernel.Steps));

    private Action<KernelConfig, TUnit, EvaluationArgs> EvaluateKernel =>
        _device.Kernel((typeof(TUnit), nameof(EvaluationKernel)),
            a => a.LoadStreamKernel<TUnit, EvaluationArgs>(EvaluationKernel.SquaredErrors));

    private Action<KernelConfig, TUnit, BatchShape, UnitBuffers> Load(string name, Action<TUnit, BatchShape, UnitBuffers> kernel) =>
        _device.Kernel((typeof(TUnit), name), a => a.LoadStreamKernel(kernel));

    public int ScratchPerModel => FusedTrainingKernel.ScratchCount(_unit);
    public int EvaluationScratch => EvaluationKernel.ScratchCount(_unit);
    public int ElementCount => _unit.ElementCount;
    public int CacheCount => _unit.CacheCount;
    public int SavedCount => _unit.SavedCount;

    public void PrepareCache(BatchShape shape, UnitBuffers buffers)
    {
        long items = (long)shape.Models * _unit.ElementCount;
        if (items > 0)
            PrepareKernel(_device.LaunchFor(items), _unit, shape, buffers);
    }

    public void Forward(BatchShape shape, UnitBuffers buffers) =>
        ForwardKernel(_device.LaunchFor((long)shape.Models * shape.Batch), _unit, shape, buffers);

    public void Backward(BatchShape shape, UnitBuffers buffers) =>
        BackwardKernel(_device.LaunchFor((long)shape.Models * shape.Chunks), _unit, shape, buffers);

    public void ReduceGradients(BatchShape shape, UnitBuffers buffers) =>
        ReduceKernel(_device.LaunchFor((long)shape.Models * _unit.ParameterCount), _unit.ParameterCount, shape, buffers);

    public void FinishGradients(BatchShape shape, UnitBuffers buffers)
    {
        long items = (long)shape.Models * _unit.ElementCount;
        if (items > 0)
            FinishKernel(_device.LaunchFor(items), _unit, shape, buffers);
    }

    public void FusedSteps(FusedStepArgs args) => FusedKernel(_device.LaunchFor(args.Models), _unit, args);

    public void Evaluate(EvaluationArgs args) =>
        EvaluateKernel(_device.LaunchFor((long)args.Models * args.Chunks), _unit, args);
}

/// <summary>Creates <see cref="ModelKernels{TUnit}"/> for a unit whose type is known only at run time.</summary>
internal static class ModelKernels
{
    public static IModelKernels Create(NaluDevice device, IUnit unit) =>
        (IModelKernels)Activator.CreateInstance(typeof(ModelKernels<>).MakeGenericType(unit.GetType()), device, unit)!;
}
