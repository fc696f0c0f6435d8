using Nalu.Gpu.Bench.Cli;
using Nalu.Gpu.Devices;
using Nalu.Gpu.Training;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>--device kind:N and the strategy names of train and bench.</summary>
public sealed class CliDeviceAndStrategyTests(ITestOutputHelper output)
{
    private (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        var result = CliTests.RunCli(args);
        output.WriteLine($"$ nalu {string.Join(' ', args)}  → exit {result.Code}\nstdout:\n{result.Stdout}\nstderr:\n{result.Stderr}");
        return result;
    }

    private static readonly string[] TinyTrain =
        ["train", "--inputs", "2", "--unit", "nac", "--op", "add", "--steps", "4", "--eval-samples", "50", "--models", "3", "--quiet"];

    [Theory]
    [InlineData("cuda", DeviceKind.Cuda, 0)]
    [InlineData("cuda:3", DeviceKind.Cuda, 3)]
    [InlineData("OpenCL:1", DeviceKind.OpenCL, 1)]
    [InlineData("cpu", DeviceKind.Cpu, 0)]
    [InlineData("native:0", DeviceKind.Native, 0)]
    [InlineData("auto", DeviceKind.Auto, 0)]
    public void DeviceNamesParse(string text, DeviceKind kind, int index) =>
        Assert.Equal((kind, index), CommonOptions.ParseDevice(text));

    [Theory]
    [InlineData("cuda:")]
    [InlineData("cuda:-1")]
    [InlineData("cuda:x")]
    [InlineData("auto:1")]
    [InlineData("tpu:0")]
    public void BadDeviceNamesAreUsageErrors(string text) =>
        Assert.Throws<UsageException>(() => CommonOptions.ParseDevice(text));

    [Fact]
    public void AnOutOfRangeDeviceNumberIsAClearError()
    {
        var (code, _, stderr) = Run([.. TinyTrain, "--device", "cpu:7"]);
        Assert.Equal(1, code);
        Assert.Contains("no CPU accelerator number 7", stderr);
    }

    [Fact]
    public void AMissingBackendIsAClearError()
    {
        Assert.SkipWhen(NaluDevice.List().Any(d => d.Kind == DeviceKind.Cuda), "This machine has a CUDA device.");
        var (code, _, stderr) = Run([.. TinyTrain, "--device", "cuda:1"]);
        Assert.Equal(1, code);
        Assert.Contains("No CUDA device found", stderr);
    }

    [Theory]
    [InlineData("auto", TrainingStrategy.Auto)]
    [InlineData("fused", TrainingStrategy.Fused)]
    [InlineData("fused-interleaved", TrainingStrategy.FusedInterleaved)]
    [InlineData("FusedInterleaved", TrainingStrategy.FusedInterleaved)]
    [InlineData("interleaved", TrainingStrategy.FusedInterleaved)]
    [InlineData("group", TrainingStrategy.Group)]
    [InlineData("batched", TrainingStrategy.Batched)]
    [InlineData("native", TrainingStrategy.Native)]
    public void StrategyNamesParse(string text, TrainingStrategy expected)
    {
        Assert.Equal(expected, ModelOptions.ParseStrategy(text));
        Assert.Equal(expected, ModelOptions.ParseStrategy(ModelOptions.StrategyName(expected)));
    }

    [Theory]
    [InlineData("fast")]
    [InlineData("1")]
    [InlineData("fused,batched")]
    public void BadStrategyNamesAreUsageErrorsThatListTheNames(string text)
    {
        var e = Assert.Throws<UsageException>(() => ModelOptions.ParseStrategy(text));
        Assert.Contains("fused-interleaved", e.Message);
    }

    [Fact]
    public void TrainRunsTheInterleavedStrategy()
    {
        var (code, stdout, stderr) = Run([.. TinyTrain, "--device", "cpu", "--strategy", "fused-interleaved", "--json", "-"]);
        Assert.True(code == 0, stderr);
        Assert.Contains("\"strategy\": \"FusedInterleaved\"", stdout);
    }

    [Fact]
    public void BenchTimesAGridOfLayoutsAndSkipsWhatCannotRun()
    {
        string markdown = Path.Combine(Path.GetTempPath(), $"nalu-bench-{Guid.NewGuid():N}.md");
        try
        {
            var (code, stdout, stderr) = Run("bench", "--config", "nau-nmu", "--devices", "cpu", "--no-torch", "--seconds", "0.01",
                "--repeats", "1", "--models", "1,2", "--strategy", "fused,fused-interleaved,native", "--json", "-", "--markdown", markdown);
            Assert.True(code == 0, stderr);
            var rows = System.Text.Json.JsonDocument.Parse(stdout).RootElement.EnumerateArray()
                .Select(r => (r.GetProperty("strategy").GetString(), r.GetProperty("models").GetInt32())).ToList();
            // native on the CPU accelerator's device kind runs (the native path accepts a CPU device).
            Assert.Equal(6, rows.Count);
            Assert.Contains(("fused-interleaved", 2), rows);
            string table = File.ReadAllText(markdown);
            Assert.Contains("| nau-nmu | cpu | fused-interleaved | 2 |", table);
        }
        finally
        {
            File.Delete(markdown);
        }
    }
}
