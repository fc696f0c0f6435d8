using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>Named tolerances (atol + rtol·|expected|) and a comparison that prints the first mismatches.</summary>
public static class Tolerance
{
    /// <summary>Plain float32 arithmetic against a double reference.</summary>
    public static readonly (double Atol, double Rtol) Values = (1e-5, 1e-4);

    /// <summary>Gradients: longer sums and transcendental functions (and approximate ones on CUDA).</summary>
    public static readonly (double Atol, double Rtol) Gradients = (1e-4, 2e-3);

    public static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, (double Atol, double Rtol) tol, string what)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: expected {expected.Length} values, got {actual.Length}.");
        var bad = new List<string>();
        for (int i = 0; i < expected.Length; i++)
        {
            double limit = tol.Atol + tol.Rtol * Math.Abs(expected[i]);
            if (!(Math.Abs(expected[i] - actual[i]) <= limit))
            {
                if (bad.Count < 8)
                    bad.Add($"[{i}] expected {expected[i]:G9}, got {actual[i]:G9} (limit {limit:G3})");
                else
                    break;
            }
        }

        Assert.True(bad.Count == 0, $"{what}: mismatches\n  " + string.Join("\n  ", bad));
    }

    public static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<double> actual, (double Atol, double Rtol) tol, string what)
    {
        var asFloat = new float[actual.Length];
        for (int i = 0; i < actual.Length; i++)
            asFloat[i] = (float)actual[i];
        Assert.True(expected.Length == actual.Length, $"{what}: expected {expected.Length} values, got {actual.Length}.");
        var bad = new List<string>();
        for (int i = 0; i < expected.Length && bad.Count < 8; i++)
        {
            double limit = tol.Atol + tol.Rtol * Math.Abs(expected[i]);
            if (!(Math.Abs(expected[i] - actual[i]) <= limit))
                bad.Add($"[{i}] expected {expected[i]:G12}, got {actual[i]:G12} (limit {limit:G3})");
        }

        Assert.True(bad.Count == 0, $"{what}: mismatches\n  " + string.Join("\n  ", bad));
    }
}
