using Nalu.Gpu.Checkpoints;
using Nalu.Gpu.Devices;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Models;
using Nalu.Gpu.Tasks;
using Nalu.Gpu.Training;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>Determinism on ILGPU's CPU accelerator.</summary>
public sealed class CpuDeterminismTests(CpuFixture fixture) : DeterminismTests(fixture), IClassFixture<CpuFixture>;

/// <summary>Determinism on CUDA (skipped without a CUDA device).</summary>
public sealed class CudaDeterminismTests(CudaFixture fixture) : DeterminismTests(fixture), IClassFixture<CudaFixture>
{
    /// <summary>
    /// Not measured yet (no GPU here): the two layouts compile to different kernels, so the approximate tanh/exp/log
    /// of CUDA may round differently between them; ≈1e-3 relative per weight, as in CudaUnitKernelTests.
    /// </summary>
    protected override (double Atol, double Rtol) LayoutTolerance => (1e-3, 1e-2);
}

/// <summary>
/// A seed reproduces a run bit for bit: data, initialisation and the deterministic (atomic-free) reductions
/// depend only on (seed, step, sample), never on the launch, the population or the thread timing.
/// </summary>
public abstract class DeterminismTests(DeviceFixture fixture) : IDisposable
{
    /// <summary>Fused against batched, and a batched model alone against inside a population (see the tests).</summary>
    protected virtual (double Atol, double Rtol) LayoutTolerance => Tolerance.Values;

    private readonly string _dir = Directory.CreateDirectory(
        Path.Combine(Path.GetTempPath(), "nalu-determinism-" + Guid.NewGuid().ToString("N"))).FullName;

    public void Dispose()
    {
        Directory.Delete(_dir, recursive: true);
        GC.SuppressFinalize(this);
    }

    private NaluDevice Device => fixture.Device;

    private const int Steps = 12;

    private static ArithmeticTask Task(int inputs) => new(ArithmeticOp.Mul, inputs);

    /// <summary>NALU 2→1, or the paper's 100→2→1 stack.</summary>
    private static ModelArchitecture Architecture(int inputs) =>
        inputs == 2 ? ModelArchitecture.Uniform(UnitKind.Nalu, 2, 1) : ModelArchitecture.Uniform(UnitKind.Nalu, inputs, 2, 1);

    private static TrainerOptions Options(TrainingStrategy strategy, OptimizerOptions? optimizer = null) => new()
    {
        Batch = 16,
        Strategy = strategy,
        EvaluateEvery = 0,
        StepsPerLaunch = 5, // several launches, so the step counter crosses launch boundaries
        Optimizer = optimizer ?? OptimizerOptions.Adam(1e-2f),
    };

    /// <summary>Trains fresh models with the given seeds and returns all their parameters.</summary>
    private float[] TrainedParameters(int inputs, TrainingStrategy strategy, int[] seeds, OptimizerOptions? optimizer = null)
    {
        using var model = new Model(Device, Architecture(inputs), seeds);
        using var trainer = new Trainer(model, Task(inputs), Options(strategy, optimizer));
        Assert.Equal(strategy, trainer.Strategy);
        trainer.Train(Steps);
        Assert.All(trainer.LastLosses, l => Assert.True(float.IsFinite(l)));
        return model.GetParameters();
    }

    private static int[] Bits(float[] values) => values.Select(BitConverter.SingleToInt32Bits).ToArray();

    [Theory]
    [InlineData(TrainingStrategy.Fused, 2)]
    [InlineData(TrainingStrategy.Fused, 100)]
    [InlineData(TrainingStrategy.Batched, 2)]
    [InlineData(TrainingStrategy.Batched, 100)]
    public void SameSeedGivesBitIdenticalParameters(TrainingStrategy strategy, int inputs)
    {
        var first = TrainedParameters(inputs, strategy, [42]);
        var second = TrainedParameters(inputs, strategy, [42]);
        Assert.Equal(Bits(first), Bits(second));

        // Training really moved the parameters (otherwise equality would prove nothing).
        var initial = Architecture(inputs).Initialize(42);
        Assert.NotEqual(Bits(initial), Bits(first));
    }

