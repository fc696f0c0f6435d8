using CommandLine;
using Nalu.Gpu.Devices;

namespace Nalu.Gpu.Bench.Cli;

/// <summary>Options every verb shares.</summary>
public abstract class CommonOptions
{
    [Option("device", Default = "auto", HelpText = "Backend: auto (CUDA, then OpenCL, then CPU), cpu (ILGPU's CPU accelerator), native (training as plain C# on all cores), cuda, opencl; cuda:N or opencl:N picks device N of several ('nalu devices' lists the numbers).")]
    public string Device { get; set; } = "auto";

    internal DeviceKind DeviceKind => ParseDevice(Device).Kind;

    /// <summary>N of --device kind:N (0 without it).</summary>
    internal int DeviceIndex => ParseDevice(Device).Index;

    /// <summary>Parses "kind" or "kind:N" (N a device number among that backend's usable devices).</summary>
    internal static (DeviceKind Kind, int Index) ParseDevice(string device)
    {
        string text = device.Trim().ToLowerInvariant();
        int colon = text.IndexOf(':');
        string name = colon < 0 ? text : text[..colon];
        int index = 0;
        if (colon >= 0 && !(int.TryParse(text[(colon + 1)..], System.Globalization.NumberStyles.None,
                System.Globalization.CultureInfo.InvariantCulture, out index)))
            throw new UsageException($"--device '{device}': the device number after ':' must be a whole number ≥ 0, as in cuda:1.");
        var kind = name switch
        {
            "auto" => DeviceKind.Auto,
            "cpu" => DeviceKind.Cpu,
            "cuda" => DeviceKind.Cuda,
            "opencl" => DeviceKind.OpenCL,
            "native" => DeviceKind.Native,
            _ => throw new UsageException($"--device '{device}' is not one of auto, cpu, native, cuda, opencl (cuda:N and opencl:N pick device N)."),
        };
        if (kind == DeviceKind.Auto && colon >= 0)
            throw new UsageException($"--device '{device}': auto takes no device number; name the backend, as in cuda:1.");
        return (kind, index);
    }
}

/// <summary>A command-line mistake: printed with the hint to run --help, exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);
