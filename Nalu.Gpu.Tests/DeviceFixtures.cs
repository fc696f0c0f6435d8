using Nalu.Gpu.Devices;
using Xunit;

[assembly: CollectionBehavior(MaxParallelThreads = 1)]

namespace Nalu.Gpu.Tests;

/// <summary>
/// One device per backend for a test class. The same test bodies run on every backend: the CPU
/// accelerator always (CI), CUDA and OpenCL only where a device exists (skipped otherwise).
/// </summary>
public abstract class DeviceFixture : IDisposable
{
    private readonly Lazy<NaluDevice?> _device;

    protected DeviceFixture(DeviceKind kind)
    {
        Kind = kind;
        _device = new Lazy<NaluDevice?>(() =>
        {
            try
            {
                return NaluDevice.Create(kind);
            }
            catch (DeviceUnavailableException)
            {
                // No device of this kind here (ILGPU found none, e.g. no driver or no usable OpenCL platform): a skip.
                // Anything else (a device that exists but fails to open, a driver too old for ILGPU's PTX) is NOT
                // caught: Lazy rethrows it in every test of the fixture, which then fails, because a broken GPU
                // setup must not look like a machine without a GPU.
                return null;
            }
        });
    }

    /// <summary>The backend this fixture stands for.</summary>
    public DeviceKind Kind { get; }

    /// <summary>The device, or a skip when this machine has none of this kind.</summary>
    public NaluDevice Device
    {
        get
        {
            Assert.SkipWhen(_device.Value is null, $"No {Kind} device on this machine.");
            return _device.Value!;
        }
    }

    public void Dispose()
    {
        if (_device.IsValueCreated)
            _device.Value?.Dispose();
        GC.SuppressFinalize(this);
    }
}

public sealed class CpuFixture() : DeviceFixture(DeviceKind.Cpu);

/// <summary>The native CPU path (<see cref="DeviceKind.Native"/>: plain C# over host memory), always present.</summary>
public sealed class NativeFixture() : DeviceFixture(DeviceKind.Native);

public sealed class CudaFixture() : DeviceFixture(DeviceKind.Cuda);

public sealed class OpenCLFixture() : DeviceFixture(DeviceKind.OpenCL);
