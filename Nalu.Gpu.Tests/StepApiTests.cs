using Nalu.Gpu.Devices;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Models;
using Nalu.Gpu.Tasks;
using Nalu.Gpu.Training;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>The step-level API on ILGPU's CPU accelerator.</summary>
public sealed class CpuStepApiTests(CpuFixture fixture, ITestOutputHelper output)
    : StepApiTests(fixture, output), IClassFixture<CpuFixture>;

/// <summary>The step-level API on a native device (its kernels run on ILGPU's CPU accelerator, like the batched trainer's).</summary>
public sealed class NativeStepApiTests(NativeFixture fixture, ITestOutputHelper output)
    : StepApiTests(fixture, output), IClassFixture<NativeFixture>;

/// <summary>The step-level API on CUDA (skipped without a CUDA device).</summary>
public sealed class CudaStepApiTests(CudaFixture fixture, ITestOutputHelper output)
    : StepApiTests(fixture, output), IClassFixture<CudaFixture>
{
    /// <summary>
    /// Passes on an H200 (2026-12-04); chosen before that run: CUDA's approximate tanh/ex2/lg2 put ≈ 1e-3 relative error on forward and backward
    /// alike (see <see cref="CudaUnitKernelTests"/>), so the CPU bound is widened twenty-fold.
    /// </summary>
    protected override (double Atol, double Rtol) FiniteDifferenceTolerance => (2e-3, 2e-2);
}

/// <summary>
/// The step-level API (<see cref="Model.ForwardForTraining"/>, <see cref="ForwardPass.Backward"/>, <see cref="Optimizer"/>):
/// a hand loop over it, fed the data the batched <see cref="Trainer"/> draws (from the task's generator on the host)
/// with the MSE gradient computed on the host, ends with the trainer's weights; its input gradient matches finite
/// differences of <see cref="Model.Forward"/>.
/// </summary>
public abstract class StepApiTests(DeviceFixture fixture, ITestOutputHelper output)
{
    private const int Steps = 4;
    private const int Batch = 37;
    private static readonly int[] Seeds = [7, 8];
    private static readonly ArithmeticTask Task = new(ArithmeticOp.Add, 10, subsetSize: 3, subsetGap: 4);

    /// <summary>
    /// Hand loop vs <see cref="TrainingStrategy.Batched"/>: the same kernels in the same order on the same data, and
    /// the host's <c>2f/(B·O)·(y − t)</c> is the loss kernel's float expression, so on one device the weights agree
    /// bit for bit (measured: worst difference 0 on the CPU accelerator for every case here). (1e-6, 1e-6) leaves room
    /// for a backend that contracts the loss gradient into an FMA; 4 steps move the parameters ≥ 1e-3 (asserted
    /// 100× above the tolerance), so a missed regulariser, clip, constraint or step count fails it.
    /// </summary>
    private static readonly (double Atol, double Rtol) SameAsTrainer = (1e-6, 1e-6);

    public static readonly string[] Architectures = ["nac 10→2→1", "nalu 10→1", "mlp-tanh 10→3→1", "nau 10→2 · nmu 2→1 sparsity"];

