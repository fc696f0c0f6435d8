using Nalu.Gpu.Testing;

namespace Nalu.Gpu.Tests;

/// <summary>
/// Central finite differences in double for the newer units' tests (the same rule as <see cref="ReferenceGradientTests"/>):
/// a scalar loss <c>L = Σ y·r</c> with random r, so ∂L/∂y = r.
/// </summary>
public static class FiniteDifferences
{
    /// <summary>Checks parameter and input gradients of <paramref name="backward"/>; returns them (<see cref="UnitChecks.ReferenceGradient(string, Random, double[], double[], ReferenceForward, ReferenceBackward)"/>).</summary>
    public static (double[] ParameterGradient, double[] InputGradient) Check(
        string what, int seed, Random rng, double[] parameters, double[] x,
        Func<double[], double[], double[]> forward,
        Func<double[], double[], double[], (double[] ParameterGradient, double[] InputGradient)> backward) =>
        UnitChecks.ReferenceGradient($"{what} (seed {seed})", rng, parameters, x, new ReferenceForward(forward), new ReferenceBackward(backward));

    /// <summary>Analytic gradient of <paramref name="loss"/> at <paramref name="point"/> vs central differences (<see cref="UnitChecks.CompareGradient"/>).</summary>
    public static void CompareGradient(string what, double[] point, double[] analytic, Func<double[], double> loss, double? atol = null, double? rtol = null) =>
        UnitChecks.CompareGradient(what, point, analytic, loss, atol, rtol);

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
