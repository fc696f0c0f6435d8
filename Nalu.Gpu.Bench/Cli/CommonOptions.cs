using CommandLine;
using Nalu.Gpu.Devices;

namespace Nalu.Gpu.Bench.Cli;

/// <summary>Options every verb shares.</summary>
public abstract class CommonOptions
{
    [Option("device", Default = "auto", HelpText = "Backend: auto (CUDA, then OpenCL, then CPU), cpu (ILGPU's CPU accelerator), native (training as plain C# on all cores), cuda, opencl.")]
    public string Device { get; set; } = "auto";

    internal DeviceKind DeviceKind => Device.ToLowerInvariant() switch
    {
        "auto" => DeviceKind.Auto,
        "cpu" => DeviceKind.Cpu,
        "cuda" => DeviceKind.Cuda,
        "opencl" => DeviceKind.OpenCL,
        "native" => DeviceKind.Native,
        _ => throw new UsageException($"--device '{Device}' is not one of auto, cpu, native, cuda, opencl."),
    };
}

/// <summary>A command-line mistake: printed with the hint to run --help, exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);
