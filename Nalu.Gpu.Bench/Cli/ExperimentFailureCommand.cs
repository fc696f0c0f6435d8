using System.Diagnostics;
using System.Globalization;
using System.Text;
using CommandLine;
using Nalu.Gpu.Bench.Experiments;
using Nalu.Gpu.Experiments;
using Nalu.Gpu.Devices;
using Nalu.Gpu.Models;
using Spectre.Console;

namespace Nalu.Gpu.Bench.Cli;

/// <summary>
/// <c>nalu experiment failure</c>. CommandLineParser has no nested verbs, so the verb's real name is
/// <c>experiment-failure</c> and <see cref="Program"/> rewrites <c>experiment failure …</c> to it.
/// </summary>
[Verb(ExperimentFailureOptions.VerbName, HelpText = "Experiment 1, the NALU paper's Figure 1: MLPs of every activation and a NAC learn the identity on [-5, 5]; " +
    "writes the mean absolute error over [-20, 20] (failure.csv, failure.png, summary.txt, failure.json). Also spelled 'nalu experiment failure'.")]
public sealed class ExperimentFailureOptions : CommonOptions
{
    public const string VerbName = "experiment-failure";

    /// <summary>The --quick preset: about a minute on 2 cores, and the curves already separate.</summary>
    public const int QuickSteps = 3000, QuickSeeds = 3;

    [Option("steps", HelpText = "Adam steps per model (default 10000; 3000 with --quick).")]
    public int? Steps { get; set; }

    [Option("seeds", HelpText = "Models (seeds) per architecture, averaged in each curve (default 10; 3 with --quick).")]
    public int? Seeds { get; set; }

    [Option("seed", Default = 0, HelpText = "First seed; the models use seed..seed+seeds-1.")]
    public int Seed { get; set; }

    [Option("lr", Default = 1e-3f, HelpText = "Adam learning rate (the paper publishes none; 1e-3 converges smoothly, 1e-2 leaves Adam spikes in the exact fits, see docs/results.md).")]
    public float LearningRate { get; set; } = 1e-3f;

    [Option("batch", Default = 128, HelpText = "Samples per step, fresh from U[-5, 5] every step.")]
    public int Batch { get; set; } = 128;

    [Option("activations", Default = "all", HelpText = "Hidden activations, comma separated (one MLP each), or 'all': linear, relu, relu6, tanh, sigmoid, elu, selu, softplus, leaky-relu, prelu, softsign, hardtanh. 'none' trains only the NAC.")]
    public string Activations { get; set; } = "all";

    [Option("no-nac", HelpText = "Leave out the NAC 1→8→8→8→1.")]
    public bool NoNac { get; set; }

    [Option("nau", HelpText = "Also train a NAU 1→8→8→8→1 (Madsen & Johansen's additive unit, W clamped to [-1, 1]) as a line beside the NAC.")]
    public bool Nau { get; set; }

    [Option("points", Default = 401, HelpText = "Evaluation grid points on [-20, 20].")]
    public int Points { get; set; } = 401;

    [Option("linear-y", HelpText = "Plot the error on a linear axis, as the paper's figure does (default: a log axis, which also separates the curves near zero).")]
    public bool LinearY { get; set; }

    [Option("out", Default = "results/failure", HelpText = "Output folder (created if missing).")]
    public string Out { get; set; } = "results/failure";

    [Option("quick", HelpText = "A ~1 minute preset: 3000 steps and 3 seeds unless --steps/--seeds say otherwise.")]
    public bool Quick { get; set; }

    [Option("quiet", HelpText = "No progress output.")]
    public bool Quiet { get; set; }

