using System.Reflection;
using ILGPU;
using ILGPU.Backends;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.OpenCL;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;
using Nalu.Gpu.Devices;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Kernels.Launch;
using Nalu.Gpu.Kernels.Units;
using Nalu.Gpu.Models;
using Nalu.Gpu.Tasks;
using Nalu.Gpu.Training;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>
/// First layer of truth for <see cref="PReluDenseReference"/>: its backward against central finite differences
/// in double, for <c>L = Σ y·r</c> (so ∂L/∂y = r), including the learned slope α.
/// </summary>
public sealed class PReluReferenceTests
{
    private const double Step = 1e-6, Atol = 1e-6, Rtol = 1e-5;

    [Theory]
    [InlineData(1, 1, 1, 0.25, 11)]
    [InlineData(6, 5, 4, 0.25, 12)]
    [InlineData(7, 13, 3, -0.4, 13)]
    [InlineData(5, 3, 8, 1.7, 14)]
    public void BackwardMatchesFiniteDifferences(int batch, int inputs, int outputs, double alpha, int seed)
    {
        var rng = new Random(seed);
        double[] parameters, x;
        // Redraw until no pre-activation sits within 1e-3 of the kink at 0, where a difference quotient
        // straddles both slopes.
        do
        {
            parameters = [.. Uniform(rng, inputs * outputs + outputs, -1.5, 1.5), alpha];
            x = Uniform(rng, batch * inputs, -2, 2);
        }
        while (PreActivations(parameters, x, batch, inputs, outputs).Any(z => Math.Abs(z) < 1e-3));

        var y = PReluDenseReference.Forward(parameters, x, batch, inputs, outputs);
        var r = Uniform(rng, y.Length, -1, 1);
        var (gp, gx) = PReluDenseReference.Backward(parameters, x, r, batch, inputs, outputs);
        Assert.Equal(PReluDenseReference.ParameterCount(inputs, outputs), gp.Length);
        Assert.Equal(x.Length, gx.Length);

        double Loss(double[] p, double[] xx) => PReluDenseReference.Forward(p, xx, batch, inputs, outputs).Zip(r, (a, b) => a * b).Sum();
        CompareWithFiniteDifferences($"∂L/∂parameters (seed {seed})", parameters, gp, p => Loss(p, x));
        CompareWithFiniteDifferences($"∂L/∂x (seed {seed})", x, gx, xx => Loss(parameters, xx));
    }

    [Fact]
    public void SlopeGradientIsTheSumOfDeltaTimesNegativePreActivations()
    {
        // I = 1, O = 2: W = [1, −1], b = [0, 0], α = 0.25, two samples x = 2 and x = −3.
        double[] parameters = [1, -1, 0, 0, 0.25];
        double[] x = [2, -3];
        double[] dy = [0.5, 0.7, -1.1, 0.3];
        Assert.Equal(new double[] { 2, -0.5, -0.75, 3 }, PReluDenseReference.Forward(parameters, x, 2, 1, 2));
        var (gp, gx) = PReluDenseReference.Backward(parameters, x, dy, 2, 1, 2);
        // z = [2, −2 | −3, 3]: the negative ones are (sample 0, output 1) = −2 and (sample 1, output 0) = −3.
        Assert.Equal(0.7 * -2 + -1.1 * -3, gp[4], 12);
        // δz = [0.5, 0.25·0.7 | 0.25·(−1.1), 0.3]; ∂L/∂W = Σ δz x, ∂L/∂b = Σ δz, ∂L/∂x = δz W.
        Assert.Equal(0.5 * 2 + 0.25 * -1.1 * -3, gp[0], 12);
        Assert.Equal(0.25 * 0.7 * 2 + 0.3 * -3, gp[1], 12);
        Assert.Equal(0.5 + 0.25 * -1.1, gp[2], 12);
        Assert.Equal(0.25 * 0.7 + 0.3, gp[3], 12);
        Assert.Equal(0.5 - 0.25 * 0.7, gx[0], 12);
        Assert.Equal(0.25 * -1.1 - 0.3, gx[1], 12);
    }

    [Fact]
    public void AtTheKinkTheSlopeBranchIsTaken()
    {
        // PyTorch: y = α z and dy/dz = α for z ≤ 0, so at z = 0 the input gradient is α·δ and ∂L/∂α = δ·0.
        double[] parameters = [1, 0, 0.3];
        var (gp, gx) = PReluDenseReference.Backward(parameters, [0.0], [2.0], 1, 1, 1);
        Assert.Equal(0.6, gx[0], 12);
        Assert.Equal(0.6, gp[1], 12);
        Assert.Equal(0, gp[2]);
    }

