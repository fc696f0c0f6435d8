namespace Nalu.Gpu.Kernels.Units;

/// <summary>
/// The affine part <c>z = x Wᵀ + b</c> shared by the dense units (<see cref="DenseUnit{TActivation}"/>,
/// <see cref="PReluDenseUnit"/>), which differ only in the activation applied to z.
/// Parameter layout at <c>paramOffset</c>: W (O×I, row-major), then b (O).
/// </summary>
public static class AffineMath
{
    /// <summary><c>z_o = b_o + Σᵢ W_oi x_i</c>.</summary>
    public static float PreActivation<TMem>(TMem parameters, int paramOffset, int inputs, int outputs, int o, TMem x, int xOffset)
        where TMem : struct, IFloatMemory =>
        parameters[paramOffset + inputs * outputs + o] + parameters.Dot(paramOffset + o * inputs, x, xOffset, inputs);

    /// <summary>
    /// From <c>δz_o</c>: ACCUMULATES <c>∂L/∂b_o += δz</c> and <c>∂L/∂W_o· += δz x</c>, and when asked
    /// ACCUMULATES <c>dx += δz W_o·</c> (the caller zeroes dx once per sample).
    /// </summary>
    public static void Backward<TMem>(
        TMem parameters, int paramOffset, int inputs, int outputs, int o, float dz, TMem x, int xOffset,
        TMem grad, int gradOffset, bool needInputGradient, TMem dx, int dxOffset)
        where TMem : struct, IFloatMemory
    {
        int row = o * inputs;
        grad[gradOffset + inputs * outputs + o] += dz;
        grad.AddScaled(gradOffset + row, dz, x, xOffset, inputs);
        if (needInputGradient)
            dx.AddScaled(dxOffset, dz, parameters, paramOffset + row, inputs);
    }
}