    [Theory]
    [InlineData(TrainingStrategy.Fused, 2)]
    [InlineData(TrainingStrategy.Batched, 100)]
    public void DifferentSeedsGiveDifferentParameters(TrainingStrategy strategy, int inputs)
    {
        var a = TrainedParameters(inputs, strategy, [1]);
        var b = TrainedParameters(inputs, strategy, [2]);
        Assert.Equal(a.Length, b.Length);
        int differing = a.Zip(b).Count(pair => pair.First != pair.Second);
        Assert.True(differing > a.Length / 2, $"only {differing} of {a.Length} parameters differ between seeds 1 and 2");
    }

    [Theory]
    [InlineData(2)]
    [InlineData(100)]
    public void ModelTrainedAloneEqualsTheSameSeedInsideAFusedPopulation(int inputs)
    {
        // Fused: one work item per model runs exactly the same instructions whatever P is, so bit-identical.
        int[] population = [10, 11, 12];
        var together = TrainedParameters(inputs, TrainingStrategy.Fused, population);
        int n = Architecture(inputs).ParameterCount;
        Assert.Equal(population.Length * n, together.Length);
        for (int k = 0; k < population.Length; k++)
        {
            var alone = TrainedParameters(inputs, TrainingStrategy.Fused, [population[k]]);
            Assert.Equal(Bits(alone), Bits(together.AsSpan(k * n, n).ToArray()));
        }
    }

    [Fact]
    public void ModelTrainedAloneMatchesTheSameSeedInsideABatchedPopulationWithinSummationOrder()
    {
        // Batched: the number of backward chunks per model is chosen from the device's thread count divided
        // by P, so a population may split each model's batch differently than a lone model does; the data and
        // the math are the same, only the summation order of the gradient differs (see the fused-vs-batched
        // test for the tolerance). SGD keeps that difference proportional to the rounding.
        var sgd = OptimizerOptions.Sgd(1e-2f);
        int[] population = [10, 11, 12];
        var together = TrainedParameters(2, TrainingStrategy.Batched, population, sgd);
        int n = Architecture(2).ParameterCount;
        for (int k = 0; k < population.Length; k++)
        {
            var alone = TrainedParameters(2, TrainingStrategy.Batched, [population[k]], sgd);
            Tolerance.AssertClose(alone.Select(v => (double)v).ToArray(), together.AsSpan(k * n, n), LayoutTolerance,
                $"batched model {k} alone vs in a population of {population.Length}");
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(100)]
    public void FusedAndBatchedGiveTheSameWeightsWithinSummationOrderTolerance(int inputs)
    {
        // The two layouts run the same unit math, MSE scaling and optimizer code on the same data. Without
        // norm clipping the only difference is the order in which the batch gradient is summed: the fused
        // step adds sample after sample into one float; the batched step sums chunks of samples, then the
        // chunk partials in chunk order. Each gradient element therefore differs by a few float roundings
        // (relative ~1e-7). Adam's step lr·m̂/(√v̂ + ε) changes by at most ~lr times that relative error, so
        // the parameters drift apart by ~1e-9 per step: observed ≤ 2e-8 after 12 steps with lr 1e-2 on both
        // tasks. Tolerance.Values (1e-5 + 1e-4·|p|) leaves a wide margin yet stays far below how far training
        // moved the parameters (asserted below), so a real difference in the math would still fail.
        // (Plain SGD at lr 1e-2 is not used: on the 100-input product it diverges, to |p| ~ 1e13 in 12 steps,
        // and comparing two diverging runs would say nothing.)
        var adam = OptimizerOptions.Adam(1e-2f);
        // One model, so the batched backward splits the batch into several chunks (device threads / P ≥ 2).
        var fused = TrainedParameters(inputs, TrainingStrategy.Fused, [5], adam);
        var batched = TrainedParameters(inputs, TrainingStrategy.Batched, [5], adam);
        Tolerance.AssertClose(fused.Select(v => (double)v).ToArray(), batched, LayoutTolerance, $"fused vs batched, {inputs} inputs");

        var initial = Architecture(inputs).Initialize(5);
        double moved = fused.Take(initial.Length).Zip(initial).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(moved > 1e-3, $"training moved the parameters by at most {moved}; the comparison would be vacuous");
    }

    [Theory]
    [InlineData(new[] { 3 })]
    [InlineData(new[] { 3, 4 })]
    public void CheckpointRoundTripGivesIdenticalParametersAndPredictions(int[] seeds)
    {
        var architecture = ModelArchitecture.Uniform(UnitKind.Nalu, 100, 2, 1);
        var task = Task(100);
        using var model = new Model(Device, architecture, seeds);
        using (var trainer = new Trainer(model, task, Options(TrainingStrategy.Fused)))
            trainer.Train(5);

        string path = Path.Combine(_dir, $"model-{seeds.Length}.safetensors");
        Checkpoint.Save(path, model, task, step: 5);
        using var loaded = Checkpoint.Load(path, Device, out var contents);

        Assert.Equal(seeds, contents.Seeds);
        Assert.Equal(5, contents.Step);
        Assert.Equal(task, contents.Task);
        Assert.Equal(architecture.ToString(), contents.Architecture.ToString());
        Assert.Equal(Bits(model.GetParameters()), Bits(loaded.GetParameters()));

        var random = new Random(7);
        var x = Enumerable.Range(0, 3 * 100).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
        var before = model.Predict(x, 3);
        var after = loaded.Predict(x, 3);
        Assert.Equal(seeds.Length, after.Length);
        for (int p = 0; p < seeds.Length; p++)
            Assert.Equal(Bits(before[p]), Bits(after[p]));
    }
}

/// <summary>The data every path draws: the counter RNG and the task's subsets (host only, no device).</summary>
public sealed class TaskDataTests
{
    [Fact]
    public void CounterRngUniformLiesInZeroToOneAndFillsIt()
    {
        double min = 1, max = 0, sum = 0;
        int count = 0;
        foreach (uint stream in new[] { CounterRng.InitStream, CounterRng.TrainStream, CounterRng.ExtrapolationStream })
        {
            for (uint seed = 0; seed < 20; seed++)
            {
                for (uint a = 0; a < 50; a++)
                {
                    for (uint b = 0; b < 50; b++)
                    {
                        float u = CounterRng.Uniform(seed, stream, a, b);
                        Assert.True(u >= 0f && u < 1f, $"Uniform({seed}, {stream}, {a}, {b}) = {u:R}");
                        min = Math.Min(min, u);
                        max = Math.Max(max, u);
                        sum += u;
                        count++;
                    }
                }
            }
        }

        // 150,000 draws: both ends are reached and the mean is 1/2 within a few standard errors (0.00075).
        Assert.True(min < 1e-4, $"min {min}");
        Assert.True(max > 1 - 1e-4, $"max {max}");
        Assert.InRange(sum / count, 0.497, 0.503);

        // The counter's arguments are not interchangeable: (a, b) and (b, a) draw different numbers.
        Assert.NotEqual(CounterRng.Uniform(9, 3, 1, 2), CounterRng.Uniform(9, 3, 2, 1));
    }

