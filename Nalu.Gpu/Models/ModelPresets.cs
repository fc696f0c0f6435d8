using System.Globalization;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Kernels.Units;

namespace Nalu.Gpu.Models;

/// <summary>
/// Changes to a preset's regulariser: the shape, λ̂, the warm-up steps and a factor on the schedule (for short runs).
/// Unset values keep the preset's.
/// </summary>
/// <remarks>
/// The schedule scale multiplies the start and end in effect (the preset's, or <see cref="Start"/>/<see cref="End"/>
/// when given), rounded to whole steps; for an L1 schedule it multiplies the interval between ×10 changes.
/// </remarks>
public sealed record RegularizerOverrides
{
    /// <summary>Shape: <see cref="RegularizerKind.None"/> (off), <see cref="RegularizerKind.SparsityLinear"/> or <see cref="RegularizerKind.SparsitySquared"/>.</summary>
    public RegularizerKind? Kind { get; init; }
    /// <summary>λ̂ (L1: β_start).</summary>
    public float? Lambda { get; init; }
    /// <summary>First step of the warm-up.</summary>
    public int? Start { get; init; }
    /// <summary>Step at which λ reaches λ̂.</summary>
    public int? End { get; init; }
    /// <summary>L1 only: β_end, where β stops changing.</summary>
    public float? BetaEnd { get; init; }
    /// <summary>Factor on the schedule's steps (1: as given).</summary>
    public double ScheduleScale { get; init; } = 1;

    /// <summary>Whether nothing is changed.</summary>
    public bool IsEmpty => Kind is null && Lambda is null && Start is null && End is null && BetaEnd is null && ScheduleScale == 1;

    /// <summary>The preset's <paramref name="defaults"/> with these changes.</summary>
    /// <exception cref="ArgumentOutOfRangeException">λ negative or not finite, scale not positive, end before start; the message names the value.</exception>
    public RegularizerSettings Apply(RegularizerSettings defaults)
    {
        if (!(double.IsFinite(ScheduleScale) && ScheduleScale > 0))
            throw new ArgumentOutOfRangeException(nameof(ScheduleScale), ScheduleScale, "The schedule scale must be a positive number.");
        if (Lambda is { } l && !(float.IsFinite(l) && l >= 0f))
            throw new ArgumentOutOfRangeException(nameof(Lambda), l, "λ must be finite and ≥ 0.");
        if (Start is < 0)
            throw new ArgumentOutOfRangeException(nameof(Start), Start, "The warm-up start must be ≥ 0.");
        if (Start is { } s && End is { } e && e < s)
            throw new ArgumentOutOfRangeException(nameof(End), End, $"The warm-up end must not come before its start ({s}).");
        var kind = Kind ?? defaults.Kind;
        if (kind == RegularizerKind.None)
            return RegularizerSettings.None;
        if (kind == RegularizerKind.L1)
        {
            var l1 = defaults.Kind == RegularizerKind.L1 ? defaults : throw new ArgumentOutOfRangeException(nameof(Kind), kind, "L1 needs a preset that defines its schedule.");
            if (BetaEnd is { } b && !(float.IsFinite(b) && b >= 0f))
                throw new ArgumentOutOfRangeException(nameof(BetaEnd), b, "β_end must be finite and ≥ 0.");
            return RegularizerSettings.L1(Lambda ?? l1.Strength, BetaEnd ?? l1.StrengthEnd, Scale(l1.Every, nameof(ScheduleScale), minimum: 1));
        }

        int start = Scale(Start ?? defaults.Start, nameof(Start));
        int end = Scale(End ?? defaults.End, nameof(End));
        if (end < start)
            throw new ArgumentOutOfRangeException(nameof(End), end, $"The warm-up end ({end}) must not come before its start ({start}).");
        return RegularizerSettings.Sparsity(Lambda ?? (defaults.IsMean ? defaults.Strength : 0f), start, end, kind == RegularizerKind.SparsitySquared);
    }

    private int Scale(int steps, string name, int minimum = 0)
    {
        double scaled = Math.Round(steps * ScheduleScale);
        if (scaled > int.MaxValue)
            throw new ArgumentOutOfRangeException(name, scaled, "The scaled schedule does not fit in 32-bit steps.");
        return Math.Max(minimum, (int)scaled);
    }
}

