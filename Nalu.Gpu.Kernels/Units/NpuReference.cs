namespace Nalu.Gpu.Kernels.Units;

/// <summary>
/// Plain double-precision reference of <see cref="NpuUnit"/> (complex NPU, Heim et al. 2020): the executable
/// specification the kernels are checked against.
/// </summary>
/// <remarks>
/// Parameters: <c>[W_re (O×I), W_im (O×I), g (I)]</c>, row-major.
/// <code>
/// ĝ = clamp(g, 0, 1),  R = ĝ ⊙ (|X| + ε) + (1 − ĝ),  K = ĝ ⊙ [X &lt; 0]        (B×I)
/// RE = log R W_reᵀ − π K W_imᵀ,  IM = log R W_imᵀ + π K W_reᵀ                   (B×O)
/// Y = exp(min(RE, 88)) ⊙ cos(IM)
/// </code>
/// Backward with δ = ∂L/∂Y: <c>δre = δ e^RE cos IM [RE &lt; 88]</c>, <c>δim = −δ e^RE sin IM [RE &lt; 88]</c> (a clamped
/// output passes no gradient);
/// <c>∂L/∂W_re = δreᵀ log R + π δimᵀ K</c>, <c>∂L/∂W_im = δimᵀ log R − π δreᵀ K</c>;
/// <c>Λ = δre W_re + δim W_im</c>, <c>Κ = π(δim W_re − δre W_im)</c> (B×I);
/// <c>∂L/∂g = [0 ≤ g ≤ 1] Σ_b (Λ (|X|+ε−1)/R + Κ [X&lt;0])</c>; <c>∂L/∂X = Λ ĝ sign(X)/R</c>, sign(0) = 0.
/// </remarks>
public static class NpuReference
{
    /// <summary>Number of parameters: 2·O·I + I.</summary>
    public static int ParameterCount(int inputs, int outputs) => 2 * inputs * outputs + inputs;

    /// <summary>Forward pass (B×O).</summary>
    public static double[] Forward(ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, int batch, int inputs, int outputs) =>
        ForwardCore(parameters, x, batch, inputs, outputs, real: false);

    /// <summary>Backward pass given <paramref name="dy"/> = ∂L/∂Y: the parameter gradient (summed over the batch) and ∂L/∂X.</summary>
    public static (double[] ParameterGradient, double[] InputGradient) Backward(
        ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, ReadOnlySpan<double> dy, int batch, int inputs, int outputs) =>
        BackwardCore(parameters, x, dy, batch, inputs, outputs, real: false);

    /// <summary>
    /// The L1 penalty <c>β(step)·Σ|W|</c> over W_re and W_im (not g), or a sparsity kind's mean, as the unit's
    /// <see cref="NpuUnit.Regularize"/> differentiates it.
    /// </summary>
    public static double Penalty(ReadOnlySpan<double> parameters, int inputs, int outputs, RegularizerSettings regularizer, int step) =>
        ReferenceMath.Penalty(parameters[..(2 * inputs * outputs)], regularizer, step);

    internal static double[] ForwardCore(ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, int batch, int inputs, int outputs, bool real)
    {
        ReferenceMath.CheckShapes(parameters, Count(inputs, outputs, real), x, batch, inputs, outputs);
        var y = new double[batch * outputs];
        var logR = new double[inputs];
        var k = new double[inputs];
        for (int b = 0; b < batch; b++)
        {
            Inputs(parameters, x.Slice(b * inputs, inputs), inputs, outputs, real, logR, k);
            for (int o = 0; o < outputs; o++)
            {
                var (re, im) = Exponents(parameters, logR, k, o, inputs, outputs, real);
                y[b * outputs + o] = Math.Exp(Math.Min(re, ReferenceMath.MaxExponent)) * Math.Cos(im);
            }
        }

        return y;
    }

