using System.Globalization;
using ScottPlot;
using Nalu.Gpu.Experiments;

namespace Nalu.Gpu.Bench.Experiments;

/// <summary>The figure of Experiment 1: one MAE curve per architecture over the grid, training range shaded.</summary>
/// <remarks>
/// ScottPlot renders with SkiaSharp, headless; its Linux native library comes with ScottPlot's own
/// dependency <c>SkiaSharp.NativeAssets.Linux.NoDependencies</c>, so nothing needs a display or system libraries.
/// </remarks>
internal static class FailurePlot
{
    public const int Width = 1200;
    public const int Height = 700;

    /// <summary>
    /// Smallest error shown on the log axis: an exact fit's float32 round-off (1e-7 to 1e-6 over this grid)
    /// is drawn at this floor instead of as noise.
    /// </summary>
    private const double Floor = 1e-6;

    private static readonly Color[] Hues =
        new ScottPlot.Palettes.Category10().Colors.Where((_, i) => i != 7).ToArray();

    /// <summary>The PNG bytes of the figure.</summary>
    public static byte[] Render(FailureResult result, bool logScale)
    {
        var plot = new Plot();
        var s = result.Settings;
        var span = plot.Add.HorizontalSpan(-s.TrainLimit, s.TrainLimit, Colors.Gray.WithAlpha(0.18));
        span.LegendText = string.Create(CultureInfo.InvariantCulture, $"training range [-{s.TrainLimit:G}, {s.TrainLimit:G}]");
        span.LineStyle.Width = 0;

        double top = 0, bottom = double.MaxValue;
        // The NAC goes first so the thick black line lies under the others (the linear MLP overlaps it).
        var ordered = result.Models.Where(m => m.Name == "nac").Concat(result.Models.Where(m => m.Name != "nac"));
        int colour = 0;
        foreach (var model in ordered)
        {
            double[] ys = logScale ? model.Mae.Select(v => Math.Log10(Math.Max(v, Floor))).ToArray() : model.Mae;
            var line = plot.Add.ScatterLine(result.X, ys);
            line.MarkerSize = 0;
            foreach (double v in model.Mae.Where(double.IsFinite))
            {
                top = Math.Max(top, v);
                bottom = Math.Min(bottom, Math.Max(v, Floor));
            }

            line.LegendText = model.Diverged.Length == 0 ? model.Name : $"{model.Name} ({model.Diverged.Length} diverged)";
            if (model.Name == "nac")
            {
                line.Color = Colors.Black;
                line.LineWidth = 5f;
                line.LegendText = "NAC";
            }
            else if (model.Name == "nau")
            {
                // The other additive unit: thick, dotted, so it stays visible where it lies on the NAC.
                line.Color = Colors.DarkGreen;
                line.LineWidth = 4f;
                line.LinePattern = LinePattern.Dotted;
                line.LegendText = model.Diverged.Length == 0 ? "NAU" : $"NAU ({model.Diverged.Length} diverged)";
            }
            else
            {
                line.LineWidth = 2f;
                line.LegendText = "MLP " + line.LegendText;
                if (model.Name == "linear")
                {
                    // The other model that should extrapolate: grey dashes over the NAC's black.
                    line.Color = Colors.Gray;
                    line.LinePattern = LinePattern.Dashed;
                    continue;
                }

                // Nine hues (Category10 without its grey, which the linear MLP has); the 10th and 11th
                // non-linear activations repeat a hue, dashed.
                int k = colour++;
                line.Color = Hues[k % Hues.Length];
                if (k >= Hues.Length)
                    line.LinePattern = LinePattern.Dashed;
            }
        }

        plot.Font.Set(SansFont());
        plot.Title(string.Create(CultureInfo.InvariantCulture,
            $"Identity 1→{string.Join("→", s.Hidden)}→1 learned on [-{s.TrainLimit:G}, {s.TrainLimit:G}]: " +
            $"MAE, mean of {s.Seeds} seed{(s.Seeds == 1 ? "" : "s")} ({s.Steps:N0} Adam steps, lr {s.LearningRate:G})"), size: 16);
        plot.XLabel("x");
        plot.YLabel(logScale ? "mean absolute error |y − x| (log scale; below 1e-6 drawn at 1e-6)" : "mean absolute error |y − x|");
        plot.Axes.SetLimitsX(-s.EvalLimit, s.EvalLimit);
        if (logScale)
        {
            var ticks = new ScottPlot.TickGenerators.NumericAutomatic
            {
                LabelFormatter = v => Math.Abs(v - Math.Round(v)) < 1e-9 ? $"{Math.Pow(10, v):G}" : "",
                MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
                IntegerTicksOnly = true,
            };
            plot.Axes.Left.TickGenerator = ticks;
            double low = Math.Floor(Math.Log10(bottom == double.MaxValue ? 1e-3 : bottom) - 0.05);
            double high = Math.Ceiling(Math.Log10(Math.Max(top, 1e-5)));
            plot.Axes.SetLimitsY(low, high);
        }
        else
        {
            plot.Axes.SetLimitsY(0, Math.Max(top, 1e-3) * 1.05);
        }

        plot.ShowLegend(Edge.Right);
        return plot.GetImageBytes(Width, Height, ImageFormat.Png);
    }

    /// <summary>A sans-serif family that is installed (Debian has DejaVu), else ScottPlot's own choice.</summary>
    private static string SansFont()
    {
        foreach (string family in new[] { "DejaVu Sans", "Liberation Sans", "Arial", "Helvetica" })
        {
            using var typeface = SkiaSharp.SKTypeface.FromFamilyName(family);
            if (typeface is not null && typeface.FamilyName == family)
                return family;
        }

        return Fonts.Sans;
    }
}
