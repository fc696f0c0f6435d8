namespace Nalu.Gpu.Kernels.Units;

/// <summary>
/// Improved NALU (iNALU, Schlör et al. 2020), with the layer's part of its training recipe (<see cref="INaluRecipe"/>,
/// off by default):
/// separate weights per path, <c>Wa = tanh(Ŵa)·σ(M̂a)</c>, <c>Wm = tanh(Ŵm)·σ(M̂m)</c>;
/// <c>a = x Waᵀ</c>; <c>zm = log(max(|x|, ε)) Wmᵀ</c>, <c>E = exp(min(zm, ω))</c> with ω = 20;
/// sign retrieval <c>S = Π_i (sign(x_i)|Wm_oi| + 1 − |Wm_oi|)</c>, <c>s = clamp(S, −1, 1)</c>; <c>m = E·s</c>;
/// input-independent gate <c>γ = σ(G_o)</c>; <c>y = γ a + (1 − γ) m</c>.
/// </summary>
/// <remarks>
/// Parameters: <c>[Ŵa, M̂a, Ŵm, M̂m]</c> (O×I each, row-major), then G (O). Cache: Wa, Wm. ε = <see cref="UnitMath.Epsilon"/>.
/// Saved per sample: per output <c>a, m, γ, zm, E, S</c>; then <c>log(max(|x|, ε))</c> (I); then per output the suffix
/// products of the sign factors (I).
/// Backward with δ = ∂L/∂y: <c>δa = δγ</c>, <c>δm = δ(1−γ)</c>, <c>δG = δ(a − m)γ(1−γ)</c>;
/// <c>δzm = δm·s·E</c> (0 past the clip, zm ≥ ω); <c>δS = δm·E</c> (0 outside [−1, 1]; |S| ≤ 1 whenever |Wm| ≤ 1, which
/// tanh·σ guarantees); raw <c>∂L/∂Wa += δa x</c>, <c>∂L/∂Wm += δzm log(max(|x|, ε)) + δS P_oi (sign(x_i) − 1) sign(Wm_oi)</c>
/// with <c>P_oi</c> the product of the other sign factors (prefix × suffix, never a division); then through tanh·σ in
/// <see cref="FinishGradient"/>. <c>∂L/∂x = δa Wa + δzm Wm / x</c> for |x| &gt; ε (0 otherwise; sign(x) passes none).
/// </remarks>
public readonly struct INaluUnit : IUnit
{
    /// <summary>ω: the largest exponent of the multiplicative path (Schlör et al.).</summary>
    public const float MaxExponent = 20f;

    private readonly int _inputs;
    private readonly int _outputs;
    private readonly INaluRecipe _recipe;

    /// <summary>An iNALU with the given widths and (optional) training recipe.</summary>
    public INaluUnit(int inputs, int outputs, INaluRecipe recipe = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputs, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputs, 1);
        recipe.Validate();
        _inputs = inputs;
        _outputs = outputs;
        _recipe = recipe;
    }

    /// <summary>The layer's training recipe (alternating updates, saturation regulariser).</summary>
    public INaluRecipe Recipe => _recipe;

    /// <inheritdoc />
    public int Inputs => _inputs;
    /// <inheritdoc />
    public int Outputs => _outputs;
    /// <inheritdoc />
    public int ParameterCount => 4 * _inputs * _outputs + _outputs;
    /// <inheritdoc />
    public int CacheCount => 2 * _inputs * _outputs;
    /// <inheritdoc />
    public int ElementCount => _inputs * _outputs;
    /// <inheritdoc />
    public int SavedCount => 6 * _outputs + _inputs + _inputs * _outputs;

    private int Weights => _inputs * _outputs;

    /// <summary><c>log(max(|x|, ε))</c>.</summary>
    public static float LogMax(float x)
    {
        float a = MathF.Abs(x);
        return MathF.Log(a > UnitMath.Epsilon ? a : UnitMath.Epsilon);
    }

    /// <summary>The sign factor <c>sign(x)|w| + 1 − |w|</c>.</summary>
    public static float SignFactor(float x, float w)
    {
        float a = MathF.Abs(w);
        float sign = x > 0f ? 1f : x < 0f ? -1f : 0f;
        return sign * a + 1f - a;
    }

    /// <inheritdoc />
    public void PrepareCache<TMem>(int element, TMem parameters, int paramOffset, TMem cache, int cacheOffset)
        where TMem : struct, IFloatMemory
    {
        int w = Weights;
        cache[cacheOffset + element] = UnitMath.NacWeight(parameters[paramOffset + element], parameters[paramOffset + w + element]);
        cache[cacheOffset + w + element] = UnitMath.NacWeight(parameters[paramOffset + 2 * w + element], parameters[paramOffset + 3 * w + element]);
    }

    /// <inheritdoc />
    public void Forward<TMem>(
        SampleContext context, TMem parameters, int paramOffset, TMem cache, int cacheOffset,
        TMem x, int xOffset, TMem y, int yOffset, TMem saved, int savedOffset)
        where TMem : struct, IFloatMemory
    {
        int inputs = _inputs, outputs = _outputs, w = Weights;
        int logs = savedOffset + 6 * outputs, suffixes = logs + inputs;
        for (int i = 0; i < inputs; i++)
            saved[logs + i] = LogMax(x[xOffset + i]);
        for (int o = 0; o < outputs; o++)
        {
            int row = o * inputs;
            float a = cache.Dot(cacheOffset + row, x, xOffset, inputs);
            float zm = cache.Dot(cacheOffset + w + row, saved, logs, inputs);
            float e = MathF.Exp(zm < MaxExponent ? zm : MaxExponent);
            float s = 1f;
            for (int i = inputs - 1; i >= 0; i--)
            {
                saved[suffixes + row + i] = s;
                s *= SignFactor(x[xOffset + i], cache[cacheOffset + w + row + i]);
            }

            float clipped = s < -1f ? -1f : s > 1f ? 1f : s;
            float m = e * clipped;
            float gamma = UnitMath.Sigmoid(parameters[paramOffset + 4 * w + o]);
            int sv = savedOffset + 6 * o;
            saved[sv] = a;
            saved[sv + 1] = m;
            saved[sv + 2] = gamma;
            saved[sv + 3] = zm;
            saved[sv + 4] = e;
            saved[sv + 5] = s;
            y[yOffset + o] = gamma * a + (1f - gamma) * m;
        }
    }

    /// <inheritdoc />
    public void Backward<TMem>(
        SampleContext context, TMem parameters, int paramOffset, TMem cache, int cacheOffset,
        TMem x, int xOffset, TMem saved, int savedOffset, TMem dy, int dyOffset,
        TMem grad, int gradOffset, bool needInputGradient, TMem dx, int dxOffset)
        where TMem : struct, IFloatMemory
    {
        int inputs = _inputs, outputs = _outputs, w = Weights;
        int logs = savedOffset + 6 * outputs, suffixes = logs + inputs;
        if (needInputGradient)
        {
            for (int i = 0; i < inputs; i++)
                dx[dxOffset + i] = 0f;
        }

        for (int o = 0; o < outputs; o++)
        {
            int sv = savedOffset + 6 * o, row = o * inputs;
            float delta = dy[dyOffset + o];
            float a = saved[sv], m = saved[sv + 1], gamma = saved[sv + 2], zm = saved[sv + 3], e = saved[sv + 4], s = saved[sv + 5];
            float clipped = s < -1f ? -1f : s > 1f ? 1f : s;
            float da = delta * gamma, dm = delta * (1f - gamma);
            float dzm = zm < MaxExponent ? dm * clipped * e : 0f;
            float ds = s >= -1f && s <= 1f ? dm * e : 0f;
            grad[gradOffset + 4 * w + o] += delta * (a - m) * gamma * (1f - gamma);
            grad.AddScaled(gradOffset + row, da, x, xOffset, inputs);
            grad.AddScaled(gradOffset + 2 * w + row, dzm, saved, logs, inputs);
            float prefix = 1f;
            for (int i = 0; i < inputs; i++)
            {
                float xi = x[xOffset + i], wm = cache[cacheOffset + w + row + i];
                float sign = xi > 0f ? 1f : xi < 0f ? -1f : 0f;
                float wSign = wm > 0f ? 1f : wm < 0f ? -1f : 0f;
                grad[gradOffset + 2 * w + row + i] += ds * prefix * saved[suffixes + row + i] * (sign - 1f) * wSign;
                prefix *= SignFactor(xi, wm);
                if (needInputGradient)
                {
                    float dlog = xi > UnitMath.Epsilon || xi < -UnitMath.Epsilon ? 1f / xi : 0f;
                    dx[dxOffset + i] += da * cache[cacheOffset + row + i] + dzm * wm * dlog;
                }
            }
        }
    }

    /// <inheritdoc />
    public void FinishGradient<TMem>(int element, TMem parameters, int paramOffset, TMem grad, int gradOffset)
        where TMem : struct, IFloatMemory
    {
        int w = Weights;
        var additive = UnitMath.NacWeightBackward(grad[gradOffset + element], parameters[paramOffset + element], parameters[paramOffset + w + element]);
        grad[gradOffset + element] = additive.WHat;
        grad[gradOffset + w + element] = additive.MHat;
        var multiplicative = UnitMath.NacWeightBackward(
            grad[gradOffset + 2 * w + element], parameters[paramOffset + 2 * w + element], parameters[paramOffset + 3 * w + element]);
        grad[gradOffset + 2 * w + element] = multiplicative.WHat;
        grad[gradOffset + 3 * w + element] = multiplicative.MHat;
        // G is used directly: its raw gradient is final.
    }

    /// <inheritdoc />
    public void Regularize<TMem>(int element, int step, float loss, TMem parameters, int paramOffset, TMem grad, int gradOffset)
        where TMem : struct, IFloatMemory
    {
        if (!_recipe.SaturationApplies(step, loss))
            return;
        // Element e owns Ŵa, M̂a, Ŵm, M̂m at e and, for e < O, G_e: every parameter once.
        int w = Weights;
        float scale = _recipe.Saturation / ParameterCount;
        for (int k = 0; k < 4; k++)
            grad[gradOffset + k * w + element] += scale * SaturationDerivative(parameters[paramOffset + k * w + element]);
        if (element < _outputs)
            grad[gradOffset + 4 * w + element] += scale * SaturationDerivative(parameters[paramOffset + 4 * w + element]);
    }

    /// <summary><c>d max(ω − |v|, 0)/dv</c>: −sign(v) for |v| &lt; ω, else 0.</summary>
    public static float SaturationDerivative(float v)
    {
        float a = MathF.Abs(v);
        return a < MaxExponent ? (v > 0f ? -1f : v < 0f ? 1f : 0f) : 0f;
    }

    /// <inheritdoc />
    /// <remarks>With <see cref="INaluRecipe.Alternate"/>: the weights at steps whose position in the block of 10 is below 8, the gate at the others.</remarks>
    public bool Trains(int parameter, int step) =>
        _recipe.Alternate == 0 || (parameter < 4 * Weights) == INaluRecipe.WeightsTrain(step);

    /// <inheritdoc />
    public void Constrain<TMem>(int element, TMem parameters, int paramOffset)
        where TMem : struct, IFloatMemory
    {
        // No constraint.
    }
}
