namespace Nalu.Gpu.Kernels.Units;

/// <summary>
/// Plain double-precision reference of <see cref="NaluUnit"/>, tied and untied, batched and in matrix
/// form: the executable specification the kernels are checked against.
/// </summary>
/// <remarks>
/// Parameters, each O×I row-major: tied <c>[Ŵ, M̂, G]</c>; untied <c>[Ŵa, M̂a, Ŵm, M̂m, G]</c>. With the
/// input-independent gate, G has O values and <c>g = σ(G)</c> (broadcast over the batch), <c>∂L/∂G = Σ_b δg</c>, and
/// the gate term of ∂L/∂X is dropped.
/// <code>
/// Wa = tanh(Ŵa) ⊙ σ(M̂a),  Wm = tanh(Ŵm) ⊙ σ(M̂m)   (tied: Wm = Wa)
/// A = X Waᵀ,  Λ = log(|X| + ε),  Z = Λ Wmᵀ,  M = exp(min(Z, 88)),  g = σ(X Gᵀ)
/// Y = g ⊙ A + (1 − g) ⊙ M
/// </code>
/// Backward with δ = ∂L/∂Y: <c>δa = δ g</c>, <c>δz = δ (1 − g) M [Z &lt; 88]</c>, <c>δg = δ (A − M) g (1 − g)</c>;
/// <c>∂L/∂Wa = δaᵀ X</c>, <c>∂L/∂Wm = δzᵀ Λ</c> (tied: ∂L/∂W is their sum), each then through tanh·σ;
/// <c>∂L/∂G = δgᵀ X</c>; <c>∂L/∂X = δa Wa + δg G + (δz Wm) ⊙ sign(X)/(|X| + ε)</c>, sign(0) = 0.
/// </remarks>
public static class NaluReference
{
    /// <summary>Number of parameters: 3·O·I tied, 5·O·I untied.</summary>
    public static int ParameterCount(int inputs, int outputs, bool untied = false, bool inputIndependentGate = false) =>
        (untied ? 4 : 2) * inputs * outputs + (inputIndependentGate ? outputs : inputs * outputs);

    /// <summary>Forward pass: <c>Y = g ⊙ A + (1 − g) ⊙ M</c> (B×O).</summary>
    public static double[] Forward(
        ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, int batch, int inputs, int outputs, bool untied = false,
        bool inputIndependentGate = false)
    {
        ReferenceMath.CheckShapes(parameters, ParameterCount(inputs, outputs, untied, inputIndependentGate), x, batch, inputs, outputs);
        var (wa, wm) = EffectiveWeights(parameters, inputs * outputs, untied);
        var gate = parameters[GateOffset(inputs * outputs, untied)..];
        var a = ReferenceMath.MultiplyTransposed(x, wa, batch, inputs, outputs);
        var z = ReferenceMath.MultiplyTransposed(ReferenceMath.LogAbs(x), wm, batch, inputs, outputs);
        var m = ReferenceMath.ClampedExp(z);
        var gz = GateInputs(x, gate, batch, inputs, outputs, inputIndependentGate);
        var y = new double[batch * outputs];
        for (int k = 0; k < y.Length; k++)
        {
            double g = ReferenceMath.Sigmoid(gz[k]);
            y[k] = g * a[k] + (1 - g) * m[k];
        }

        return y;
    }

