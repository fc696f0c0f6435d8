using Nalu.Gpu.Devices;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Models;
using Nalu.Gpu.Tasks;
using Nalu.Gpu.Training;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>The group kernel on ILGPU's CPU accelerator, which simulates groups, shared memory and barriers.</summary>
public sealed class CpuGroupTrainingTests(CpuFixture fixture) : GroupTrainingTests(fixture), IClassFixture<CpuFixture>;

/// <summary>The group kernel on CUDA (skipped without a CUDA device).</summary>
public sealed class CudaGroupTrainingTests(CudaFixture fixture) : GroupTrainingTests(fixture), IClassFixture<CudaFixture>
{
    /// <summary>
    /// Passes on an H200 (2026-12-04); its difference was not logged there. ILGPU emits <c>mul.f32</c> and <c>add.f32</c> without a rounding mode, which lets
    /// ptxas contract a pair into an <c>fma</c>; it may decide differently in two kernels that inline the same unit code, so
    /// equal bits are expected but not guaranteed. The tolerance is CUDA's fused-against-batched one
    /// (<see cref="CudaDeterminismTests"/>); a lost sample or slice moves parameters by far more.
    /// </summary>
    protected override (double Atol, double Rtol)? FusedTolerance => (1e-3, 1e-2);
}

/// <summary>
/// <see cref="TrainingStrategy.Group"/> (one thread group per model) against <see cref="TrainingStrategy.Fused"/> (one thread
/// per model), BIT FOR BIT: the group kernel keeps the fused kernel's summation order (per-slice sums from zero, added in
/// slice order; the clip norm summed in parameter order), so any difference is a bug, not round-off. The fused kernel is
/// itself held to the double reference in <see cref="TrainingReferenceTests"/>, which runs the group strategy too.
/// Both run the same device, so CUDA's approximate tanh/exp/log are the same instructions on both sides.
/// </summary>
public abstract class GroupTrainingTests(DeviceFixture fixture)
{
    private const int Steps = 5;

    /// <summary>Null: the group kernel must give the fused kernel's bits (the CPU accelerator runs the same .NET code).</summary>
    protected virtual (double Atol, double Rtol)? FusedTolerance => null;

    private static readonly ArithmeticTask Task = new(ArithmeticOp.Mul, 10, subsetSize: 3, subsetGap: 4);

