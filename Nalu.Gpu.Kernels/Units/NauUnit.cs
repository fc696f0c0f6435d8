namespace Nalu.Gpu.Kernels.Units;

/// <summary>
/// Neural addition unit (Madsen &amp; Johansen, ICLR 2020): <c>z = x Wᵀ</c> with W used directly and clamped to
/// [−1, 1] after every optimizer step. Learns + and −; its sparsity regulariser pushes W toward {−1, 0, 1}.
/// </summary>
/// <remarks>
/// Parameters: W (O×I, row-major). Cache: nothing. Saved per sample: nothing.
/// Backward: <c>∂L/∂W += δ xᵀ</c> (already final, so <see cref="FinishGradient"/> does nothing); <c>∂L/∂x = δ W</c>.
/// Regulariser (<see cref="RegularizerSettings"/>, carried by value): <c>λ(t) · mean(penalty(W))</c>, so each weight's
/// gradient gains <c>λ(t) · penalty′(W) / (O·I)</c>; sparsity-linear <c>min(|W|, 1 − |W|)</c>, sparsity-squared
/// <c>W²(1 − |W|)²</c>. Constraint: <c>W ← clamp(W, −1, 1)</c>.
/// </remarks>
public readonly struct NauUnit : IUnit
{
    private readonly int _inputs;
    private readonly int _outputs;
    private readonly RegularizerSettings _regularizer;

    /// <summary>An NAU with the given widths and (optional) regulariser.</summary>
    public NauUnit(int inputs, int outputs, RegularizerSettings regularizer = default)
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
    public int SavedCount => 0;

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
        LinearMath.Forward(parameters, paramOffset, _inputs, _outputs, x, xOffset, y, yOffset);
    }

    /// <inheritdoc />
    public void Backward<TMem>(
        SampleContext context, TMem parameters, int paramOffset, TMem cache, int cacheOffset,
        TMem x, int xOffset, TMem saved, int savedOffset, TMem dy, int dyOffset,
        TMem grad, int gradOffset, bool needInputGradient, TMem dx, int dxOffset)
        where TMem : struct, IFloatMemory
    {
        LinearMath.Backward(parameters, paramOffset, _inputs, _outputs, x, xOffset, dy, dyOffset, grad, gradOffset, needInputGradient, dx, dxOffset);
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
        parameters[paramOffset + element] = w < -1f ? -1f : w > 1f ? 1f : w;
    }
}
