using CommandLine;
using Nalu.Gpu.Devices;
using Spectre.Console;

namespace Nalu.Gpu.Bench.Cli;

[Verb("devices", HelpText = "List the devices ILGPU finds, and why an OpenCL device cannot be used.")]
public sealed class DevicesOptions : CommonOptions
{
    [Option("json", HelpText = "Print JSON instead of a table.")]
    public bool Json { get; set; }
}

internal static class DevicesCommand
{
    public static int Run(DevicesOptions o)
    {
        _ = o.DeviceKind; // validates --device even though every device is listed
        var devices = NaluDevice.List();
        if (o.Json)
        {
            Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(devices, Output.Json));
            return 0;
        }

        var table = new Table().AddColumns("Kind", "Index", "Name", "Memory", "Usable");
        foreach (var d in devices)
        {
            table.AddRow(d.Kind.ToString(), d.Usable ? d.Index.ToString() : "-", Markup.Escape(d.Name),
                $"{d.MemoryBytes / (1024.0 * 1024 * 1024):F1} GiB",
                d.Usable ? "[green]yes[/]" : $"[red]no[/]: {Markup.Escape(d.Reason ?? "")}");
        }

        AnsiConsole.Write(table);
        if (!devices.Any(d => d.Kind == DeviceKind.Cuda))
            AnsiConsole.MarkupLine("[grey]No CUDA device: none present, or no loadable libcuda.so.[/]");
        if (!devices.Any(d => d.Kind == DeviceKind.OpenCL))
            AnsiConsole.MarkupLine("[grey]No OpenCL device: no platform, or no loadable libOpenCL.so (Debian: ocl-icd-opencl-dev).[/]");
        return 0;
    }
}
