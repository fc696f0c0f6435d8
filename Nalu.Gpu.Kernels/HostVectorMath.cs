using System.Runtime.Intrinsics;

namespace Nalu.Gpu.Kernels;

/// <summary>
/// The vectorised transcendental functions of the native CPU path (host only; kernels use <see cref="UnitMath"/>).
/// </summary>
/// <remarks>
/// Only the log is vectorised: 100 of them per sample are the largest share of a NALU forward pass. Its accuracy is
/// measured, not assumed: <see cref="Log"/> is within <see cref="LogUlpBound"/> ulp of the correctly rounded logarithm over
/// every finite positive float, subnormals included, and gives IEEE results at ±0, 1, +∞, negatives and NaN
/// (<c>HostVectorMathTests</c>). <c>Vector256.Exp</c> is not used: it returns 1.0000001 for exp(0), which would move an NMU
/// or a gate off its exact values, and the exps per sample (one per output) are few enough to stay scalar.
/// </remarks>
public static class HostVectorMath
{
    /// <summary>The largest error of <see cref="Log"/>, in units in the last place of the correctly rounded result (MathF.Log: 1).</summary>
    public const int LogUlpBound = 2;

    /// <summary>Natural logarithm of eight floats (<c>Vector256.Log</c>).</summary>
    public static Vector256<float> Log(Vector256<float> x) => Vector256.Log(x);

    /// <summary><c>log(|x| + ε)</c> of eight floats: the vector form of <see cref="UnitMath.LogAbs"/>.</summary>
    public static Vector256<float> LogAbs(Vector256<float> x) => Log(Vector256.Abs(x) + Vector256.Create(UnitMath.Epsilon));
}
