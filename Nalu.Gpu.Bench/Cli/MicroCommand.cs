using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using CommandLine;
using Nalu.Gpu.Bench.Micro;

namespace Nalu.Gpu.Bench.Cli;

[Verb("micro", HelpText = "BenchmarkDotNet micro-benchmarks of each kernel (reference model, batch 128) on one device.")]
public sealed class MicroOptions : CommonOptions
{
    [Option("quick", HelpText = "Few iterations: finishes in under a minute; numbers are rougher.")]
    public bool Quick { get; set; }

    [Option("filter", Default = "*", HelpText = "BenchmarkDotNet glob over benchmark names, e.g. '*Forward*'.")]
    public string Filter { get; set; } = "*";
}

internal static class MicroCommand
{
    public static int Run(MicroOptions o)
    {
        // The benchmark class opens its own device; pass the choice through the environment.
        Environment.SetEnvironmentVariable("NALU_BENCH_DEVICE", o.DeviceKind.ToString());
        var job = o.Quick
            ? Job.Default.WithWarmupCount(1).WithIterationCount(3).WithLaunchCount(1).WithIterationTime(Perfolizer.Horology.TimeInterval.FromMilliseconds(100))
            : Job.Default;
        // In-process: no separate project build, so it runs wherever the program runs (also from the GPU bundle).
        var config = ManualConfig.Create(DefaultConfig.Instance)
            .AddJob(job.WithToolchain(InProcessEmitToolchain.Instance))
            .WithOptions(ConfigOptions.DisableOptimizationsValidator)
            .AddFilter(new BenchmarkDotNet.Filters.GlobFilter([o.Filter]));
        var summary = BenchmarkRunner.Run<KernelBenchmarks>(config);
        return summary.HasCriticalValidationErrors ? 1 : 0;
    }
}
