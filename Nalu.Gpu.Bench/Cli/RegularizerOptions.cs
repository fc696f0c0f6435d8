using CommandLine;
using System.Globalization;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Models;

namespace Nalu.Gpu.Bench.Cli;

/// <summary>
/// The regulariser options of train and experiment arithmetic, declared once: both verbs' option classes derive from this.
/// </summary>
public abstract class RegularizedOptions : CommonOptions
{
    [Option("regularizer", HelpText = RegularizerOptions.KindHelp)]
    public string? Regularizer { get; set; }

    [Option("lambda", HelpText = RegularizerOptions.LambdaHelp)]
    public float? Lambda { get; set; }

    [Option("lambda-start", HelpText = RegularizerOptions.StartHelp)]
    public int? LambdaStart { get; set; }

    [Option("lambda-end", HelpText = RegularizerOptions.EndHelp)]
    public int? LambdaEnd { get; set; }

    [Option("beta-end", HelpText = RegularizerOptions.BetaEndHelp)]
    public float? BetaEnd { get; set; }

    [Option("schedule-scale", HelpText = RegularizerOptions.ScaleHelp + " (0.001 with experiment arithmetic --quick).")]
    public double? ScheduleScale { get; set; }

    [Option("inalu-recipe", HelpText = "iNALU's training recipe (Schlör et al.) for inalu: paper (default: gradients clipped to ±0.1 unless --clip-value is given, " +
        "8 weight / 2 gate alternating updates, saturation regulariser 0.05·mean(max(20-|v|, 0)) while the loss < 1, re-initialisation of stuck models) or none (the unit math alone).")]
    public string? INaluRecipe { get; set; }

    [Option("saturation-start", HelpText = "iNALU recipe: first step of the saturation regulariser (>= 0). Default 10000 (the paper's epoch 10, 1000-step epochs).")]
    public int? SaturationStart { get; set; }

    [Option("reinit-every", HelpText = "iNALU recipe: every this many steps (a multiple of 10; 0: off) re-initialise each model whose loss stopped falling and is above 1. Default 10000.")]
    public int? ReinitEvery { get; set; }

    /// <summary>
    /// iNALU's recipe as the options ask for it: the layer part and the loop part (clip value <paramref name="clipValue"/> when
    /// given, else the paper's 0.1), or (none, null) for <c>--inalu-recipe none</c>; a bad value is a <see cref="UsageException"/>.
    /// </summary>
    internal (Nalu.Gpu.Models.INaluRecipe Layer, PresetTraining? Loop) INaluRecipeSettings(float? clipValue = null)
    {
        string recipe = (INaluRecipe ?? "paper").Trim().ToLowerInvariant();
        if (recipe == "none")
        {
            if (SaturationStart is not null || ReinitEvery is not null)
                throw new UsageException("--saturation-start and --reinit-every belong to the iNALU recipe; --inalu-recipe none turns it off.");
            return (default, null);
        }

        if (recipe != "paper")
            throw new UsageException($"--inalu-recipe '{INaluRecipe}' is not one of paper, none.");
        if (SaturationStart is < 0)
            throw new UsageException($"--saturation-start {SaturationStart} must be >= 0.");
        if (ReinitEvery is { } r && (r < 0 || r % Nalu.Gpu.Training.TrainerOptions.ReinitializeSamples != 0))
            throw new UsageException($"--reinit-every {r} must be 0 (off) or a positive multiple of {Nalu.Gpu.Training.TrainerOptions.ReinitializeSamples}.");
        var layer = Nalu.Gpu.Models.INaluRecipe.Paper(SaturationStart ?? ModelPresets.INaluSaturationStart);
        return (layer, new PresetTraining(clipValue ?? ModelPresets.INaluTraining.ClipValue, ReinitEvery ?? ModelPresets.INaluTraining.ReinitializeEvery));
    }

    /// <summary>Whether any iNALU recipe option was given.</summary>
    internal bool INaluRecipeGiven => INaluRecipe is not null || SaturationStart is not null || ReinitEvery is not null;

    /// <summary>The regulariser changes the options ask for (null: none); a bad value is a <see cref="UsageException"/>.</summary>
    internal Nalu.Gpu.Models.RegularizerOverrides? RegularizerOverrides() =>
        RegularizerOptions.Build(Regularizer, Lambda, LambdaStart, LambdaEnd, ScheduleScale, BetaEnd);
}

