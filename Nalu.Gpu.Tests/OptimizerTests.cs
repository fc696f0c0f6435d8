using ILGPU;
using ILGPU.Runtime;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Kernels.Launch;
using Xunit;
using Nalu.Gpu.Training;

namespace Nalu.Gpu.Tests;

/// <summary>
/// The optimizer reference against numbers worked out by hand. Hyper-parameters are powers of two where
/// possible so the arithmetic in the comments is exact; ε is kept and its effect bounded by the tolerance.
/// </summary>
public sealed class OptimizerTests
{
    private static OptimizerSettings Settings(OptimizerKind kind, float lr, float beta1, float beta2, float eps = 1e-8f,
        float clipValue = 0f, float clipNorm = 0f) => new()
    {
        Kind = kind, LearningRate = lr, Beta1 = beta1, Beta2 = beta2, Epsilon = eps, ClipValue = clipValue, ClipNorm = clipNorm,
    };

    /// <summary>Runs the reference on one parameter for the given gradients; returns the parameter after each step.</summary>
    private static double[] Trajectory(OptimizerSettings s, double p0, params double[] gradients)
    {
        var p = new[] { p0 };
        var state = new double[2];
        var result = new double[gradients.Length];
        for (int step = 0; step < gradients.Length; step++)
        {
            OptimizerReference.Step(s, s.LearningRate, step, [gradients[step]], p, state);
            result[step] = p[0];
        }

        return result;
    }

    [Fact]
    public void AdamFirstStepMovesEachParameterByLearningRateTimesSignOfGradient()
    {
        // torch defaults. Step 1: m = (1−β1)g, v = (1−β2)g², bias corrections 1−β1 and 1−β2, so
        // m̂ = g, v̂ = g², and p −= lr·g/(|g| + ε) = lr·sign(g) up to a relative ε/|g|.
        var s = Settings(OptimizerKind.Adam, 1e-3f, 0.9f, 0.999f);
        double[] g = [3.0, -0.5, 1e-3, 0.0, -250.0];
        var p = new double[] { 1, 1, 1, 1, 1 };
        var state = new double[10];
        OptimizerReference.Step(s, 1e-3, 0, g, p, state);
        for (int k = 0; k < g.Length; k++)
        {
            double expected = 1.0 - 1e-3 * Math.Sign(g[k]);
            // |g|/(|g|+ε) differs from 1 by at most ε/|g| = 1e-5 for g = 1e-3.
            Assert.True(Math.Abs(p[k] - expected) <= 1e-3 * 1e-8 / Math.Max(Math.Abs(g[k]), 1e-3) + 1e-15,
                $"p[{k}] = {p[k]:R}, expected ≈ {expected:R} (g = {g[k]})");
            // m = (1 − β1)·g and v = (1 − β2)·g², with the float β1 = 0.9f, β2 = 0.999f widened to double.
            Assert.Equal((1 - (double)0.9f) * g[k], state[2 * k], 1e-12);
            Assert.Equal((1 - (double)0.999f) * g[k] * g[k], state[2 * k + 1], 1e-12);
        }
    }

    [Fact]
    public void AdamThreeStepsMatchHandArithmetic()
    {
        // β1 = β2 = 0.5, lr = 0.125, p0 = 1; gradients 2, −2, 0.
        // Step 1: m = 0.5·2 = 1,          v = 0.5·4 = 2,        c1 = c2 = 1 − 0.5 = 0.5
        //         m̂ = 2, v̂ = 4, √v̂ = 2  → p −= 0.125·2/2 = 0.125          → p = 0.875
        // Step 2: m = 0.5·1 + 0.5·(−2) = −0.5, v = 0.5·2 + 0.5·4 = 3, c1 = c2 = 1 − 0.25 = 0.75
        //         m̂ = −2/3, v̂ = 4, √v̂ = 2 → p −= 0.125·(−2/3)/2 = −1/24 → p = 0.875 + 1/24
        // Step 3: m = −0.25, v = 1.5, c1 = c2 = 1 − 0.125 = 0.875
        //         m̂ = −2/7, v̂ = 12/7 → m̂/√v̂ = −2/√84 = −1/√21 → p = 0.875 + 1/24 + 0.125/√21
        // ε = 1e-8 shifts each step by at most lr·ε/√v̂ < 1e-9.
        var s = Settings(OptimizerKind.Adam, 0.125f, 0.5f, 0.5f);
        var p = Trajectory(s, 1.0, 2, -2, 0);
        Assert.Equal(0.875, p[0], 1e-8);
        Assert.Equal(0.875 + 1.0 / 24, p[1], 1e-8);
        Assert.Equal(0.875 + 1.0 / 24 + 0.125 / Math.Sqrt(21), p[2], 1e-8);
    }

