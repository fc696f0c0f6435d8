namespace Nalu.Gpu.Kernels;

/// <summary>
/// Plain double-precision reference of one optimizer step, the executable specification that
/// <see cref="OptimizerMath"/>, <see cref="Launch.OptimizerKernels"/> and the fused training step are
/// checked against. Same rules as <c>torch.optim</c> (Adam, SGD with momentum, RMSprop) and the same
/// clipping as <c>torch.nn.utils.clip_grad_value_</c> followed by <c>clip_grad_norm_</c>.
/// </summary>
/// <remarks>
/// State layout, as in the kernels: two slots per parameter, <c>state[2k]</c> and <c>state[2k + 1]</c>:
/// Adam (m, v); SGD (momentum buffer, unused); RMSProp (square average, unused). Steps are 0-based;
/// Adam's bias correction uses <c>t = step + 1</c>. The hyper-parameters are read from the float
/// <see cref="OptimizerSettings"/> and widened to double, so the reference sees the same values the
/// kernels do.
/// </remarks>
public static class OptimizerReference
{
    /// <summary>The constant torch adds to the norm in <c>clip_grad_norm_</c>.</summary>
    public const double NormEpsilon = 1e-6;

    /// <summary>Value clipping: <c>clamp(g, −c, c)</c>, or <c>g</c> when <see cref="OptimizerSettings.ClipValue"/> is 0.</summary>
    public static double ClipValue(OptimizerSettings s, double g)
    {
        double c = s.ClipValue;
        return c > 0 ? Math.Clamp(g, -c, c) : g;
    }

    /// <summary>
    /// The clip-by-norm factor for a gradient of L2 norm <paramref name="norm"/>.
    /// </summary>
    /// <remarks>
    /// <c>clip_coef = max_norm / (norm + 1e-6)</c>, applied only when it is below 1 (torch clamps it to at
    /// most 1); 1 when <see cref="OptimizerSettings.ClipNorm"/> is 0.
    /// </remarks>
    public static double NormScale(OptimizerSettings s, double norm)
    {
        if (s.ClipNorm <= 0f)
            return 1.0;
        double coefficient = s.ClipNorm / (norm + NormEpsilon);
        return coefficient < 1.0 ? coefficient : 1.0;
    }

    /// <summary>
    /// The gradient one model's update sees: each element value-clipped, then the whole vector scaled by
    /// <see cref="NormScale"/> of the value-clipped vector's L2 norm. Writes <paramref name="clipped"/>.
    /// </summary>
    /// <returns>The norm scale that was applied.</returns>
    public static double ClipGradients(OptimizerSettings s, ReadOnlySpan<double> gradients, Span<double> clipped)
    {
        if (clipped.Length != gradients.Length)
            throw new ArgumentException($"Output has {clipped.Length} values for {gradients.Length} gradients.", nameof(clipped));
        double sum = 0;
        for (int k = 0; k < gradients.Length; k++)
        {
            clipped[k] = ClipValue(s, gradients[k]);
            sum += clipped[k] * clipped[k];
        }

        double scale = NormScale(s, Math.Sqrt(sum));
        for (int k = 0; k < clipped.Length; k++)
            clipped[k] *= scale;
        return scale;
    }

    /// <summary>
    /// Updates parameter <paramref name="index"/> in place from its already clipped gradient.
    /// </summary>
    /// <remarks>
    /// Adam: <c>m = β1·m + (1−β1)·g</c>, <c>v = β2·v + (1−β2)·g²</c>,
    /// <c>p −= lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε)</c>.
    /// SGD: <c>b = μ·b + g</c>, <c>p −= lr·b</c> (torch's first step sets <c>b = g</c>, the same as μ·0 + g).
    /// RMSProp: <c>a = α·a + (1−α)·g²</c>, <c>p −= lr·g / (√a + ε)</c>.
    /// </remarks>
    public static void Update(
        OptimizerSettings s, double learningRate, int step, double gradient,
        Span<double> parameters, Span<double> state, int index, int stateIndex)
    {
        double beta1 = s.Beta1, beta2 = s.Beta2, epsilon = s.Epsilon;
        switch (s.Kind)
        {
            case OptimizerKind.Adam:
            {
                double m = beta1 * state[stateIndex] + (1 - beta1) * gradient;
                double v = beta2 * state[stateIndex + 1] + (1 - beta2) * gradient * gradient;
                state[stateIndex] = m;
                state[stateIndex + 1] = v;
                double t = step + 1.0;
                double correction1 = 1 - Math.Pow(beta1, t);
                double correction2 = 1 - Math.Pow(beta2, t);
                parameters[index] -= learningRate / correction1 * m / (Math.Sqrt(v) / Math.Sqrt(correction2) + epsilon);
                break;
            }

            case OptimizerKind.Sgd:
            {
                double buffer = beta1 * state[stateIndex] + gradient;
                state[stateIndex] = buffer;
                parameters[index] -= learningRate * buffer;
                break;
            }

            case OptimizerKind.RmsProp:
            {
                double average = beta2 * state[stateIndex] + (1 - beta2) * gradient * gradient;
                state[stateIndex] = average;
                parameters[index] -= learningRate * gradient / (Math.Sqrt(average) + epsilon);
                break;
            }

            default:
                throw new ArgumentOutOfRangeException(nameof(s), s.Kind, "Unknown optimizer kind.");
        }
    }

    /// <summary>
    /// One whole step of one model: clip <paramref name="gradients"/> (by value, then by norm) and update
    /// every parameter and its two state slots in place.
    /// </summary>
    /// <param name="s">Hyper-parameters (its learning rate is ignored in favour of <paramref name="learningRate"/>).</param>
    /// <param name="learningRate">This model's learning rate.</param>
    /// <param name="step">0-based step index.</param>
    /// <param name="gradients">(N) raw gradients, not modified.</param>
    /// <param name="parameters">(N) parameters, updated.</param>
    /// <param name="state">(N, 2) optimizer state, updated.</param>
    /// <returns>The norm scale that was applied.</returns>
    public static double Step(
        OptimizerSettings s, double learningRate, int step,
        ReadOnlySpan<double> gradients, Span<double> parameters, Span<double> state)
    {
        int n = parameters.Length;
        if (gradients.Length != n)
            throw new ArgumentException($"{gradients.Length} gradients for {n} parameters.", nameof(gradients));
        if (state.Length != 2 * n)
            throw new ArgumentException($"State has {state.Length} values; {n} parameters need {2 * n}.", nameof(state));
        var clipped = new double[n];
        double scale = ClipGradients(s, gradients, clipped);
        for (int k = 0; k < n; k++)
            Update(s, learningRate, step, clipped[k], parameters, state, k, 2 * k);
        return scale;
    }
}
