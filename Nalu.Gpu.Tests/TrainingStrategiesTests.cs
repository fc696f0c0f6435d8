using Nalu.Gpu.Devices;
using Nalu.Gpu.Training;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>The Auto rule (README, "Which layout trains"), case by case.</summary>
public sealed class TrainingStrategiesTests
{
    private const long Fits = 12_928, Limit = 48 * 1024, TooBig = Limit + 1;

    [Theory]
    [InlineData(DeviceKind.Native, 1, Fits, TrainingStrategy.Native)]
    [InlineData(DeviceKind.Native, 100_000, TooBig, TrainingStrategy.Native)]
    [InlineData(DeviceKind.Cpu, 1, Fits, TrainingStrategy.Fused)]
    [InlineData(DeviceKind.Cpu, 8192, TooBig, TrainingStrategy.Fused)]
    [InlineData(DeviceKind.Cuda, 1, Fits, TrainingStrategy.Batched)]
    [InlineData(DeviceKind.Cuda, TrainingStrategies.GroupMinModels - 1, Fits, TrainingStrategy.Batched)]
    [InlineData(DeviceKind.Cuda, TrainingStrategies.GroupMinModels, Fits, TrainingStrategy.Group)]
    [InlineData(DeviceKind.Cuda, 8192, Fits, TrainingStrategy.Group)]
    [InlineData(DeviceKind.Cuda, 8192, Limit, TrainingStrategy.Group)]
    [InlineData(DeviceKind.Cuda, 1, TooBig, TrainingStrategy.Batched)]
    [InlineData(DeviceKind.Cuda, TrainingStrategies.InterleavedMinModels - 1, TooBig, TrainingStrategy.Batched)]
    [InlineData(DeviceKind.Cuda, TrainingStrategies.InterleavedMinModels, TooBig, TrainingStrategy.FusedInterleaved)]
    [InlineData(DeviceKind.OpenCL, 64, Fits, TrainingStrategy.Batched)]
    [InlineData(DeviceKind.OpenCL, 1024, Fits, TrainingStrategy.Group)]
    [InlineData(DeviceKind.OpenCL, 100_000, TooBig, TrainingStrategy.FusedInterleaved)]
    public void TheRuleOfTheReadme(DeviceKind kind, int models, long groupBytes, TrainingStrategy expected) =>
        Assert.Equal(expected, TrainingStrategies.Choose(kind, models, 128, groupBytes, Limit));

    [Fact]
    public void GroupSharedBytesOfTheReferenceModel()
    {
        // NALU 100→2→1: 606 parameters and 202 cached weights; the group kernel keeps parameters, cache, gradient, the
        // slice losses (8 at batch 128, 2 at batch 17) and the clip-norm scale in shared memory.
        using var device = NaluDevice.Create(DeviceKind.Cpu);
        using var model = new Nalu.Gpu.Models.Model(device, Nalu.Gpu.Models.ModelArchitecture.Uniform(Nalu.Gpu.Models.UnitKind.Nalu, 100, 2, 1), [1]);
        Assert.Equal(2 * 606 + 202 + 8 + 1, model.Kernels.GroupSharedFixedFloats(128));
        Assert.Equal(2 * 606 + 202 + 2 + 1, model.Kernels.GroupSharedFixedFloats(17));
    }

    [Fact]
    public void AutoIsNoDeviceKind() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => TrainingStrategies.Choose(DeviceKind.Auto, 1, 128, 0, 0));
}
