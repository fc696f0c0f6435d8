using Nalu.Gpu.Kernels;
using Nalu.Gpu.Kernels.Units;
using Xunit;
using Nalu.Gpu.Models;

namespace Nalu.Gpu.Tests;

/// <summary>NMRU: reference backward vs finite differences (a factor exactly 0 included), regulariser and clamp.</summary>
public sealed unsafe class NmruTests
{
    public static TheoryData<int, int, int, int> Shapes => new()
    {
        { 1, 1, 1, 51 },
        { 5, 4, 3, 52 },
        { 7, 6, 3, 53 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Backward_MatchesFiniteDifferences(int batch, int inputs, int outputs, int seed)
    {
        var rng = new Random(seed);
        var parameters = FiniteDifferences.Uniform(rng, NmruReference.ParameterCount(inputs, outputs), 0, 1);
        var x = FiniteDifferences.Uniform(rng, batch * inputs, 0.2, 2);
        for (int k = 0; k < x.Length; k++)
        {
            if (rng.Next(2) == 0)
                x[k] = -x[k];
        }

        FiniteDifferences.Check($"NMRU B={batch} I={inputs} O={outputs}", seed, rng, parameters, x,
            (p, xx) => NmruReference.Forward(p, xx, batch, inputs, outputs),
            (p, xx, dy) => NmruReference.Backward(p, xx, dy, batch, inputs, outputs));
    }

    [Fact]
    public void FactorExactlyZero_GradientIsTheProductOfTheOthers()
    {
        // I = 3, O = 2, B = 2. Sample 0 has x_1 = 0 and W[0, 1] = 1: output 0's factor 1 is exactly 0 (so z_0 = 0).
        // Every W on the reciprocal half of input 1 is 0, so its factor is 1 whatever x_1 is and the difference
        // quotient in x_1 does not see 1/(x ± ε) jump at 0.
        const int inputs = 3, outputs = 2, batch = 2;
        var rng = new Random(54);
        var parameters = FiniteDifferences.Uniform(rng, NmruReference.ParameterCount(inputs, outputs), 0.1, 0.9);
        parameters[1] = 1;
        for (int o = 0; o < outputs; o++)
            parameters[o * 2 * inputs + inputs + 1] = 0;
        double[] x = [0.7, 0, -1.3, 1.5, -0.4, 0.9];
        var y = NmruReference.Forward(parameters, x, batch, inputs, outputs);
        Assert.Equal(0, y[0]);
        var (gp, gx) = FiniteDifferences.Check("NMRU zero factor", 54, rng, parameters, x,
            (p, xx) => NmruReference.Forward(p, xx, batch, inputs, outputs),
            (p, xx, dy) => NmruReference.Backward(p, xx, dy, batch, inputs, outputs));
        Assert.All(gp.Concat(gx), g => Assert.True(double.IsFinite(g)));

        // The float unit through its prefix/suffix products: finite and equal to the reference at the zero factor.
        var unit = new NmruUnit(inputs, outputs);
        var p32 = parameters.Select(v => (float)v).ToArray();
        var x32 = x[..inputs].Select(v => (float)v).ToArray();
        var yy = new float[outputs];
        var saved = new float[unit.SavedCount];
        var grad = new float[unit.ParameterCount];
        var dx = new float[inputs];
        float[] dy = [1f, 0f];
        fixed (float* pp = p32, px = x32, py = yy, ps = saved, pg = grad, pdx = dx, pdy = dy)
        {
            HostMemory P = new(pp), X = new(px), Y = new(py), S = new(ps), G = new(pg), DX = new(pdx), DY = new(pdy);
            unit.Forward(SampleContext.Inference, P, 0, P, 0, X, 0, Y, 0, S, 0);
            unit.Backward(SampleContext.Inference, P, 0, P, 0, X, 0, S, 0, DY, 0, G, 0, true, DX, 0);
        }

        var (rp, rx) = NmruReference.Backward(parameters, x[..inputs], [1.0, 0.0], 1, inputs, outputs);
        Assert.Equal(0f, yy[0]);
        Tolerance.AssertClose(rp, grad, Tolerance.Gradients, "float NMRU parameter gradient at a zero factor");
        Tolerance.AssertClose(rx, dx, Tolerance.Gradients, "float NMRU input gradient at a zero factor");
        Assert.NotEqual(0f, grad[1]);   // ∂z/∂W[0,1] = (0 − 1)·Π others ≠ 0
    }

    [Fact]
    public void Division_IsExpressible()
    {
        // W row = [x_a: 1, x_b: 0, 1/x_a: 0, 1/x_b: 1] gives a/b, negative inputs included.
        double[] w = [1, 0, 0, 1];
        double[] x = [3, 2, -3, 2, 1.5, -0.5];
        var y = NmruReference.Forward(w, x, 3, 2, 1);
        Assert.Equal(1.5, y[0], 5);
        Assert.Equal(-1.5, y[1], 5);
        Assert.Equal(-3, y[2], 5);
        Assert.Equal(1 / 1.1920928955078125e-7, NmruReference.Reciprocal(0), 6);
        Assert.Equal(NmruUnit.Reciprocal(0f), (float)NmruReference.Reciprocal(0));
        Assert.True(float.IsFinite(NmruUnit.Reciprocal(-NmruUnit.ReciprocalEpsilon)));
    }

    [Theory]
    [InlineData(false, 0)]
    [InlineData(false, 50)]
    [InlineData(true, 200)]
    public void SparsityRegularizer_GradientMatchesFiniteDifferences(bool squared, int step)
    {
        const int inputs = 4, outputs = 3;
        var regularizer = RegularizerSettings.Sparsity(10f, 0, 100, squared);
        var unit = new NmruUnit(inputs, outputs, regularizer);
        var rng = new Random(60 + step);
        // Away from the linear shape's kink at ½.
        var parameters = FiniteDifferences.Uniform(rng, unit.ParameterCount, 0.02, 0.45)
            .Select((v, k) => (float)(k % 2 == 0 ? v : 1 - v)).ToArray();
        var grad = new float[unit.ParameterCount];
        fixed (float* p = parameters, g = grad)
        {
            for (int e = 0; e < unit.ElementCount; e++)
                unit.Regularize(e, step, 0f, new HostMemory(p), 0, new HostMemory(g), 0);
        }

        var wide = parameters.Select(v => (double)v).ToArray();
        FiniteDifferences.CompareGradient($"NMRU sparsity squared={squared} step {step}", wide, grad.Select(v => (double)v).ToArray(),
            w => NmruReference.Penalty(w, regularizer, step), atol: 1e-7, rtol: 1e-4);
        if (step == 0)
            Assert.All(grad, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Constrain_ClampsWToTheUnitInterval()
    {
        var unit = new NmruUnit(2, 2);
        float[] w = [-0.5f, 0f, 0.3f, 1f, 1.7f, 0.99f, -1e-9f, 2f];
        fixed (float* p = w)
        {
            for (int e = 0; e < unit.ElementCount; e++)
                unit.Constrain(e, new HostMemory(p), 0);
        }

        Assert.Equal([0f, 0f, 0.3f, 1f, 1f, 0.99f, 0f, 1f], w);
    }
}
