using ScottPlot;
using Nalu.Gpu.Experiments;

namespace Nalu.Gpu.Bench.Experiments;

/// <summary>
/// The success-rate figure of Experiment 2: one group of bars per op (and range pair), one bar per unit, each with
/// its 95% Wilson interval as an error bar. Rendered headless with ScottPlot, as <see cref="FailurePlot"/>.
/// </summary>
internal static class ArithmeticPlot
{
    public const int Width = 1200;
    public const int Height = 600;

    private static readonly Color[] Hues = new ScottPlot.Palettes.Category10().Colors;

    /// <summary>The PNG bytes of the figure.</summary>
    public static byte[] Render(IReadOnlyList<SummaryRow> rows, string title)
    {
        var plot = new Plot();
        var units = rows.Select(r => r.Unit).Distinct().ToArray();
        var groups = rows.Select(r => (r.Op, r.Interpolation, r.Extrapolation)).Distinct().ToArray();
        bool ranges = groups.Select(g => (g.Interpolation, g.Extrapolation)).Distinct().Count() > 1;
        double barWidth = 0.8 / units.Length;

        var tickPositions = new List<double>();
        var tickLabels = new List<string>();
        for (int u = 0; u < units.Length; u++)
        {
            var bars = new List<Bar>();
            var xs = new List<double>();
            var ys = new List<double>();
            var low = new List<double>();
            var high = new List<double>();
            for (int g = 0; g < groups.Length; g++)
            {
                var row = rows.FirstOrDefault(r => r.Unit == units[u] && (r.Op, r.Interpolation, r.Extrapolation) == groups[g]);
                if (row is null)
                    continue;
                double x = g + (u - (units.Length - 1) / 2.0) * barWidth;
                double y = 100 * row.SuccessRate;
                // The count above each bar, in the unit's colour, so that a 0% bar still says whose it is.
                bars.Add(new Bar
                {
                    Position = x, Value = y, Size = barWidth * 0.9, FillColor = Hues[u % Hues.Length], LineWidth = 0,
                    Label = $"{row.Successes}/{row.Models}",
                });
                xs.Add(x);
                ys.Add(y);
                low.Add(y - 100 * row.SuccessLow);
                high.Add(100 * row.SuccessHigh - y);
            }

            var barPlot = plot.Add.Bars(bars.ToArray());
            barPlot.LegendText = units[u];
            barPlot.ValueLabelStyle.ForeColor = Hues[u % Hues.Length].Darken(0.3);
            // Narrower bars with more units: shrink the counts with them so that neighbouring "0/10" labels do not run together.
            barPlot.ValueLabelStyle.FontSize = 11f * Math.Min(1f, 4f / units.Length);
            barPlot.ValueLabelStyle.Bold = true;
            barPlot.ValueLabelStyle.FontName = SansFont();
            var errors = plot.Add.ErrorBar(xs, ys, high);
            errors.YErrorNegative = low;
            errors.YErrorPositive = high;
            errors.Color = Colors.Black;
            errors.LineWidth = 1.5f;
            errors.CapSize = 6;
        }

        for (int g = 0; g < groups.Length; g++)
        {
            tickPositions.Add(g);
            string label = ArithmeticTable.Symbol(groups[g].Op);
            if (ranges)
                label += $"\nU[{groups[g].Interpolation.Replace(":", ",")}]→U[{groups[g].Extrapolation.Replace(":", ",")}]";
            tickLabels.Add(label);
        }

        plot.Font.Set(SansFont());
        plot.Axes.Bottom.SetTicks(tickPositions.ToArray(), tickLabels.ToArray());
        plot.Axes.Bottom.TickLabelStyle.FontSize = 16;
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.Axes.SetLimits(-0.6, groups.Length - 0.4, 0, 108);
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericFixedInterval(10);
        plot.YLabel("success rate (%), 95% Wilson interval");
        plot.Title(title, size: 15);
        plot.Grid.XAxisStyle.MajorLineStyle.Width = 0;
        plot.ShowLegend(Edge.Right);
        return plot.GetImageBytes(Width, ranges ? Height + 60 : Height, ImageFormat.Png);
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
