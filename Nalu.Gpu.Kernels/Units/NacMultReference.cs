namespace Nalu.Gpu.Kernels.Units;

/// <summary>
/// Plain double-precision reference of <see cref="NacMultUnit"/> (NAC•), batched and in matrix form:
/// the executable specification the kernels are checked against.
/// </summary>
/// <remarks>
/// Parameters: <c>[Ŵ, M̂]</c>, each O×I row-major. With <c>W = tanh(Ŵ) ⊙ σ(M̂)</c>,
/// <c>Λ = log(|X| + ε)</c> (B×I), <c>Z = Λ Wᵀ</c>, <c>Y = exp(min(Z, 88))</c>.
/// Backward with <c>δz = δ ⊙ Y ⊙ [Z &lt; 88]</c> (the clamp passes no gradient):
/// <c>∂L/∂W = δzᵀ Λ</c> (then through tanh·σ as for <see cref="NacReference"/>),
/// <c>∂L/∂X = (δz W) ⊙ sign(X)/(|X| + ε)</c> with sign(0) = 0. ε = 1e-7, as in <see cref="UnitMath"/>.
/// </remarks>
public static class NacMultReference
{
    /// <summary>Number of parameters of a NAC• with the given widths: 2·O·I.</summary>
    public static int ParameterCount(int inputs, int outputs) => 2 * inputs * outputs;

    /// <summary>Forward pass: <c>Y = exp(min(log(|X|+ε) Wᵀ, 88))</c> (B×O).</summary>
    public static double[] Forward(ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, int batch, int inputs, int outputs)
    {
        ReferenceMath.CheckShapes(parameters, ParameterCount(inputs, outputs), x, batch, inputs, outputs);
        int n = inputs * outputs;
        var w = NacReference.Weights(parameters[..n], parameters[n..(2 * n)]);
        var z = ReferenceMath.MultiplyTransposed(ReferenceMath.LogAbs(x), w, batch, inputs, outputs);
        return ReferenceMath.ClampedExp(z);
    }

    /// <summary>
    /// Backward pass given <paramref name="dy"/> = ∂L/∂Y (B×O): the gradient with respect to <c>[Ŵ, M̂]</c>,
    /// summed over the batch, and ∂L/∂X (B×I).
    /// </summary>
    public static (double[] ParameterGradient, double[] InputGradient) Backward(
        ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, ReadOnlySpan<double> dy, int batch, int inputs, int outputs)
    {
        ReferenceMath.CheckShapes(parameters, ParameterCount(inputs, outputs), x, batch, inputs, outputs);
        ReferenceMath.CheckLength(dy, batch * outputs, nameof(dy));
        int n = inputs * outputs;
        var wHat = parameters[..n];
        var mHat = parameters[n..(2 * n)];
        var w = NacReference.Weights(wHat, mHat);
        var logs = ReferenceMath.LogAbs(x);                                                 // Λ   (B, I)
        var z = ReferenceMath.MultiplyTransposed(logs, w, batch, inputs, outputs);          // Z   (B, O)
        var y = ReferenceMath.ClampedExp(z);

        var dz = new double[batch * outputs];                                               // δz  (B, O)
        for (int k = 0; k < dz.Length; k++)
            dz[k] = ReferenceMath.IsClamped(z[k]) ? 0 : dy[k] * y[k];

        var gradW = ReferenceMath.TransposedMultiply(dz, logs, batch, outputs, inputs);    // δzᵀ Λ  (O, I)
        var (gradWHat, gradMHat) = NacReference.WeightBackward(gradW, wHat, mHat);
        var dx = ReferenceMath.Multiply(dz, w, batch, outputs, inputs);                     // δz W   (B, I)
        for (int k = 0; k < dx.Length; k++)
            dx[k] *= ReferenceMath.LogAbsDerivative(x[k]);
        return ([.. gradWHat, .. gradMHat], dx);
    }
}
