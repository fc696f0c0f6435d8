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
/// The product, its backward (prefix and suffix products, never a division by a factor), the clamp and the regulariser
/// are <see cref="NmuUnit"/>'s own code over u: this unit only builds u and folds ∂L/∂u back into ∂L/∂x.
/// Saved per sample: u (2I), the NMU's saved values (2I·O), then ∂L/∂u (2I) as scratch for the backward.
/// <c>∂L/∂x_i = ∂L/∂u_i − u_{I+i}² ∂L/∂u_{I+i}</c>.
/// Regulariser: Madsen &amp; Johansen's sparsity (<see cref="RegularizerKind.SparsityLinear"/> or squared) as for the NMU,
/// <c>λ(t)·mean(min(W, 1 − W))</c> over all 2·O·I weights.
/// </remarks>
public readonly struct NmruUnit : IUnit
{
    /// <summary>ε of the reciprocal: float32 machine ε, 2⁻²³.</summary>
    public const float ReciprocalEpsilon = 1.1920929e-7f;

    private readonly int _inputs;
    private readonly NmuUnit _nmu;

    /// <summary>An NMRU with the given widths and sparsity regulariser (or none).</summary>
    public NmruUnit(int inputs, int outputs, RegularizerSettings regularizer = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputs, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputs, 1);
        _inputs = inputs;
        _nmu = new NmuUnit(2 * inputs, outputs, regularizer);
    }

    /// <summary>The weight regulariser.</summary>
    public RegularizerSettings Regularizer => _nmu.Regularizer;
    /// <inheritdoc />
    public int Inputs => _inputs;
    /// <inheritdoc />
    public int Outputs => _nmu.Outputs;
    /// <inheritdoc />
    public int ParameterCount => _nmu.ParameterCount;
    /// <inheritdoc />
    public int CacheCount => 0;
    /// <inheritdoc />
    public int ElementCount => _nmu.ElementCount;
    /// <inheritdoc />
    public int SavedCount => 2 * _inputs + _nmu.SavedCount + 2 * _inputs;

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
        SampleContext context, TMem parameters, int paramOffset, TMem cache, int cacheOffset,
        TMem x, int xOffset, TMem y, int yOffset, TMem saved, int savedOffset)
        where TMem : struct, IFloatMemory
    {
        int inputs = _inputs;
        for (int i = 0; i < inputs; i++)
        {
            float xi = x[xOffset + i];
            saved[savedOffset + i] = xi;
            saved[savedOffset + inputs + i] = Reciprocal(xi);
        }

        _nmu.Forward(context, parameters, paramOffset, cache, cacheOffset, saved, savedOffset, y, yOffset, saved, savedOffset + 2 * inputs);
    }

    /// <inheritdoc />
    public void Backward<TMem>(
        SampleContext context, TMem parameters, int paramOffset, TMem cache, int cacheOffset,
        TMem x, int xOffset, TMem saved, int savedOffset, TMem dy, int dyOffset,
        TMem grad, int gradOffset, bool needInputGradient, TMem dx, int dxOffset)
        where TMem : struct, IFloatMemory
    {
        int inputs = _inputs;
        int du = savedOffset + 2 * inputs + _nmu.SavedCount;
        _nmu.Backward(context, parameters, paramOffset, cache, cacheOffset, saved, savedOffset, saved, savedOffset + 2 * inputs,
            dy, dyOffset, grad, gradOffset, needInputGradient, saved, du);
        if (!needInputGradient)
            return;
        for (int i = 0; i < inputs; i++)
        {
            // d(1/(x ± ε))/dx = −(1/(x ± ε))².
            float r = saved[savedOffset + inputs + i];
            dx[dxOffset + i] = saved[du + i] - r * r * saved[du + inputs + i];
        }
    }

    /// <inheritdoc />
    public void FinishGradient<TMem>(int element, TMem parameters, int paramOffset, TMem grad, int gradOffset)
        where TMem : struct, IFloatMemory
    {
        // The NMU's W is used directly: the raw gradient is final.
    }

    /// <inheritdoc />
    public void Regularize<TMem>(int element, int step, float loss, TMem parameters, int paramOffset, TMem grad, int gradOffset)
        where TMem : struct, IFloatMemory =>
        _nmu.Regularize(element, step, loss, parameters, paramOffset, grad, gradOffset);

    /// <inheritdoc />
    public bool Trains(int parameter, int step) => _nmu.Trains(parameter, step);

    /// <inheritdoc />
    public void Constrain<TMem>(int element, TMem parameters, int paramOffset)
        where TMem : struct, IFloatMemory =>
        _nmu.Constrain(element, parameters, paramOffset);
}