    private static ModelArchitecture Architecture(string name) => name switch
    {
        "nac 10→1" => ModelArchitecture.Uniform(UnitKind.Nac, 10, 1),
        "nalu 10→1" => ModelArchitecture.Uniform(UnitKind.Nalu, 10, 1),
        // The sparsity regulariser ramps up over the test's steps, so it acts (and changes) inside the compared run.
        "nau→nmu 10→2→1 regularised" => new ModelArchitecture([
            LayerSpec.Nau(10, 2, RegularizerSettings.Sparsity(1f, 0, 3)), LayerSpec.Nmu(2, 1, RegularizerSettings.Sparsity(1f, 0, 3))]),
        "nalu 10→2→1 chain" => ModelArchitecture.Uniform(UnitKind.Nalu, 10, 2, 1),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "Unknown architecture."),
    };

    private static OptimizerOptions Optimizer(string name) => name switch
    {
        "adam" => OptimizerOptions.Adam(1e-2f),
        // A clip norm below these models' first gradients, so the norm scale is active.
        "sgd clip-norm" => OptimizerOptions.Sgd(0.1f).WithClipping(0f, 0.05f),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "Unknown optimizer."),
    };

    /// <summary>
    /// Each architecture twice; between them every P of {1, 3, 33}, every batch of {1, 17, 50} (not multiples of 16 nor of a
    /// warp of 32; 17 is one slice and one sample) and both optimizers. The full product would cost minutes on the CPU
    /// accelerator and test the same code paths again.
    /// </summary>
    public static TheoryData<string, int, int, string> Cases() => new()
    {
        { "nac 10→1", 33, 1, "adam" },
        { "nac 10→1", 3, 17, "sgd clip-norm" },
        { "nalu 10→1", 1, 17, "adam" },
        { "nalu 10→1", 3, 50, "sgd clip-norm" },
        { "nau→nmu 10→2→1 regularised", 3, 50, "adam" },
        { "nau→nmu 10→2→1 regularised", 1, 17, "sgd clip-norm" },
        { "nalu 10→2→1 chain", 33, 17, "sgd clip-norm" },
        { "nalu 10→2→1 chain", 1, 50, "adam" },
    };

    private (float[] Initial, float[] Trained, float[] Losses) Train(
        string architecture, int models, int batch, string optimizer, TrainingStrategy strategy, long? groupSharedBytes = null)
    {
        using var model = new Model(fixture.Device, Architecture(architecture), Enumerable.Range(11, models).ToArray());
        var initial = model.GetParameters();
        using var trainer = new Trainer(model, Task, new TrainerOptions
        {
            Batch = batch, Strategy = strategy, Optimizer = Optimizer(optimizer), EvaluateEvery = 0,
            StepsPerLaunch = 3,   // the steps cross a launch boundary (Adam's step count, parameters back in global memory)
            GroupSharedMemoryBytes = groupSharedBytes,
        });
        Assert.Equal(strategy, trainer.Strategy);
        trainer.Train(Steps);
        return (initial, model.GetParameters(), trainer.LastLosses);
    }

    private void AssertSameBits(string architecture, int models, int batch, string optimizer, long? groupSharedBytes = null)
    {
        var fused = Train(architecture, models, batch, optimizer, TrainingStrategy.Fused);
        var group = Train(architecture, models, batch, optimizer, TrainingStrategy.Group, groupSharedBytes);
        string what = $"{architecture}, P {models}, batch {batch}, {optimizer} on {fixture.Kind}";
        Assert.Equal(fused.Initial, group.Initial);
        // Power: training moved every model, so equal bits are not two untouched copies.
        int n = fused.Initial.Length / models;
        for (int p = 0; p < models; p++)
        {
            Assert.False(fused.Initial.AsSpan(p * n, n).SequenceEqual(fused.Trained.AsSpan(p * n, n)), $"{what}: model {p} did not move.");
            Assert.True(float.IsFinite(fused.Losses[p]) && fused.Losses[p] > 0f, $"{what}: model {p} loss {fused.Losses[p]}.");
        }

        if (FusedTolerance is { } tolerance)
        {
            Tolerance.AssertClose(HostData.Widen(fused.Trained), group.Trained, tolerance, what);
            Tolerance.AssertClose(HostData.Widen(fused.Losses), group.Losses, tolerance, what + ", losses");
            return;
        }

        if (!HostData.Bits(fused.Trained).SequenceEqual(HostData.Bits(group.Trained)))
            Assert.Fail($"{what}: parameters differ; first at {FirstDifference(fused.Trained, group.Trained)}.");
        Assert.Equal(HostData.Bits(fused.Losses), HostData.Bits(group.Losses));
    }

    private static string FirstDifference(float[] expected, float[] actual)
    {
        int k = Enumerable.Range(0, expected.Length).First(i => BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]));
        return $"{k}: {expected[k]:R} (fused) against {actual[k]:R} (group)";
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GroupEqualsFusedBitForBit(string architecture, int models, int batch, string optimizer) =>
        AssertSameBits(architecture, models, batch, optimizer);

    /// <summary>Shared floats the group kernel cannot do without for this model and batch: 2N + C + slices + 1.</summary>
    private static long FixedBytes(Model model, int batch) =>
        4L * (2 * model.ParameterCount + model.Kernels.CacheCount + (batch + 15) / 16 + 1);

    /// <summary>
    /// A shared-memory budget that holds the fixed part (parameters, cache, gradient, slice losses, clip scale) but not the
    /// work area, so the slice partials and sample scratch live in global memory: the same bits.
    /// </summary>
    [Fact]
    public void WorkAreaInGlobalMemoryGivesTheSameBits()
    {
        using var model = new Model(fixture.Device, Architecture("nalu 10→1"), [1]);
        long budget = FixedBytes(model, 50) + 4;
        var plan = model.Kernels.PlanGroup(3, 50, budget);
        Assert.False(plan.WorkInShared);
        Assert.True(plan.GlobalWorkFloats >= 4L * model.ParameterCount, $"{plan.GlobalWorkFloats} floats of work area");
        Assert.True(model.Kernels.PlanGroup(3, 50).WorkInShared);
        AssertSameBits("nalu 10→1", 3, 50, "adam", groupSharedBytes: budget);
    }

    [Fact]
    public void AModelThatDoesNotFitSharedMemoryIsRefusedWithItsSizes()
    {
        using var model = new Model(fixture.Device, Architecture("nalu 10→1"), [1]);
        var error = Assert.Throws<NotSupportedException>(() => new Trainer(model, Task, new TrainerOptions
        {
            Batch = 50, Strategy = TrainingStrategy.Group, EvaluateEvery = 0, GroupSharedMemoryBytes = 100,
        }));
        Assert.Contains($"{model.ParameterCount} parameters", error.Message);
        Assert.Contains($"{FixedBytes(model, 50):N0} bytes", error.Message);
        Assert.Contains("100 bytes", error.Message);
    }
}

/// <summary>The group strategy needs a kernel device; the native device refuses it with a clear error.</summary>
public sealed class GroupStrategyDeviceTests(NativeFixture fixture) : IClassFixture<NativeFixture>
{
    [Fact]
    public void NativeDeviceRefusesTheGroupStrategy()
    {
        using var model = new Model(fixture.Device, ModelArchitecture.Uniform(UnitKind.Nac, 2, 1), [1]);
        var error = Assert.Throws<ArgumentException>(() => new Trainer(model, new ArithmeticTask(ArithmeticOp.Add, 2),
            new TrainerOptions { Strategy = TrainingStrategy.Group, EvaluateEvery = 0 }));
        Assert.Contains("group strategy", error.Message);
    }
}
