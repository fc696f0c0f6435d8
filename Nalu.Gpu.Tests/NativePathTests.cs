using Nalu.Gpu.Devices;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Models;
using Nalu.Gpu.Tasks;
using Nalu.Gpu.Training;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>
/// The native CPU path runs the fused kernel's own code over host memory, so it must give the fused
/// kernel's weights within float tolerance: the data are bit-identical, but host memory sums dot products
/// in SIMD lanes, uses a vector log, and may split a model's batch across cores.
/// </summary>
public sealed class NativePathTests : IDisposable
{
    private readonly NaluDevice _cpu = NaluDevice.Create(DeviceKind.Cpu);
    private readonly NaluDevice _native = NaluDevice.Create(DeviceKind.Native);

    private float[] Train(NaluDevice device, ModelArchitecture architecture, int[] seeds, ArithmeticTask task, int steps, OptimizerOptions? optimizer = null)
    {
        using var model = new Model(device, architecture, seeds);
        using var trainer = new Trainer(model, task, new TrainerOptions
        {
            Batch = 33, EvaluateEvery = 0, StepsPerLaunch = 7, Optimizer = optimizer ?? OptimizerOptions.Adam(1e-2f),
            Strategy = device.Kind == DeviceKind.Native ? TrainingStrategy.Native : TrainingStrategy.Fused,
        });
        trainer.Train(steps);
        Assert.All(trainer.LastLosses, l => Assert.True(float.IsFinite(l)));
        return model.GetParameters();
    }

    [Fact]
    public void ModelPerCoreMatchesTheFusedKernel()
    {
        // At least as many models as cores: each model runs FusedTrainingKernel.TrainModel whole, as in the kernel.
        // Measured difference after 20 Adam steps: ~1e-6 relative.
        int[] seeds = Enumerable.Range(10, Math.Max(2, Environment.ProcessorCount)).ToArray();
        var architecture = ModelArchitecture.Uniform(UnitKind.Nalu, 100, 2, 1);
        var task = new ArithmeticTask(ArithmeticOp.Mul);
        var fused = Train(_cpu, architecture, seeds, task, 20);
        var native = Train(_native, architecture, seeds, task, 20);
        Tolerance.AssertClose(fused.Select(v => (double)v).ToArray(), native, (1e-4, 1e-3), "native vs fused population");
    }

    [Theory]
    [InlineData(UnitKind.Nalu, ArithmeticOp.Mul)]
    [InlineData(UnitKind.Nac, ArithmeticOp.Add)]
    [InlineData(UnitKind.Dense, ArithmeticOp.Sub)]
    public void SplitBatchMatchesTheFusedKernelWithinTolerance(UnitKind kind, ArithmeticOp op)
    {
        // One model, batch split across cores: same math, different summation order of the batch gradient.
        // After 20 Adam steps the parameters agree to ~1e-5 relative; Adam's normalisation keeps it from growing.
        var architecture = ModelArchitecture.Uniform(kind, 100, 3, 1);
        var task = new ArithmeticTask(op);
        var fused = Train(_cpu, architecture, [3], task, 20);
        var native = Train(_native, architecture, [3], task, 20);
        var expected = fused.Select(v => (double)v).ToArray();
        Tolerance.AssertClose(expected, native, (1e-4, 1e-3), $"{kind} native vs fused");
    }

    [Fact]
    public void NativeEvaluationMatchesTheEvaluationKernel()
    {
        var architecture = ModelArchitecture.Uniform(UnitKind.Nalu, 100, 2, 1);
        var task = new ArithmeticTask(ArithmeticOp.Mul);
        double[] Evaluate(NaluDevice device)
        {
            using var model = new Model(device, architecture, [5, 6, 7]);
            using var trainer = new Trainer(model, task, new TrainerOptions { EvaluateEvery = 0, ValidationSamples = 999, TestSamples = 777 });
            var e = trainer.Evaluate();
            return [.. e.Interpolation, .. e.Extrapolation];
        }

        // Same parameters and data; only the float summation inside the forward differs (SIMD lanes).
        var kernel = Evaluate(_cpu);
        var native = Evaluate(_native);
        Tolerance.AssertClose(kernel, native, (1e-6, 1e-4), "native vs kernel evaluation");
        Assert.All(native, v => Assert.True(double.IsFinite(v) && v > 0));
    }

    public void Dispose()
    {
        _cpu.Dispose();
        _native.Dispose();
    }
}