    /// <summary>
    /// Backward pass given <paramref name="dy"/> = ∂L/∂Y (B×O): the gradient with respect to the parameter
    /// layout (through tanh·σ, summed over the batch) and ∂L/∂X (B×I).
    /// </summary>
    public static (double[] ParameterGradient, double[] InputGradient) Backward(
        ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, ReadOnlySpan<double> dy,
        int batch, int inputs, int outputs, bool untied = false, bool inputIndependentGate = false)
    {
        ReferenceMath.CheckShapes(parameters, ParameterCount(inputs, outputs, untied, inputIndependentGate), x, batch, inputs, outputs);
        ReferenceMath.CheckLength(dy, batch * outputs, nameof(dy));
        int n = inputs * outputs;
        var (wa, wm) = EffectiveWeights(parameters, n, untied);
        var gate = parameters[GateOffset(n, untied)..];
        var logs = ReferenceMath.LogAbs(x);                                              // Λ  (B, I)
        var a = ReferenceMath.MultiplyTransposed(x, wa, batch, inputs, outputs);        // A  (B, O)
        var z = ReferenceMath.MultiplyTransposed(logs, wm, batch, inputs, outputs);     // Z  (B, O)
        var m = ReferenceMath.ClampedExp(z);                                             // M  (B, O)
        var gz = GateInputs(x, gate, batch, inputs, outputs, inputIndependentGate);      //    (B, O)

        var da = new double[batch * outputs];
        var dz = new double[batch * outputs];
        var dg = new double[batch * outputs];
        for (int k = 0; k < da.Length; k++)
        {
            double g = ReferenceMath.Sigmoid(gz[k]);
            da[k] = dy[k] * g;
            dz[k] = ReferenceMath.IsClamped(z[k]) ? 0 : dy[k] * (1 - g) * m[k];
            dg[k] = dy[k] * (a[k] - m[k]) * g * (1 - g);
        }

        var gradWa = ReferenceMath.TransposedMultiply(da, x, batch, outputs, inputs);    // δaᵀ X  (O, I)
        var gradWm = ReferenceMath.TransposedMultiply(dz, logs, batch, outputs, inputs); // δzᵀ Λ  (O, I)
        double[] gradG;                                                                  // δgᵀ X  (O, I), or Σ_b δg  (O)
        if (inputIndependentGate)
        {
            gradG = new double[outputs];
            for (int k = 0; k < dg.Length; k++)
                gradG[k % outputs] += dg[k];
        }
        else
        {
            gradG = ReferenceMath.TransposedMultiply(dg, x, batch, outputs, inputs);
        }

        double[] parameterGradient;
        if (untied)
        {
            var (aWHat, aMHat) = NacReference.WeightBackward(gradWa, parameters[..n], parameters[n..(2 * n)]);
            var (mWHat, mMHat) = NacReference.WeightBackward(gradWm, parameters[(2 * n)..(3 * n)], parameters[(3 * n)..(4 * n)]);
            parameterGradient = [.. aWHat, .. aMHat, .. mWHat, .. mMHat, .. gradG];
        }
        else
        {
            var gradW = new double[n];
            for (int k = 0; k < n; k++)
                gradW[k] = gradWa[k] + gradWm[k];
            var (wHat, mHat) = NacReference.WeightBackward(gradW, parameters[..n], parameters[n..(2 * n)]);
            parameterGradient = [.. wHat, .. mHat, .. gradG];
        }

        var dxA = ReferenceMath.Multiply(da, wa, batch, outputs, inputs);
        var dxG = inputIndependentGate ? new double[batch * inputs] : ReferenceMath.Multiply(dg, gate, batch, outputs, inputs);
        var dxM = ReferenceMath.Multiply(dz, wm, batch, outputs, inputs);
        var dx = new double[batch * inputs];
        for (int k = 0; k < dx.Length; k++)
            dx[k] = dxA[k] + dxG[k] + dxM[k] * ReferenceMath.LogAbsDerivative(x[k]);
        return (parameterGradient, dx);
    }

    private static int GateOffset(int n, bool untied) => (untied ? 4 : 2) * n;

    /// <summary>The gate's pre-activation (B×O): <c>X Gᵀ</c>, or G broadcast over the batch.</summary>
    private static double[] GateInputs(ReadOnlySpan<double> x, ReadOnlySpan<double> gate, int batch, int inputs, int outputs, bool inputIndependent)
    {
        if (!inputIndependent)
            return ReferenceMath.MultiplyTransposed(x, gate, batch, inputs, outputs);
        var gz = new double[batch * outputs];
        for (int k = 0; k < gz.Length; k++)
            gz[k] = gate[k % outputs];
        return gz;
    }

    private static (double[] Additive, double[] Multiplicative) EffectiveWeights(ReadOnlySpan<double> parameters, int n, bool untied)
    {
        var wa = NacReference.Weights(parameters[..n], parameters[n..(2 * n)]);
        var wm = untied ? NacReference.Weights(parameters[(2 * n)..(3 * n)], parameters[(3 * n)..(4 * n)]) : wa;
        return (wa, wm);
    }
}
