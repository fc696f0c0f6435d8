using Nalu.Gpu.Devices;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Kernels.Units;
using Nalu.Gpu.Models;
using Nalu.Gpu.Tasks;
using Nalu.Gpu.Training;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>
/// Recurrence (<see cref="RecurrentUnit{TCell}"/>): the BPTT reference against finite differences; the unit's float code
/// against the reference; and whole training runs (the fused kernel on the CPU accelerator and the native path) against a
/// double-precision Adam loop on the reference, for NAC, NALU and tanh-RNN cells and sequence lengths 1, 2 and 7.
/// </summary>
public sealed class RecurrentTests(CpuFixture cpu, NativeFixture native) : IClassFixture<CpuFixture>, IClassFixture<NativeFixture>
{
    private const int PerStep = 3;

    /// <summary>A cell's double reference: its batched forward and backward over [x_t, state], its state size and its parameters.</summary>
    private sealed record ReferenceCell(
        Func<double[], RecurrentReference.CellForward> Forward, Func<double[], RecurrentReference.CellBackward> Backward,
        int State, int ParameterCount, bool Clamps = false);

    private static ReferenceCell Of(ReferenceLayer layer) => new(
        p => (z, batch) => layer.Forward(p, z, batch), p => (z, dy, batch) => layer.Backward(p, z, dy, batch),
        layer.Outputs, layer.ParameterCount, layer.Kind == ReferenceUnitKind.Nau);

    /// <summary>Cells over [x_t (3), state] with an output h of 2: the layer and its double reference.</summary>
    private static (LayerSpec Spec, ReferenceCell Reference) Cell(string name) => name switch
    {
        "nac" => (LayerSpec.Nac(PerStep + 2, 2), Of(ReferenceLayer.Nac(PerStep + 2, 2))),
        "nalu" => (LayerSpec.Nalu(PerStep + 2, 2), Of(ReferenceLayer.Nalu(PerStep + 2, 2))),
        "nau" => (LayerSpec.Nau(PerStep + 2, 2), Of(ReferenceLayer.Nau(PerStep + 2, 2))),
        "rnn-tanh" => (LayerSpec.Dense(PerStep + 2, 2, Activation.Tanh), Of(ReferenceLayer.Dense(PerStep + 2, 2, ReferenceActivation.Tanh))),
        // The LSTM's state is [h, c] (4 values); the layer reads out h.
        "lstm" => (new LayerSpec(UnitKind.Lstm, PerStep + 2, 2), new ReferenceCell(
            p => (z, batch) => LstmReference.Forward(p, z, batch, PerStep, 2),
            p => (z, dy, batch) => LstmReference.Backward(p, z, dy, batch, PerStep, 2),
            4, LstmReference.ParameterCount(PerStep, 2))),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (string cell in new[] { "nac", "nalu", "nau", "rnn-tanh", "lstm" })
        {
            foreach (int steps in new[] { 1, 2, 7 })
                data.Add(cell, steps);
        }

        return data;
    }

    private static RecurrentReference.CellForward Forward(ReferenceCell cell, double[] parameters) => cell.Forward(parameters);

    private static RecurrentReference.CellBackward Backward(ReferenceCell cell, double[] parameters) => cell.Backward(parameters);