    [Fact]
    public void RejectsWrongLengths()
    {
        Assert.Throws<ArgumentException>(() => PReluDenseReference.Forward(new double[6], new double[2], 1, 2, 2));
        Assert.Throws<ArgumentException>(() => PReluDenseReference.Backward(new double[7], new double[2], new double[3], 1, 2, 2));
    }

    internal static double[] PreActivations(double[] parameters, double[] x, int batch, int inputs, int outputs)
    {
        var z = new double[batch * outputs];
        for (int b = 0; b < batch; b++)
        {
            for (int o = 0; o < outputs; o++)
            {
                double sum = parameters[inputs * outputs + o];
                for (int i = 0; i < inputs; i++)
                    sum += parameters[o * inputs + i] * x[b * inputs + i];
                z[b * outputs + o] = sum;
            }
        }

        return z;
    }

    internal static double[] Uniform(Random rng, int count, double low, double high) =>
        Enumerable.Range(0, count).Select(_ => low + (high - low) * rng.NextDouble()).ToArray();

    private static void CompareWithFiniteDifferences(string what, double[] point, double[] analytic, Func<double[], double> loss)
    {
        var bad = new List<string>();
        for (int k = 0; k < point.Length; k++)
        {
            var plus = (double[])point.Clone();
            var minus = (double[])point.Clone();
            plus[k] += Step;
            minus[k] -= Step;
            double fd = (loss(plus) - loss(minus)) / (2 * Step);
            double limit = Atol + Rtol * Math.Max(Math.Abs(fd), Math.Abs(analytic[k]));
            if (!(Math.Abs(fd - analytic[k]) <= limit) && bad.Count < 8)
                bad.Add($"[{k}] analytic {analytic[k]:G10}, finite difference {fd:G10}");
        }

        Assert.True(bad.Count == 0, $"{what}:\n  " + string.Join("\n  ", bad));
    }
}

/// <summary>
/// Second layer of truth: <see cref="UnitKernels"/> (Forward, Backward, ReduceGradients, FinishGradients)
/// instantiated with <see cref="PReluDenseUnit"/>, alone and chained into a linear layer, on ILGPU's CPU
/// accelerator, against <see cref="PReluDenseReference"/>.
/// </summary>
public sealed class PReluKernelTests(CpuFixture fixture) : IClassFixture<CpuFixture>
{
    private const float Sentinel = 12345f;

    [Theory]
    [InlineData(1, 1, 1, 1, 1, false)]
    [InlineData(2, 7, 3, 4, 3, false)]  // chunks of 3, 3, 1 samples
    [InlineData(3, 37, 13, 3, 5, true)] // one narrow group: every grid-stride loop wraps
    public void SingleLayer_MatchesReference(int models, int batch, int inputs, int outputs, int chunks, bool narrow)
    {
        var unit = new PReluDenseUnit(inputs, outputs);
        Run(unit, models, batch, chunks, narrow, seed: 100 * models + batch,
            (p, x) => PReluDenseReference.Forward(p, x, batch, inputs, outputs),
            (p, x, dy) => PReluDenseReference.Backward(p, x, dy, batch, inputs, outputs));
    }

    [Theory]
    [InlineData(1, 1, 1, false)]
    [InlineData(2, 9, 4, true)]
    public void ChainedIntoALinearLayer_MatchesReference(int models, int batch, int chunks, bool narrow)
    {
        const int inputs = 3, hidden = 5, outputs = 2;
        var unit = new Chain<PReluDenseUnit, DenseUnit<Linear>>(new PReluDenseUnit(inputs, hidden), new DenseUnit<Linear>(hidden, outputs));
        int n1 = PReluDenseReference.ParameterCount(inputs, hidden);
        Run(unit, models, batch, chunks, narrow, seed: 500 + batch,
            (p, x) => DenseReference.Forward(p[n1..], PReluDenseReference.Forward(p[..n1], x, batch, inputs, hidden), batch, hidden, outputs, ReferenceActivation.Linear),
            (p, x, dy) =>
            {
                var h = PReluDenseReference.Forward(p[..n1], x, batch, inputs, hidden);
                var (g2, dh) = DenseReference.Backward(p[n1..], h, dy, batch, hidden, outputs, ReferenceActivation.Linear);
                var (g1, dx) = PReluDenseReference.Backward(p[..n1], x, dh, batch, inputs, hidden);
                return ([.. g1, .. g2], dx);
            });
    }

