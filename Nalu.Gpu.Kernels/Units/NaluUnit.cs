namespace Nalu.Gpu.Kernels.Units;

/// <summary>
/// Neural arithmetic logic unit (Trask et al. 2018):
/// <c>a = x Waᵀ</c>, <c>m = exp(log(|x|+ε) Wmᵀ)</c>, <c>g = σ(x Gᵀ)</c>, <c>y = g·a + (1−g)·m</c>.
/// Tied (the paper's form, the default): <c>Wa = Wm = tanh(Ŵ)·σ(M̂)</c>. Untied: separate Ŵ, M̂ per path.
/// Input-independent gate (an option, as in iNALU): <c>g = σ(G)</c> with one value G_o per output instead of <c>σ(x Gᵀ)</c>.
/// </summary>
/// <remarks>
/// Parameters, each O×I row-major: tied <c>[Ŵ, M̂, G]</c>; untied <c>[Ŵa, M̂a, Ŵm, M̂m, G]</c>; with the
/// input-independent gate G is a vector of O values (<c>∂L/∂G_o = δgate_o</c>, and the gate sends nothing into ∂L/∂x).
/// Cache: <c>Wa</c> (and <c>Wm</c> when untied). The forward computes a, m, g and y in one pass over the
/// inputs and saves, per output, <c>a, m, g, z</c> (z is the exponent before the clamp), then
/// <c>log(|x|+ε)</c> per input. Backward per output, with δ = ∂L/∂y:
/// <c>δa = δg</c>, <c>δz = δ(1−g)m</c> (0 when z was clamped), <c>δgate = δ(a−m)g(1−g)</c>;
/// raw <c>∂L/∂Wa += δa x</c>, <c>∂L/∂Wm += δz log(|x|+ε)</c>, <c>∂L/∂G += δgate x</c>;
/// <c>∂L/∂x = δa Wa + δgate G + (δz Wm)·sign(x)/(|x|+ε)</c>.
/// </remarks>
public readonly struct NaluUnit : IUnit
{
    private readonly int _inputs;
    private readonly int _outputs;
    // An int, not a bool: ILGPU 1.5.3 rejects bool fields in kernel-parameter structs.
    private readonly int _untied;
    private readonly int _inputIndependentGate;

    /// <summary>
    /// A NALU with the given widths; <paramref name="untied"/> gives each path its own weights,
    /// <paramref name="inputIndependentGate"/> makes the gate <c>σ(G_o)</c>, one value per output.
    /// </summary>
    public NaluUnit(int inputs, int outputs, bool untied = false, bool inputIndependentGate = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputs, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputs, 1);
        _inputs = inputs;
        _outputs = outputs;
        _untied = untied ? 1 : 0;
        _inputIndependentGate = inputIndependentGate ? 1 : 0;
    }

    /// <summary>Whether the additive and multiplicative paths have separate weights.</summary>
    public bool Untied => _untied != 0;
    /// <summary>Whether the gate is <c>σ(G_o)</c> (G of size O) rather than <c>σ(x Gᵀ)</c>.</summary>
    public bool InputIndependentGate => _inputIndependentGate != 0;
    /// <inheritdoc />
    public int Inputs => _inputs;
    /// <inheritdoc />
    public int Outputs => _outputs;
    /// <inheritdoc />
    public int ParameterCount => (Untied ? 4 : 2) * _inputs * _outputs + (InputIndependentGate ? _outputs : _inputs * _outputs);
    /// <inheritdoc />
    public int CacheCount => (Untied ? 2 : 1) * _inputs * _outputs;
    /// <inheritdoc />
    public int ElementCount => _inputs * _outputs;
    /// <inheritdoc />
    public int SavedCount => 4 * _outputs + _inputs;

    // Offsets of the matrices inside the parameter block and the cache.
    private int Weights => _inputs * _outputs;
    private int MultWHat => Untied ? 2 * Weights : 0;
    private int MultMHat => Untied ? 3 * Weights : Weights;
    private int Gate => Untied ? 4 * Weights : 2 * Weights;
    private int MultCache => Untied ? Weights : 0;

    /// <inheritdoc />
    public void PrepareCache<TMem>(int element, TMem parameters, int paramOffset, TMem cache, int cacheOffset)
        where TMem : struct, IFloatMemory
    {
        cache[cacheOffset + element] = UnitMath.NacWeight(
            parameters[paramOffset + element], parameters[paramOffset + Weights + element]);
        if (Untied)
        {
            cache[cacheOffset + MultCache + element] = UnitMath.NacWeight(
                parameters[paramOffset + MultWHat + element], parameters[paramOffset + MultMHat + element]);
        }
    }

    /// <inheritdoc />
    public void Forward<TMem>(
        SampleContext context, TMem parameters, int paramOffset, TMem cache, int cacheOffset,
        TMem x, int xOffset, TMem y, int yOffset, TMem saved, int savedOffset)
        where TMem : struct, IFloatMemory
    {
        int outputs = _outputs, inputs = _inputs;
        int logs = savedOffset + 4 * outputs;
        saved.StoreLogAbs(logs, x, xOffset, inputs);

        int gate = paramOffset + Gate;
        int multCache = cacheOffset + MultCache;
        for (int o = 0; o < outputs; o++)
        {
            int row = o * inputs;
            float a = cache.Dot(cacheOffset + row, x, xOffset, inputs);
            float z = cache.Dot(multCache + row, saved, logs, inputs);
            float gz = InputIndependentGate ? parameters[gate + o] : parameters.Dot(gate + row, x, xOffset, inputs);
            float m = UnitMath.ClampedExp(z);
            float g = UnitMath.Sigmoid(gz);
            int s = savedOffset + 4 * o;
            saved[s] = a;
            saved[s + 1] = m;
            saved[s + 2] = g;
            saved[s + 3] = z;
            y[yOffset + o] = g * a + (1f - g) * m;
        }
    }

    /// <inheritdoc />
    public void Backward<TMem>(
        SampleContext context, TMem parameters, int paramOffset, TMem cache, int cacheOffset,
        TMem x, int xOffset, TMem saved, int savedOffset, TMem dy, int dyOffset,
        TMem grad, int gradOffset, bool needInputGradient, TMem dx, int dxOffset)
        where TMem : struct, IFloatMemory
    {
        int outputs = _outputs, inputs = _inputs;
        int logs = savedOffset + 4 * outputs;
        int gate = paramOffset + Gate;
        int multCache = cacheOffset + MultCache;
        int gradMult = gradOffset + MultWHat;
        int gradGate = gradOffset + Gate;

        // dx accumulates the additive/gate part and, separately, the log-path part that is scaled
        // by sign(x)/(|x|+ε) at the end; the log part is parked in dx after the first loop.
        if (needInputGradient)
        {
            for (int i = 0; i < inputs; i++)
                dx[dxOffset + i] = 0f;
        }

        // Pass 1: the log-space part of dx, so a single scratch row suffices.
        if (needInputGradient)
        {
            for (int o = 0; o < outputs; o++)
            {
                float dz = MultiplicativeDelta(saved, savedOffset + 4 * o, dy[dyOffset + o]);
                dx.AddScaled(dxOffset, dz, cache, multCache + o * inputs, inputs);
            }

            for (int i = 0; i < inputs; i++)
                dx[dxOffset + i] *= UnitMath.LogAbsDerivative(x[xOffset + i]);
        }

        // Pass 2: weight gradients and the additive and gate parts of dx.
        for (int o = 0; o < outputs; o++)
        {
            int s = savedOffset + 4 * o;
            float delta = dy[dyOffset + o];
            float a = saved[s], m = saved[s + 1], g = saved[s + 2];
            float da = delta * g;
            float dz = MultiplicativeDelta(saved, s, delta);
            float dgate = delta * (a - m) * g * (1f - g);
            int row = o * inputs;
            grad.AddScaled(gradOffset + row, da, x, xOffset, inputs);
            grad.AddScaled(gradMult + row, dz, saved, logs, inputs);
            if (InputIndependentGate)
                grad[gradGate + o] += dgate;
            else
                grad.AddScaled(gradGate + row, dgate, x, xOffset, inputs);
            if (needInputGradient)
            {
                dx.AddScaled(dxOffset, da, cache, cacheOffset + row, inputs);
                if (!InputIndependentGate)
                    dx.AddScaled(dxOffset, dgate, parameters, gate + row, inputs);
            }
        }
    }

    /// <summary><c>δ(1−g)·m</c>, the gradient of the exponent z; zero where the exponent was clamped.</summary>
    private static float MultiplicativeDelta<TMem>(TMem saved, int s, float delta)
        where TMem : struct, IFloatMemory =>
        UnitMath.IsClamped(saved[s + 3]) ? 0f : delta * (1f - saved[s + 2]) * saved[s + 1];

    /// <inheritdoc />
    public void FinishGradient<TMem>(int element, TMem parameters, int paramOffset, TMem grad, int gradOffset)
        where TMem : struct, IFloatMemory
    {
        int weights = Weights;
        var additive = UnitMath.NacWeightBackward(
            grad[gradOffset + element], parameters[paramOffset + element], parameters[paramOffset + weights + element]);
        grad[gradOffset + element] = additive.WHat;
        grad[gradOffset + weights + element] = additive.MHat;
        if (Untied)
        {
            var multiplicative = UnitMath.NacWeightBackward(
                grad[gradOffset + MultWHat + element],
                parameters[paramOffset + MultWHat + element],
                parameters[paramOffset + MultMHat + element]);
            grad[gradOffset + MultWHat + element] = multiplicative.WHat;
            grad[gradOffset + MultMHat + element] = multiplicative.MHat;
        }

        // The gate G is used directly, so its raw gradient is already final.
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
