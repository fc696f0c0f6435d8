using ILGPU;
using ILGPU.Runtime;
using Nalu.Gpu.Devices;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Kernels.Launch;

namespace Nalu.Gpu.Training;

/// <summary>The kernels that do not depend on the model type: data, loss and optimizer. Loaded once per device.</summary>
internal sealed class CommonKernels
{
    private readonly NaluDevice _device;

    private CommonKernels(NaluDevice device) => _device = device;

    public static CommonKernels For(NaluDevice device) => device.Kernel(typeof(CommonKernels), _ => new CommonKernels(device));

    public void Generate<TSource>(TSource source, DataShape shape, ArrayView<int> seeds, ArrayView<int> ops,
        ArrayView<float> x, ArrayView<float> targets) where TSource : struct, IDataSource =>
        _device.Kernel((typeof(TSource), nameof(TaskKernels.Generate)),
                a => a.LoadStreamKernel<TSource, DataShape, ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<float>>(TaskKernels.Generate))
            (_device.LaunchFor((long)shape.Models * shape.Batch), source, shape, seeds, ops, x, targets);

    public void MseGradient(int models, int perModel, ArrayView<float> y, ArrayView<float> target, ArrayView<float> dy) =>
        _device.Kernel(nameof(LossKernels.MseGradient), a => a.LoadStreamKernel<int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>>(LossKernels.MseGradient))
            (_device.LaunchFor((long)models * perModel), models, perModel, y, target, dy);

    public void MseLoss(int models, int perModel, ArrayView<float> y, ArrayView<float> target, ArrayView<float> losses) =>
        _device.Kernel(nameof(LossKernels.MseLoss), a => a.LoadStreamKernel<int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>>(LossKernels.MseLoss))
            (_device.LaunchFor(models), models, perModel, y, target, losses);

    public void NormScales(int models, int parameterCount, OptimizerSettings settings, OptimizerBuffers buffers) =>
        _device.Kernel(nameof(OptimizerKernels.NormScales), a => a.LoadStreamKernel<int, int, OptimizerSettings, OptimizerBuffers>(OptimizerKernels.NormScales))
            (_device.LaunchFor(models), models, parameterCount, settings, buffers);

    public void Update(int models, int parameterCount, int step, OptimizerSettings settings, OptimizerBuffers buffers) =>
        _device.Kernel(nameof(OptimizerKernels.Update), a => a.LoadStreamKernel<int, int, int, OptimizerSettings, OptimizerBuffers>(OptimizerKernels.Update))
            (_device.LaunchFor((long)models * parameterCount), models, parameterCount, step, settings, buffers);

    /// <summary>Row-major (P, E) to model-interleaved (E, P); see <see cref="LayoutKernels"/>.</summary>
    public void Interleave(int models, int elements, ArrayView<float> rows, ArrayView<float> interleaved)
    {
        if ((long)models * elements > 0)
        {
            _device.Kernel(nameof(LayoutKernels.Interleave), a => a.LoadStreamKernel<int, int, ArrayView<float>, ArrayView<float>>(LayoutKernels.Interleave))
                (_device.LaunchFor((long)models * elements), models, elements, rows, interleaved);
        }
    }

    /// <summary>Model-interleaved (E, P) back to row-major (P, E).</summary>
    public void Deinterleave(int models, int elements, ArrayView<float> interleaved, ArrayView<float> rows)
    {
        if ((long)models * elements > 0)
        {
            _device.Kernel(nameof(LayoutKernels.Deinterleave), a => a.LoadStreamKernel<int, int, ArrayView<float>, ArrayView<float>>(LayoutKernels.Deinterleave))
                (_device.LaunchFor((long)models * elements), models, elements, interleaved, rows);
        }
    }
}
