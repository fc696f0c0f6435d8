namespace Nalu.Gpu.Kernels.Units;

/// <summary>
/// Plain double-precision reference of <see cref="SnmuUnit"/>: the executable specification the kernels are checked against.
/// </summary>
/// <remarks>
/// Parameters: W (O×I). With the noise N (B×I; null: inference, the plain <see cref="NmuReference"/>), <c>U = X ⊙ N</c>,
/// <c>P = NMU(U)</c>, <c>Q = NMU(N)</c>, <c>Y = P / Q</c>. Backward with δ = ∂L/∂Y: <c>∂L/∂W = NMU′_W(U; δ/Q) + NMU′_W(N; −δP/Q²)</c>,
/// <c>∂L/∂X = N ⊙ NMU′_x(U; δ/Q)</c>, where <c>NMU′(·; d)</c> is <see cref="NmuReference.Backward"/> with output gradient d.
/// </remarks>
public static class SnmuReference
{
    /// <summary>Number of parameters: O·I.</summary>
    public static int ParameterCount(int inputs, int outputs) => inputs * outputs;

    /// <summary>
    /// The noise a training pass draws for a batch of <paramref name="batch"/> samples of <paramref name="step"/> of the model
    /// seeded <paramref name="seed"/> (B×I), as the kernels draw it (float, then widened).
    /// </summary>
    public static double[] Noise(int seed, int step, int batch, int inputs)
    {
        var n = new double[batch * inputs];
        for (int b = 0; b < batch; b++)
        {
            var context = new SampleContext(seed, step, b, true);
            for (int i = 0; i < inputs; i++)
                n[b * inputs + i] = SnmuUnit.Noise(context, inputs, i);
        }

        return n;
    }

    /// <summary>Forward pass (B×O); <paramref name="noise"/> null is inference (the plain NMU).</summary>
    public static double[] Forward(ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, double[]? noise, int batch, int inputs, int outputs)
    {
        ReferenceMath.CheckShapes(parameters, ParameterCount(inputs, outputs), x, batch, inputs, outputs);
        if (noise is null)
            return NmuReference.Forward(parameters, x, batch, inputs, outputs);
        ReferenceMath.CheckLength(noise, batch * inputs, nameof(noise));
        var u = Multiply(x, noise);
        var p = NmuReference.Forward(parameters, u, batch, inputs, outputs);
        var q = NmuReference.Forward(parameters, noise, batch, inputs, outputs);
        for (int k = 0; k < p.Length; k++)
            p[k] /= q[k];
        return p;
    }

    /// <summary>Backward pass given <paramref name="dy"/> = ∂L/∂Y: the parameter gradient (summed over the batch) and ∂L/∂X.</summary>
    public static (double[] ParameterGradient, double[] InputGradient) Backward(
        ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, double[]? noise, ReadOnlySpan<double> dy, int batch, int inputs, int outputs)
    {
        ReferenceMath.CheckShapes(parameters, ParameterCount(inputs, outputs), x, batch, inputs, outputs);
        ReferenceMath.CheckLength(dy, batch * outputs, nameof(dy));
        if (noise is null)
            return NmuReference.Backward(parameters, x, dy, batch, inputs, outputs);
        ReferenceMath.CheckLength(noise, batch * inputs, nameof(noise));
        var u = Multiply(x, noise);
        var p = NmuReference.Forward(parameters, u, batch, inputs, outputs);
        var q = NmuReference.Forward(parameters, noise, batch, inputs, outputs);
        var dp = new double[dy.Length];
        var dq = new double[dy.Length];
        for (int k = 0; k < dy.Length; k++)
        {
            dp[k] = dy[k] / q[k];
            dq[k] = -dy[k] * p[k] / (q[k] * q[k]);
        }

        var (gp, du) = NmuReference.Backward(parameters, u, dp, batch, inputs, outputs);
        var (gq, _) = NmuReference.Backward(parameters, noise, dq, batch, inputs, outputs);
        for (int k = 0; k < gp.Length; k++)
            gp[k] += gq[k];
        for (int k = 0; k < du.Length; k++)
            du[k] *= noise[k];
        return (gp, du);
    }

    private static double[] Multiply(ReadOnlySpan<double> x, double[] noise)
    {
        var u = new double[x.Length];
        for (int k = 0; k < u.Length; k++)
            u[k] = x[k] * noise[k];
        return u;
    }
}