    [Fact]
    public void SgdMomentumThreeStepsMatchHandArithmetic()
    {
        // μ = 0.5, lr = 0.125, p0 = 1; gradients 1, 2, −1. Buffer b = μ·b + g; p −= lr·b.
        // Step 1: b = 1            → p = 1 − 0.125      = 0.875
        // Step 2: b = 0.5 + 2 = 2.5 → p = 0.875 − 0.3125 = 0.5625
        // Step 3: b = 1.25 − 1 = 0.25 → p = 0.5625 − 0.03125 = 0.53125
        // Every number is a dyadic rational, so the double result is exact.
        var s = Settings(OptimizerKind.Sgd, 0.125f, 0.5f, 0f);
        Assert.Equal([0.875, 0.5625, 0.53125], Trajectory(s, 1.0, 1, 2, -1));
    }

    [Fact]
    public void SgdWithoutMomentumIsPlainGradientDescent()
    {
        // μ = 0: p −= lr·g each step: 1 − 0.25·(1 + 2 − 1) = 0.5 after three steps.
        var s = Settings(OptimizerKind.Sgd, 0.25f, 0f, 0f);
        Assert.Equal([0.75, 0.25, 0.5], Trajectory(s, 1.0, 1, 2, -1));
    }

    [Fact]
    public void RmsPropThreeStepsMatchHandArithmetic()
    {
        // α = 0.5, lr = 0.125, p0 = 1; gradients 2, 2, −4. a = α·a + (1−α)·g²; p −= lr·g/(√a + ε).
        // Step 1: a = 0.5·4 = 2          → p −= 0.125·2/√2 = 0.125·√2     → p = 1 − 0.125√2
        // Step 2: a = 1 + 2 = 3          → p −= 0.125·2/√3 = 0.25/√3      → p = 1 − 0.125√2 − 0.25/√3
        // Step 3: a = 1.5 + 8 = 9.5      → p −= 0.125·(−4)/√9.5 = −0.5/√9.5 → p += 0.5/√9.5
        var s = Settings(OptimizerKind.RmsProp, 0.125f, 0f, 0.5f);
        var p = Trajectory(s, 1.0, 2, 2, -4);
        double p1 = 1 - 0.125 * Math.Sqrt(2);
        double p2 = p1 - 0.25 / Math.Sqrt(3);
        double p3 = p2 + 0.5 / Math.Sqrt(9.5);
        Assert.Equal(p1, p[0], 1e-8);
        Assert.Equal(p2, p[1], 1e-8);
        Assert.Equal(p3, p[2], 1e-8);
        Assert.Equal(0.8232233047033631, p[0], 1e-8); // the same numbers, written out
        Assert.Equal(0.6788857, p[1], 1e-7);
        Assert.Equal(0.8411071, p[2], 1e-7);
    }

    // SGD with μ = 0 and lr = 1 moves the parameter by exactly the clipped gradient, so clipping is visible.
    private static double[] ClippedStep(float clipValue, float clipNorm, params double[] g)
    {
        var s = Settings(OptimizerKind.Sgd, 1f, 0f, 0f, clipValue: clipValue, clipNorm: clipNorm);
        var p = new double[g.Length];
        OptimizerReference.Step(s, 1.0, 0, g, p, new double[2 * g.Length]);
        return p.Select(x => -x).ToArray();
    }

    [Fact]
    public void ClipByValueClampsEachElement()
    {
        // clip 1: [3, −0.5, −2, 1] → [1, −0.5, −1, 1]
        Assert.Equal([1.0, -0.5, -1.0, 1.0], ClippedStep(1f, 0f, 3, -0.5, -2, 1));
        // Off (0): unchanged.
        Assert.Equal([3.0, -0.5, -2.0], ClippedStep(0f, 0f, 3, -0.5, -2));
    }