    private void Run<TUnit>(TUnit unit, int models, int batch, int chunks, bool narrow, int seed,
        Func<double[], double[], double[]> forward,
        Func<double[], double[], double[], (double[] ParameterGradient, double[] InputGradient)> backward)
        where TUnit : struct, IUnit
    {
        var acc = fixture.Device.Accelerator;
        int n = unit.ParameterCount, inputs = unit.Inputs, outputs = unit.Outputs, saved = unit.SavedCount;
        var rng = new Random(seed);
        var parameters = new float[models * n];
        for (int p = 0; p < models; p++)
        {
            for (int j = 0; j < n; j++)
                parameters[p * n + j] = (float)(rng.NextDouble() * 2 - 1);
        }

        // Each model's slope(s) differ: positive, then negative, then above 1.
        float[] slopes = [0.25f, -0.3f, 1.4f];
        if (unit is PReluDenseUnit)
        {
            for (int p = 0; p < models; p++)
                parameters[p * n + n - 1] = slopes[p % slopes.Length];
        }

        var x = PReluReferenceTests.Uniform(rng, models * batch * inputs, -2, 2).Select(v => (float)v).ToArray();
        var dy = PReluReferenceTests.Uniform(rng, models * batch * outputs, -1, 1).Select(v => (float)v).ToArray();

        using var pBuf = Upload(acc, parameters);
        using var cache = Upload(acc, new float[Math.Max(1, models * unit.CacheCount)]);
        using var gradients = Upload(acc, Enumerable.Repeat(Sentinel, models * n).ToArray());
        using var partials = Upload(acc, Enumerable.Repeat(Sentinel, models * chunks * n).ToArray());
        using var xBuf = Upload(acc, x);
        using var yBuf = Upload(acc, Enumerable.Repeat(Sentinel, models * batch * outputs).ToArray());
        using var savedBuf = Upload(acc, new float[Math.Max(1, models * batch * saved)]);
        using var dyBuf = Upload(acc, dy);
        using var dxBuf = Upload(acc, Enumerable.Repeat(Sentinel, models * batch * inputs).ToArray());
        var buffers = new UnitBuffers
        {
            Parameters = pBuf.View, Cache = cache.View, Gradients = gradients.View, Partials = partials.View,
            X = xBuf.View, Y = yBuf.View, Saved = savedBuf.View, Dy = dyBuf.View, Dx = dxBuf.View,
        };
        var shape = new BatchShape { Models = models, Batch = batch, Chunks = chunks, NeedInputGradient = 1 };
        var config = narrow ? new KernelConfig(1, acc.WarpSize) : new KernelConfig(acc.NumMultiprocessors, acc.MaxNumThreadsPerGroup);

        acc.LoadStreamKernel<TUnit, BatchShape, UnitBuffers>(UnitKernels.Forward)(config, unit, shape, buffers);
        acc.LoadStreamKernel<TUnit, BatchShape, UnitBuffers>(UnitKernels.Backward)(config, unit, shape, buffers);
        acc.LoadStreamKernel<int, BatchShape, UnitBuffers>(UnitKernels.ReduceGradients)(config, n, shape, buffers);
        acc.LoadStreamKernel<TUnit, BatchShape, UnitBuffers>(UnitKernels.FinishGradients)(config, unit, shape, buffers);
        acc.Synchronize();

        var expectedY = new List<double>();
        var expectedGradients = new List<double>();
        var expectedDx = new List<double>();
        for (int p = 0; p < models; p++)
        {
            var pp = parameters.AsSpan(p * n, n).ToArray().Select(v => (double)v).ToArray();
            var xx = x.AsSpan(p * batch * inputs, batch * inputs).ToArray().Select(v => (double)v).ToArray();
            var dd = dy.AsSpan(p * batch * outputs, batch * outputs).ToArray().Select(v => (double)v).ToArray();
            expectedY.AddRange(forward(pp, xx));
            var (g, dx) = backward(pp, xx, dd);
            expectedGradients.AddRange(g);
            expectedDx.AddRange(dx);
        }

        string what = $"{typeof(TUnit).Name} P={models} B={batch} chunks={chunks} narrow={narrow} seed {seed}";
        Tolerance.AssertClose(expectedY.ToArray(), yBuf.GetAsArray1D(), Tolerance.Values, $"{what}: y");
        Tolerance.AssertClose(expectedGradients.ToArray(), gradients.GetAsArray1D(), Tolerance.Gradients, $"{what}: gradients");
        Tolerance.AssertClose(expectedDx.ToArray(), dxBuf.GetAsArray1D(), Tolerance.Gradients, $"{what}: dx");
    }

    private static MemoryBuffer1D<float, Stride1D.Dense> Upload(Accelerator acc, float[] values)
    {
        var buffer = acc.Allocate1D<float>(values.Length);
        buffer.View.CopyFromCPU(values);
        return buffer;
    }
}

