using System.Runtime.Intrinsics;
using Nalu.Gpu.Kernels;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>
/// The native path's vectorised log against the correctly rounded logarithm (double precision, rounded to float), over a
/// sweep of float bit patterns that covers every binade, subnormals and the special values, with the bound the library states.
/// </summary>
public sealed class HostVectorMathTests
{
    /// <summary>Distance in representable floats between two finite floats of any sign.</summary>
    private static long UlpDistance(float a, float b)
    {
        static long Ordered(float v)
        {
            int bits = BitConverter.SingleToInt32Bits(v);
            return bits < 0 ? int.MinValue - (long)bits : bits;
        }

        return Math.Abs(Ordered(a) - Ordered(b));
    }

    private static float[] VectorLog(float[] inputs)
    {
        var result = new float[inputs.Length];
        for (int i = 0; i < inputs.Length; i += 8)
            HostVectorMath.Log(Vector256.Create(inputs, i)).CopyTo(result, i);
        return result;
    }

    [Fact]
    public void LogIsWithinItsStatedUlpBoundOverEveryBinadeAndTheSubnormals()
    {
        // Every 2003rd positive bit pattern (≈ 1.07 million values, every binade from the smallest subnormal to the largest
        // float), then the whole lowest 2¹⁶ subnormals and the 2¹⁶ floats either side of 1, where log is near 0.
        var inputs = new List<float>();
        for (long bits = 1; bits < 0x7F800000L; bits += 2003)
            inputs.Add(BitConverter.Int32BitsToSingle((int)bits));
        for (int bits = 1; bits <= 1 << 16; bits++)
            inputs.Add(BitConverter.Int32BitsToSingle(bits));
        for (int bits = 0x3F800000 - (1 << 16); bits <= 0x3F800000 + (1 << 16); bits++)
            inputs.Add(BitConverter.Int32BitsToSingle(bits));
        while (inputs.Count % 8 != 0)
            inputs.Add(1f);

        float[] x = inputs.ToArray();
        float[] log = VectorLog(x);
        long worst = 0;
        float worstAt = 0f;
        int above1Ulp = 0;
        for (int i = 0; i < x.Length; i++)
        {
            float exact = (float)Math.Log(x[i]);
            Assert.True(float.IsFinite(log[i]), $"log({x[i]:R}) = {log[i]:R}, not finite");
            long ulps = UlpDistance(log[i], exact);
            if (ulps > 1)
                above1Ulp++;
            if (ulps > worst)
                (worst, worstAt) = (ulps, x[i]);
        }

        Assert.True(worst <= HostVectorMath.LogUlpBound,
            $"log({worstAt:R}) is {worst} ulp from the correctly rounded value; the stated bound is {HostVectorMath.LogUlpBound}");
        // The bound is not slack everywhere: most values are within 1 ulp, as MathF.Log is.
        Assert.True(above1Ulp < x.Length / 100, $"{above1Ulp} of {x.Length} values are more than 1 ulp off");
    }

    [Fact]
    public void LogGivesTheIeeeValuesAtTheSpecialPoints()
    {
        float[] x = [0f, -0f, 1f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, -1f, -float.Epsilon];
        float[] log = VectorLog(x);
        Assert.Equal(float.NegativeInfinity, log[0]);
        Assert.Equal(float.NegativeInfinity, log[1]);
        Assert.Equal(0f, log[2]);
        Assert.Equal(float.PositiveInfinity, log[3]);
        for (int i = 4; i < x.Length; i++)
            Assert.True(float.IsNaN(log[i]), $"log({x[i]:R}) = {log[i]:R}, expected NaN");
    }

    [Fact]
    public void LogAbsIsTheVectorFormOfUnitMathLogAbs()
    {
        float[] x = [0f, -0f, 1e-7f, -1e-7f, float.Epsilon, -3.5f, 1e30f, float.NaN];
        var result = new float[8];
        HostVectorMath.LogAbs(Vector256.Create(x)).CopyTo(result);
        for (int i = 0; i < x.Length; i++)
        {
            float scalar = UnitMath.LogAbs(x[i]);
            if (float.IsNaN(scalar))
                Assert.True(float.IsNaN(result[i]));
            else
                Assert.True(UlpDistance(result[i], scalar) <= HostVectorMath.LogUlpBound + 1,
                    $"LogAbs({x[i]:R}): vector {result[i]:R}, scalar {scalar:R}");
        }
    }
}
