namespace Nalu.Gpu.Kernels;

/// <summary>
/// Plain double-precision reference of <see cref="Launch.LossKernels"/>: the mean squared error of each of
/// P models over its B·O outputs, and its gradient. Same method names and argument order as the kernels.
/// </summary>
/// <remarks>
/// For model p with outputs <c>y</c> and targets <c>t</c> (B·O values each, model after model):
/// <c>L_p = Σ (y − t)² / (B·O)</c> and <c>∂L_p/∂y = 2(y − t)/(B·O)</c>.
/// </remarks>
public static class MseReference
{
    /// <summary>Writes <c>dy = 2(y − t)/(B·O)</c> for every element; <paramref name="perModel"/> is B·O.</summary>
    public static void MseGradient(int models, int perModel, ReadOnlySpan<double> y, ReadOnlySpan<double> target, Span<double> dy)
    {
        int total = CheckShapes(models, perModel, y, target);
        if (dy.Length != total)
            throw new ArgumentException($"dy has {dy.Length} values; {models} × {perModel} expected.", nameof(dy));
        for (int k = 0; k < total; k++)
            dy[k] = 2.0 * (y[k] - target[k]) / perModel;
    }

    /// <summary>Writes each model's mean of <c>(y − t)²</c> to <paramref name="losses"/> (P values).</summary>
    public static void MseLoss(int models, int perModel, ReadOnlySpan<double> y, ReadOnlySpan<double> target, Span<double> losses)
    {
        CheckShapes(models, perModel, y, target);
        if (losses.Length != models)
            throw new ArgumentException($"losses has {losses.Length} values for {models} models.", nameof(losses));
        for (int p = 0; p < models; p++)
        {
            double sum = 0;
            for (int k = p * perModel; k < (p + 1) * perModel; k++)
            {
                double d = y[k] - target[k];
                sum += d * d;
            }

            losses[p] = sum / perModel;
        }
    }

    private static int CheckShapes(int models, int perModel, ReadOnlySpan<double> y, ReadOnlySpan<double> target)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(models, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(perModel, 1);
        int total = models * perModel;
        if (y.Length != total || target.Length != total)
            throw new ArgumentException($"y has {y.Length} and target {target.Length} values; {models} × {perModel} = {total} expected.");
        return total;
    }
}