    [Fact]
    public void ClipByNormScalesTheWholeVectorOnlyWhenCoefficientBelowOne()
    {
        // [3, 4] has norm 5; max_norm 1 → clip_coef = 1/(5 + 1e-6) < 1 → [3, 4]/(5 + 1e-6) ≈ [0.6, 0.8].
        var clipped = ClippedStep(0f, 1f, 3, 4);
        Assert.Equal(3 / (5 + 1e-6), clipped[0], 1e-15);
        Assert.Equal(4 / (5 + 1e-6), clipped[1], 1e-15);
        Assert.Equal(0.6, clipped[0], 1e-6);

        // [0.3, 0.4] has norm 0.5; clip_coef = 1/(0.5 + 1e-6) ≈ 2 > 1 → unchanged (torch clamps the coefficient to 1).
        Assert.Equal([0.3, 0.4], ClippedStep(0f, 1f, 0.3, 0.4));

        // Norm exactly max_norm: clip_coef = 5/(5 + 1e-6) < 1, so torch still scales (by 1 − 2e-7).
        var atLimit = ClippedStep(0f, 5f, 3, 4);
        Assert.Equal(3 * 5 / (5 + 1e-6), atLimit[0], 1e-15);
        Assert.NotEqual(3.0, atLimit[0]);
    }

    [Fact]
    public void ClipByValueHappensBeforeClipByNorm()
    {
        // clip_value 2: [3, −4, 0] → [2, −2, 0], norm √8; max_norm 1 → scale 1/(√8 + 1e-6).
        var clipped = ClippedStep(2f, 1f, 3, -4, 0);
        double scale = 1 / (Math.Sqrt(8) + 1e-6);
        Assert.Equal(2 * scale, clipped[0], 1e-15);
        Assert.Equal(-2 * scale, clipped[1], 1e-15);
        Assert.Equal(0.0, clipped[2]);
        Assert.Equal(1 / Math.Sqrt(2), clipped[0], 1e-6); // ≈ 0.7071: the clipped vector has norm ≈ 1
    }

    [Fact]
    public void StepReturnsTheNormScaleAndAdamUsesTheClippedGradient()
    {
        // Adam's first step only sees sign(g), so check the state instead: m = (1 − β1)·g_clipped.
        var s = Settings(OptimizerKind.Adam, 0.5f, 0.5f, 0.5f, clipNorm: 1f);
        var p = new double[2];
        var state = new double[4];
        double scale = OptimizerReference.Step(s, 0.5, 0, [3, 4], p, state);
        Assert.Equal(1 / (5 + 1e-6), scale, 1e-15);
        Assert.Equal(0.5 * 3 * scale, state[0], 1e-15);
        Assert.Equal(0.5 * 16 * scale * scale, state[3], 1e-15);
    }

    [Fact]
    public void ClipValueAtItsThresholdKeepsTheGradientAndClampsJustAbove()
    {
        // Float (OptimizerMath: the fused step, the native path and OptimizerKernels) and double (the reference).
        var s = Settings(OptimizerKind.Sgd, 1f, 0f, 0f, clipValue: 0.5f);
        float c = 0.5f, above = MathF.BitIncrement(c), below = MathF.BitDecrement(c);
        Assert.Equal(c, OptimizerMath.ClipValue(s, c));
        Assert.Equal(-c, OptimizerMath.ClipValue(s, -c));
        Assert.Equal(c, OptimizerMath.ClipValue(s, above));
        Assert.Equal(-c, OptimizerMath.ClipValue(s, -above));
        Assert.Equal(below, OptimizerMath.ClipValue(s, below));
        Assert.Equal(-below, OptimizerMath.ClipValue(s, -below));
        Assert.Equal(c, OptimizerMath.ClipValue(s, 1e30f));
        Assert.Equal(0.5, OptimizerReference.ClipValue(s, 0.5));
        Assert.Equal(0.5, OptimizerReference.ClipValue(s, above));
        Assert.Equal(-0.5, OptimizerReference.ClipValue(s, -above));
        Assert.Equal(below, OptimizerReference.ClipValue(s, below));
        // Off (0): nothing is clipped, however large.
        var off = Settings(OptimizerKind.Sgd, 1f, 0f, 0f);
        Assert.Equal(1e30f, OptimizerMath.ClipValue(off, 1e30f));
        Assert.Equal(1e30, OptimizerReference.ClipValue(off, 1e30));
    }

