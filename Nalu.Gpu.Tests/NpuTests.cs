using Nalu.Gpu.Kernels;
using Nalu.Gpu.Kernels.Units;
using Xunit;
using Nalu.Gpu.Models;

namespace Nalu.Gpu.Tests;

/// <summary>
/// NPU and RealNPU (Heim et al. 2020): reference backward vs central finite differences with negative inputs and gates
/// inside and outside [0, 1], the L1 regulariser's gradient, and the float unit's regulariser vs the reference penalty.
/// </summary>
public sealed unsafe class NpuTests
{
    public static TheoryData<bool, int, int, int, int> Shapes => new()
    {
        { false, 1, 1, 1, 31 },
        { false, 5, 4, 3, 32 },
        { false, 7, 13, 3, 33 },
        { true, 1, 1, 1, 34 },
        { true, 5, 4, 3, 35 },
        { true, 7, 13, 3, 36 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Backward_MatchesFiniteDifferencesWithNegativeInputs(bool real, int batch, int inputs, int outputs, int seed)
    {
        var rng = new Random(seed);
        int weights = (real ? 1 : 2) * inputs * outputs;
        var parameters = FiniteDifferences.Uniform(rng, weights + inputs, -1, 1);
        for (int i = 0; i < inputs; i++)
            parameters[weights + i] = 0.05 + 0.9 * rng.NextDouble();
        if (inputs > 3)
        {
            parameters[weights] = 1.3;      // clamped to 1: no gradient
            parameters[weights + 1] = -0.2; // clamped to 0: no gradient, the input is ignored
        }

        // Negative inputs (the point of the NPU), none exactly 0 (k = ĝ[x<0] jumps there).
        var x = FiniteDifferences.Uniform(rng, batch * inputs, 0.1, 2);
        for (int k = 0; k < x.Length; k++)
        {
            if (k % 2 == 0 || rng.Next(2) == 0)
                x[k] = -x[k];
        }

        string what = $"{(real ? "RealNPU" : "NPU")} B={batch} I={inputs} O={outputs}";
        var result = FiniteDifferences.Check(what, seed, rng, parameters, x,
            (p, xx) => real ? RealNpuReference.Forward(p, xx, batch, inputs, outputs) : NpuReference.Forward(p, xx, batch, inputs, outputs),
            (p, xx, dy) => real ? RealNpuReference.Backward(p, xx, dy, batch, inputs, outputs) : NpuReference.Backward(p, xx, dy, batch, inputs, outputs));
        if (inputs > 3)
        {
            Assert.Equal(0, result.ParameterGradient[weights]);
            Assert.Equal(0, result.ParameterGradient[weights + 1]);
        }
    }

    [Fact]
    public void NegativeInputs_KeepTheirSign()
    {
        // W_re = [1, 1], g = [1, 1]: z = |a||b| cos(π(k_a + k_b)) = a·b, signs included; W_re = [1, −1] divides.
        double[] mul = [1, 1, 0, 0, 1, 1];
        double[] div = [1, -1, 0, 0, 1, 1];
        double[] x = [-1.5, 2, -1.5, -2, 1.5, -2];
        var y = NpuReference.Forward(mul, x, 3, 2, 1);
        var q = NpuReference.Forward(div, x, 3, 2, 1);
        for (int b = 0; b < 3; b++)
        {
            Assert.Equal(x[2 * b] * x[2 * b + 1], y[b], 5);
            Assert.Equal(x[2 * b] / x[2 * b + 1], q[b], 5);
        }

        Assert.Equal(NpuReference.Forward(mul, x, 3, 2, 1), RealNpuReference.Forward([1, 1, 1, 1], x, 3, 2, 1));
    }

    [Fact]
    public void ClampedExponent_PassesNoGradient()
    {
        // W_re = 10 on x = 1e5: re = 10·log(1e5) ≈ 115 ≥ 88, so z = e^88·cos(0) and nothing flows back.
        double[] parameters = [10, 0, 1];
        var y = NpuReference.Forward(parameters, [1e5], 1, 1, 1);
        Assert.Equal(Math.Exp(88), y[0]);
        var (gp, gx) = NpuReference.Backward(parameters, [1e5], [1.0], 1, 1, 1);
        Assert.All(gp, g => Assert.Equal(0, g));
        Assert.All(gx, g => Assert.Equal(0, g));
    }

    public static TheoryData<bool, int, int> RegularizerCases => new()
    {
        { false, 0, 41 },
        { false, 15_000, 42 },
        { true, 0, 43 },
        { true, 99_999, 44 },
    };

    /// <summary>
    /// The float unit's <see cref="IUnit.Regularize"/>, run over every work item on host memory, against central finite
    /// differences of the double penalty <c>β(t)·Σ|W|</c> (W_re and W_im, not g), at steps where β is β_start, 10·β_start
    /// and held at β_end.
    /// </summary>
    [Theory]
    [MemberData(nameof(RegularizerCases))]
    public void L1Regularizer_GradientMatchesFiniteDifferences(bool real, int step, int seed)
    {
        const int inputs = 5, outputs = 3;
        var regularizer = RegularizerSettings.L1(1e-3f, 1e-1f, 10_000);
        var rng = new Random(seed);
        IUnit unit = real ? new RealNpuUnit(inputs, outputs, regularizer) : new NpuUnit(inputs, outputs, regularizer);
        int n = unit.ParameterCount;
        var parameters = FiniteDifferences.Uniform(rng, n, -1, 1).Select(v => (float)v).ToArray();
        var initial = FiniteDifferences.Uniform(rng, n, -0.5, 0.5).Select(v => (float)v).ToArray();
        var grad = (float[])initial.Clone();
        fixed (float* p = parameters, g = grad)
        {
            var pm = new HostMemory(p);
            var gm = new HostMemory(g);
            for (int e = 0; e < unit.ElementCount; e++)
                unit.Regularize(e, step, 0f, pm, 0, gm, 0);
        }

        var wide = parameters.Select(v => (double)v).ToArray();
        double Penalty(double[] w) => real
            ? RealNpuReference.Penalty(w, inputs, outputs, regularizer, step)
            : NpuReference.Penalty(w, inputs, outputs, regularizer, step);
        var added = grad.Select((v, k) => (double)v - initial[k]).ToArray();
        FiniteDifferences.CompareGradient($"L1 {(real ? "RealNPU" : "NPU")} step {step}", wide, added, Penalty, atol: 1e-7, rtol: 1e-4);
        int gate = n - inputs;
        for (int i = 0; i < inputs; i++)
            Assert.Equal(initial[gate + i], grad[gate + i]);   // the gate is not regularised
        double beta = step switch { 0 => 1e-3, 15_000 => 1e-2, _ => 1e-1 };
        Assert.Equal(beta * Math.Sign(parameters[0]), added[0], 6);
    }
}