    public static readonly string[] Optimizers = ["sgd", "adam", "sgd clip-value", "adam clip-norm"];

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var architecture in Architectures)
        {
            foreach (var optimizer in Optimizers)
                data.Add(architecture, optimizer);
        }

        return data;
    }

    private static ModelArchitecture Architecture(string name) => name switch
    {
        "nac 10→2→1" => ModelArchitecture.Uniform(UnitKind.Nac, 10, 2, 1),
        "nalu 10→1" => ModelArchitecture.Uniform(UnitKind.Nalu, 10, 1),
        "mlp-tanh 10→3→1" => ModelArchitecture.Uniform(UnitKind.Dense, Activation.Tanh, 10, 3, 1),
        // The regulariser ramps in over steps 1–3, so the step handed to the forward pass matters.
        "nau 10→2 · nmu 2→1 sparsity" => new ModelArchitecture([
            LayerSpec.Nau(10, 2, RegularizerSettings.Sparsity(1f, 1, 3)),
            LayerSpec.Nmu(2, 1, RegularizerSettings.Sparsity(1f, 1, 3)),
        ]),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "Unknown architecture."),
    };

    private static OptimizerOptions OptimizerFor(string name) => name switch
    {
        "sgd" => OptimizerOptions.Sgd(1e-2f, momentum: 0f),
        "adam" => OptimizerOptions.Adam(1e-2f),
        "sgd clip-value" => OptimizerOptions.Sgd(0.5f, momentum: 0.9f).WithClipping(0.05f, 0f),
        "adam clip-norm" => OptimizerOptions.Adam(1e-2f).WithClipping(0f, 0.2f),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "Unknown optimizer."),
    };

    private NaluDevice Device => fixture.Device;

    [Theory]
    [MemberData(nameof(Cases))]
    public void AHandLoopGivesTheBatchedTrainersWeights(string architectureName, string optimizerName)
    {
        var device = Device;
        var architecture = Architecture(architectureName);
        var options = OptimizerFor(optimizerName);

        float[] initial, expected;
        using (var model = new Model(device, architecture, Seeds))
        using (var trainer = new Trainer(model, Task, new TrainerOptions
        {
            Batch = Batch, Strategy = TrainingStrategy.Batched, Optimizer = options, EvaluateEvery = 0, StepsPerLaunch = 3,
        }))
        {
            initial = model.GetParameters();
            trainer.Train(Steps);
            expected = model.GetParameters();
        }

        float[] actual;
        using (var model = new Model(device, architecture, Seeds))
        using (var optimizer = new Optimizer(model, options))
        {
            int p = Seeds.Length, inputs = Task.Inputs, outputs = architecture.Outputs;
            for (int step = 0; step < Steps; step++)
            {
                var x = new float[p * Batch * inputs];
                var t = new float[p * Batch];
                for (int m = 0; m < p; m++)
                {
                    var (mx, mt) = HostData.Generate(Task, Seeds[m], Task.Op, Task.Interpolation, CounterRng.TrainStream, (uint)step, 0, Batch);
                    mx.CopyTo(x, m * Batch * inputs);
                    mt.CopyTo(t, m * Batch);
                }

                using var input = DeviceTensor.FromArray(device, x, p, Batch, inputs);
                using var pass = model.ForwardForTraining(input, optimizer.Steps);
                var y = pass.Output.ToArray();
                float scale = 2f / (Batch * outputs);   // the MSE over each model's B·O outputs
                var dy = new float[y.Length];
                for (int k = 0; k < y.Length; k++)
                    dy[k] = scale * (y[k] - t[k]);
                using var outputGradient = DeviceTensor.FromArray(device, dy, p, Batch, outputs);
                Assert.Null(pass.Backward(outputGradient));
                optimizer.Step();
            }

            Assert.Equal(Steps, optimizer.Steps);
            actual = model.GetParameters();
        }

        double worst = 0;
        for (int k = 0; k < expected.Length; k++)
            worst = Math.Max(worst, Math.Abs(expected[k] - actual[k]));

        output.WriteLine($"{architectureName}, {optimizerName}: worst |step API − trainer| = {worst:G3}; largest move {expected.Zip(initial, (a, b) => Math.Abs(a - b)).Max():G3}");
        Tolerance.AssertClose(HostData.Widen(expected), actual, SameAsTrainer, $"{architectureName}, {optimizerName}");
        Assert.True(expected.Zip(initial, (a, b) => Math.Abs(a - b)).Max() > 100 * SameAsTrainer.Atol, "training should move the parameters");
    }

    /// <summary>
    /// CPU accelerator: worst |kernel − central difference| / (1e-4 + 1e-3·|difference|) measured 0.10 over the three
    /// architectures below (h = 1e-2 in float: truncation and round-off of the quotient, ≈ 1e-5 at L ≈ 1–10), so the
    /// bound has ≈ 10× margin and stays far below the gradient entries (≥ 1e-2 typical): a dropped layer, a wrong model
    /// offset or a transposed weight fails it.
    /// </summary>
    protected virtual (double Atol, double Rtol) FiniteDifferenceTolerance => (1e-4, 1e-3);

    /// <summary>
    /// ∂L/∂x of L = Σ c·y (so ∂L/∂y = c) through two layers and two models, against central differences of
    /// <see cref="Model.Forward"/> in float with h = 1e-2 (inputs in [1, 2], away from NALU's log at 0), within
    /// <see cref="FiniteDifferenceTolerance"/>.
    /// </summary>
    [Theory]
    [InlineData("mlp-tanh 4→3→2")]
    [InlineData("nalu 4→3→1")]
    [InlineData("nac 4→3→2")]
    public void TheInputGradientMatchesFiniteDifferences(string name)
    {
        var device = Device;
        var architecture = name switch
        {
            "mlp-tanh 4→3→2" => ModelArchitecture.Uniform(UnitKind.Dense, Activation.Tanh, 4, 3, 2),
            "nalu 4→3→1" => ModelArchitecture.Uniform(UnitKind.Nalu, 4, 3, 1),
            _ => ModelArchitecture.Uniform(UnitKind.Nac, 4, 3, 2),
        };
        const int batch = 5;
        int p = 2, inputs = architecture.Inputs, outputs = architecture.Outputs;
        var random = new Random(11);
        var x = Enumerable.Range(0, p * batch * inputs).Select(_ => 1f + random.NextSingle()).ToArray();
        var c = Enumerable.Range(0, p * batch * outputs).Select(_ => random.NextSingle() * 2f - 1f).ToArray();
        using var model = new Model(device, architecture, [3, 4]);
        using var input = DeviceTensor.FromArray(device, x, p, batch, inputs);
        using var pass = model.ForwardForTraining(input);
        using var weights = DeviceTensor.FromArray(device, c, p, batch, outputs);
        using var dx = pass.Backward(weights, inputGradient: true);
        Assert.NotNull(dx);
        Assert.Equal(new[] { p, batch, inputs }, dx!.Shape);
        var analytic = dx.ToArray();

        double Loss(float[] values)
        {
            using var shifted = DeviceTensor.FromArray(device, values, p, batch, inputs);
            using var y = model.Forward(shifted);
            return y.ToArray().Zip(c, (a, b) => (double)a * b).Sum();
        }

        const float h = 1e-2f;
        var tolerance = FiniteDifferenceTolerance;
        double worst = 0;
        foreach (int k in new[] { 0, 3, 7, inputs * batch - 1, inputs * batch, inputs * batch + 6, x.Length - 1 })
        {
            var plus = (float[])x.Clone();
            var minus = (float[])x.Clone();
            plus[k] += h;
            minus[k] -= h;
            double numeric = (Loss(plus) - Loss(minus)) / (plus[k] - minus[k]);
            double ratio = Math.Abs(numeric - analytic[k]) / (tolerance.Atol + tolerance.Rtol * Math.Abs(numeric));
            worst = Math.Max(worst, ratio);
            Assert.True(ratio < 1, $"{name}: dx[{k}] = {analytic[k]} but finite differences give {numeric}");
        }

        output.WriteLine($"{name}: worst error / tolerance = {worst:G3}");
    }

    [Fact]
    public void ASingleModelTakesTwoDimensionalTensors()
    {
        var device = Device;
        using var model = new Model(device, ModelArchitecture.Uniform(UnitKind.Nac, 2, 1), 5);
        using var input = DeviceTensor.FromArray(device, [1f, 2f, 3f, 4f, 5f, 6f], 3, 2);
        using var pass = model.ForwardForTraining(input);
        Assert.Equal(new[] { 1, 3, 1 }, pass.Output.Shape);
        using var dy = DeviceTensor.FromArray(device, [1f, 1f, 1f], 3, 1);
        using var dx = pass.Backward(dy, inputGradient: true);
        Assert.Equal(new[] { 3, 2 }, dx!.Shape);
        Assert.Contains(model.GetGradients(), g => g != 0f);
    }

    [Fact]
    public void WrongShapesAreClearArgumentExceptions()
    {
        var device = Device;
        using var model = new Model(device, ModelArchitecture.Uniform(UnitKind.Nac, 3, 2), [1, 2]);
        using var wrongInputs = DeviceTensor.Zeros(device, 2, 4, 4);
        var e = Assert.Throws<ArgumentException>(() => model.ForwardForTraining(wrongInputs));
        Assert.Contains("[2, 4, 4]", e.Message);
        using var twoDimensional = DeviceTensor.Zeros(device, 4, 3);   // [B, I] needs P = 1
        Assert.Throws<ArgumentException>(() => model.ForwardForTraining(twoDimensional));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.ForwardForTraining(DeviceTensor.Zeros(device, 2, 4, 3), step: -1));

        using var input = DeviceTensor.Zeros(device, 2, 4, 3);
        using var pass = model.ForwardForTraining(input);
        foreach (var shape in new[] { new[] { 2, 5, 2 }, [2, 4, 1], [1, 4, 2], [4, 2], [2, 4, 2, 1] })
        {
            using var dy = DeviceTensor.Zeros(device, shape);
            var error = Assert.Throws<ArgumentException>(() => pass.Backward(dy));
            Assert.Contains($"[{string.Join(", ", shape)}]", error.Message);
            Assert.Contains("[2, 4, 2]", error.Message);
        }

        Assert.Throws<ArgumentNullException>(() => pass.Backward(null!));
        Assert.Throws<ArgumentException>(() => new Optimizer(model, OptimizerOptions.Adam(), [1e-2f]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Optimizer(model, OptimizerOptions.Adam(), [1e-2f, 0f]));
    }

    [Fact]
    public void ABackwardAfterTheParametersChangedIsRefused()
    {
        var device = Device;
        using var model = new Model(device, ModelArchitecture.Uniform(UnitKind.Nac, 2, 1), 5);
        using var optimizer = new Optimizer(model, OptimizerOptions.Sgd());
        using var input = DeviceTensor.FromArray(device, [1f, 2f], 1, 2);
        using var dy = DeviceTensor.FromArray(device, [1f], 1, 1);
        using var pass = model.ForwardForTraining(input);
        pass.Backward(dy);
        optimizer.Step();
        Assert.Throws<InvalidOperationException>(() => pass.Backward(dy));
        using var again = model.ForwardForTraining(input, optimizer.Steps);
        again.Backward(dy);
        model.SetParameters(model.GetParameters());
        Assert.Throws<InvalidOperationException>(() => again.Backward(dy));
    }

    [Fact]
    public void EverythingThrowsObjectDisposedExceptionAfterDispose()
    {
        var device = Device;
        using var model = new Model(device, ModelArchitecture.Uniform(UnitKind.Nac, 2, 1), 5);
        using var input = DeviceTensor.FromArray(device, [1f, 2f], 1, 2);
        using var dy = DeviceTensor.FromArray(device, [1f], 1, 1);

        var pass = model.ForwardForTraining(input);
        var output = pass.Output;
        pass.Dispose();
        pass.Dispose();   // idempotent
        Assert.True(pass.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => pass.Backward(dy));
        Assert.Throws<ObjectDisposedException>(() => pass.Output);
        Assert.Throws<ObjectDisposedException>(() => output.ToArray());

        var optimizer = new Optimizer(model, OptimizerOptions.Adam());
        optimizer.Dispose();
        optimizer.Dispose();
        Assert.True(optimizer.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => optimizer.Step());

        // A disposed input or output gradient.
        using var live = model.ForwardForTraining(input);
        var gone = DeviceTensor.FromArray(device, [1f], 1, 1);
        gone.Dispose();
        Assert.Throws<ObjectDisposedException>(() => live.Backward(gone));
        var shortLived = DeviceTensor.FromArray(device, [1f, 2f], 1, 2);
        using var orphan = model.ForwardForTraining(shortLived);
        shortLived.Dispose();
        Assert.Throws<ObjectDisposedException>(() => orphan.Backward(dy));
        Assert.Throws<ObjectDisposedException>(() => model.ForwardForTraining(shortLived));
    }

    [Fact]
    public void PassesAndOptimizersThrowWhenTheirModelOrDeviceWasDisposed()
    {
        _ = Device;   // skips without one
        using var device = NaluDevice.Create(fixture.Kind);
        var model = new Model(device, ModelArchitecture.Uniform(UnitKind.Nac, 2, 1), 5);
        var input = DeviceTensor.FromArray(device, [1f, 2f], 1, 2);
        var dy = DeviceTensor.FromArray(device, [1f], 1, 1);
        var pass = model.ForwardForTraining(input);
        var optimizer = new Optimizer(model, OptimizerOptions.Adam());
        model.Dispose();
        Assert.True(pass.IsDisposed);
        Assert.True(optimizer.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => pass.Backward(dy));
        Assert.Throws<ObjectDisposedException>(() => optimizer.Step());
        Assert.Throws<ObjectDisposedException>(() => model.ForwardForTraining(input));
        Assert.Throws<ObjectDisposedException>(() => new Optimizer(model, OptimizerOptions.Adam()));
        pass.Dispose();
        optimizer.Dispose();

        using var device2 = NaluDevice.Create(fixture.Kind);
        using var model2 = new Model(device2, ModelArchitecture.Uniform(UnitKind.Nac, 2, 1), 5);
        using var input2 = DeviceTensor.FromArray(device2, [1f, 2f], 1, 2);
        using var dy2 = DeviceTensor.FromArray(device2, [1f], 1, 1);
        using var pass2 = model2.ForwardForTraining(input2);
        using var optimizer2 = new Optimizer(model2, OptimizerOptions.Adam());
        // A tensor from another device is refused before anything runs.
        Assert.Throws<ArgumentException>(() => pass2.Backward(dy));
        device2.Dispose();
        Assert.Throws<ObjectDisposedException>(() => pass2.Backward(dy2));
        Assert.Throws<ObjectDisposedException>(() => optimizer2.Step());
        Assert.Throws<ObjectDisposedException>(() => model2.ForwardForTraining(input2));
        input.Dispose();
        dy.Dispose();
    }
}
