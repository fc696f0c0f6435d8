using ILGPU;
using ILGPU.Runtime;
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
/// sNMU: the reference backward vs finite differences with the noise fixed, inference is the plain NMU bit for bit, the
/// noise's range and keys, and the training-mode kernels (batched kernels on the CPU accelerator, the native path's host
/// code) against the reference with the same noise.
/// </summary>
public sealed unsafe class SnmuTests
{
    public static TheoryData<int, int, int, int> Shapes => new()
    {
        { 1, 1, 1, 61 },
        { 5, 4, 3, 62 },
        { 7, 6, 2, 63 },
    };

    private static (double[] W, double[] X) Problem(int batch, int inputs, int outputs, int seed)
    {
        var rng = new Random(seed);
        var w = FiniteDifferences.Uniform(rng, SnmuReference.ParameterCount(inputs, outputs), 0, 1);
        var x = FiniteDifferences.Uniform(rng, batch * inputs, 0.3, 2).Select(v => rng.Next(2) == 0 ? -v : v).ToArray();
        return (w, x);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Backward_WithTheNoiseFixed_MatchesFiniteDifferences(int batch, int inputs, int outputs, int seed)
    {
        var (w, x) = Problem(batch, inputs, outputs, seed);
        var noise = SnmuReference.Noise(seed, step: 3, batch, inputs);
        FiniteDifferences.Check($"sNMU B={batch} I={inputs} O={outputs}", seed, new Random(seed + 1), w, x,
            (p, xx) => SnmuReference.Forward(p, xx, noise, batch, inputs, outputs),
            (p, xx, dy) => SnmuReference.Backward(p, xx, noise, dy, batch, inputs, outputs));
    }

    [Fact]
    public void Noise_IsUniformOnOneToFive_AndKeyedBySeedStepSampleAndElement()
    {
        var a = SnmuReference.Noise(1, 0, 64, 8);
        Assert.All(a, v => Assert.InRange(v, 1.0, 5.0));
        Assert.InRange(a.Average(), 2.7, 3.3);
        Assert.Equal(a, SnmuReference.Noise(1, 0, 64, 8));
        Assert.NotEqual(a, SnmuReference.Noise(2, 0, 64, 8));
        Assert.NotEqual(a, SnmuReference.Noise(1, 1, 64, 8));
        Assert.Equal(a.Distinct().Count(), a.Length);
    }

    [Fact]
    public void Inference_IsThePlainNmu_BitForBit()
    {
        const int inputs = 5, outputs = 3;
        var (w, x) = Problem(1, inputs, outputs, 64);
        Assert.Equal(NmuReference.Forward(w, x, 1, inputs, outputs), SnmuReference.Forward(w, x, null, 1, inputs, outputs));
        var snmu = new SnmuUnit(inputs, outputs);
        var nmu = new NmuUnit(inputs, outputs);
        var w32 = w.Select(v => (float)v).ToArray();
        var x32 = x.Select(v => (float)v).ToArray();
        var (y1, y2) = (new float[outputs], new float[outputs]);
        var (s1, s2) = (new float[snmu.SavedCount], new float[nmu.SavedCount]);
        fixed (float* pw = w32, px = x32, py1 = y1, py2 = y2, ps1 = s1, ps2 = s2)
        {
            // A training context for the NMU (it ignores it) and inference for the sNMU.
            snmu.Forward(SampleContext.Inference, new HostMemory(pw), 0, new HostMemory(pw), 0, new HostMemory(px), 0, new HostMemory(py1), 0, new HostMemory(ps1), 0);
            nmu.Forward(new SampleContext(5, 5, 0, true), new HostMemory(pw), 0, new HostMemory(pw), 0, new HostMemory(px), 0, new HostMemory(py2), 0, new HostMemory(ps2), 0);
        }

        Assert.Equal(y2, y1);
        // In training the noise changes the output (the test above can fail).
        var trained = SnmuReference.Forward(w, x, SnmuReference.Noise(1, 0, 1, inputs), 1, inputs, outputs);
        Assert.NotEqual(NmuReference.Forward(w, x, 1, inputs, outputs), trained);
    }

    [Fact]
    public void SelectedInputs_AreExactDespiteTheNoise()
    {
        // W = [1, 1, 0]: x0·x1, whatever the noise (it divides out).
        double[] w = [1, 1, 0];
        double[] x = [1.5, -2, 7];
        var noise = SnmuReference.Noise(4, 2, 1, 3);
        Assert.Equal(-3, SnmuReference.Forward(w, x, noise, 1, 3, 1)[0], 12);
    }

    public static TheoryData<int, int, int, int> KernelShapes => new()
    {
        { 1, 1, 1, 1 },
        { 2, 37, 3, 2 },   // batch not a multiple of any group size, 2 models with their own seeds
    };

    [Theory]
    [MemberData(nameof(KernelShapes))]
    public void TrainingKernels_MatchTheReference_OnTheCpuAccelerator(int models, int batch, int inputs, int outputs)
    {
        using var device = NaluDevice.Create(DeviceKind.Cpu);
        var acc = device.Accelerator;
        var unit = new SnmuUnit(inputs, outputs);
        var (w, x, dy, seeds, step) = KernelProblem(models, batch, inputs, outputs);
        int n = unit.ParameterCount, chunks = 3;
        using var p = acc.Allocate1D(w.Select(v => (float)v).ToArray());
        using var xb = acc.Allocate1D(x.Select(v => (float)v).ToArray());
        using var dyb = acc.Allocate1D(dy.Select(v => (float)v).ToArray());
        using var y = acc.Allocate1D<float>(models * batch * outputs);
        using var dx = acc.Allocate1D<float>(models * batch * inputs);
        using var saved = acc.Allocate1D<float>(models * batch * unit.SavedCount);
        using var partials = acc.Allocate1D<float>(models * chunks * n);
        using var grad = acc.Allocate1D<float>(models * n);
        using var cache = acc.Allocate1D<float>(1);
        using var seedBuffer = acc.Allocate1D(seeds);
        var shape = new BatchShape { Models = models, Batch = batch, Chunks = chunks, NeedInputGradient = 1, Step = step, Training = 1 };
        var b = new UnitBuffers
        {
            Parameters = p.View, Cache = cache.View, Gradients = grad.View, Partials = partials.View, X = xb.View, Y = y.View,
            Saved = saved.View, Dy = dyb.View, Dx = dx.View, Seeds = seedBuffer.View,
        };
        var config = new KernelConfig(2, acc.MaxNumThreadsPerGroup);   // 2 groups: the grid-stride loops wrap
        acc.LoadStreamKernel<SnmuUnit, BatchShape, UnitBuffers>(UnitKernels.Forward)(config, unit, shape, b);
        acc.LoadStreamKernel<SnmuUnit, BatchShape, UnitBuffers>(UnitKernels.Backward)(config, unit, shape, b);
        acc.LoadStreamKernel<int, BatchShape, UnitBuffers>(UnitKernels.ReduceGradients)(config, n, shape, b);
        acc.Synchronize();
        AssertMatchesReference(w, x, dy, seeds, step, models, batch, inputs, outputs, y.GetAsArray1D(), grad.GetAsArray1D(), dx.GetAsArray1D());
    }

    [Theory]
    [MemberData(nameof(KernelShapes))]
    public void TrainingHostCode_OfTheNativePath_MatchesTheReference(int models, int batch, int inputs, int outputs)
    {
        var unit = new SnmuUnit(inputs, outputs);
        var (w, x, dy, seeds, step) = KernelProblem(models, batch, inputs, outputs);
        int n = unit.ParameterCount;
        var w32 = w.Select(v => (float)v).ToArray();
        var x32 = x.Select(v => (float)v).ToArray();
        var dy32 = dy.Select(v => (float)v).ToArray();
        var y = new float[models * batch * outputs];
        var dx = new float[models * batch * inputs];
        var grad = new float[models * n];
        var saved = new float[unit.SavedCount];
        fixed (float* pw = w32, px = x32, pdy = dy32, py = y, pdx = dx, pg = grad, ps = saved)
        {
            HostMemory P = new(pw), X = new(px), DY = new(pdy), Y = new(py), DX = new(pdx), G = new(pg), S = new(ps);
            for (int m = 0; m < models; m++)
            {
                for (int sample = 0; sample < batch; sample++)
                {
                    int row = m * batch + sample;
                    var context = new SampleContext(seeds[m], step, sample, true);
                    unit.Forward(context, P, m * n, P, 0, X, row * inputs, Y, row * outputs, S, 0);
                    unit.Backward(context, P, m * n, P, 0, X, row * inputs, S, 0, DY, row * outputs, G, m * n, true, DX, row * inputs);
                }
            }
        }

        AssertMatchesReference(w, x, dy, seeds, step, models, batch, inputs, outputs, y, grad, dx);
    }

    private static (double[] W, double[] X, double[] Dy, int[] Seeds, int Step) KernelProblem(int models, int batch, int inputs, int outputs)
    {
        var rng = new Random(70 + models * 100 + batch);
        var w = FiniteDifferences.Uniform(rng, models * inputs * outputs, 0, 1);
        var x = FiniteDifferences.Uniform(rng, models * batch * inputs, 0.5, 1.5).Select(v => rng.Next(2) == 0 ? -v : v).ToArray();
        var dy = FiniteDifferences.Uniform(rng, models * batch * outputs, -1, 1);
        return (w, x, dy, Enumerable.Range(0, models).Select(m => 40 + 3 * m).ToArray(), 17);
    }

    private static void AssertMatchesReference(double[] w, double[] x, double[] dy, int[] seeds, int step, int models, int batch, int inputs, int outputs,
        float[] y, float[] grad, float[] dx)
    {
        int n = inputs * outputs;
        for (int m = 0; m < models; m++)
        {
            var noise = SnmuReference.Noise(seeds[m], step, batch, inputs);
            var wm = w.AsSpan(m * n, n);
            var xm = x.AsSpan(m * batch * inputs, batch * inputs);
            var expectedY = SnmuReference.Forward(wm, xm, noise, batch, inputs, outputs);
            var (gp, gx) = SnmuReference.Backward(wm, xm, noise, dy.AsSpan(m * batch * outputs, batch * outputs), batch, inputs, outputs);
            Tolerance.AssertClose(expectedY, y.AsSpan(m * batch * outputs, batch * outputs), Tolerance.Values, $"sNMU y, model {m}");
            Tolerance.AssertClose(gp, grad.AsSpan(m * n, n), Tolerance.Gradients, $"sNMU ∂L/∂W, model {m}");
            Tolerance.AssertClose(gx, dx.AsSpan(m * batch * inputs, batch * inputs), Tolerance.Gradients, $"sNMU ∂L/∂x, model {m}");
            // The training output is not the plain NMU's: the kernel did use the noise.
            if (outputs * batch > 3)
                Assert.NotEqual(NmuReference.Forward(wm, xm, batch, inputs, outputs).Select(v => (float)v), y.AsSpan(m * batch * outputs, batch * outputs).ToArray());
        }
    }

    [Fact]
    public void NauSnmuPreset_FusedBatchedAndNativeTrainAlike()
    {
        // The three paths draw the same noise for the same (seed, step, sample): a few steps agree to float rounding.
        var architecture = ModelPresets.Create("nau-snmu", 2, 2);
        Assert.Equal(UnitKind.Snmu, architecture.Layers[1].Kind);
        var task = new ArithmeticTask(ArithmeticOp.Mul, 2, new SampleInterval(1, 2), new SampleInterval(2, 6));
        float[] Train(DeviceKind kind, TrainingStrategy strategy)
        {
            using var device = NaluDevice.Create(kind);
            using var model = new Model(device, architecture, [5, 6]);
            using var trainer = new Trainer(model, task, new TrainerOptions { Batch = 20, EvaluateEvery = 0, Strategy = strategy, Optimizer = OptimizerOptions.Adam(1e-2f) });
            trainer.Train(5);
            return model.GetParameters();
        }

        var fused = Train(DeviceKind.Cpu, TrainingStrategy.Fused);
        var batched = Train(DeviceKind.Cpu, TrainingStrategy.Batched);
        var native = Train(DeviceKind.Native, TrainingStrategy.Native);
        Tolerance.AssertClose(fused.Select(v => (double)v).ToArray(), batched, Tolerance.Values, "nau-snmu fused vs batched");
        Assert.Equal(fused, native);
    }
}