    [Fact]
    public void SubsetOffsetCoversZeroToSixtyTwoForHundredInputs()
    {
        // I = 100, subsets of 25 starting 13 apart: the first starts in [0, 100 − 13 − 25] = [0, 62].
        var seen = new int[63];
        for (int seed = -2000; seed < 8000; seed++)
        {
            int offset = ArithmeticTaskMath.SubsetOffset(seed, 100, 25, 13);
            Assert.InRange(offset, 0, 62);
            seen[offset]++;
        }

        Assert.True(seen[0] > 0, "offset 0 never drawn");
        Assert.True(seen[62] > 0, "offset 62 never drawn");
        Assert.All(seen, c => Assert.InRange(c, 100, 220)); // ~159 each: roughly uniform

        // The host API's subsets are the ones the generator sums: the target of a generated sample is op(a, b) with
        // a and b summed over the subsets Subsets reports (checked on host-generated data, not against SubsetOffset).
        var task = new ArithmeticTask(ArithmeticOp.Sub, 100);
        for (int seed = 0; seed < 50; seed++)
        {
            var (first, second) = task.Subsets(seed);
            Assert.Equal(first + 13, second);
            Assert.InRange(second + 25, 38, 100);
            var (x, t) = HostData.Generate(task, seed, ArithmeticOp.Sub, task.Interpolation, CounterRng.TrainStream, 0, 0, 3);
            for (int k = 0; k < 3; k++)
            {
                float a = 0f, b = 0f;
                for (int i = first; i < first + 25; i++)
                    a += x[k * 100 + i];
                for (int i = second; i < second + 25; i++)
                    b += x[k * 100 + i];
                Assert.True(a - b == t[k], $"seed {seed}, sample {k}: target {t[k]:R}, a − b over Subsets = {a - b:R}");
            }
        }
    }
}
