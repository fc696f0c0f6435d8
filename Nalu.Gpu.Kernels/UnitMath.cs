namespace Nalu.Gpu.Kernels;

/// <summary>
/// Scalar functions shared by every unit and by the references, so each float32 hazard is decided
/// in exactly one place.
/// </summary>
/// <remarks>
/// Decisions (documented in the README):
/// <list type="bullet">
/// <item><c>ε = 1e-7</c> in <c>log(|x| + ε)</c>, so <c>log|0| = log ε ≈ -16.1</c>, finite.</item>
/// <item>The exponent of every log-space path is clamped to at most <see cref="MaxExponent"/> = 88
/// (<c>e^88 ≈ 1.65e38</c> is below float's maximum), and the clamp passes no gradient, exactly
/// as <c>torch.clamp(max=88)</c> would.</item>
/// <item><c>d|x|/dx</c> at <c>x = 0</c> is taken as 0 (sign(0) = 0), so the multiplicative path sends no
/// gradient into an exact zero input; elsewhere the factor <c>1/(|x|+ε)</c> is bounded by 1e7.</item>
/// </list>
/// </remarks>
public static class UnitMath
{
    /// <summary>The ε inside <c>log(|x| + ε)</c>.</summary>
    public const float Epsilon = 1e-7f;

    /// <summary>The largest exponent passed to exp in a log-space path.</summary>
    public const float MaxExponent = 88f;

    /// <summary>Logistic sigmoid, safe for any finite input.</summary>
    public static float Sigmoid(float z) => 1f / (1f + MathF.Exp(-z));

    /// <summary><c>log(|x| + ε)</c>.</summary>
    public static float LogAbs(float x) => MathF.Log(MathF.Abs(x) + Epsilon);

    /// <summary><c>exp(min(z, MaxExponent))</c>.</summary>
    public static float ClampedExp(float z) => MathF.Exp(z < MaxExponent ? z : MaxExponent);

    /// <summary>Whether the exponent was clamped, so its gradient is zero.</summary>
    public static bool IsClamped(float z) => z >= MaxExponent;

    /// <summary><c>d log(|x|+ε) / dx = sign(x) / (|x| + ε)</c>, with sign(0) = 0.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static float LogAbsDerivative(float x) =>
        x > 0f ? 1f / (x + Epsilon) : x < 0f ? -1f / (-x + Epsilon) : 0f;

    /// <summary>NAC weight <c>W = tanh(Ŵ)·σ(M̂)</c>.</summary>
    public static float NacWeight(float wHat, float mHat) => MathF.Tanh(wHat) * Sigmoid(mHat);

    /// <summary>
    /// Chain rule through <c>W = tanh(Ŵ)·σ(M̂)</c>: from <c>∂L/∂W</c> to <c>∂L/∂Ŵ</c> and <c>∂L/∂M̂</c>.
    /// (A pair struct rather than <c>out</c> parameters keeps the code friendly to every ILGPU backend.)
    /// </summary>
    public static GradientPair NacWeightBackward(float gradW, float wHat, float mHat)
    {
        float t = MathF.Tanh(wHat);
        float s = Sigmoid(mHat);
        return new GradientPair(gradW * (1f - t * t) * s, gradW * t * s * (1f - s));
    }

    /// <summary>
    /// ACCUMULATES into <c>grad[gradOffset + element]</c> the gradient of a layer's regulariser with respect to the
    /// weight <c>parameters[paramOffset + element]</c> at 0-based <paramref name="step"/>: <c>λ(t)·penalty′(w)/count</c>
    /// for a mean (sparsity), <c>β(t)·penalty′(w)</c> for a sum (L1). Nothing is added while the strength is 0.
    /// </summary>
    public static void AddRegularizerGradient<TMem>(
        RegularizerSettings regularizer, int step, int count, int element, TMem parameters, int paramOffset, TMem grad, int gradOffset)
        where TMem : struct, IFloatMemory
    {
        float strength = regularizer.StrengthAt(step);
        if (strength == 0f)
            return;
        float scale = regularizer.IsMean ? strength / count : strength;
        grad[gradOffset + element] += scale * regularizer.PenaltyDerivative(parameters[paramOffset + element]);
    }
}

/// <summary>Gradients of the two latent matrices behind one NAC weight.</summary>
public readonly struct GradientPair
{
    /// <summary>∂L/∂Ŵ.</summary>
    public readonly float WHat;

    /// <summary>∂L/∂M̂.</summary>
    public readonly float MHat;

    /// <summary>Creates the pair.</summary>
    public GradientPair(float wHat, float mHat)
    {
        WHat = wHat;
        MHat = mHat;
    }
}
