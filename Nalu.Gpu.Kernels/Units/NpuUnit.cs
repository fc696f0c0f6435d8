namespace Nalu.Gpu.Kernels.Units;

/// <summary>
/// Neural power unit (Heim et al. 2020), the complex form. Per input a relevance gate <c>ĝ = clamp(g, 0, 1)</c>
/// shared by the outputs, <c>r = ĝ(|x|+ε) + (1−ĝ)</c>, <c>k = ĝ·[x&lt;0]</c>, and per output
/// <c>re = W_re log r − π W_im k</c>, <c>im = W_im log r + π W_re k</c>, <c>z = exp(re)·cos(im)</c>:
/// the real part of <c>Π_i (r_i e^{iπk_i})^{W_re + i W_im}</c>, so negative inputs keep their sign
/// (a power of −1 is <c>cos(π W)</c>) and <c>W = −1</c> divides.
/// </summary>
/// <remarks>
/// Parameters: <c>[W_re (O×I), W_im (O×I), g (I)]</c>; the real NPU (<see cref="RealNpuUnit"/>) drops W_im:
/// <c>[W_re (O×I), g (I)]</c>, <c>z = exp(W_re log r)·cos(π W_re k)</c>. No cache. ε is <see cref="UnitMath.Epsilon"/>;
/// <c>r ≥ min(1, |x|+ε) &gt; 0</c>, so <c>log r</c> is finite. The exponent <c>re</c> is clamped at
/// <see cref="UnitMath.MaxExponent"/> = 88, and a clamped output passes no gradient at all (as every log-space path
/// here; its cosine's gradient would be ≈ e^88 and overflow float when summed over a batch). Saved per sample: per output <c>re, e^re, cos im, sin im</c>,
/// then <c>log r</c> (I) and <c>k</c> (I).
/// Backward, with δ = ∂L/∂z: <c>δre = δ e^re cos im</c>, <c>δim = −δ e^re sin im</c> (both 0 when re was clamped);
/// <c>∂L/∂W_re = δre log r + π δim k</c>, <c>∂L/∂W_im = δim log r − π δre k</c>;
/// per input <c>λ = Σ_o δre W_re + δim W_im</c> (gradient of log r) and <c>κ = π Σ_o δim W_re − δre W_im</c> (of k);
/// <c>∂L/∂g = [0 ≤ g ≤ 1]·(λ (|x|+ε−1)/r + κ [x&lt;0])</c> (the clamp passes gradient inside [0, 1], ends included,
/// as <c>torch.clamp</c>); <c>∂L/∂x = λ ĝ sign(x)/r</c> (k is piecewise constant; sign(0) = 0).
/// The backward writes final gradients, so <see cref="FinishGradient"/> has nothing to do.
/// Regulariser: <see cref="RegularizerKind.L1"/> <c>β(t)·Σ|W|</c> over W_re and W_im (not g), Heim et al.'s.
/// </remarks>
public readonly struct NpuUnit : IUnit
{
    private readonly int _inputs;
    private readonly int _outputs;
    // An int, not a bool: ILGPU 1.5.3 rejects bool fields in kernel-parameter structs. 1: the real NPU (no W_im).
    private readonly int _real;
    private readonly RegularizerSettings _regularizer;

    /// <summary>A complex NPU with the given widths and weight regulariser (Heim et al.'s L1, or none).</summary>
    public NpuUnit(int inputs, int outputs, RegularizerSettings regularizer = default)
        : this(inputs, outputs, regularizer, real: false)
    {
    }

    internal NpuUnit(int inputs, int outputs, RegularizerSettings regularizer, bool real)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputs, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputs, 1);
        _inputs = inputs;
        _outputs = outputs;
        _real = real ? 1 : 0;
        _regularizer = regularizer;
    }

    /// <summary>Whether this is the real NPU (W_im ≡ 0, not stored).</summary>
    public bool IsReal => _real != 0;
    /// <summary>The weight regulariser.</summary>
    public RegularizerSettings Regularizer => _regularizer;
    /// <inheritdoc />
    public int Inputs => _inputs;
    /// <inheritdoc />
    public int Outputs => _outputs;
    /// <inheritdoc />
    public int ParameterCount => (IsReal ? 1 : 2) * _inputs * _outputs + _inputs;
    /// <inheritdoc />
    public int CacheCount => 0;
    /// <inheritdoc />
    public int ElementCount => _inputs * _outputs;
    /// <inheritdoc />
    public int SavedCount => 4 * _outputs + 2 * _inputs;

    private int Weights => _inputs * _outputs;
    private int Gate => (IsReal ? 1 : 2) * Weights;

    /// <inheritdoc />
    public void PrepareCache<TMem>(int element, TMem parameters, int paramOffset, TMem cache, int cacheOffset)
        where TMem : struct, IFloatMemory
    {
        // No cache.
    }

    /// <inheritdoc />
    public void Forward<TMem>(
        SampleContext context, TMem parameters, int paramOffset, TMem cache, int cacheOffset,
        TMem x, int xOffset, TMem y, int yOffset, TMem saved, int savedOffset)
        where TMem : struct, IFloatMemory
    {
        int outputs = _outputs, inputs = _inputs;
        int logs = savedOffset + 4 * outputs, ks = logs + inputs;
        int gate = paramOffset + Gate;
        for (int i = 0; i < inputs; i++)
        {
            float xi = x[xOffset + i];
            float g = NpuMath.ClampGate(parameters[gate + i]);
            saved[logs + i] = MathF.Log(NpuMath.Magnitude(g, xi));
            saved[ks + i] = xi < 0f ? g : 0f;
        }

        int imag = paramOffset + Weights;
        for (int o = 0; o < outputs; o++)
        {
            int row = paramOffset + o * inputs;
            float re = parameters.Dot(row, saved, logs, inputs);
            float im = NpuMath.Pi * parameters.Dot(row, saved, ks, inputs);
            if (!IsReal)
            {
                re -= NpuMath.Pi * parameters.Dot(imag + o * inputs, saved, ks, inputs);
                im += parameters.Dot(imag + o * inputs, saved, logs, inputs);
            }

            float e = UnitMath.ClampedExp(re);
            float c = MathF.Cos(im), s = MathF.Sin(im);
            int sv = savedOffset + 4 * o;
            saved[sv] = re;
            saved[sv + 1] = e;
            saved[sv + 2] = c;
            saved[sv + 3] = s;
            y[yOffset + o] = e * c;
        }
    }

    /// <inheritdoc />
    public void Backward<TMem>(
        SampleContext context, TMem parameters, int paramOffset, TMem cache, int cacheOffset,
        TMem x, int xOffset, TMem saved, int savedOffset, TMem dy, int dyOffset,
        TMem grad, int gradOffset, bool needInputGradient, TMem dx, int dxOffset)
        where TMem : struct, IFloatMemory
    {
        int outputs = _outputs, inputs = _inputs, weights = Weights;
        int logs = savedOffset + 4 * outputs, ks = logs + inputs;
        int gate = Gate;
        bool real = IsReal;
        for (int i = 0; i < inputs; i++)
        {
            float logR = saved[logs + i], k = saved[ks + i];
            float lambda = 0f, kappa = 0f;
            for (int o = 0; o < outputs; o++)
            {
                int sv = savedOffset + 4 * o;
                float delta = UnitMath.IsClamped(saved[sv]) ? 0f : dy[dyOffset + o];
                float e = saved[sv + 1];
                float dre = delta * e * saved[sv + 2];
                float dim = -delta * e * saved[sv + 3];
                int w = o * inputs + i;
                float wre = parameters[paramOffset + w];
                grad[gradOffset + w] += dre * logR + NpuMath.Pi * dim * k;
                lambda += dre * wre;
                kappa += dim * wre;
                if (!real)
                {
                    float wim = parameters[paramOffset + weights + w];
                    grad[gradOffset + weights + w] += dim * logR - NpuMath.Pi * dre * k;
                    lambda += dim * wim;
                    kappa -= dre * wim;
                }
            }

            kappa *= NpuMath.Pi;
            float xi = x[xOffset + i];
            float gRaw = parameters[paramOffset + gate + i];
            float g = NpuMath.ClampGate(gRaw);
            float absX = MathF.Abs(xi) + UnitMath.Epsilon;
            float r = g * absX + (1f - g);
            if (gRaw >= 0f && gRaw <= 1f)
                grad[gradOffset + gate + i] += lambda * (absX - 1f) / r + (xi < 0f ? kappa : 0f);
            if (needInputGradient)
                dx[dxOffset + i] = xi > 0f ? lambda * g / r : xi < 0f ? -lambda * g / r : 0f;
        }
    }

    /// <inheritdoc />
    public void FinishGradient<TMem>(int element, TMem parameters, int paramOffset, TMem grad, int gradOffset)
        where TMem : struct, IFloatMemory
    {
        // The backward accumulates final gradients.
    }

    /// <inheritdoc />
    public void Regularize<TMem>(int element, int step, float loss, TMem parameters, int paramOffset, TMem grad, int gradOffset)
        where TMem : struct, IFloatMemory
    {
        // Work item e regularises W_re[e] and, for the complex NPU, W_im[e]; the penalty covers both matrices.
        int weights = Weights, count = IsReal ? weights : 2 * weights;
        UnitMath.AddRegularizerGradient(_regularizer, step, count, element, parameters, paramOffset, grad, gradOffset);
        if (!IsReal)
            UnitMath.AddRegularizerGradient(_regularizer, step, count, weights + element, parameters, paramOffset, grad, gradOffset);
    }

    /// <inheritdoc />
    public bool Trains(int parameter, int step) => true;

    /// <inheritdoc />
    public void Constrain<TMem>(int element, TMem parameters, int paramOffset)
        where TMem : struct, IFloatMemory
    {
        // No constraint: the gate is clamped where it is used, as in Heim et al.
    }
}

/// <summary>Scalar pieces of the NPU shared by the unit, the real NPU and (restated in double) the reference.</summary>
public static class NpuMath
{
    /// <summary>π in float.</summary>
    public const float Pi = 3.14159265358979f;

    /// <summary><c>clamp(g, 0, 1)</c>, written with comparisons (Math.Clamp does not compile in ILGPU 1.5.3).</summary>
    public static float ClampGate(float g) => g < 0f ? 0f : g > 1f ? 1f : g;

    /// <summary><c>r = ĝ(|x|+ε) + (1−ĝ)</c> for a clamped gate ĝ.</summary>
    public static float Magnitude(float gate, float x) => gate * (MathF.Abs(x) + UnitMath.Epsilon) + (1f - gate);
}