    internal static (double[] ParameterGradient, double[] InputGradient) BackwardCore(
        ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, ReadOnlySpan<double> dy, int batch, int inputs, int outputs, bool real)
    {
        ReferenceMath.CheckShapes(parameters, Count(inputs, outputs, real), x, batch, inputs, outputs);
        ReferenceMath.CheckLength(dy, batch * outputs, nameof(dy));
        int n = inputs * outputs, gate = (real ? 1 : 2) * n;
        var gradient = new double[parameters.Length];
        var dx = new double[batch * inputs];
        var logR = new double[inputs];
        var k = new double[inputs];
        var dre = new double[outputs];
        var dim = new double[outputs];
        for (int b = 0; b < batch; b++)
        {
            Inputs(parameters, x.Slice(b * inputs, inputs), inputs, outputs, real, logR, k);
            for (int o = 0; o < outputs; o++)
            {
                var (re, im) = Exponents(parameters, logR, k, o, inputs, outputs, real);
                double e = Math.Exp(Math.Min(re, ReferenceMath.MaxExponent)), delta = dy[b * outputs + o];
                if (ReferenceMath.IsClamped(re))
                    delta = 0;
                dre[o] = delta * e * Math.Cos(im);
                dim[o] = -delta * e * Math.Sin(im);
            }

            for (int i = 0; i < inputs; i++)
            {
                double lambda = 0, kappa = 0;
                for (int o = 0; o < outputs; o++)
                {
                    int w = o * inputs + i;
                    gradient[w] += dre[o] * logR[i] + Math.PI * dim[o] * k[i];
                    lambda += dre[o] * parameters[w];
                    kappa += Math.PI * dim[o] * parameters[w];
                    if (!real)
                    {
                        gradient[n + w] += dim[o] * logR[i] - Math.PI * dre[o] * k[i];
                        lambda += dim[o] * parameters[n + w];
                        kappa -= Math.PI * dre[o] * parameters[n + w];
                    }
                }

                double xi = x[b * inputs + i], gRaw = parameters[gate + i], g = Math.Clamp(gRaw, 0, 1);
                double absX = Math.Abs(xi) + ReferenceMath.Epsilon, r = g * absX + 1 - g;
                if (gRaw is >= 0 and <= 1)
                    gradient[gate + i] += lambda * (absX - 1) / r + (xi < 0 ? kappa : 0);
                dx[b * inputs + i] = xi > 0 ? lambda * g / r : xi < 0 ? -lambda * g / r : 0;
            }
        }

        return (gradient, dx);
    }

    internal static int Count(int inputs, int outputs, bool real) => (real ? 1 : 2) * inputs * outputs + inputs;

    private static void Inputs(ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, int inputs, int outputs, bool real, double[] logR, double[] k)
    {
        int gate = (real ? 1 : 2) * inputs * outputs;
        for (int i = 0; i < inputs; i++)
        {
            double g = Math.Clamp(parameters[gate + i], 0, 1);
            logR[i] = Math.Log(g * (Math.Abs(x[i]) + ReferenceMath.Epsilon) + 1 - g);
            k[i] = x[i] < 0 ? g : 0;
        }
    }

    private static (double Re, double Im) Exponents(
        ReadOnlySpan<double> parameters, double[] logR, double[] k, int o, int inputs, int outputs, bool real)
    {
        int n = inputs * outputs;
        double re = 0, im = 0;
        for (int i = 0; i < inputs; i++)
        {
            double wre = parameters[o * inputs + i], wim = real ? 0 : parameters[n + o * inputs + i];
            re += wre * logR[i] - Math.PI * wim * k[i];
            im += wim * logR[i] + Math.PI * wre * k[i];
        }

        return (re, im);
    }
}

/// <summary>
/// Plain double-precision reference of <see cref="RealNpuUnit"/>: <see cref="NpuReference"/> with <c>W_im ≡ 0</c>.
/// </summary>
/// <remarks>
/// Parameters: <c>[W_re (O×I), g (I)]</c>. <c>Y = exp(min(log R W_reᵀ, 88)) ⊙ cos(π K W_reᵀ)</c>; the backward is
/// <see cref="NpuReference"/>'s with the W_im terms dropped.
/// </remarks>
public static class RealNpuReference
{
    /// <summary>Number of parameters: O·I + I.</summary>
    public static int ParameterCount(int inputs, int outputs) => inputs * outputs + inputs;

    /// <summary>Forward pass (B×O).</summary>
    public static double[] Forward(ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, int batch, int inputs, int outputs) =>
        NpuReference.ForwardCore(parameters, x, batch, inputs, outputs, real: true);

    /// <summary>Backward pass given <paramref name="dy"/> = ∂L/∂Y: the parameter gradient (summed over the batch) and ∂L/∂X.</summary>
    public static (double[] ParameterGradient, double[] InputGradient) Backward(
        ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, ReadOnlySpan<double> dy, int batch, int inputs, int outputs) =>
        NpuReference.BackwardCore(parameters, x, dy, batch, inputs, outputs, real: true);

    /// <summary>The L1 penalty <c>β(step)·Σ|W_re|</c> (g excluded).</summary>
    public static double Penalty(ReadOnlySpan<double> parameters, int inputs, int outputs, RegularizerSettings regularizer, int step) =>
        ReferenceMath.Penalty(parameters[..(inputs * outputs)], regularizer, step);
}