    [Fact]
    public void ClipNormAtItsThresholdScalesAsTorchDoes()
    {
        // clip_coef = max_norm/(norm + 1e-6), applied when below 1: at norm = max_norm exactly it is 1 − 2e-7 (max_norm 5).
        var s = Settings(OptimizerKind.Sgd, 1f, 0f, 0f, clipNorm: 5f);
        Assert.Equal(5 / (5 + 1e-6), OptimizerReference.NormScale(s, 5), 1e-15);
        Assert.Equal(5 / (5 + 1e-6), OptimizerMath.NormScale(s, 5f), 1e-7);
        Assert.True(OptimizerMath.NormScale(s, 5f) < 1f);
        // Just below the threshold (norm + 1e-6 < max_norm): untouched, in both.
        Assert.Equal(1.0, OptimizerReference.NormScale(s, 5 - 4e-6));
        Assert.Equal(1f, OptimizerMath.NormScale(s, 5f - 4e-6f));
        // Far above: max_norm/norm.
        Assert.Equal(0.5, OptimizerReference.NormScale(s, 10 - 1e-6), 1e-15);
        Assert.Equal(0.5f, OptimizerMath.NormScale(s, 10f - 1e-6f), 1e-7);
        // Off (0): 1 whatever the norm.
        var off = Settings(OptimizerKind.Sgd, 1f, 0f, 0f);
        Assert.Equal(1.0, OptimizerReference.NormScale(off, 1e30));
        Assert.Equal(1f, OptimizerMath.NormScale(off, 1e30f));
    }

    [Fact]
    public void MseReferenceMatchesHandArithmetic()
    {
        // Two models, B·O = 2: y − t = [1, −3 | 0.5, 0.5].
        // Loss: (1 + 9)/2 = 5 and (0.25 + 0.25)/2 = 0.25. Gradient 2(y − t)/2 = y − t.
        double[] y = [2, -1, 1, 1];
        double[] t = [1, 2, 0.5, 0.5];
        var losses = new double[2];
        var dy = new double[4];
        MseReference.MseLoss(2, 2, y, t, losses);
        MseReference.MseGradient(2, 2, y, t, dy);
        Assert.Equal([5.0, 0.25], losses);
        Assert.Equal([1.0, -3.0, 0.5, 0.5], dy);
    }
}

/// <summary>
/// <see cref="OptimizerKernels"/> and <see cref="LossKernels"/> against the double references, on every
/// backend fixture. N is never a multiple of the group size; several steps; per-model learning rates.
/// </summary>
public abstract class OptimizerTestsOnDevice
{
    private readonly DeviceFixture _fixture;

    protected OptimizerTestsOnDevice(DeviceFixture fixture) => _fixture = fixture;

    private Accelerator Accelerator => _fixture.Device.Accelerator;

    private KernelConfig Config => new(Accelerator.NumMultiprocessors, Accelerator.MaxNumThreadsPerGroup);

    private MemoryBuffer1D<T, Stride1D.Dense> Zeros<T>(long length) where T : unmanaged
    {
        var buffer = Accelerator.Allocate1D<T>(length);
        buffer.MemSetToZero();
        return buffer;
    }

    private static double[] Widen(float[] values) => values.Select(v => (double)v).ToArray();

