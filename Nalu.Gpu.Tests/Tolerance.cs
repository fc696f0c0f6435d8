using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>Named tolerances (atol + rtol·|expected|) and a comparison that prints the first mismatches.</summary>
public static class Tolerance
{
    /// <summary>Plain float32 arithmetic against a double reference.</summary>
    public static readonly (double Atol, double Rtol) Values = (1e-5, 1e-4);

    /// <summary>Gradients: longer sums and transcendental functions (and approximate ones on CUDA).</summary>
    public static readonly (double Atol, double Rtol) Gradients = (1e-4, 2e-3);

    /// <summary>
    /// When the environment variable NALU_TOLERANCE_LOG names a file, every comparison appends one tab-separated line to
    /// it: what was compared, the tolerance, the worst |actual − expected|, and the worst ratio of that difference to its
    /// limit (≤ 1 passes). The GPU check sets it, so CUDA's tolerances are chosen from measured errors, not guessed.
    /// </summary>
    private static readonly string? Log = Environment.GetEnvironmentVariable("NALU_TOLERANCE_LOG");

    private static void Record(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, (double Atol, double Rtol) tol, string what)
    {
        if (string.IsNullOrEmpty(Log) || expected.Length != actual.Length)
            return;
        double worst = 0, ratio = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double difference = Math.Abs(expected[i] - actual[i]);
            worst = Math.Max(worst, difference);
            ratio = Math.Max(ratio, difference / (tol.Atol + tol.Rtol * Math.Abs(expected[i])));
        }

        var line = FormattableString.Invariant($"{what.Replace('\t', ' ').Replace('\n', ' ')}\t{tol.Atol:G3}\t{tol.Rtol:G3}\t{worst:G3}\t{ratio:G3}\n");
        try
        {
            File.AppendAllText(Log, line);
        }
        catch (IOException)
        {
            // A measurement aid only: a log that cannot be written must not fail a test.
        }
    }

    public static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, (double Atol, double Rtol) tol, string what)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: expected {expected.Length} values, got {actual.Length}.");
        Record(expected, actual, tol, what);
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
        Record(expected, asFloat, tol, what);
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