/// <summary>
/// A named two-layer model of the literature (science.md, "Two-layer models used by the literature"): a function of the
/// input and hidden widths, <c>inputs → hidden → 1</c>, with the paper's regulariser as its default.
/// </summary>
/// <param name="Name">CLI name, e.g. <c>nau-nmu</c>.</param>
/// <param name="Description">One line: the layers and where the defaults come from.</param>
/// <param name="Regularizer">The paper's regulariser and schedule.</param>
/// <param name="Build">The model for (inputs, hidden, regulariser in effect).</param>
public sealed record ModelPreset(string Name, string Description, RegularizerSettings Regularizer,
    Func<int, int, RegularizerSettings, ModelArchitecture> Build)
{
    /// <summary>The training-loop part of the paper's recipe (gradient clipping, re-initialisation), or null: the loop's defaults.</summary>
    public PresetTraining? Training { get; init; }

    /// <summary>The regulariser in effect with <paramref name="overrides"/> (none: the preset's).</summary>
    public RegularizerSettings RegularizerWith(RegularizerOverrides? overrides) => overrides?.Apply(Regularizer) ?? Regularizer;

    /// <summary>The model <c>inputs → hidden → 1</c>.</summary>
    public ModelArchitecture Create(int inputs, int hidden, RegularizerOverrides? overrides = null) =>
        Build(inputs, hidden, RegularizerWith(overrides));
}

/// <summary>
/// The training-loop settings a preset's paper uses, applied by the CLI (train, experiment arithmetic) unless overridden.
/// </summary>
/// <param name="ClipValue">Gradient elements clipped to [−c, c] (0: off).</param>
/// <param name="ReinitializeEvery">Re-initialise a stuck model every this many steps (<see cref="Training.TrainerOptions.ReinitializeEvery"/>; 0: off).</param>
public sealed record PresetTraining(float ClipValue, int ReinitializeEvery)
{
    /// <summary>These settings on <paramref name="options"/>: its optimizer with this clip value (its norm clip kept), and the re-initialisation window.</summary>
    public Training.TrainerOptions ApplyTo(Training.TrainerOptions options) => options with
    {
        Optimizer = options.Optimizer.WithClipping(ClipValue, options.Optimizer.ClipNorm),
        ReinitializeEvery = ReinitializeEvery,
    };
}

/// <summary>
/// The model presets by name. Adding one (e.g. <c>nau-npu</c>) is one entry in <see cref="All"/>.
/// </summary>
public static class ModelPresets
{
    /// <summary>Madsen &amp; Johansen's NMU model: sparsity λ̂ = 10, warm-up from step 10⁶ to 2·10⁶, linear shape.</summary>
    public static readonly RegularizerSettings NmuDefault = RegularizerSettings.Sparsity(10f, 1_000_000, 2_000_000);

    /// <summary>Madsen &amp; Johansen's NAU model: sparsity λ̂ = 0.01, warm-up from step 5·10³ to 5·10⁴, linear shape.</summary>
    public static readonly RegularizerSettings NauDefault = RegularizerSettings.Sparsity(0.01f, 5_000, 50_000);

    /// <summary>
    /// Heim et al.'s L1 penalty on the NPU's weights for a × b on the large arithmetic task: β from 1e-5 to 1e-7, ×10 every
    /// 10,000 steps (their other ops: + 1e-5→1e-4, ÷ 1e-9→1e-7, √ 1e-6→1e-4; set them with <see cref="RegularizerOverrides"/>).
    /// </summary>
    public static readonly RegularizerSettings NpuDefault = RegularizerSettings.L1(1e-5f, 1e-7f, 10_000);

    /// <summary>
    /// iNALU's saturation regulariser starts at this step: the paper's "after epoch 10", with epochs of 1,000 steps (our
    /// choice: the paper's epoch length does not carry over to generated data).
    /// </summary>
    public const int INaluSaturationStart = 10_000;

    /// <summary>iNALU's re-initialisation window in steps (10 loss samples, 1,000 steps apart; the same choice of epoch).</summary>
    public const int INaluReinitializeEvery = 10_000;

    /// <summary>iNALU's layer recipe as its preset uses it: alternating 8/2 updates, saturation 0.05 from <see cref="INaluSaturationStart"/> while the loss is below 1.</summary>
    public static readonly INaluRecipe INaluDefault = INaluRecipe.Paper(INaluSaturationStart);

    /// <summary>iNALU's loop recipe: gradients clipped to [−0.1, 0.1], re-initialisation every <see cref="INaluReinitializeEvery"/> steps.</summary>
    public static readonly PresetTraining INaluTraining = new(0.1f, INaluReinitializeEvery);

