namespace Nalu.Gpu.Kernels.Units;

/// <summary>
/// Double-precision reference of the NAU/NMU sparsity regulariser (Madsen &amp; Johansen) and of its schedule, written
/// from the specification independently of <see cref="RegularizerSettings"/>' float code.
/// </summary>
/// <remarks>
/// <c>R(W, t) = λ(t) · (1/n) Σ_k p(W_k)</c> over the layer's n weights, with <c>λ(t) = λ̂ · clip((t − start)/(end − start), 0, 1)</c>
/// (a step at start when end = start), linear <c>p(w) = min(|w|, 1 − |w|)</c>, squared <c>p(w) = w²(1 − |w|)²</c>.
/// </remarks>
public static class SparsityReference
{
    /// <summary>λ(t) for a sparsity schedule.</summary>
    public static double Strength(double lambda, int start, int end, int step) =>
        step < start ? 0 : step >= end ? lambda : lambda * (step - start) / (end - start);

    /// <summary>The per-weight penalty p(w).</summary>
    public static double Penalty(bool squared, double w)
    {
        double a = Math.Abs(w);
        return squared ? w * w * (1 - a) * (1 - a) : Math.Min(a, 1 - a);
    }

    /// <summary>The regulariser's value <c>λ(t)·mean(p(W))</c> for the settings' shape and schedule.</summary>
    public static double Loss(RegularizerSettings settings, int step, ReadOnlySpan<double> weights)
    {
        CheckKind(settings);
        double sum = 0;
        foreach (double w in weights)
            sum += Penalty(settings.Kind == RegularizerKind.SparsitySquared, w);
        return Strength(settings.Strength, settings.Start, settings.End, step) * sum / weights.Length;
    }

    /// <summary>∂R/∂W, element by element (at the linear shape's kinks: the |w| branch at |w| = ½, 0 at w = 0).</summary>
    public static double[] Gradient(RegularizerSettings settings, int step, ReadOnlySpan<double> weights)
    {
        CheckKind(settings);
        double scale = Strength(settings.Strength, settings.Start, settings.End, step) / weights.Length;
        var g = new double[weights.Length];
        for (int k = 0; k < g.Length; k++)
        {
            double w = weights[k], s = Math.Sign(w), a = Math.Abs(w);
            double d = settings.Kind == RegularizerKind.SparsitySquared
                ? 2 * w * (1 - a) * (1 - a) - 2 * w * w * (1 - a) * s
                : a <= 0.5 ? s : -s;
            g[k] = scale * d;
        }

        return g;
    }

    private static void CheckKind(RegularizerSettings settings)
    {
        if (settings.Kind is not (RegularizerKind.SparsityLinear or RegularizerKind.SparsitySquared))
            throw new ArgumentException($"Not a sparsity regulariser: {settings.Kind}.", nameof(settings));
    }
}
