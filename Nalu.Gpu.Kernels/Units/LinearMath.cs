namespace Nalu.Gpu.Kernels.Units;

/// <summary>
/// The linear map <c>y = x Wᵀ</c> (no bias) and its backward, shared by the units whose output is exactly that: the NAC
/// (W = tanh(Ŵ)·σ(M̂), read from the cache) and the NAU (W used directly, read from the parameters). W is O×I,
/// row-major, at <c>wOffset</c> of <c>w</c>.
/// </summary>
public static class LinearMath
{
    /// <summary><c>y_o = Σᵢ W_oi x_i</c> for every output (overwrites y).</summary>
    public static void Forward<TMem>(TMem w, int wOffset, int inputs, int outputs, TMem x, int xOffset, TMem y, int yOffset)
        where TMem : struct, IFloatMemory
    {
        for (int o = 0; o < outputs; o++)
            y[yOffset + o] = w.Dot(wOffset + o * inputs, x, xOffset, inputs);
    }

    /// <summary>
    /// From <c>δ = ∂L/∂y</c>: ACCUMULATES the raw <c>∂L/∂W += δ xᵀ</c> at <c>gradOffset</c>, and when asked OVERWRITES
    /// <c>dx = δ W</c>.
    /// </summary>
    public static void Backward<TMem>(
        TMem w, int wOffset, int inputs, int outputs, TMem x, int xOffset, TMem dy, int dyOffset,
        TMem grad, int gradOffset, bool needInputGradient, TMem dx, int dxOffset)
        where TMem : struct, IFloatMemory
    {
        if (needInputGradient)
        {
            for (int i = 0; i < inputs; i++)
                dx[dxOffset + i] = 0f;
        }

        for (int o = 0; o < outputs; o++)
        {
            float delta = dy[dyOffset + o];
            int row = o * inputs;
            grad.AddScaled(gradOffset + row, delta, x, xOffset, inputs);
            if (needInputGradient)
                dx.AddScaled(dxOffset, delta, w, wOffset + row, inputs);
        }
    }
}
