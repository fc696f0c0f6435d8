using Nalu.Gpu.Kernels.Units;
using Nalu.Gpu.Models;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>iNALU's unit math: reference backward vs finite differences (negative inputs), the ω clip and the sign.</summary>
public sealed class INaluTests
{
    public static TheoryData<int, int, int, int> Shapes => new()
    {
        { 1, 1, 1, 81 },
        { 5, 4, 3, 82 },
        { 7, 13, 2, 83 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Backward_MatchesFiniteDifferences(int batch, int inputs, int outputs, int seed)
    {
        var rng = new Random(seed);
        var parameters = FiniteDifferences.Uniform(rng, INaluReference.ParameterCount(inputs, outputs), -2, 2);
        // |x| in [0.5, 2] with random signs: the exponent stays below ω = 20 and away from the max(|x|, ε) kink.
        var x = FiniteDifferences.Uniform(rng, batch * inputs, 0.5, 2).Select(v => rng.Next(2) == 0 ? -v : v).ToArray();
        FiniteDifferences.Check($"iNALU B={batch} I={inputs} O={outputs}", seed, rng, parameters, x,
            (p, xx) => INaluReference.Forward(p, xx, batch, inputs, outputs),
            (p, xx, dy) => INaluReference.Backward(p, xx, dy, batch, inputs, outputs));
    }

    [Fact]
    public void SignIsRecoveredAndTheExponentClipsAtOmega()
    {
        // I = 2, O = 1; additive weights 0, multiplicative ≈ 1 (tanh(10)·σ(10)), gate σ(−30) ≈ 0: y ≈ m = a·b with sign.
        double[] p = [0, 0, -30, -30, 10, 10, 10, 10, -30];
        var y = INaluReference.Forward(p, [-1.5, 2, -1.5, -2], 2, 2, 1);
        Assert.Equal(-3, y[0], 2);
        Assert.Equal(3, y[1], 2);
        // |x| = 1e6 on both: exponent ≈ 27.6 > 20, so m = e^20 and the exponent passes no gradient.
        var big = INaluReference.Forward(p, [1e6, 1e6], 1, 2, 1);
        Assert.Equal(Math.Exp(20), big[0], 0);
        var (gp, _) = INaluReference.Backward(p, [1e6, 1e6], [1.0], 1, 2, 1);
        Assert.Equal(0, gp[4]);
        Assert.Equal(0, gp[6]);
    }

    /// <summary>
    /// Schlör et al.'s initialisation: Ŵ ~ N(1, 0.1), M̂ ~ N(−1, 0.1) on both paths, G ~ N(0, 0.1). Over 4·2,000 + 20 values the
    /// sample means are within 0.01 and the standard deviations within 0.01 of the paper's (about 5 standard errors).
    /// </summary>
    [Fact]
    public void InitialisationFollowsThePaper()
    {
        const int inputs = 100, outputs = 20, matrix = inputs * outputs;
        var architecture = new ModelArchitecture([LayerSpec.INalu(inputs, outputs)]);
        var values = architecture.Initialize(5);
        Assert.Equal(4 * matrix + outputs, values.Length);
        float[] means = [1f, -1f, 1f, -1f];
        for (int part = 0; part < 4; part++)
        {
            var block = values.AsSpan(part * matrix, matrix).ToArray().Select(v => (double)v).ToArray();
            double mean = block.Average(), std = Math.Sqrt(block.Select(v => (v - mean) * (v - mean)).Average());
            Assert.InRange(mean, means[part] - 0.01, means[part] + 0.01);
            Assert.InRange(std, 0.09, 0.11);
        }

        var gate = values.AsSpan(4 * matrix).ToArray();
        Assert.All(gate, g => Assert.InRange(g, -0.6f, 0.6f));
        Assert.Equal(values, architecture.Initialize(5));
        Assert.NotEqual(values, architecture.Initialize(6));
    }
}
