using System.Globalization;
using Nalu.Gpu.Kernels;

namespace Nalu.Gpu.Tasks;

/// <summary>
/// A sampling range: one interval <c>U[lo, hi]</c> or the union of two disjoint ones, sampled uniformly
/// by length. Text form: <c>1:2</c>, or <c>-6:-2,2:6</c> for <c>U[-6,-2] ∪ U[2,6]</c>.
/// </summary>
public sealed record SampleInterval
{
    /// <summary>One interval.</summary>
    public SampleInterval(float low, float high) : this(low, high, 0f, 0f, false) { }

    /// <summary>Two disjoint intervals.</summary>
    public SampleInterval(float low1, float high1, float low2, float high2) : this(low1, high1, low2, high2, true) { }

    private SampleInterval(float low1, float high1, float low2, float high2, bool two)
    {
        Check(low1, high1);
        if (two)
        {
            Check(low2, high2);
            if (low2 < high1)
                throw new ArgumentException($"Intervals [{low1}, {high1}] and [{low2}, {high2}] must be disjoint and in increasing order.");
        }

        Low1 = low1;
        High1 = high1;
        Low2 = two ? low2 : high1;
        High2 = two ? high2 : high1;
        IsUnion = two;
    }

    /// <summary>First interval.</summary>
    public float Low1 { get; }
    /// <summary>First interval.</summary>
    public float High1 { get; }
    /// <summary>Second interval (equal bounds when absent).</summary>
    public float Low2 { get; }
    /// <summary>Second interval (equal bounds when absent).</summary>
    public float High2 { get; }
    /// <summary>Whether there are two intervals.</summary>
    public bool IsUnion { get; }

    /// <summary>Smallest value.</summary>
    public float Min => Low1;
    /// <summary>Largest value.</summary>
    public float Max => IsUnion ? High2 : High1;

    /// <summary>Whether every value is strictly positive.</summary>
    public bool IsPositive => Low1 > 0f;

    /// <summary>Whether every value is non-negative.</summary>
    public bool IsNonNegative => Low1 >= 0f;

    /// <summary>Whether 0 lies inside.</summary>
    public bool ContainsZero => (Low1 <= 0f && High1 >= 0f) || (IsUnion && Low2 <= 0f && High2 >= 0f);

    internal SampleRange ToDevice() => new(Low1, High1, Low2, High2);

    /// <summary>Parses <c>lo:hi</c> or <c>lo:hi,lo:hi</c>.</summary>
    /// <exception cref="FormatException">The text is not a valid range.</exception>
    public static SampleInterval Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length is < 1 or > 2)
            throw new FormatException($"Range '{text}' must be 'lo:hi' or 'lo:hi,lo:hi'.");
        var bounds = parts.Select(p => ParseOne(p, text)).ToArray();
        try
        {
            return bounds.Length == 1
                ? new SampleInterval(bounds[0].Lo, bounds[0].Hi)
                : new SampleInterval(bounds[0].Lo, bounds[0].Hi, bounds[1].Lo, bounds[1].Hi);
        }
        catch (ArgumentException e)
        {
            throw new FormatException($"Range '{text}': {e.Message}", e);
        }
    }

    private static (float Lo, float Hi) ParseOne(string part, string whole)
    {
        var ends = part.Split(':');
        if (ends.Length != 2
            || !float.TryParse(ends[0], NumberStyles.Float, CultureInfo.InvariantCulture, out float lo)
            || !float.TryParse(ends[1], NumberStyles.Float, CultureInfo.InvariantCulture, out float hi))
        {
            throw new FormatException($"Range '{whole}': '{part}' is not 'lo:hi' with two numbers.");
        }

        return (lo, hi);
    }

    private static void Check(float low, float high)
    {
        if (!float.IsFinite(low) || !float.IsFinite(high) || !(low < high))
            throw new ArgumentException($"Interval [{low}, {high}] needs finite bounds with low < high.");
    }

    /// <summary>The text form, which <see cref="Parse"/> reads back.</summary>
    public override string ToString() => IsUnion
        ? string.Create(CultureInfo.InvariantCulture, $"{Low1}:{High1},{Low2}:{High2}")
        : string.Create(CultureInfo.InvariantCulture, $"{Low1}:{High1}");
}