    internal FailureSettings BuildSettings()
    {
        int steps = Steps ?? (Quick ? QuickSteps : 10_000);
        int seeds = Seeds ?? (Quick ? QuickSeeds : 10);
        if (steps < 1)
            throw new UsageException($"--steps {steps} must be at least 1.");
        if (seeds < 1)
            throw new UsageException($"--seeds {seeds} must be at least 1.");
        if (Batch < 1)
            throw new UsageException($"--batch {Batch} must be at least 1.");
        if (Points < 2)
            throw new UsageException($"--points {Points} must be at least 2.");
        if (!(float.IsFinite(LearningRate) && LearningRate > 0))
            throw new UsageException($"--lr {LearningRate} must be a positive number.");
        if (string.IsNullOrWhiteSpace(Out))
            throw new UsageException("--out must name a folder.");
        var activations = ParseActivations(Activations);
        if (activations.Count == 0 && NoNac && !Nau)
            throw new UsageException("Nothing to train: --activations none with --no-nac and no --nau.");
        return new FailureSettings
        {
            Steps = steps, Seeds = seeds, FirstSeed = Seed, Batch = Batch, LearningRate = LearningRate,
            Activations = activations, IncludeNac = !NoNac, IncludeNau = Nau, Points = Points,
        };
    }

    private static IReadOnlyList<Activation> ParseActivations(string text)
    {
        string trimmed = text.Trim();
        if (trimmed.Equals("all", StringComparison.OrdinalIgnoreCase))
            return FailureSettings.AllActivations;
        if (trimmed.Length == 0 || trimmed.Equals("none", StringComparison.OrdinalIgnoreCase))
            return [];
        var list = new List<Activation>();
        foreach (var name in trimmed.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            Activation activation;
            try
            {
                activation = ModelOptions.ParseActivation(name);
            }
            catch (UsageException)
            {
                throw new UsageException($"--activations: '{name}' is not one of linear, relu, relu6, tanh, sigmoid, elu, selu, softplus, leaky-relu, prelu, softsign, hardtanh (or 'all', 'none').");
            }

            if (list.Contains(activation))
                throw new UsageException($"--activations names '{name}' twice.");
            list.Add(activation);
        }

        return list;
    }

    /// <summary>The full equivalent command line (every setting spelled out), for the result files.</summary>
    internal string CommandLine(FailureSettings s)
    {
        var parts = new List<string>
        {
            "nalu experiment failure",
            $"--steps {s.Steps}", $"--seeds {s.Seeds}",
        };
        if (s.FirstSeed != 0)
            parts.Add($"--seed {s.FirstSeed}");
        parts.Add($"--lr {s.LearningRate.ToString("G", CultureInfo.InvariantCulture)}");
        if (s.Batch != 128)
            parts.Add($"--batch {s.Batch}");
        if (!s.Activations.SequenceEqual(FailureSettings.AllActivations))
            parts.Add($"--activations {(s.Activations.Count == 0 ? "none" : string.Join(",", s.Activations.Select(FailureExperiment.NameOf)))}");
        if (!s.IncludeNac)
            parts.Add("--no-nac");
        if (s.IncludeNau)
            parts.Add("--nau");
        if (s.Points != 401)
            parts.Add($"--points {s.Points}");
        if (LinearY)
            parts.Add("--linear-y");
        parts.Add($"--device {Device.ToLowerInvariant()}");
        parts.Add($"--out {Out}");
        return string.Join(" ", parts);
    }
}

internal static class ExperimentFailureCommand
{
    public const string CsvFile = "failure.csv", PngFile = "failure.png", SummaryFile = "summary.txt", JsonFile = "failure.json";

    /// <summary>
    /// Verdicts. A linear map <c>y = c·x + d</c> that is slightly off has an error <c>|(c−1)x + d|</c>, which on
    /// this grid is at most about 5× larger outside [−5, 5] than inside (mean |x| 12.5 against 2.5): growth by
    /// more than <see cref="GrowthRatio"/> (twice that) means the error grows faster than any linear map's would,
    /// i.e. the model does not extrapolate. It <see cref="Verdict.Fails"/> when the error outside is also more
    /// than <see cref="FailureRelative"/> of |x| there, and only <see cref="Verdict.Degrades"/> otherwise (the
    /// piecewise-linear activations keep following x, with a slope a little off).
    /// </summary>
    public const double GrowthRatio = 10, FailureRelative = 0.05;

    internal enum Verdict { Extrapolates, Degrades, Fails }

    internal static Verdict Judge(FailureModel m, FailureResult r) =>
        !(m.MaeOutside <= FailureRelative * r.MeanAbsOutside) && !(m.MaeOutside <= GrowthRatio * m.MaeInside) ? Verdict.Fails
        : !(m.MaeOutside <= GrowthRatio * m.MaeInside) ? Verdict.Degrades
        : Verdict.Extrapolates;

