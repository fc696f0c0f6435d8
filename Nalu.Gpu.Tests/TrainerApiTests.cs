using Nalu.Gpu.Devices;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Models;
using Nalu.Gpu.Tasks;
using Nalu.Gpu.Training;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>The host API's conventions: reporting apart from launch size, IProgress, async, cancellation, Evaluate that records nothing.</summary>
public sealed class TrainerApiTests
{
    private static (NaluDevice Device, Model Model, Trainer Trainer) Make(TrainerOptions options)
    {
        var device = NaluDevice.Create(DeviceKind.Native);
        var model = new Model(device, ModelArchitecture.Uniform(UnitKind.Nac, 2, 1), [1]);
        return (device, model, new Trainer(model, new ArithmeticTask(ArithmeticOp.Add, inputs: 2), options));
    }

    [Fact]
    public void ReportEveryIsIndependentOfStepsPerLaunchAndCarriesTimeAndRate()
    {
        var (device, model, trainer) = Make(new TrainerOptions { EvaluateEvery = 0, StepsPerLaunch = 50, ReportEvery = 30, Threads = 1 });
        using (device)
        using (model)
        using (trainer)
        {
            var steps = new List<int>();
            TrainingProgress? last = null;
            trainer.Train(100, p =>
            {
                steps.Add(p.Step);
                last = p;
            });
            Assert.Equal([30, 60, 90, 100], steps);
            Assert.True(last!.Elapsed > TimeSpan.Zero);
            Assert.True(last.StepsPerSecond > 0);
        }
    }

    [Fact]
    public async Task TrainAsyncReportsThroughIProgressAndCancels()
    {
        var (device, model, trainer) = Make(new TrainerOptions { EvaluateEvery = 0, StepsPerLaunch = 10, ReportEvery = 10, Threads = 1 });
        using (device)
        using (model)
        using (trainer)
        {
            var reports = new List<int>();
            await trainer.TrainAsync(50, new SynchronousProgress(p => reports.Add(p.Step)), TestContext.Current.CancellationToken);
            Assert.Equal([10, 20, 30, 40, 50], reports);

            using var cancel = new CancellationTokenSource();
            cancel.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => trainer.TrainAsync(50, null, cancel.Token));
            Assert.Equal(50, trainer.Step);
        }
    }

    [Fact]
    public void EvaluateRecordsNothingUnlessAsked()
    {
        var (device, model, trainer) = Make(new TrainerOptions { EvaluateEvery = 20, ValidationSamples = 100, TestSamples = 100, Threads = 1 });
        using (device)
        using (model)
        using (trainer)
        {
            trainer.Train(40);
            Assert.Equal(2, trainer.History.Count);
            _ = trainer.Evaluate();
            Assert.Equal(2, trainer.History.Count);
            _ = trainer.Evaluate(record: true);
            Assert.Equal(3, trainer.History.Count);
        }
    }

    [Fact]
    public void AutoPicksTheNativePathWhenThereIsNoGpu()
    {
        bool gpu = NaluDevice.List().Any(d => d.Usable && d.Kind is DeviceKind.Cuda or DeviceKind.OpenCL);
        Assert.SkipWhen(gpu, "A GPU is present; Auto picks it.");
        using var device = NaluDevice.Create();
        Assert.Equal(DeviceKind.Native, device.Kind);
    }

    private sealed class SynchronousProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