/// <summary>The regulariser options shared by train and experiment arithmetic: help texts and their validation.</summary>
internal static class RegularizerOptions
{
    public const string KindHelp = "Regulariser of nau, nmu and the presets: linear (min(|W|, 1-|W|)), squared (W²(1-|W|)²), l1 (β·Σ|W|, the NPU presets') or none. Default: the preset's (nau-nmu, nau, nau-nmru: linear; nau-npu, nau-realnpu: l1).";
    public const string LambdaHelp = "Regulariser strength λ̂ (finite, >= 0); β_start for L1. Default: the preset's (nau-nmu, nau-nmru and nmu 10, nau 0.01, nau-npu and nau-realnpu 1e-5).";
    public const string BetaEndHelp = "L1 only: β_end, reached by ×10 (or ÷10) steps every 10000 steps (scaled by --schedule-scale). Default: the preset's (1e-7, Heim et al.'s value for a × b).";
    public const string StartHelp = "First step of λ's linear warm-up from 0 (>= 0). Default: the preset's (nau-nmu and nmu 1000000, nau 5000).";
    public const string EndHelp = "Step at which λ reaches λ̂ (>= --lambda-start). Default: the preset's (nau-nmu and nmu 2000000, nau 50000).";
    public const string ScaleHelp = "Multiplies the warm-up's start and end (the preset's or the given ones), for short runs: 0.001 turns 1e6→2e6 into 1000→2000. Default 1";

    /// <summary>The overrides the options ask for, or null when none is given; a bad value is a <see cref="UsageException"/> naming its option.</summary>
    public static RegularizerOverrides? Build(string? kind, float? lambda, int? start, int? end, double? scale, float? betaEnd = null)
    {
        if (kind is null && lambda is null && start is null && end is null && scale is null && betaEnd is null)
            return null;
        RegularizerKind? parsed = kind?.Trim().ToLowerInvariant() switch
        {
            null => null,
            "linear" => RegularizerKind.SparsityLinear,
            "squared" => RegularizerKind.SparsitySquared,
            "none" => RegularizerKind.None,
            "l1" => RegularizerKind.L1,
            _ => throw new UsageException($"--regularizer '{kind}' is not one of linear, squared, l1, none."),
        };
        if (lambda is { } l && !(float.IsFinite(l) && l >= 0f))
            throw new UsageException($"--lambda {Text(l)} must be a finite number >= 0.");
        if (start is < 0)
            throw new UsageException($"--lambda-start {start} must be >= 0.");
        if (end is < 0)
            throw new UsageException($"--lambda-end {end} must be >= 0.");
        if (start is { } s && end is { } e && e < s)
            throw new UsageException($"--lambda-end {e} comes before --lambda-start {s}; the warm-up must end at or after its start.");
        if (scale is { } f && !(double.IsFinite(f) && f > 0))
            throw new UsageException($"--schedule-scale {f.ToString("G", CultureInfo.InvariantCulture)} must be a positive number.");
        if (betaEnd is { } b && !(float.IsFinite(b) && b >= 0f))
            throw new UsageException($"--beta-end {Text(b)} must be a finite number >= 0.");
        return new RegularizerOverrides { Kind = parsed, Lambda = lambda, Start = start, End = end, ScheduleScale = scale ?? 1, BetaEnd = betaEnd };
    }

    /// <summary>The settings in effect for <paramref name="defaults"/> with <paramref name="overrides"/>; an end before the start (one given, one the preset's) is a <see cref="UsageException"/>.</summary>
    public static RegularizerSettings Apply(RegularizerSettings defaults, RegularizerOverrides? overrides)
    {
        try
        {
            return overrides?.Apply(defaults) ?? defaults;
        }
        catch (ArgumentOutOfRangeException e)
        {
            string option = e.ParamName switch
            {
                "End" or "end" => "--lambda-end",
                "Start" or "start" => "--lambda-start",
                "ScheduleScale" => "--schedule-scale",
                "BetaEnd" => "--beta-end",
                "Kind" => "--regularizer",
                _ => "--lambda",
            };
            throw new UsageException($"{option}: {FirstLine(e.Message)} (with the preset's defaults: {ModelPresets.Describe(defaults)}).");
        }
    }

    /// <summary>The options as command-line text (for a reproducible command line), or empty.</summary>
    public static string CommandLine(RegularizerOverrides? o)
    {
        if (o is null)
            return "";
        var inv = CultureInfo.InvariantCulture;
        var parts = new List<string>();
        if (o.Kind is { } k)
            parts.Add($"--regularizer {k switch { RegularizerKind.SparsitySquared => "squared", RegularizerKind.None => "none", RegularizerKind.L1 => "l1", _ => "linear" }}");
        if (o.Lambda is { } l)
            parts.Add($"--lambda {l.ToString("G", inv)}");
        if (o.Start is { } s)
            parts.Add($"--lambda-start {s}");
        if (o.End is { } e)
            parts.Add($"--lambda-end {e}");
        if (o.BetaEnd is { } b)
            parts.Add($"--beta-end {b.ToString("G", inv)}");
        if (o.ScheduleScale != 1)
            parts.Add($"--schedule-scale {o.ScheduleScale.ToString("G", inv)}");
        return string.Join(" ", parts);
    }

    private static string Text(float v) => v.ToString("G", CultureInfo.InvariantCulture);

    // ArgumentOutOfRangeException appends "(Parameter 'x')" and "Actual value was" lines.
    private static string FirstLine(string message) => message.Split('\n')[0].Split(" (Parameter")[0].Trim();
}
