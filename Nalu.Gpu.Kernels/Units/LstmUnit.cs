namespace Nalu.Gpu.Kernels.Units;

/// <summary>
/// One step of a long short-term memory cell (Hochreiter &amp; Schmidhuber 1997, in PyTorch's form), as a unit that
/// <c>RecurrentUnit&lt;TCell&gt;</c> runs through time. It reads <c>z = [x_t (F), h_{t−1} (H), c_{t−1} (H)]</c> and
/// writes <c>[h_t (H), c_t (H)]</c>, the whole state the next step reads back. With <c>u = [x_t, h_{t−1}]</c> (F + H
/// values), for each hidden k:
/// <code>
/// i = σ(W_i u + b_i),  f = σ(W_f u + b_f + forgetBias),  g = tanh(W_g u + b_g),  o = σ(W_o u + b_o)
/// c_t = f·c_{t−1} + i·g,  h_t = o·tanh(c_t)
/// </code>
/// </summary>
/// <remarks>
/// <para>
/// Parameters: W, (4H)×(F+H) row-major, gate blocks in PyTorch's order i, f, g, o (rows <c>0..H−1</c> are i, then f,
/// g, o), then b (4H) in the same order: <c>4H(F+H) + 4H</c> values. From <c>torch.nn.LSTMCell</c>: row r of W is
/// <c>[weight_ih[r], weight_hh[r]]</c> and <c>b = bias_ih + bias_hh</c>. <c>forgetBias</c> (1 by default, as in the NALU
/// papers' code) is a constant inside f, not a parameter.
/// No cache: the weights are used as they are, so raw gradients are final.
/// </para>
/// <para>
/// Saved per sample (5H): <c>[i (H), f (H), g (H), o (H), tanh(c_t) (H)]</c>. <c>c_{t−1}</c> is not saved: the backward
/// reads it again from its input z at offset F + H, and u from z's first F + H values.
/// </para>
/// <para>
/// Backward, with <c>δh = ∂L/∂h_t</c> and <c>δc = ∂L/∂c_t</c> (the gradient from the next step; both halves of dy):
/// <c>δc_total = δc + δh·o·(1 − tanh²c_t)</c>; pre-activation deltas <c>δa_i = δc_total·g·i(1−i)</c>,
/// <c>δa_f = δc_total·c_{t−1}·f(1−f)</c>, <c>δa_g = δc_total·i·(1−g²)</c>, <c>δa_o = δh·tanh(c_t)·o(1−o)</c>;
/// <c>∂L/∂W_row += δa_row·u</c>, <c>∂L/∂b_row += δa_row</c>; <c>∂L/∂u = Σ_rows δa_row·W_row</c>,
/// <c>∂L/∂c_{t−1} = δc_total·f</c>. The backward ACCUMULATES into grad and, when asked, OVERWRITES all F + 2H values of dx.
/// </para>
/// <para>
/// y must not overlap x, and dx must not overlap x or dy: the forward reads all of u for every k, and the backward
/// zeroes dx before it has read every δ (<c>RecurrentUnit&lt;TCell&gt;</c> keeps them apart).
/// </para>
/// </remarks>
public readonly struct LstmUnit : IUnit
{
    private readonly int _inputsPerStep;
    private readonly int _hidden;
    private readonly float _forgetBias;

    /// <summary>
    /// An LSTM cell reading <paramref name="inputsPerStep"/> values per step with <paramref name="hidden"/> hidden units;
    /// <paramref name="forgetBias"/> is the constant added to the forget gate's pre-activation.
    /// </summary>
    public LstmUnit(int inputsPerStep, int hidden, float forgetBias = 1f)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputsPerStep, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(hidden, 1);
        if (!float.IsFinite(forgetBias))
            throw new ArgumentOutOfRangeException(nameof(forgetBias), forgetBias, "The forget bias must be finite.");
        // ParameterCount, 4H(F+H) + 4H, must fit an int.
        if (4L * hidden * ((long)inputsPerStep + hidden + 1) > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(hidden), hidden, $"An LSTM of {inputsPerStep} inputs and {hidden} hidden units is too large.");
        _inputsPerStep = inputsPerStep;
        _hidden = hidden;
        _forgetBias = forgetBias;
    }

    /// <summary>F, the values that arrive per step.</summary>
    public int InputsPerStep => _inputsPerStep;
    /// <summary>H, the hidden units (h and c have H values each).</summary>
    public int Hidden => _hidden;
    /// <summary>The constant added to the forget gate's pre-activation.</summary>
    public float ForgetBias => _forgetBias;
    /// <inheritdoc />
    public int Inputs => _inputsPerStep + 2 * _hidden;
    /// <inheritdoc />
    public int Outputs => 2 * _hidden;
    /// <inheritdoc />
    public int ParameterCount => 4 * _hidden * (_inputsPerStep + _hidden) + 4 * _hidden;
    /// <inheritdoc />
    public int CacheCount => 0;
    /// <inheritdoc />
    // One work item per parameter, though every per-element hook is a no-op: nothing to refresh, finish or clamp.
    public int ElementCount => ParameterCount;
    /// <inheritdoc />
    public int SavedCount => 5 * _hidden;

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
        int hidden = _hidden, width = _inputsPerStep + hidden;   // u = x[xOffset..+width]
        int gateRows = hidden * width;                            // floats of one gate's block of W
        int bias = paramOffset + 4 * gateRows;
        int cPrev = xOffset + width;
        for (int k = 0; k < hidden; k++)
        {
            int row = paramOffset + k * width;
            float i = UnitMath.Sigmoid(parameters[bias + k] + parameters.Dot(row, x, xOffset, width));
            float f = UnitMath.Sigmoid(parameters[bias + hidden + k] + _forgetBias + parameters.Dot(row + gateRows, x, xOffset, width));
            float g = MathF.Tanh(parameters[bias + 2 * hidden + k] + parameters.Dot(row + 2 * gateRows, x, xOffset, width));
            float o = UnitMath.Sigmoid(parameters[bias + 3 * hidden + k] + parameters.Dot(row + 3 * gateRows, x, xOffset, width));
            float c = f * x[cPrev + k] + i * g;
            float tanhC = MathF.Tanh(c);
            saved[savedOffset + k] = i;
            saved[savedOffset + hidden + k] = f;
            saved[savedOffset + 2 * hidden + k] = g;
            saved[savedOffset + 3 * hidden + k] = o;
            saved[savedOffset + 4 * hidden + k] = tanhC;
            y[yOffset + k] = o * tanhC;
            y[yOffset + hidden + k] = c;
        }
    }

    /// <inheritdoc />
    public void Backward<TMem>(
        SampleContext context, TMem parameters, int paramOffset, TMem cache, int cacheOffset,
        TMem x, int xOffset, TMem saved, int savedOffset, TMem dy, int dyOffset,
        TMem grad, int gradOffset, bool needInputGradient, TMem dx, int dxOffset)
        where TMem : struct, IFloatMemory
    {
        int hidden = _hidden, width = _inputsPerStep + hidden;
        int gateRows = hidden * width;
        int gradBias = gradOffset + 4 * gateRows;
        int cPrev = xOffset + width;

        // ∂L/∂u is a sum over all 4H rows, so it is built up in dx; ∂L/∂c_{t−1} has one term per k and is set below.
        if (needInputGradient)
        {
            for (int j = 0; j < width; j++)
                dx[dxOffset + j] = 0f;
        }

        for (int k = 0; k < hidden; k++)
        {
            int s = savedOffset + k;
            float i = saved[s], f = saved[s + hidden], g = saved[s + 2 * hidden], o = saved[s + 3 * hidden], tanhC = saved[s + 4 * hidden];
            float dh = dy[dyOffset + k];
            // c_t reaches the loss directly (the next step's state) and through h_t = o·tanh(c_t).
            float dc = dy[dyOffset + hidden + k] + dh * o * (1f - tanhC * tanhC);
            float di = dc * g * i * (1f - i);
            float df = dc * x[cPrev + k] * f * (1f - f);
            float dg = dc * i * (1f - g * g);
            float dout = dh * tanhC * o * (1f - o);

            int row = k * width;
            grad.AddScaled(gradOffset + row, di, x, xOffset, width);
            grad.AddScaled(gradOffset + gateRows + row, df, x, xOffset, width);
            grad.AddScaled(gradOffset + 2 * gateRows + row, dg, x, xOffset, width);
            grad.AddScaled(gradOffset + 3 * gateRows + row, dout, x, xOffset, width);
            grad[gradBias + k] += di;
            grad[gradBias + hidden + k] += df;
            grad[gradBias + 2 * hidden + k] += dg;
            grad[gradBias + 3 * hidden + k] += dout;

            if (needInputGradient)
            {
                dx.AddScaled(dxOffset, di, parameters, paramOffset + row, width);
                dx.AddScaled(dxOffset, df, parameters, paramOffset + gateRows + row, width);
                dx.AddScaled(dxOffset, dg, parameters, paramOffset + 2 * gateRows + row, width);
                dx.AddScaled(dxOffset, dout, parameters, paramOffset + 3 * gateRows + row, width);
                dx[dxOffset + width + k] = dc * f;
            }
        }
    }

    /// <inheritdoc />
    public void FinishGradient<TMem>(int element, TMem parameters, int paramOffset, TMem grad, int gradOffset)
        where TMem : struct, IFloatMemory
    {
        // Raw gradients are final: W and b are used as they are.
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