    /// <summary>Every preset.</summary>
    public static IReadOnlyList<ModelPreset> All { get; } =
    [
        new("nau-nmu", "NAU → NMU (Madsen & Johansen, ICLR 2020): sparsity λ̂ = 10 ramped from step 1e6 to 2e6", NmuDefault,
            (i, h, r) => new ModelArchitecture([LayerSpec.Nau(i, h, r), LayerSpec.Nmu(h, 1, r)])),
        new("nau", "NAU → NAU (Madsen & Johansen, ICLR 2020): sparsity λ̂ = 0.01 ramped from step 5e3 to 5e4", NauDefault,
            (i, h, r) => new ModelArchitecture([LayerSpec.Nau(i, h, r), LayerSpec.Nau(h, 1, r)])),
        new("nau-npu", "NAU → NPU (Heim et al., NeurIPS 2020): L1 on the NPU's weights, β 1e-5 → 1e-7 ×10 every 1e4 steps", NpuDefault,
            (i, h, r) => new ModelArchitecture([LayerSpec.Nau(i, h), LayerSpec.Npu(h, 1, r)])),
        new("nau-realnpu", "NAU → RealNPU (Heim et al., NeurIPS 2020): L1 on the RealNPU's weights, β 1e-5 → 1e-7 ×10 every 1e4 steps", NpuDefault,
            (i, h, r) => new ModelArchitecture([LayerSpec.Nau(i, h), LayerSpec.RealNpu(h, 1, r)])),
        new("nau-nmru", "NAU → NMRU (Mistry et al.): the NMU's sparsity regulariser on both layers, λ̂ = 10 ramped from step 1e6 to 2e6", NmuDefault,
            (i, h, r) => new ModelArchitecture([LayerSpec.Nau(i, h, r), LayerSpec.Nmru(h, 1, r)])),
        new("inalu", "iNALU → iNALU (Schlör et al. 2020) with its recipe: gradients clipped to ±0.1, alternating 8 weight / 2 gate steps, " +
                "saturation regulariser 0.05·mean(max(20 − |v|, 0)) from step 1e4 while the loss < 1, stuck models re-initialised every 1e4 steps",
            RegularizerSettings.None,
            (i, h, _) => new ModelArchitecture([LayerSpec.INalu(i, h, INaluDefault), LayerSpec.INalu(h, 1, INaluDefault)])) { Training = INaluTraining },
        new("nau-snmu", "NAU → sNMU (Mistry et al.): the NMU's sparsity regulariser on both layers, λ̂ = 10 ramped from step 1e6 to 2e6; noise U[1, 5] in training only",
            NmuDefault,
            (i, h, r) => new ModelArchitecture([LayerSpec.Nau(i, h, r), LayerSpec.Snmu(h, 1, r)])),
    ];

    /// <summary>The preset called <paramref name="name"/> (case-insensitive), or null.</summary>
    public static ModelPreset? Find(string name) =>
        All.FirstOrDefault(p => string.Equals(p.Name, name.Trim(), StringComparison.OrdinalIgnoreCase));

    /// <summary>The model of preset <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">No such preset.</exception>
    public static ModelArchitecture Create(string name, int inputs, int hidden, RegularizerOverrides? overrides = null) =>
        (Find(name) ?? throw new ArgumentException($"'{name}' is not a preset: use one of {string.Join(", ", All.Select(p => p.Name))}.", nameof(name)))
        .Create(inputs, hidden, overrides);

    /// <summary>
    /// iNALU's recipe in words, e.g. <c>iNALU recipe: clip 0.1, alternating 8/2, saturation 0.05 from step 10000 while loss &lt; 1, reinit every 10000</c>;
    /// empty when there is none.
    /// </summary>
    public static string DescribeINalu(INaluRecipe layer, PresetTraining? loop)
    {
        var inv = CultureInfo.InvariantCulture;
        var parts = new List<string>();
        if (loop is { ClipValue: > 0 })
            parts.Add($"clip {loop.ClipValue.ToString("G", inv)}");
        if (layer.Alternate != 0)
            parts.Add("alternating 8/2");
        if (layer.Saturation > 0)
            parts.Add($"saturation {layer.Saturation.ToString("G", inv)} from step {layer.SaturationStart} while loss < {layer.SaturationLossBelow.ToString("G", inv)}");
        if (loop is { ReinitializeEvery: > 0 })
            parts.Add($"reinit every {loop.ReinitializeEvery}");
        return parts.Count == 0 ? "" : "iNALU recipe: " + string.Join(", ", parts);
    }

    /// <summary>The regulariser and its schedule in words, e.g. <c>sparsity-linear λ̂=10, steps 1000→2000</c>.</summary>
    public static string Describe(RegularizerSettings r)
    {
        var inv = CultureInfo.InvariantCulture;
        return r.Kind switch
        {
            RegularizerKind.None => "none",
            RegularizerKind.L1 => $"L1 β {r.Strength.ToString("G", inv)}→{r.StrengthEnd.ToString("G", inv)} ×10 every {r.Every} steps",
            _ => $"sparsity-{(r.Kind == RegularizerKind.SparsitySquared ? "squared" : "linear")} λ̂={r.Strength.ToString("G", inv)}, steps {r.Start}→{r.End}",
        };
    }
}
