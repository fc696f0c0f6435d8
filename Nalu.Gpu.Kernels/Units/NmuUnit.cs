namespace Nalu.Gpu.Kernels.Units;

/// <summary>
/// Neural multiplication unit (Madsen &amp; Johansen, ICLR 2020): <c>z_o = Π_i (W_oi x_i + 1 − W_oi)</c> with W used
/// directly and clamped to [0, 1] after every optimizer step. Learns × of selected inputs (W = 1 picks x_i, W = 0
/// contributes a factor 1); its sparsity regulariser pushes W toward {0, 1}.
/// </summary>
/// <remarks>
/// Parameters: W (O×I, row-major). Cache: nothing. Saved per sample: the prefix products
/// <c>P_oi = Π_{j&lt;i} f_oj</c> (O×I), with the factors <c>f_oj = W_oj x_j + 1 − W_oj</c>.
/// Backward, per output with δ = ∂L/∂z_o and the product of the OTHER factors <c>R_oi = P_oi · Π_{j&gt;i} f_oj</c>
/// (the suffix product is built on the way back): <c>∂L/∂W_oi += δ R_oi (x_i − 1)</c>, <c>∂L/∂x_i += δ R_oi W_oi</c>.
/// Nothing is divided by a factor, so a factor of exactly 0 (W = 1, x = 0) gives finite, correct gradients.
/// The product is float32: large inputs overflow to ±∞ as in any float32 implementation (|z| ≤ 3.4e38).
/// Regulariser as <see cref="NauUnit"/> (for W ∈ [0, 1] the linear shape is <c>min(W, 1 − W)</c>).
/// Constraint: <c>W ← clamp(W, 0, 1)</c>.
/// </remarks>
public readonly struct NmuUnit : IUnit
{
    private readonly int _inputs;
    private readonly int _outputs;
    private readonly RegularizerSettings _regularizer;

    /// <summary>An NMU with the given widths and (optional) regulariser.</summary>
    public NmuUnit(int inputs, int outputs, RegularizerSettings regularizer = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputs, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputs, 1);
        _inputs = inputs;
        _outputs = outputs;
        _regularizer = regularizer;
    }

    /// <summary>The regulariser and its schedule.</summary>
    public RegularizerSettings Regularizer => _regularizer;
    /// <inheritdoc />
    public int Inputs => _inputs;
    /// <inheritdoc />
    public int Outputs => _outputs;
    /// <inheritdoc />
    public int ParameterCount => _inputs * _outputs;
    /// <inheritdoc />
    public int CacheCount => 0;
    /// <inheritdoc />
    public int ElementCount => _inputs * _outputs;
    /// <inheritdoc />
    public int SavedCount => _inputs * _outputs;

    /// <inheritdoc />
    public void PrepareCache<TMem>(int element, TMem parameters, int paramOffset, TMem cache, int cacheOffset)
        where TMem : struct, IFloatMemory
    {
        // W is used directly: nothing to derive.
    }

    /// <inheritdoc />
    public void Forward<TMem>(
        SampleContext context, TMem parameters, int paramOffset, TMem cache, int cacheOffset,
        TMem x, int xOffset, TMem y, int yOffset, TMem saved, int savedOffset)
        where TMem : struct, IFloatMemory
    {
        int inputs = _inputs;
        for (int o = 0; o < _outputs; o++)
        {
            int row = o * inputs;
            float product = 1f;
            for (int i = 0; i < inputs; i++)
            {
                saved[savedOffset + row + i] = product;
                float w = parameters[paramOffset + row + i];
                product *= w * x[xOffset + i] + 1f - w;
            }

            y[yOffset + o] = product;
        }
    }

    /// <inheritdoc />
    public void Backward<TMem>(
        SampleContext context, TMem parameters, int paramOffset, TMem cache, int cacheOffset,
        TMem x, int xOffset, TMem saved, int savedOffset, TMem dy, int dyOffset,
        TMem grad, int gradOffset, bool needInputGradient, TMem dx, int dxOffset)
        where TMem : struct, IFloatMemory
    {
        int inputs = _inputs;
        if (needInputGradient)
        {
            for (int i = 0; i < inputs; i++)
                dx[dxOffset + i] = 0f;
        }

        for (int o = 0; o < _outputs; o++)
        {
            float delta = dy[dyOffset + o];
            int row = o * inputs;
            float suffix = 1f;
            for (int i = inputs - 1; i >= 0; i--)
            {
                float w = parameters[paramOffset + row + i];
                float xi = x[xOffset + i];
                float others = delta * saved[savedOffset + row + i] * suffix;   // δ · Π_{j≠i} f_oj
                grad[gradOffset + row + i] += others * (xi - 1f);
                if (needInputGradient)
                    dx[dxOffset + i] += others * w;
                suffix *= w * xi + 1f - w;
            }
        }
    }

    /// <inheritdoc />
    public void FinishGradient<TMem>(int element, TMem parameters, int paramOffset, TMem grad, int gradOffset)
        where TMem : struct, IFloatMemory
    {
        // W is used directly, so the raw gradient is already final.
    }

    /// <inheritdoc />
    public void Regularize<TMem>(int element, int step, float loss, TMem parameters, int paramOffset, TMem grad, int gradOffset)
        where TMem : struct, IFloatMemory =>
        UnitMath.AddRegularizerGradient(_regularizer, step, _inputs * _outputs, element, parameters, paramOffset, grad, gradOffset);

    /// <inheritdoc />
    public bool Trains(int parameter, int step) => true;

    /// <inheritdoc />
    public void Constrain<TMem>(int element, TMem parameters, int paramOffset)
        where TMem : struct, IFloatMemory
    {
        float w = parameters[paramOffset + element];
        parameters[paramOffset + element] = w < 0f ? 0f : w > 1f ? 1f : w;
    }
}