    public static TheoryData<OptimizerKind, int, int, float, float> Cases()
    {
        var data = new TheoryData<OptimizerKind, int, int, float, float>();
        foreach (var kind in new[] { OptimizerKind.Adam, OptimizerKind.Sgd, OptimizerKind.RmsProp })
        {
            // (models, parameters, clip value, clip norm)
            data.Add(kind, 1, 1, 0f, 0f);
            data.Add(kind, 1, 7, 0f, 0f);
            data.Add(kind, 3, 13, 0f, 0f);
            data.Add(kind, 3, 37, 0.75f, 0f);
            data.Add(kind, 3, 13, 0f, 1f);
            data.Add(kind, 3, 37, 0.5f, 1.5f);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void UpdateMatchesReferenceOverSeveralSteps(OptimizerKind kind, int models, int n, float clipValue, float clipNorm)
    {
        var acc = Accelerator;
        const int steps = 4;
        var settings = new OptimizerSettings
        {
            Kind = kind, LearningRate = 1e-2f, Beta1 = 0.9f, Beta2 = kind == OptimizerKind.RmsProp ? 0.99f : 0.999f,
            Epsilon = 1e-8f, ClipValue = clipValue, ClipNorm = clipNorm,
        };
        // Stable across runs (HashCode.Combine is randomised per process, so it made every run a different test).
        int seed = 1000 * (int)kind + 100 * models + n + (int)(16 * clipValue) * 7 + (int)(16 * clipNorm) * 11;
        var random = new Random(seed);
        var learningRates = Enumerable.Range(0, models).Select(p => 1e-2f * (p + 1) * (p + 1)).ToArray(); // 0.01, 0.04, 0.09
        var parameters = Enumerable.Range(0, models * n).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();

        using var parameterBuffer = Zeros<float>(models * n);
        using var gradientBuffer = Zeros<float>(models * n);
        using var stateBuffer = Zeros<float>(2L * models * n);
        using var rateBuffer = Zeros<float>(models);
        using var scaleBuffer = Zeros<float>(models);
        parameterBuffer.View.CopyFromCPU(parameters);
        rateBuffer.View.CopyFromCPU(learningRates);
        var buffers = new OptimizerBuffers
        {
            Parameters = parameterBuffer.View, Gradients = gradientBuffer.View, State = stateBuffer.View,
            LearningRates = rateBuffer.View, NormScales = scaleBuffer.View,
        };
        var normScales = acc.LoadStreamKernel<int, int, OptimizerSettings, OptimizerBuffers>(OptimizerKernels.NormScales);
        var update = acc.LoadStreamKernel<int, int, int, OptimizerSettings, OptimizerBuffers>(OptimizerKernels.Update);

        var expectedParameters = Widen(parameters);
        var expectedState = new double[2 * models * n];
        var expectedScales = new double[models];
        for (int step = 0; step < steps; step++)
        {
            // Model p's gradients have magnitude up to 0.2·4^p, so with clipping on, some models clip and some do not.
            var gradients = Enumerable.Range(0, models * n)
                .Select(k => (float)((random.NextDouble() * 2 - 1) * 0.2 * Math.Pow(4, k / n))).ToArray();
            gradientBuffer.View.CopyFromCPU(gradients);
            normScales(Config, models, n, settings, buffers);
            update(Config, models, n, step, settings, buffers);

            for (int p = 0; p < models; p++)
            {
                expectedScales[p] = OptimizerReference.Step(settings, learningRates[p], step,
                    Widen(gradients).AsSpan(p * n, n),
                    expectedParameters.AsSpan(p * n, n),
                    expectedState.AsSpan(2 * p * n, 2 * n));
            }

            acc.Synchronize();
            string what = $"{kind}, P={models}, N={n}, clip {clipValue}/{clipNorm}, step {step}, seed {seed}";
            Tolerance.AssertClose(expectedScales, scaleBuffer.GetAsArray1D(), Tolerance.Values, $"norm scales ({what})");
            Tolerance.AssertClose(expectedParameters, parameterBuffer.GetAsArray1D(), Tolerance.Values, $"parameters ({what})");
            Tolerance.AssertClose(expectedState, stateBuffer.GetAsArray1D(), Tolerance.Values, $"state ({what})");
        }

        if (clipNorm > 0f && models > 1)
        {
            // The case is only meaningful if clipping was active for some models and not for others.
            Assert.Contains(expectedScales, x => x < 1);
            Assert.Contains(expectedScales, x => x == 1);
        }
    }

    /// <summary>
    /// OptimizerKernels at the clip thresholds: SGD with lr 1 and no momentum moves each parameter by exactly its
    /// clipped gradient. Model 0: elements at ±c, one float step above and below (clip-value 0.5). Model 1: [3, 4, 0],
    /// norm 5 = max_norm exactly, so torch's factor 5/(5 + 1e-6) applies.
    /// </summary>
    [Fact]
    public void ClippingAtTheThresholdsMatchesReference()
    {
        var acc = Accelerator;
        float c = 0.5f;
        float[][] cases = [[c, -c, MathF.BitIncrement(c), -MathF.BitIncrement(c), MathF.BitDecrement(c)], [3f, 4f, 0f, 0f, 0f]];
        var settingsList = new[]
        {
            new OptimizerSettings { Kind = OptimizerKind.Sgd, LearningRate = 1f, ClipValue = c },
            new OptimizerSettings { Kind = OptimizerKind.Sgd, LearningRate = 1f, ClipNorm = 5f },
        };
        for (int k = 0; k < cases.Length; k++)
        {
            var settings = settingsList[k];
            var gradients = cases[k];
            int n = gradients.Length;
            using var parameterBuffer = Zeros<float>(n);
            using var gradientBuffer = Zeros<float>(n);
            using var stateBuffer = Zeros<float>(2L * n);
            using var rateBuffer = Zeros<float>(1);
            using var scaleBuffer = Zeros<float>(1);
            rateBuffer.View.CopyFromCPU([1f]);
            gradientBuffer.View.CopyFromCPU(gradients);
            var buffers = new OptimizerBuffers
            {
                Parameters = parameterBuffer.View, Gradients = gradientBuffer.View, State = stateBuffer.View,
                LearningRates = rateBuffer.View, NormScales = scaleBuffer.View,
            };
            acc.LoadStreamKernel<int, int, OptimizerSettings, OptimizerBuffers>(OptimizerKernels.NormScales)(Config, 1, n, settings, buffers);
            acc.LoadStreamKernel<int, int, int, OptimizerSettings, OptimizerBuffers>(OptimizerKernels.Update)(Config, 1, n, 0, settings, buffers);
            acc.Synchronize();

            var expected = new double[n];
            OptimizerReference.Step(settings, 1.0, 0, Widen(gradients), expected, new double[2 * n]);
            // Float against double of the same few operations: within 2 ulp of values ≤ 4.
            Tolerance.AssertClose(expected, parameterBuffer.GetAsArray1D(), (1e-6, 1e-7), $"clip case {k} on {_fixture.Kind}");
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(1, 5)]
    [InlineData(3, 17)]
    [InlineData(4, 33)]
    public void MseKernelsMatchReference(int models, int perModel)
    {
        var acc = Accelerator;
        int total = models * perModel;
        var random = new Random(1000 * models + perModel);
        var y = Enumerable.Range(0, total).Select(_ => (float)(random.NextDouble() * 20 - 10)).ToArray();
        var t = Enumerable.Range(0, total).Select(_ => (float)(random.NextDouble() * 20 - 10)).ToArray();
        using var yBuffer = Zeros<float>(total);
        using var tBuffer = Zeros<float>(total);
        using var dyBuffer = Zeros<float>(total);
        using var lossBuffer = Zeros<float>(models);
        yBuffer.View.CopyFromCPU(y);
        tBuffer.View.CopyFromCPU(t);

        var gradient = acc.LoadStreamKernel<int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>>(LossKernels.MseGradient);
        var loss = acc.LoadStreamKernel<int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>>(LossKernels.MseLoss);
        gradient(Config, models, perModel, yBuffer.View, tBuffer.View, dyBuffer.View);
        loss(Config, models, perModel, yBuffer.View, tBuffer.View, lossBuffer.View);
        acc.Synchronize();

        var expectedDy = new double[total];
        var expectedLoss = new double[models];
        MseReference.MseGradient(models, perModel, Widen(y), Widen(t), expectedDy);
        MseReference.MseLoss(models, perModel, Widen(y), Widen(t), expectedLoss);
        Tolerance.AssertClose(expectedDy, dyBuffer.GetAsArray1D(), Tolerance.Values, $"MSE gradient (P={models}, B·O={perModel})");
        Tolerance.AssertClose(expectedLoss, lossBuffer.GetAsArray1D(), Tolerance.Values, $"MSE loss (P={models}, B·O={perModel})");
    }
}

public sealed class CpuOptimizerTests(CpuFixture fixture) : OptimizerTestsOnDevice(fixture), IClassFixture<CpuFixture>;

public sealed class CudaOptimizerTests(CudaFixture fixture) : OptimizerTestsOnDevice(fixture), IClassFixture<CudaFixture>;