    public static int Run(ExperimentFailureOptions o) => Run(o, Console.Out);

    public static int Run(ExperimentFailureOptions o, TextWriter log)
    {
        var settings = o.BuildSettings();
        if (File.Exists(o.Out))
            throw new UsageException($"--out '{o.Out}' is a file; give a folder.");
        using var device = NaluDevice.Create(o.DeviceKind, o.DeviceIndex);
        Directory.CreateDirectory(o.Out);   // now, so a folder that cannot be made fails before the training
        string command = o.CommandLine(settings);
        var architectures = FailureExperiment.Architectures(settings);
        if (!o.Quiet)
        {
            log.WriteLine($"Device: {device}");
            log.WriteLine($"Identity autoencoder 1→{string.Join("→", settings.Hidden)}→1 on U[-{settings.TrainLimit:G}, {settings.TrainLimit:G}]: " +
                $"{architectures.Count} architectures × {settings.Seeds} seeds, {settings.Steps} Adam steps (lr {settings.LearningRate:G}), batch {settings.Batch}");
        }

        var clock = Stopwatch.StartNew();
        var result = Train(device, settings, architectures, o.Quiet, log);
        clock.Stop();

        string csv = Csv(result);
        string summary = Summary(result, command, clock.Elapsed.TotalSeconds);
        string json = System.Text.Json.JsonSerializer.Serialize(new
        {
            Command = command,
            WallSeconds = clock.Elapsed.TotalSeconds,
            result.Device,
            result.Strategy,
            result.Settings,
            MeanAbsXOutside = result.MeanAbsOutside,
            Models = result.Models.Select(m => new
            {
                m.Name, m.Architecture, m.Seeds, m.Diverged, m.TrainSeconds, m.FinalLoss, m.MaeInside, m.MaeOutside, m.Ratio,
                RelativeErrorOutside = m.MaeOutside / result.MeanAbsOutside,
                Verdict = Judge(m, result),
                m.Mae,
            }),
            result.X,
        }, Output.Json);
        byte[] png = FailurePlot.Render(result, logScale: !o.LinearY);

        Output.WriteAtomically(Path.Combine(o.Out, CsvFile), csv);
        Output.WriteAtomically(Path.Combine(o.Out, PngFile), png);
        Output.WriteAtomically(Path.Combine(o.Out, JsonFile), json);
        Output.WriteAtomically(Path.Combine(o.Out, SummaryFile), summary);
        if (!o.Quiet)
        {
            log.WriteLine();
            log.Write(summary);
            log.WriteLine($"Wrote {CsvFile}, {PngFile}, {SummaryFile} and {JsonFile} to {Path.GetFullPath(o.Out)}");
        }

        return result.Models.All(m => m.Diverged.Length == 0) ? 0 : 3;
    }

    private static FailureResult Train(NaluDevice device, FailureSettings settings,
        IReadOnlyList<(string Name, ModelArchitecture Architecture)> architectures, bool quiet, TextWriter log)
    {
        if (quiet)
            return FailureExperiment.Run(device, settings);

        if (AnsiConsole.Profile.Capabilities.Interactive && log == Console.Out && !Console.IsOutputRedirected)
        {
            FailureResult? result = null;
            AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
                .Start(ctx =>
                {
                    var bars = architectures.Select(a => ctx.AddTask(Markup.Escape(a.Architecture.ShortName), autoStart: false, maxValue: settings.Steps)).ToArray();
                    result = FailureExperiment.Run(device, settings,
                        (index, step, _) =>
                        {
                            if (!bars[index].IsStarted)
                                bars[index].StartTask();
                            bars[index].Value = step;
                        },
                        (index, model) =>
                        {
                            bars[index].Description = Markup.Escape($"{model.Architecture}: MAE inside {model.MaeInside:G3}, outside {model.MaeOutside:G3}");
                            bars[index].StopTask();
                        });
                });
            return result!;
        }

        // Not a terminal: one plain line per architecture, so logs stay readable.
        return FailureExperiment.Run(device, settings, onModel: (index, m) =>
            log.WriteLine($"  [{index + 1}/{architectures.Count}] {m.Architecture,-22} {m.TrainSeconds,6:F1} s  loss {m.FinalLoss,-10:G3} " +
                $"MAE inside {m.MaeInside,-10:G3} outside {m.MaeOutside,-10:G3}{(m.Diverged.Length > 0 ? $"  ({m.Diverged.Length} diverged)" : "")}"));
    }