    [Theory]
    [MemberData(nameof(Cases))]
    public void ReferenceBpttMatchesFiniteDifferences(string name, int steps)
    {
        var (_, cell) = Cell(name);
        int seed = 100 + steps;
        var rng = new Random(seed);
        const int batch = 2;
        // Inputs away from 0, so the NALU's log path stays smooth for the differences.
        var parameters = FiniteDifferences.Uniform(rng, cell.ParameterCount, -0.6, 0.6);
        var x = FiniteDifferences.Uniform(rng, batch * steps * PerStep, 0.5, 1.5);
        FiniteDifferences.Check($"recurrent {name}, T = {steps}", seed, rng, parameters, x,
            (p, xs) => RecurrentReference.Forward(Forward(cell, p), xs, batch, steps, PerStep, cell.State, 2),
            (p, xs, dy) => RecurrentReference.Backward(Forward(cell, p), Backward(cell, p), xs, dy, batch, steps, PerStep, cell.State, 2));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void UnitMatchesTheReference(string name, int steps)
    {
        var (spec, cell) = Cell(name);
        var unit = LayerSpec.Recurrent(spec, steps).CreateUnit();
        Assert.Equal(steps * PerStep, unit.Inputs);
        Assert.Equal(2, unit.Outputs);
        var rng = new Random(7 + steps);
        var parameters = FiniteDifferences.Uniform(rng, unit.ParameterCount, -0.6, 0.6);
        var x = FiniteDifferences.Uniform(rng, steps * PerStep, 0.5, 1.5);
        var dy = FiniteDifferences.Uniform(rng, 2, -1, 1);
        var (y, grad, dx) = RunUnit(unit, parameters, x, dy);

        var p = parameters.Select(v => (double)(float)v).ToArray();
        var xs = x.Select(v => (double)(float)v).ToArray();
        var expectedY = RecurrentReference.Forward(Forward(cell, p), xs, 1, steps, PerStep, cell.State, 2);
        var (expectedGrad, expectedDx) = RecurrentReference.Backward(Forward(cell, p), Backward(cell, p), xs,
            dy.Select(v => (double)(float)v).ToArray(), 1, steps, PerStep, cell.State, 2);
        Tolerance.AssertClose(expectedY, y, Tolerance.Values, $"{name} T={steps} y");
        Tolerance.AssertClose(expectedGrad, grad, Tolerance.Gradients, $"{name} T={steps} ∂L/∂parameters");
        Tolerance.AssertClose(expectedDx, dx, Tolerance.Gradients, $"{name} T={steps} ∂L/∂x");
    }

    /// <summary>
    /// Every step's state read out (<see cref="LayerSpec.ReadEveryStep"/>): the reference against finite differences and
    /// the unit against the reference, so the output gradient of each step enters BPTT at its own step.
    /// </summary>
    [Theory]
    [InlineData("nac", 1)]
    [InlineData("nac", 4)]
    [InlineData("nalu", 3)]
    [InlineData("lstm", 3)]
    [InlineData("rnn-tanh", 4)]
    public void EveryStepReadoutMatchesTheReferenceAndFiniteDifferences(string name, int steps)
    {
        var (spec, cell) = Cell(name);
        int seed = 500 + steps;
        var rng = new Random(seed);
        var parameters = FiniteDifferences.Uniform(rng, cell.ParameterCount, -0.6, 0.6);
        var xs = FiniteDifferences.Uniform(rng, 2 * steps * PerStep, 0.5, 1.5);
        FiniteDifferences.Check($"recurrent {name}, T = {steps}, every step", seed, rng, parameters, xs,
            (p, x) => RecurrentReference.Forward(Forward(cell, p), x, 2, steps, PerStep, cell.State, 2, everyStep: true),
            (p, x, dy) => RecurrentReference.Backward(Forward(cell, p), Backward(cell, p), x, dy, 2, steps, PerStep, cell.State, 2, everyStep: true));

        var unit = LayerSpec.Recurrent(spec, steps, everyStep: true).CreateUnit();
        Assert.Equal(steps * 2, unit.Outputs);
        var x1 = FiniteDifferences.Uniform(rng, steps * PerStep, 0.5, 1.5);
        var dy1 = FiniteDifferences.Uniform(rng, steps * 2, -1, 1);
        var (y, grad, dx) = RunUnit(unit, parameters, x1, dy1);
        var pp = parameters.Select(v => (double)(float)v).ToArray();
        var xx = x1.Select(v => (double)(float)v).ToArray();
        var dd = dy1.Select(v => (double)(float)v).ToArray();
        Tolerance.AssertClose(RecurrentReference.Forward(Forward(cell, pp), xx, 1, steps, PerStep, cell.State, 2, everyStep: true), y,
            Tolerance.Values, $"{name} T={steps} every-step y");
        var (expectedGrad, expectedDx) = RecurrentReference.Backward(Forward(cell, pp), Backward(cell, pp), xx, dd, 1, steps, PerStep, cell.State, 2, everyStep: true);
        Tolerance.AssertClose(expectedGrad, grad, Tolerance.Gradients, $"{name} T={steps} every-step ∂L/∂parameters");
        Tolerance.AssertClose(expectedDx, dx, Tolerance.Gradients, $"{name} T={steps} every-step ∂L/∂x");
    }

    /// <summary>One sample through the unit's float code on plain arrays: y, the finished parameter gradient and ∂L/∂x.</summary>
    internal static (float[] Y, float[] Grad, float[] Dx) RunUnit(IUnit unit, double[] parameters, double[] x, double[] dy) =>
        (ValueTuple<float[], float[], float[]>)typeof(RecurrentTests).GetMethod(nameof(RunTyped), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
            .MakeGenericMethod(unit.GetType()).Invoke(null, [unit, parameters, x, dy])!;

    private static (float[] Y, float[] Grad, float[] Dx) RunTyped<TUnit>(TUnit unit, double[] parameters, double[] x, double[] dy)
        where TUnit : struct, IUnit
    {
        var p = new ArrayMemory(parameters.Select(v => (float)v).ToArray());
        var cache = new ArrayMemory(new float[Math.Max(1, unit.CacheCount)]);
        var xs = new ArrayMemory(x.Select(v => (float)v).ToArray());
        var y = new float[unit.Outputs];
        var saved = new ArrayMemory(Enumerable.Repeat(float.NaN, unit.SavedCount).ToArray());   // nothing may read unwritten scratch
        var grad = new float[unit.ParameterCount];
        var dx = Enumerable.Repeat(float.NaN, unit.Inputs).ToArray();
        for (int e = 0; e < unit.ElementCount; e++)
            unit.PrepareCache(e, p, 0, cache, 0);
        unit.Forward(default, p, 0, cache, 0, xs, 0, new ArrayMemory(y), 0, saved, 0);
        unit.Backward(default, p, 0, cache, 0, xs, 0, saved, 0, new ArrayMemory(dy.Select(v => (float)v).ToArray()), 0,
            new ArrayMemory(grad), 0, true, new ArrayMemory(dx), 0);
        for (int e = 0; e < unit.ElementCount; e++)
            unit.FinishGradient(e, p, 0, new ArrayMemory(grad), 0);
        return (y, grad, dx);
    }

    /// <summary>
    /// A recurrent cell and a NAC readout trained for 6 Adam steps on the recurrent task (sequences of T steps of 3
    /// values, a and b summed over every step), by the trainer, against the same training in double on the references.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void TrainingMatchesTheReferenceOnTheCpuAcceleratorAndTheNativePath(string name, int steps) =>
        // Every loop order trains through time with its own code: the fused kernel, the group kernel and the batched
        // kernels on the CPU accelerator, and the native path.
        CheckTraining(name, steps, (1e-5, 1e-3),
        [
            (cpu.Device, TrainingStrategy.Fused), (cpu.Device, TrainingStrategy.Group), (cpu.Device, TrainingStrategy.Batched),
            (native.Device, TrainingStrategy.Native),
        ]);

    /// <summary>The training check of one cell and length on the given devices and loop orders, within a tolerance.</summary>
    internal static void CheckTraining(
        string name, int steps, (double Atol, double Rtol) tolerance, (NaluDevice Device, TrainingStrategy Strategy)[] runs)
    {
        var (spec, cell) = Cell(name);
        var architecture = new ModelArchitecture([LayerSpec.Recurrent(spec, steps), LayerSpec.Nac(2, 1)]);
        var task = new ArithmeticTask(ArithmeticOp.Add, PerStep, subsetSize: 1, subsetGap: 1) { Steps = steps };
        const int seed = 3, batch = 5, trainSteps = 6;
        var optimizer = OptimizerOptions.Adam(1e-2f);
        var expected = ReferenceTraining(architecture, cell, task, seed, batch, trainSteps, optimizer.ToSettings());
        foreach (var (device, strategy) in runs)
        {
            using var model = new Model(device, architecture, [seed]);
            using var trainer = new Trainer(model, task, new TrainerOptions
            {
                Batch = batch, EvaluateEvery = 0, StepsPerLaunch = 4, Optimizer = optimizer, Threads = 2, Strategy = strategy,
            });
            trainer.Train(trainSteps);
            Tolerance.AssertClose(expected, model.GetParameters(), tolerance, $"{name} T={steps} on {device.Kind} ({strategy})");
        }
    }

    private static double[] ReferenceTraining(
        ModelArchitecture architecture, ReferenceCell cell, ArithmeticTask task, int seed, int batch, int steps, OptimizerSettings settings)
    {
        var readout = ReferenceLayer.Nac(2, 1);
        var parameters = architecture.Initialize(seed).Select(v => (double)v).ToArray();
        var state = new double[2 * parameters.Length];
        int cellCount = cell.ParameterCount, t = task.Steps;
        for (int step = 0; step < steps; step++)
        {
            var (x, targets) = Sequences(task, seed, step, batch);
            var pc = parameters.AsSpan(0, cellCount).ToArray();
            var pr = parameters.AsSpan(cellCount).ToArray();
            var h = RecurrentReference.Forward(Forward(cell, pc), x, batch, t, PerStep, cell.State, 2);
            var y = readout.Forward(pr, h, batch);
            var dy = new double[batch];
            for (int b = 0; b < batch; b++)
                dy[b] = 2 * (y[b] - targets[b]) / batch;
            var (gr, dh) = readout.Backward(pr, h, dy, batch);
            var (gc, _) = RecurrentReference.Backward(Forward(cell, pc), Backward(cell, pc), x, dh, batch, t, PerStep, cell.State, 2);
            OptimizerReference.Step(settings, settings.LearningRate, step, [.. gc, .. gr], parameters, state);
            if (cell.Clamps)
            {
                for (int k = 0; k < cellCount; k++)
                    parameters[k] = Math.Clamp(parameters[k], -1, 1);
            }
        }

        return parameters;
    }

    /// <summary>Step <paramref name="step"/>'s training batch of the recurrent task, drawn with the library's generator.</summary>
    private static (double[] X, double[] Targets) Sequences(ArithmeticTask task, int seed, int step, int batch)
    {
        var x = new float[batch * task.SampleInputs];
        var targets = new double[batch];
        var range = task.Interpolation.ToDevice();
        int first = ArithmeticTaskMath.SubsetOffset(seed, task.Inputs, task.SubsetSize, task.SubsetGap);
        ulong key = CounterRng.Key((uint)seed, CounterRng.TrainStream);
        for (int b = 0; b < batch; b++)
        {
            targets[b] = ArithmeticTaskMath.GenerateWithKey((int)task.Op, task.Inputs, task.SubsetSize, task.SubsetGap, range, first, key,
                (uint)step, b, new ArrayMemory(x), b * task.SampleInputs, task.Steps);
        }

        return (x.Select(v => (double)v).ToArray(), targets);
    }

    [Fact]
    public void ASequenceTargetIsTheSumOfTheSubsetsOverEveryStep()
    {
        var task = new ArithmeticTask(ArithmeticOp.Sub, 4, subsetSize: 1, subsetGap: 2) { Steps = 5 };
        var (x, targets) = Sequences(task, seed: 9, step: 0, batch: 3);
        int first = task.SubsetOffset(9);
        for (int b = 0; b < 3; b++)
        {
            double a = 0, c = 0;
            for (int t = 0; t < 5; t++)
            {
                a += x[b * 20 + t * 4 + first];
                c += x[b * 20 + t * 4 + first + 2];
            }

            Assert.Equal(a - c, targets[b], 4);
        }
    }

    /// <summary>
    /// The exact recurrent NAC (input weights on the two subsets, the identity on the state, a NAC readout adding the two
    /// sums) trained on nothing: its test MSE on sequences of 1,000 steps is far below the success threshold, on both paths.
    /// The same weights with the state's weight 0.99 instead of 1 are far above it: extrapolation in length needs W_h = 1.
    /// </summary>
    [Theory]
    [InlineData(1.0, true)]
    [InlineData(0.99, false)]
    public void TheExactRecurrentNacExtrapolatesToLongSequences(double stateWeight, bool solves)
    {
        const int f = 10, steps = 1000;
        var task = new ArithmeticTask(ArithmeticOp.Add, f, subsetSize: 3, subsetGap: 3) { Steps = steps };
        var architecture = new ModelArchitecture([LayerSpec.Recurrent(LayerSpec.Nac(f + 2, 2), steps), LayerSpec.Nac(2, 1)]);
        int seed = 4, first = task.SubsetOffset(seed);
        // W = tanh(Ŵ)·σ(M̂): Ŵ = M̂ = 20 gives 1 in float; M̂ = −20 gives 2e-9; the state weight solves tanh(Ŵ)·σ(20) = w.
        var values = new float[architecture.ParameterCount];
        int cellWeights = 2 * (f + 2);
        void Set(int matrixOffset, int matrixSize, int index, double weight)
        {
            values[matrixOffset + index] = weight >= 1 ? 20f : (float)Math.Atanh(weight);
            values[matrixOffset + matrixSize + index] = weight == 0 ? -20f : 20f;
        }

        for (int o = 0; o < 2; o++)
        {
            for (int i = 0; i < f + 2; i++)
            {
                bool inSubset = i < f && i >= first + 3 * o && i < first + 3 * o + 3;
                bool state = i == f + o;
                Set(0, cellWeights, o * (f + 2) + i, inSubset ? 1 : state ? stateWeight : 0);
            }
        }

        int readout = 2 * cellWeights;
        Set(readout, 2, 0, 1);
        Set(readout, 2, 1, 1);
        double threshold = Nalu.Gpu.Experiments.ArithmeticExperiment.Threshold(task, 1e-5, 2000);
        foreach (var device in new[] { native.Device, cpu.Device })
        {
            using var model = new Model(device, architecture, [seed]);
            model.SetParameters(values);
            using var trainer = new Trainer(model, task, new TrainerOptions { EvaluateEvery = 0, ValidationSamples = 8, TestSamples = 64 });
            double test = trainer.Evaluate().Extrapolation[0];
            Assert.True(double.IsFinite(test), $"{device.Kind}: test MSE {test}");
            Assert.True(solves ? test < threshold : test > 1000 * threshold,
                $"{device.Kind}: state weight {stateWeight}: test MSE {test:G3} against the threshold {threshold:G3}");
        }
    }

    [Fact]
    public void AModelWhoseSequencesDoNotFitIsRefusedWithTheNumbersBeforeAllocating()
    {
        // 2,000 models × 1,000,000 steps of 12 cell inputs: far past 2³¹ floats of scratch.
        var architecture = new ModelArchitecture([LayerSpec.Recurrent(LayerSpec.Nac(12, 2), 1_000_000), LayerSpec.Nac(2, 1)]);
        using var model = new Model(native.Device, architecture, Enumerable.Range(0, 2000).ToArray());
        var task = new ArithmeticTask(ArithmeticOp.Add, 10) { Steps = 1_000_000 };
        var error = Assert.Throws<InsufficientMemoryException>(() => new Trainer(model, task));
        Assert.Contains("1000000 steps of", error.Message.Replace(",", ""));
        Assert.Contains("floats", error.Message);
    }

    [Fact]
    public void LongerSequencesKeepTheParametersAndRefuseNonsense()
    {
        var architecture = new ModelArchitecture([LayerSpec.Recurrent(LayerSpec.Nac(12, 2), 10), LayerSpec.Nac(2, 1)]);
        Assert.Equal(100, architecture.Inputs);
        var longer = architecture.WithSteps(1000);
        Assert.Equal(10_000, longer.Inputs);
        Assert.Equal(architecture.ParameterCount, longer.ParameterCount);
        Assert.Throws<ArgumentOutOfRangeException>(() => architecture.WithSteps(0));
        Assert.Throws<InvalidOperationException>(() => ModelArchitecture.Uniform(UnitKind.Nac, 4, 2, 1).WithSteps(3));
        var error = Assert.Throws<ArgumentException>(() => LayerSpec.Recurrent(LayerSpec.Nac(2, 2), 10));
        Assert.Contains("more inputs", error.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => LayerSpec.Recurrent(LayerSpec.Nac(3, 2), -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ArithmeticTask(ArithmeticOp.Add, 10) { Steps = 0 });
        // A task whose sequences do not match the model's.
        using var device = NaluDevice.Create(DeviceKind.Native);
        using var model = new Model(device, architecture, [1]);
        var mismatch = Assert.Throws<ArgumentException>(() => new Trainer(model, new ArithmeticTask(ArithmeticOp.Add, 10) { Steps = 9 }));
        Assert.Contains("9 steps", mismatch.Message);
    }
}

/// <summary><c>nalu experiment recurrent</c>: a tiny run writes its files and table; bad options exit 2 and write nothing.</summary>
/// <summary>
/// The recurrent training check on CUDA (skipped without a CUDA device): the fused, group and batched kernels through
/// time against the double BPTT loop. Measured on an H200 (2026-12-04): the worst error after 6 Adam steps was 3.9e-5
/// (NALU cell, T = 2; CUDA's approximate exp and log through time), 0.22 of the (1e-4, 1e-3) allowed here; the CPU
/// paths get (1e-5, 1e-3). 6 Adam steps move each parameter by ≈6e-2.
/// </summary>
public sealed class CudaRecurrentTrainingTests(CudaFixture cuda) : IClassFixture<CudaFixture>
{
    public static TheoryData<string, int> Cases() => RecurrentTests.Cases();

    [Theory]
    [MemberData(nameof(Cases))]
    public void TrainingMatchesTheReferenceOnCuda(string name, int steps) =>
        RecurrentTests.CheckTraining(name, steps, (1e-4, 1e-3),
            [(cuda.Device, TrainingStrategy.Fused), (cuda.Device, TrainingStrategy.Group), (cuda.Device, TrainingStrategy.Batched)]);
}

public sealed class ExperimentRecurrentCliTests
{
    [Fact]
    public void ATinyRunWritesTheTableWithTheSequenceLengths()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"nalu-recurrent-{Guid.NewGuid():N}");
        try
        {
            var (code, stdout, stderr) = CliTests.RunCli("experiment", "recurrent", "--units", "nac,lstm", "--ops", "add", "--seeds", "2",
                "--steps", "40", "--eval-every", "20", "--eval-samples", "16", "--threshold-samples", "64", "--sequence", "3",
                "--test-sequence", "12", "--device", "native", "--out", dir);
            Assert.True(code == 0, stderr + stdout);
            Assert.Contains("Recurrent arithmetic benchmark", stdout);
            var lines = File.ReadAllLines(Path.Combine(dir, "results.jsonl"));
            Assert.Equal(4, lines.Length);
            Assert.All(lines, l => Assert.Contains("\"sequence\":3", l));
            Assert.All(lines, l => Assert.Contains("\"testSequence\":12", l));
            Assert.Contains("tested on 12", File.ReadAllText(Path.Combine(dir, "table.md")));
            Assert.Contains("--sequence 3 --test-sequence 12", File.ReadAllText(Path.Combine(dir, "table.md")));
        }
        finally
        {
            if (Directory.Exists(dir))
                Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// A recurrent run killed after its first checkpoint resumes to the verdicts of a run that never stopped: the same test
    /// MSE at the same best step for every model (the solved-at step may come later, see the README).
    /// </summary>
    [Fact]
    public void AnInterruptedRunResumesToTheSameVerdicts()
    {
        string straight = Path.Combine(Path.GetTempPath(), $"nalu-rec-a-{Guid.NewGuid():N}");
        string resumed = Path.Combine(Path.GetTempPath(), $"nalu-rec-b-{Guid.NewGuid():N}");
        string[] Args(string dir) => ["experiment", "recurrent", "--units", "nac", "--ops", "add,sub", "--seeds", "2", "--steps", "60",
            "--eval-every", "20", "--eval-samples", "16", "--threshold-samples", "64", "--sequence", "3", "--test-sequence", "9",
            "--checkpoint-every", "30", "--device", "native", "--out", dir];
        try
        {
            Assert.Equal(0, CliTests.RunCli(Args(straight)).Code);
            Assert.Equal(130, CliTests.RunCli([.. Args(resumed), "--stop-after-checkpoints", "1"]).Code);
            var (code, _, stderr) = CliTests.RunCli(Args(resumed));
            Assert.True(code == 0, stderr);
            var a = Records(straight);
            var b = Records(resumed);
            Assert.Equal(a.Keys, b.Keys);
            foreach (var key in a.Keys)
            {
                Assert.Equal(a[key].BestStep, b[key].BestStep);
                Assert.Equal(a[key].ExtrapolationMse, b[key].ExtrapolationMse);
                Assert.Equal(a[key].Success, b[key].Success);
            }
        }
        finally
        {
            foreach (string dir in new[] { straight, resumed })
            {
                if (Directory.Exists(dir))
                    Directory.Delete(dir, recursive: true);
            }
        }

        static Dictionary<string, Nalu.Gpu.Experiments.ModelRecord> Records(string dir) =>
            Nalu.Gpu.Experiments.ResultsFile.Load(Path.Combine(dir, "results.jsonl"), repair: false).Records.ToDictionary(r => r.Key.ToString());
    }

    [Theory]
    [InlineData("--sequence", "0")]
    [InlineData("--sequence", "-3")]
    [InlineData("--test-sequence", "5")]          // shorter than the training sequences (10)
    [InlineData("--units", "lstm,nac", "--sequence", "1")]   // an LSTM on the static task
    public void BadOptionsExitTwoAndWriteNothing(params string[] options)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"nalu-recurrent-bad-{Guid.NewGuid():N}");
        var (code, _, stderr) = CliTests.RunCli(["experiment", "recurrent", "--device", "native", "--out", dir, .. options]);
        Assert.Equal(2, code);
        Assert.StartsWith("error:", stderr.TrimStart());
        Assert.False(Directory.Exists(dir), "a refused run must not create its output folder");
    }

    [Fact]
    public void TheStaticExperimentRefusesATestSequenceWithoutASequence()
    {
        var (code, _, stderr) = CliTests.RunCli("experiment", "arithmetic", "--test-sequence", "100", "--device", "native", "--out",
            Path.Combine(Path.GetTempPath(), $"nalu-x-{Guid.NewGuid():N}"));
        Assert.Equal(2, code);
        Assert.Contains("--test-sequence", stderr);
    }
}

/// <summary>Sequences from the user: <c>train --data … --sequence T</c> and the 3-D array <see cref="Nalu.Gpu.Data.Dataset"/>.</summary>
public sealed class SequenceDataTests(NativeFixture native) : IClassFixture<NativeFixture>
{
    private static string WriteSequences(int rows, int steps, int features)
    {
        var rng = new Random(5);
        var lines = new List<string>();
        for (int r = 0; r < rows; r++)
        {
            var x = Enumerable.Range(0, steps * features).Select(_ => 1 + rng.NextDouble()).ToArray();
            lines.Add(string.Join(",", x.Append(x.Sum()).Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture))));
        }

