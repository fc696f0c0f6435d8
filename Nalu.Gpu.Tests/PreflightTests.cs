using Nalu.Gpu.Devices;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Models;
using Nalu.Gpu.Tasks;
using Nalu.Gpu.Training;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>Sizes that cannot fit are refused before anything is allocated, with a message that says how much was asked.</summary>
public sealed class PreflightTests(CpuFixture fixture) : IClassFixture<CpuFixture>
{
    [Fact]
    public void TheCpuDeviceReportsTheHostsMemoryNotILGPUsNominal8EiB()
    {
        var cpu = NaluDevice.List().Where(d => d.Kind is DeviceKind.Cpu or DeviceKind.Native).ToArray();
        Assert.NotEmpty(cpu);
        Assert.All(cpu, d => Assert.InRange(d.MemoryBytes, 1L << 26, 1L << 50));
        Assert.Equal(NaluDevice.HostMemoryBytes, fixture.Device.MemoryBytes);
    }

    [Fact]
    public void AHugeBatchedRunIsRefusedBeforeAllocating()
    {
        using var model = new Model(fixture.Device, ModelArchitecture.Uniform(UnitKind.Nalu, 2, 1), [1]);
        var e = Assert.Throws<InsufficientMemoryException>(() => new Trainer(model, new ArithmeticTask(ArithmeticOp.Add, inputs: 2),
            new TrainerOptions { Batch = 2_000_000_000, Strategy = TrainingStrategy.Batched }));
        Assert.Contains("batch 2000000000", e.Message);
        Assert.Contains("GiB", e.Message);
    }

    [Fact]
    public void EnsureFitsNamesWhatAndHowMuch()
    {
        var e = Assert.Throws<InsufficientMemoryException>(() => fixture.Device.EnsureFits(1e18, "A test request"));
        Assert.StartsWith("A test request needs", e.Message);
        fixture.Device.EnsureFits(1024, "A small request");
    }
}
