namespace Nalu.Gpu.Kernels.Units;

/// <summary>
/// Dense layer with bias and a pointwise activation: <c>z = x Wᵀ + b</c>, <c>y = f(z)</c>.
/// The MLP baseline the NALU paper compares against.
/// </summary>
/// <remarks>
/// Parameters: W (O×I, row-major) then b (O). No cache. Saved per sample: z (O).
/// Backward: <c>δz = δ·f'(z)</c>; <c>∂L/∂W += δz xᵀ</c>, <c>∂L/∂b += δz</c>, <c>∂L/∂x = δz W</c>.
/// </remarks>
public readonly struct DenseUnit<TActivation> : IUnit
    where TActivation : struct, IActivation
{
    private readonly int _inputs;
    private readonly int _outputs;

    /// <summary>A dense layer with the given widths.</summary>
    public DenseUnit(int inputs, int outputs)
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
    public int ParameterCount => _inputs * _outputs + _outputs;
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
        // Nothing derived: the weights are used as they are.
    }

    /// <inheritdoc />
    public void Forward<TMem>(
        SampleContext context, TMem parameters, int paramOffset, TMem cache, int cacheOffset,
        TMem x, int xOffset, TMem y, int yOffset, TMem saved, int savedOffset)
        where TMem : struct, IFloatMemory
    {
        int inputs = _inputs;
        TActivation activation = default;
        for (int o = 0; o < _outputs; o++)
        {
            float z = AffineMath.PreActivation(parameters, paramOffset, inputs, _outputs, o, x, xOffset);
            saved[savedOffset + o] = z;
            y[yOffset + o] = activation.Apply(z);
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
        TActivation activation = default;
        if (needInputGradient)
        {
            for (int i = 0; i < inputs; i++)
                dx[dxOffset + i] = 0f;
        }

        for (int o = 0; o < _outputs; o++)
        {
            float dz = dy[dyOffset + o] * activation.Derivative(saved[savedOffset + o]);
            AffineMath.Backward(parameters, paramOffset, inputs, _outputs, o, dz, x, xOffset, grad, gradOffset, needInputGradient, dx, dxOffset);
        }
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