/// <summary>The PReLU layer through the host API: layout, initialisation, prediction and every training strategy.</summary>
public sealed class PReluModelTests(CpuFixture fixture) : IClassFixture<CpuFixture>
{
    [Fact]
    public void LayerSpec_HasWeightBiasAndOneSlopeStartingAtAQuarter()
    {
        var layer = LayerSpec.Dense(3, 4, Activation.PRelu);
        Assert.Equal(new[] { "weight", "bias", "alpha" }, layer.Tensors.Select(t => t.Name));
        Assert.Equal(new[] { 1 }, layer.Tensors[2].Shape);
        Assert.Equal(3 * 4 + 4 + 1, layer.ParameterCount);

        var architecture = new ModelArchitecture([layer, LayerSpec.Dense(4, 1, Activation.Linear)]);
        Assert.Equal("mlp-prelu 3→4→1", architecture.ShortName);
        var initial = architecture.Initialize(seed: 5);
        Assert.Equal(0.25f, initial[16]);
        Assert.All(initial[12..16], b => Assert.Equal(0f, b));
        float kaiming = MathF.Sqrt(6f / 3);
        Assert.All(initial[..12], w => Assert.InRange(w, -kaiming, kaiming));
        Assert.Contains(initial[..12], w => MathF.Abs(w) > MathF.Sqrt(6f / 7)); // wider than Xavier: the ReLU family's bound
    }

    [Fact]
    public void Predict_MatchesTheReference()
    {
        var architecture = new ModelArchitecture([LayerSpec.Dense(1, 6, Activation.PRelu), LayerSpec.Dense(6, 1, Activation.Linear)]);
        using var model = new Model(fixture.Device, architecture, [1, 2]);
        var rng = new Random(77);
        var parameters = PReluReferenceTests.Uniform(rng, 2 * architecture.ParameterCount, -1, 1).Select(v => (float)v).ToArray();
        parameters[12] = -0.2f; // model 0's slope (after W 6, b 6)
        model.SetParameters(parameters);
        float[] x = [-3f, -0.5f, 0f, 0.7f, 4f];
        var y = model.Predict(x, x.Length);
        int n = architecture.ParameterCount, n1 = PReluDenseReference.ParameterCount(1, 6);
        for (int p = 0; p < 2; p++)
        {
            var pp = parameters.AsSpan(p * n, n).ToArray().Select(v => (double)v).ToArray();
            var h = PReluDenseReference.Forward(pp[..n1], x.Select(v => (double)v).ToArray(), x.Length, 1, 6);
            var expected = DenseReference.Forward(pp[n1..], h, x.Length, 6, 1, ReferenceActivation.Linear);
            Tolerance.AssertClose(expected, y[p], Tolerance.Values, $"model {p}");
        }
    }

    [Fact]
    public void EveryStrategyTrainsTheSameModelAndLearnsTheSlope()
    {
        var architecture = ModelArchitecture.Uniform(UnitKind.Dense, Activation.PRelu, 1, 8, 8, 1);
        var task = ArithmeticTask.Identity(new SampleInterval(-5, 5), new SampleInterval(-20, -5, 5, 20));
        float[] Train(TrainingStrategy strategy)
        {
            using var model = new Model(fixture.Device, architecture, [3, 4, 5]);
            using var trainer = new Trainer(model, task, new TrainerOptions
            {
                Batch = 16, Strategy = strategy, EvaluateEvery = 0, StepsPerLaunch = 7, Optimizer = OptimizerOptions.Adam(1e-2f),
                Threads = 2,   // fixed, never the machine's core count
            });
            trainer.Train(30);
            Assert.All(trainer.LastLosses, l => Assert.True(float.IsFinite(l)));
            return model.GetParameters();
        }

        var fused = Train(TrainingStrategy.Fused);
        var batched = Train(TrainingStrategy.Batched);
        var native = Train(TrainingStrategy.Native);
        // Same data and math; the batched path sums the batch in chunks and the native path sums dot products
        // in SIMD lanes, so they differ from the fused kernel by float round-off only.
        var expected = fused.Select(v => (double)v).ToArray();
        Tolerance.AssertClose(expected, native, (1e-4, 1e-3), "native vs fused");
        Tolerance.AssertClose(expected, batched, (1e-4, 1e-3), "batched vs fused");

        // The three slopes (one per PReLU layer, at the end of each block) moved away from 0.25.
        int n = architecture.ParameterCount;
        for (int l = 0; l < 3; l++)
        {
            int slope = architecture.LayerOffset(l) + architecture.Layers[l].ParameterCount - 1;
            if (architecture.Layers[l].Activation != Activation.PRelu)
                continue;
            for (int p = 0; p < 3; p++)
                Assert.NotEqual(0.25f, fused[p * n + slope]);
        }
    }
}