        string path = Path.Combine(Path.GetTempPath(), $"nalu-seq-{Guid.NewGuid():N}.csv");
        File.WriteAllLines(path, lines);
        return path;
    }

    [Fact]
    public void TrainReadsEachRowAsASequenceAndSaysItIsRecurrent()
    {
        string data = WriteSequences(64, 3, 2);
        try
        {
            var (code, stdout, stderr) = CliTests.RunCli("train", "--data", data, "--sequence", "3", "--unit", "nac", "--hidden", "2",
                "--steps", "50", "--eval-every", "0", "--device", "native", "--quiet");
            Assert.True(code == 0, stderr + stdout);
            Assert.Contains("recurrent, T = 3", stdout);
        }
        finally
        {
            File.Delete(data);
        }
    }

    [Theory]
    [InlineData("4")]    // 6 input values do not make 4 steps: a ragged sequence
    [InlineData("0")]
    public void ARaggedOrEmptySequenceExitsTwo(string sequence)
    {
        string data = WriteSequences(8, 3, 2);
        try
        {
            var (code, _, stderr) = CliTests.RunCli("train", "--data", data, "--sequence", sequence, "--unit", "nac", "--steps", "5",
                "--device", "native", "--quiet");
            Assert.Equal(2, code);
            Assert.Contains("--sequence", stderr);
        }
        finally
        {
            File.Delete(data);
        }
    }

    /// <summary>A C-order little-endian float32 .npy file of the given shape and values.</summary>
    private static string WriteNpy(long[] shape, float[] values)
    {
        string dims = shape.Length == 1 ? $"{shape[0]}," : string.Join(", ", shape);
        string header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({dims}), }}";
        header = header.PadRight(((10 + header.Length + 1 + 63) / 64 * 64) - 10 - 1) + "\n";
        var bytes = new List<byte> { 0x93 };
        bytes.AddRange(System.Text.Encoding.ASCII.GetBytes("NUMPY"));
        bytes.AddRange([1, 0, (byte)(header.Length & 0xFF), (byte)(header.Length >> 8)]);
        bytes.AddRange(System.Text.Encoding.ASCII.GetBytes(header));
        foreach (float v in values)
            bytes.AddRange(BitConverter.GetBytes(v));
        string path = Path.Combine(Path.GetTempPath(), $"nalu-seq-{Guid.NewGuid():N}.npy");
        File.WriteAllBytes(path, bytes.ToArray());
        return path;
    }

    [Fact]
    public void NpySequencesAreReadStepMajorAndTheirErrorsNameTheStep()
    {
        var values = Enumerable.Range(0, 12).Select(i => (float)i).ToArray();   // (2, 3, 2): [n, t, f] = 6n + 2t + f
        string good = WriteNpy([2, 3, 2], values);
        values[11] = float.NaN;
        string bad = WriteNpy([2, 3, 2], values);
        string flat = WriteNpy([4, 3], new float[12]);
        try
        {
            var (inputs, steps) = Nalu.Gpu.Data.NpyFile.ReadSequences(good);
            Assert.Equal(3, steps);
            Assert.Equal((2, 6), (inputs.Rows, inputs.Columns));
            Assert.Equal(2 * 1 + 1, inputs[0, 3]);   // x[0, t = 1, f = 1]
            Assert.Equal(6 + 2 * 2, inputs[1, 4]);   // x[1, t = 2, f = 0]
            Assert.Contains("[1, 2, 1]", Assert.Throws<Nalu.Gpu.Data.DataFileException>(() => Nalu.Gpu.Data.NpyFile.ReadSequences(bad)).Message);
            Assert.Contains("ReadSequences", Assert.Throws<Nalu.Gpu.Data.DataFileException>(() => Nalu.Gpu.Data.NpyFile.Read(good)).Message);
            Assert.Contains("3-D", Assert.Throws<Nalu.Gpu.Data.DataFileException>(() => Nalu.Gpu.Data.NpyFile.ReadSequences(flat)).Message);
        }
        finally
        {
            foreach (string f in new[] { good, bad, flat })
                File.Delete(f);
        }
    }

    [Fact]
    public void ASequenceArrayIsStoredStepMajorAndRefusesNaN()
    {
        var x = new float[2, 3, 2];
        for (int r = 0; r < 2; r++)
        {
            for (int t = 0; t < 3; t++)
            {
                for (int f = 0; f < 2; f++)
                    x[r, t, f] = 100 * r + 10 * t + f;
            }
        }

        using var data = new Nalu.Gpu.Data.Dataset(native.Device, x, new float[,] { { 1 }, { 2 } });
        Assert.Equal(6, data.Inputs);
        Assert.Equal(2, data.Rows);
        // Row r holds x[r, 0, 0], x[r, 0, 1], x[r, 1, 0], …: the same data as this 2-D table, step-major.
        using var flat = new Nalu.Gpu.Data.Dataset(native.Device,
            new float[,] { { 0, 1, 10, 11, 20, 21 }, { 100, 101, 110, 111, 120, 121 } }, new float[,] { { 1 }, { 2 } });
        Assert.Equal(flat.Fingerprint, data.Fingerprint);
        x[1, 2, 1] = float.NaN;
        var error = Assert.Throws<ArgumentException>(() => new Nalu.Gpu.Data.Dataset(native.Device, x, new float[,] { { 1 }, { 2 } }));
        Assert.Contains("inputs[1, 2, 1]", error.Message);
    }
}