    /// <summary>x, then one MAE column per architecture (named as in --activations, and <c>nac</c>).</summary>
    internal static string Csv(FailureResult r)
    {
        var sb = new StringBuilder();
        sb.Append('x');
        foreach (var m in r.Models)
            sb.Append(',').Append(m.Name);
        sb.Append('\n');
        for (int k = 0; k < r.X.Length; k++)
        {
            sb.Append(r.X[k].ToString("R", CultureInfo.InvariantCulture));
            foreach (var m in r.Models)
                sb.Append(',').Append(m.Mae[k].ToString("G6", CultureInfo.InvariantCulture));
            sb.Append('\n');
        }

        return sb.ToString();
    }

    internal static string Summary(FailureResult r, string command, double wallSeconds)
    {
        var s = r.Settings;
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine("Experiment 1: extrapolation failure of MLPs (NALU paper, Figure 1)");
        sb.AppendLine($"command:  {command}");
        sb.AppendLine($"task:     identity autoencoder 1→{string.Join("→", s.Hidden)}→1, trained on U[-{s.TrainLimit:G}, {s.TrainLimit:G}], " +
            $"evaluated on {s.Points} points over [-{s.EvalLimit:G}, {s.EvalLimit:G}]");
        sb.AppendLine($"training: Adam lr {s.LearningRate.ToString("G", inv)}, batch {s.Batch}, {s.Steps} steps, {s.Seeds} seeds " +
            $"({s.FirstSeed}..{s.FirstSeed + s.Seeds - 1}) per architecture, each architecture's seeds trained as one population");
        sb.AppendLine($"device:   {r.Device}, strategy {r.Strategy}; wall time {wallSeconds.ToString("F1", inv)} s");
        sb.AppendLine("MAE = |y - x| averaged over the seeds, then over the grid points inside (|x| <= " +
            $"{s.TrainLimit:G}) or outside (|x| > {s.TrainLimit:G}) the training range. relative = MAE outside / mean |x| outside " +
            $"({r.MeanAbsOutside.ToString("F2", inv)}).");
        sb.AppendLine($"verdict:  'extrapolates' when MAE outside <= {GrowthRatio:G} × MAE inside (a linear map with a slightly wrong slope gives about 5×);");
        sb.AppendLine($"          otherwise 'fails' when relative > {FailureRelative.ToString("P0", inv)}, else 'degrades' (the error grows outside the range but stays within {FailureRelative.ToString("P0", inv)} of |x|).");
        sb.AppendLine();
        sb.AppendLine($"{"model",-12} {"MAE inside",12} {"MAE outside",12} {"out/in",9} {"relative",9}  {"final loss",10}  verdict");
        foreach (var m in r.Models.OrderBy(m => double.IsNaN(m.MaeOutside) ? double.MaxValue : m.MaeOutside))
        {
            string diverged = m.Diverged.Length == 0 ? "" : $" ({m.Diverged.Length} of {m.Seeds.Length} seeds diverged, left out)";
            sb.AppendLine(string.Format(inv, "{0,-12} {1,12:G4} {2,12:G4} {3,9:F1} {4,9:P1}  {5,10:G3}  {6}{7}",
                m.Name, m.MaeInside, m.MaeOutside, m.Ratio, m.MaeOutside / r.MeanAbsOutside, m.FinalLoss,
                Judge(m, r).ToString().ToLowerInvariant(), diverged));
        }

        string Names(Verdict v)
        {
            var names = r.Models.Where(m => Judge(m, r) == v).Select(m => m.Name).ToArray();
            return names.Length == 0 ? "none" : string.Join(", ", names);
        }

        sb.AppendLine();
        sb.AppendLine($"fail outside the training range:       {Names(Verdict.Fails)}");
        sb.AppendLine($"degrade (error grows, stays within {FailureRelative.ToString("P0", inv)}): {Names(Verdict.Degrades)}");
        sb.AppendLine($"extrapolate:                           {Names(Verdict.Extrapolates)}");
        return sb.ToString();
    }
}
