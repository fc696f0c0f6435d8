namespace Nalu.Gpu.Kernels.Units;

/// <summary>
/// Dense layer with bias and a PReLU activation whose negative slope α is learned, ONE α per layer
/// (as <c>torch.nn.PReLU()</c> with its default <c>num_parameters = 1</c>): <c>z = x Wᵀ + b</c>,
/// <c>y = z</c> for <c>z &gt; 0</c>, else <c>α z</c>.
/// </summary>
/// <remarks>
/// Parameters: W (O×I, row-major), then b (O), then α (1). No cache. Saved per sample: z (O).
/// Backward, as PyTorch (the slope branch is taken at <c>z = 0</c>):
/// <c>δz = δ</c> for <c>z &gt; 0</c>, else <c>δ α</c>; <c>∂L/∂W += δz xᵀ</c>, <c>∂L/∂b += δz</c>,
/// <c>∂L/∂α += Σ_o δ_o · min(z_o, 0)</c> (0 where <c>z &gt; 0</c>, <c>δ z</c> otherwise), <c>∂L/∂x = δz W</c>.
/// </remarks>
public readonly struct PReluDenseUnit : IUnit
{
    /// <summary>PyTorch's initial slope.</summary>
    public const float InitialSlope = 0.25f;

    private readonly int _inputs;
    private readonly int _outputs;

    /// <summary>A dense PReLU layer with the given widths.</summary>
    public PReluDenseUnit(int inputs, int outputs)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputs, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputs, 1);
        _inputs = inputs;
        _outputs = outputs;
    }

    /// <inheritdoc />
    public int Inputs => _inputs;
    /// <inheritdoc />
    public int Outputs => _outputs;
    /// <inheritdoc />
    public int ParameterCount => _inputs * _outputs + _outputs + 1;
    /// <inheritdoc />
    public int CacheCount => 0;
    /// <inheritdoc />
    public int ElementCount => 0;
    /// <inheritdoc />
    public int SavedCount => _outputs;

    /// <inheritdoc />
    public void PrepareCache<TMem>(int element, TMem parameters, int paramOffset, TMem cache, int cacheOffset)
        where TMem : struct, IFloatMemory
    {
        // Nothing derived: the weights and the slope are used as they are.
    }

    /// <inheritdoc />
    /// <remarks>Saves z (O) for the backward.</remarks>
    public void Forward<TMem>(
        SampleContext context, TMem parameters, int paramOffset, TMem cache, int cacheOffset,
        TMem x, int xOffset, TMem y, int yOffset, TMem saved, int savedOffset)
        where TMem : struct, IFloatMemory
    {
        int inputs = _inputs;
        int bias = paramOffset + inputs * _outputs;
        float alpha = parameters[bias + _outputs];
        for (int o = 0; o < _outputs; o++)
        {
            float z = AffineMath.PreActivation(parameters, paramOffset, inputs, _outputs, o, x, xOffset);
            saved[savedOffset + o] = z;
            y[yOffset + o] = z > 0f ? z : alpha * z;
        }
    }

    /// <inheritdoc />
    /// <remarks>ACCUMULATES ∂L/∂W, ∂L/∂b and ∂L/∂α; OVERWRITES dx when asked.</remarks>
    public void Backward<TMem>(
        SampleContext context, TMem parameters, int paramOffset, TMem cache, int cacheOffset,
        TMem x, int xOffset, TMem saved, int savedOffset, TMem dy, int dyOffset,
        TMem grad, int gradOffset, bool needInputGradient, TMem dx, int dxOffset)
        where TMem : struct, IFloatMemory
    {
        int inputs = _inputs;
        int bias = inputs * _outputs;
        int slope = bias + _outputs;
        float alpha = parameters[paramOffset + slope];
        if (needInputGradient)
        {
            for (int i = 0; i < inputs; i++)
                dx[dxOffset + i] = 0f;
        }

        float gradAlpha = 0f;
        for (int o = 0; o < _outputs; o++)
        {
            float z = saved[savedOffset + o];
            float d = dy[dyOffset + o];
            float dz;
            if (z > 0f)
            {
                dz = d;
            }
            else
            {
                dz = d * alpha;
                gradAlpha += d * z;
            }

            AffineMath.Backward(parameters, paramOffset, inputs, _outputs, o, dz, x, xOffset, grad, gradOffset, needInputGradient, dx, dxOffset);
        }

        grad[gradOffset + slope] += gradAlpha;
    }

    /// <inheritdoc />
    public void FinishGradient<TMem>(int element, TMem parameters, int paramOffset, TMem grad, int gradOffset)
        where TMem : struct, IFloatMemory
    {
        // Raw gradients are final.
    }

    /// <inheritdoc />
    public void Regularize<TMem>(int element, int step, float loss, TMem parameters, int paramOffset, TMem grad, int gradOffset)
        where TMem : struct, IFloatMemory
    {
        // No regulariser.
    }

    /// <inheritdoc />
    public bool Trains(int parameter, int step) => true;

    /// <inheritdoc />
    public void Constrain<TMem>(int element, TMem parameters, int paramOffset)
        where TMem : struct, IFloatMemory
    {
        // No constraint.
    }
}
