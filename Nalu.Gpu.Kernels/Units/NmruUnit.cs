namespace Nalu.Gpu.Kernels.Units;

/// <summary>
/// Neural multiplicative reciprocal unit (Mistry et al., nalm-benchmark): an NMU over the concatenation
/// <c>u = [x, 1/(x ± ε)]</c>, <c>z_o = Π_j (W_oj u_j + 1 − W_oj)</c> with W ∈ [0, 1] (clamped after every optimizer step),
/// so each input contributes <c>x^1</c>, <c>x^−1</c> or 1 and the unit divides as well as multiplies.
/// </summary>
/// <remarks>
/// Parameters: <c>W (O×2I)</c>, row-major; row o is <c>[W_o,x (I), W_o,1/x (I)]</c>. No cache.
/// The reciprocal is <c>1/(x + sign(x)·ε)</c> with <c>ε = 2⁻²³ ≈ 1.19e-7</c> (float32 machine ε, the paper's training
/// value) and sign(0) = +1. One rule serves training and evaluation: the paper evaluates with the plain reciprocal, and
/// for |x| ≥ 1 the two differ by a relative ε/|x| below half a float ulp, i.e. not at all in float32; near 0 the
/// plain one has a pole and this one is bounded by 1/ε ≈ 8.4e6. Adding ε with x's sign (rather than always +ε)
/// keeps the denominator's magnitude ≥ ε for negative x too, so there is no pole at x = −ε.
/// Saved per sample: u (2I), then per output the suffix products <c>S_oj = Π_{k&gt;j} f_ok</c> (2I).
/// Backward with δ = ∂L/∂z, using the product of the OTHER factors <c>P_oj = (Π_{k&lt;j} f_ok)·S_oj</c> (prefix times
/// suffix, never a division by a factor, so a factor of exactly 0 is fine):
/// <c>∂L/∂W_oj = δ (u_j − 1) P_oj</c>; <c>∂L/∂u_j = Σ_o δ W_oj P_oj</c>; <c>∂L/∂x_i = ∂L/∂u_i − u_{I+i}² ∂L/∂u_{I+i}</c>.
/// Regulariser: Madsen &amp; Johansen's sparsity (<see cref="RegularizerKind.SparsityLinear"/> or squared) as for the NMU,
/// <c>λ(t)·mean(min(W, 1 − W))</c> over all 2·O·I weights.
/// </remarks>
public readonly struct NmruUnit : IUnit
{
    /// <summary>ε of the reciprocal: float32 machine ε, 2⁻²³.</summary>
    public const float ReciprocalEpsilon = 1.1920929e-7f;

    private readonly int _inputs;
    private readonly int _outputs;
    private readonly RegularizerSettings _regularizer;

    /// <summary>An NMRU with the given widths and sparsity regulariser (or none).</summary>
    public NmruUnit(int inputs, int outputs, RegularizerSettings regularizer = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputs, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputs, 1);
        _inputs = inputs;
        _outputs = outputs;
        _regularizer = regularizer;
    }

    /// <summary>The weight regulariser.</summary>
    public RegularizerSettings Regularizer => _regularizer;
    /// <inheritdoc />
    public int Inputs => _inputs;
    /// <inheritdoc />
    public int Outputs => _outputs;
    /// <inheritdoc />
    public int ParameterCount => 2 * _inputs * _outputs;
    /// <inheritdoc />
    public int CacheCount => 0;
    /// <inheritdoc />
    public int ElementCount => 2 * _inputs * _outputs;
    /// <inheritdoc />
    public int SavedCount => 2 * _inputs + 2 * _inputs * _outputs;

    /// <summary><c>1/(x + sign(x)·ε)</c> with sign(0) = +1.</summary>
    public static float Reciprocal(float x) => 1f / (x < 0f ? x - ReciprocalEpsilon : x + ReciprocalEpsilon);

    /// <inheritdoc />
    public void PrepareCache<TMem>(int element, TMem parameters, int paramOffset, TMem cache, int cacheOffset)
        where TMem : struct, IFloatMemory
    {
        // No cache.
    }

    /// <inheritdoc />
    public void Forward<TMem>(
        TMem parameters, int paramOffset, TMem cache, int cacheOffset,
        TMem x, int xOffset, TMem y, int yOffset, TMem saved, int savedOffset)
        where TMem : struct, IFloatMemory
    {
        int inputs = _inputs, width = 2 * _inputs;
        for (int i = 0; i < inputs; i++)
        {
            float xi = x[xOffset + i];
            saved[savedOffset + i] = xi;
            saved[savedOffset + inputs + i] = Reciprocal(xi);
        }

        for (int o = 0; o < _outputs; o++)
        {
            int row = paramOffset + o * width, suffix = savedOffset + width + o * width;
            float s = 1f;
            for (int j = width - 1; j >= 0; j--)
            {
                saved[suffix + j] = s;
                float w = parameters[row + j];
                s *= w * saved[savedOffset + j] + 1f - w;
            }

            y[yOffset + o] = s;
        }
    }

    /// <inheritdoc />
    public void Backward<TMem>(
        TMem parameters, int paramOffset, TMem cache, int cacheOffset,
        TMem x, int xOffset, TMem saved, int savedOffset, TMem dy, int dyOffset,
        TMem grad, int gradOffset, bool needInputGradient, TMem dx, int dxOffset)
        where TMem : struct, IFloatMemory
    {
        int inputs = _inputs, width = 2 * _inputs;
        if (needInputGradient)
        {
            for (int i = 0; i < inputs; i++)
                dx[dxOffset + i] = 0f;
        }

        for (int o = 0; o < _outputs; o++)
        {
            float delta = dy[dyOffset + o];
            int row = o * width, suffix = savedOffset + width + o * width;
            float prefix = 1f;
            for (int j = 0; j < width; j++)
            {
                float u = saved[savedOffset + j], w = parameters[paramOffset + row + j];
                float others = prefix * saved[suffix + j];
                grad[gradOffset + row + j] += delta * (u - 1f) * others;
                if (needInputGradient)
                {
                    float du = delta * w * others;
                    // d(1/(x ± ε))/dx = −u².
                    dx[dxOffset + (j < inputs ? j : j - inputs)] += j < inputs ? du : -du * u * u;
                }

                prefix *= w * u + 1f - w;
            }
        }
    }

    /// <inheritdoc />
    public void FinishGradient<TMem>(int element, TMem parameters, int paramOffset, TMem grad, int gradOffset)
        where TMem : struct, IFloatMemory
    {
        // The backward accumulates final gradients.
    }

    /// <inheritdoc />
    public void Regularize<TMem>(int element, int step, TMem parameters, int paramOffset, TMem grad, int gradOffset)
        where TMem : struct, IFloatMemory
    {
        if (_regularizer.Kind == RegularizerKind.None)
            return;
        float scale = _regularizer.StrengthAt(step);
        if (_regularizer.IsMean)
            scale /= ElementCount;
        grad[gradOffset + element] += scale * _regularizer.PenaltyDerivative(parameters[paramOffset + element]);
    }

    /// <inheritdoc />
    public void Constrain<TMem>(int element, TMem parameters, int paramOffset)
        where TMem : struct, IFloatMemory
    {
        float w = parameters[paramOffset + element];
        parameters[paramOffset + element] = w < 0f ? 0f : w > 1f ? 1f : w;
    }
}
