using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using Nalu.Gpu.Devices;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>
/// The CPU accelerator's shape must be valid for every core count: ILGPU 1.5.3 rejects a number of warps per
/// multiprocessor that is not a power of two, which once made every command fail on 5-, 6-, 12- or 24-core machines.
/// </summary>
public sealed class CpuDeviceShapeTests
{
    public static TheoryData<int> AcceleratorCoreCounts => new() { 1, 3, 5, 6, 12, 13, 24, 48 };

    [Fact]
    public void EveryCoreCountFrom1To256GivesAValidDeviceWithAThreadPerCore()
    {
        for (int cores = 1; cores <= 256; cores++)
        {
            var device = NaluDevice.CpuDevice(cores);
            int threads = device.MaxNumThreadsPerGroup * device.NumMultiprocessors;
            int expected = Math.Max(2, cores + cores % 2);   // rounded up to an even count, at least 2
            Assert.True(threads == expected, $"{cores} cores: {threads} simulated threads, expected {expected}.");
            int warps = device.MaxNumThreadsPerGroup / device.WarpSize;
            Assert.True((warps & (warps - 1)) == 0, $"{cores} cores: {warps} warps per multiprocessor is not a power of two.");
        }
    }

    [Theory]
    [MemberData(nameof(AcceleratorCoreCounts))]
    public void AnAcceleratorOfThatShapeRunsAGridStrideKernel(int cores)
    {
        using var context = Context.Create(b => b.CPU(NaluDevice.CpuDevice(cores)).EnableAlgorithms());
        using var accelerator = context.GetCPUDevice(0).CreateAccelerator(context);
        const int n = 1000;
        using var buffer = accelerator.Allocate1D<int>(n);
        buffer.MemSetToZero();
        var kernel = accelerator.LoadStreamKernel<ArrayView<int>>(FillWithIndex);
        kernel(new KernelConfig(accelerator.NumMultiprocessors, accelerator.MaxNumThreadsPerGroup), buffer.View);
        accelerator.Synchronize();
        var values = buffer.GetAsArray1D();
        for (int i = 0; i < n; i++)
            Assert.Equal(i, values[i]);
    }

    private static void FillWithIndex(ArrayView<int> values)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int i = Grid.GlobalIndex.X; i < values.IntLength; i += stride)
            values[i] = i;
    }
}
