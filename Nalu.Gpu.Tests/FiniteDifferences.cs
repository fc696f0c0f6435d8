using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>
/// Central finite differences in double for the newer units' tests (the same rule as <see cref="ReferenceGradientTests"/>):
/// a scalar loss <c>L = Σ y·r</c> with random r, so ∂L/∂y = r.
/// </summary>
public static class FiniteDifferences
{
    private const double Step = 1e-6;
    private const double Atol = 1e-6;
    private const double Rtol = 1e-5;

    /// <summary>Checks parameter and input gradients of <paramref name="backward"/>; returns them.</summary>
    public static (double[] ParameterGradient, double[] InputGradient) Check(
        string what, int seed, Random rng, double[] parameters, double[] x,
        Func<double[], double[], double[]> forward,
        Func<double[], double[], double[], (double[] ParameterGradient, double[] InputGradient)> backward)
    {
        var y = forward(parameters, x);
        Assert.All(y, v => Assert.True(double.IsFinite(v), $"{what} (seed {seed}): non-finite output {v}."));
        var r = Uniform(rng, y.Length, -1, 1);
        var result = backward(parameters, x, r);
        Assert.True(result.ParameterGradient.Length == parameters.Length, $"{what}: {result.ParameterGradient.Length} parameter gradients for {parameters.Length} parameters.");
        Assert.True(result.InputGradient.Length == x.Length, $"{what}: {result.InputGradient.Length} input gradients for {x.Length} inputs.");
        CompareGradient($"{what} (seed {seed}) ∂L/∂parameters", parameters, result.ParameterGradient, p => Loss(forward(p, x), r));
        CompareGradient($"{what} (seed {seed}) ∂L/∂x", x, result.InputGradient, xx => Loss(forward(parameters, xx), r));
        return result;
    }

    /// <summary>Analytic gradient of <paramref name="loss"/> at <paramref name="point"/> vs central differences.</summary>
    public static void CompareGradient(string what, double[] point, double[] analytic, Func<double[], double> loss, double atol = Atol, double rtol = Rtol)
    {
        var bad = new List<string>();
        double l0 = loss(point);
        var probe = (double[])point.Clone();
        for (int j = 0; j < point.Length; j++)
        {
            double h = Step * Math.Max(1, Math.Abs(point[j]));
            probe[j] = point[j] + h;
            double plus = loss(probe);
            probe[j] = point[j] - h;
            double minus = loss(probe);
            probe[j] = point[j];
            double fd = (plus - minus) / (2 * h);
            double limit = atol * (1 + 1e-3 * Math.Abs(l0)) + rtol * Math.Max(Math.Abs(fd), Math.Abs(analytic[j]));
            if (!(Math.Abs(fd - analytic[j]) <= limit) && bad.Count < 8)
                bad.Add($"[{j}] analytic {analytic[j]:G12}, finite difference {fd:G12} (limit {limit:G3})");
        }

        Assert.True(bad.Count == 0, $"{what}: mismatches\n  " + string.Join("\n  ", bad));
    }

    public static double Loss(double[] y, double[] r)
    {
        double sum = 0;
        for (int k = 0; k < y.Length; k++)
            sum += y[k] * r[k];
        return sum;
    }

    public static double[] Uniform(Random rng, int count, double low, double high)
    {
        var values = new double[count];
        for (int k = 0; k < count; k++)
            values[k] = low + (high - low) * rng.NextDouble();
        return values;
    }
}
