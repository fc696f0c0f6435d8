using System.Diagnostics;
using CommandLine;
using Nalu.Gpu.Checkpoints;
using Nalu.Gpu.Devices;
using Nalu.Gpu.Models;
using Nalu.Gpu.Tasks;
using Nalu.Gpu.Training;
using Spectre.Console;

namespace Nalu.Gpu.Bench.Cli;

[Verb("train", HelpText = "Train on the static arithmetic task, or with --data on your own CSV or .npy rows, and report interpolation (or validation) and extrapolation (or test) MSE.")]
public sealed class TrainOptions : ModelOptions
{
    [Option("steps", Default = 10000, HelpText = "Optimizer steps. The reported train loss is the last step's batch MSE, without the regulariser.")]
    public int Steps { get; set; } = 10000;

    [Option("eval-every", Default = 1000, HelpText = "Evaluate every this many steps (0: only at the end).")]
    public int EvalEvery { get; set; } = 1000;

    [Option("eval-samples", Default = 10000, HelpText = "Samples in each evaluation set (interpolation and extrapolation).")]
    public int EvalSamples { get; set; } = 10000;

    [Option("baseline", HelpText = "Also train a dense ReLU MLP (hidden widths --baseline-hidden) on the same data with the same optimizer, and compare.")]
    public bool Baseline { get; set; }

    [Option("baseline-hidden", Default = "16,16", HelpText = "Hidden widths of the --baseline MLP.")]
    public string BaselineHidden { get; set; } = "16,16";

    [Option("json", HelpText = "Write a machine-readable result to this file ('-' for stdout).")]
    public string? Json { get; set; }

    [Option("save", HelpText = "Write a safetensors checkpoint of the trained model(s) to this file, with the training state (optimizer moments, step, " +
        "best evaluations, history, options) so that --resume can continue it. When a model diverged, only the finite models are saved, without training state.")]
    public string? Save { get; set; }

    [Option("resume", HelpText = "Continue the run saved in this checkpoint by --save (or --save-every): give the same options as that run, with --steps the " +
        "run's new total (e.g. --steps 2000 continues a checkpoint at step 1000 for 1000 more). The result is bit-identical to a run that never stopped. " +
        "--save may name the same file.")]
    public string? Resume { get; set; }

    [Option("save-every", Default = 0, HelpText = "With --save, also rewrite the checkpoint every this many steps (atomically), so a long run keeps its progress.")]
    public int SaveEvery { get; set; }

    [Option("quiet", HelpText = "No progress output.")]
    public bool Quiet { get; set; }

    [Option("data", HelpText = "Train on your own data instead of the arithmetic task: a CSV (header optional) or .npy file. " +
        "The model's input width is the number of --input-columns, its output width the number of --target-columns; --op, --inputs and the ranges are not used.")]
    public string? Data { get; set; }

    [Option("input-columns", HelpText = "With --data: input columns, comma separated, by header name or 0-based index (e.g. m1,m2,r or 0,1,2). Default: every column but the last.")]
    public string? InputColumns { get; set; }

    [Option("target-columns", HelpText = "With --data: target columns, comma separated, by name or index. Default: the last column.")]
    public string? TargetColumns { get; set; }

    [Option("valid", HelpText = "With --data: a validation file with the same columns; the best-validation step is tracked on it.")]
    public string? Valid { get; set; }

    [Option("test", HelpText = "With --data: a test file with the same columns (e.g. inputs far outside the training range).")]
    public string? Test { get; set; }
}

/// <summary>The result of one training run, as written by --json.</summary>
public sealed record RunResult(
    string Name, string Architecture, string Unit, string Op, int Inputs, int Steps, int Batch, string Optimizer, float LearningRate,
    string Interpolation, string Extrapolation, string Device, string Strategy, double WallSeconds, double ModelStepsPerSecond,
    IReadOnlyList<ModelResult> Models);

/// <summary>One model's scores.</summary>
public sealed record ModelResult(int Seed, float TrainLoss, double InterpolationMse, double ExtrapolationMse, bool Diverged);

internal static class TrainCommand
{
    public static int Run(TrainOptions o)
    {
        if (o.Steps < 1)
            throw new UsageException($"--steps {o.Steps} must be at least 1.");
        if (o.EvalEvery < 0 || o.EvalSamples < 1)
            throw new UsageException("--eval-every must be ≥ 0 and --eval-samples ≥ 1.");
        if (o.Resume is not null && o.Baseline)
            throw new UsageException("--resume continues one run; it cannot be combined with --baseline.");
        if (o.Data is not null)
            return TrainDataCommand.Run(o);
        if (o.InputColumns is not null || o.TargetColumns is not null || o.Valid is not null || o.Test is not null)
            throw new UsageException("--input-columns, --target-columns, --valid and --test need --data.");
        if ((long)o.Seed + o.Models - 1 > int.MaxValue)
            throw new UsageException($"--seed {o.Seed} with --models {o.Models} would need seeds beyond {int.MaxValue}; use a smaller --seed.");
        var task = o.BuildTask();
        var architecture = o.BuildArchitecture();
        var options = o.BuildTrainerOptions(o.EvalEvery, o.EvalSamples);
        var baselineArch = o.Baseline ? o.BuildArchitecture("mlp", o.BaselineHidden, "--baseline-hidden") : null;
        var baselineOptions = o.BuildTrainerOptions(o.EvalEvery, o.EvalSamples, withUnitRecipe: false);
        if (o.Save is not null)
            CheckWritable(o.Save, "--save");
        if (o.SaveEvery < 0 || (o.SaveEvery > 0 && o.Save is null))
            throw new UsageException("--save-every needs --save and must be ≥ 0.");
        if (o.Json is not null && o.Json != "-")
            CheckWritable(o.Json, "--json");
        try
        {
            // --save may rewrite the checkpoint it resumes (read whole before training); --json may not.
            Nalu.Gpu.IO.SafeFile.EnsureDistinct([("--resume", o.Resume)], [("--json", o.Json)]);
            Nalu.Gpu.IO.SafeFile.EnsureDistinct([], [("--save", o.Save), ("--json", o.Json)]);
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }

        var resume = ReadResume(o);
        using var device = NaluDevice.Create(o.DeviceKind, o.DeviceIndex);
        bool toStdout = o.Json == "-";
        var log = toStdout ? new StreamWriter(Console.OpenStandardError()) { AutoFlush = true } : Console.Out;
        log.WriteLine($"Device: {device}");

        var results = new List<RunResult>();
        var main = TrainOne(device, architecture, o.Unit, task, options, o, log, periodicSave: true, resume, out var model, out var mainTrainer);
        results.Add(main);
        using (model)
        using (mainTrainer)
        {
            if (baselineArch is not null)
            {
                var baseline = TrainOne(device, baselineArch, "mlp", task, baselineOptions, o, log, periodicSave: false, null, out var baselineModel, out var baselineTrainer);
                baselineTrainer.Dispose();
                baselineModel.Dispose();
                results.Add(baseline);
            }

            // The results come first: the table and the JSON are written whatever happens to the checkpoint.
            PrintSummary(results, log);
            if (o.Json is not null)
            {
                object payload = results.Count == 1 ? results[0] : new { Result = results[0], Baseline = results[1] };
                string json = System.Text.Json.JsonSerializer.Serialize(payload, Output.Json);
                if (toStdout)
                    Console.WriteLine(json);
                else
                    Output.WriteAtomically(o.Json, json);
            }

            if (o.Save is not null)
                SaveRun(o.Save, mainTrainer, model, task, log);
        }

        bool diverged = results.SelectMany(r => r.Models).Any(m => m.Diverged);
        if (diverged)
            log.WriteLine("A model diverged (NaN or infinite loss or parameters): exit code 3. Its scores are NaN in the table and the JSON.");
        return diverged ? 3 : 0;
    }

    /// <summary>
    /// Saves the models that stayed finite and says which diverged ones were left out (a checkpoint holds only
    /// finite parameters, so a diverged model is left out with a note, never saved with NaNs).
    /// </summary>
    internal static void SaveFinite(string path, Model model, ArithmeticTask? task, int step, TextWriter log)
    {
        var left = Checkpoint.SaveFinite(path, model, task, step);
        if (left.Count == model.Count)
            log.WriteLine($"Not saved: every model diverged, so '{path}' was not written.");
        else if (left.Count > 0)
            log.WriteLine($"Saved checkpoint: {path} ({model.Count - left.Count} of {model.Count} models; left out, diverged: seed {string.Join(", ", left)})");
        else
            log.WriteLine($"Saved checkpoint: {path}");
    }

    /// <summary>
    /// Saves the run with its training state (resumable), or, when a model's parameters are no longer finite, the finite
    /// models only, without training state, as <see cref="SaveFinite"/> does.
    /// </summary>
    internal static void SaveRun(string path, Trainer trainer, Model model, ArithmeticTask? task, TextWriter log)
    {
        if (model.GetParameters().All(float.IsFinite))
        {
            trainer.SaveCheckpoint(path);
            log.WriteLine($"Saved checkpoint: {path} (with the training state at step {trainer.Step}: continue it with --resume)");
            return;
        }

        SaveFinite(path, model, task, trainer.Step, log);
        log.WriteLine("  (A model diverged, so the checkpoint holds no training state and cannot be resumed.)");
    }

    /// <summary>
    /// Reads --resume's checkpoint before any work starts: it must hold a training state at a step below --steps (the
    /// run's total).
    /// </summary>
    internal static Checkpoint.Contents? ReadResume(TrainOptions o)
    {
        if (o.Resume is null)
            return null;
        var contents = Checkpoint.Read(o.Resume);
        if (contents.Training is null)
        {
            throw new UsageException($"--resume '{o.Resume}' holds no training state (written by an older version, by another command, " +
                "or after a model diverged); it cannot be resumed.");
        }

        if (contents.Step >= o.Steps)
            throw new UsageException($"--resume '{o.Resume}' is at step {contents.Step}; --steps is the run's total, so give more than {contents.Step}.");
        return contents;
    }

    /// <summary>Restores --resume's state into <paramref name="trainer"/>; another run's checkpoint is a usage error naming what differs.</summary>
    internal static void Restore(Trainer trainer, Checkpoint.Contents? resume, TrainOptions o, TextWriter log)
    {
        if (resume is null)
            return;
        try
        {
            trainer.Restore(resume);
        }
        catch (ArgumentException e)
        {
            throw new UsageException($"--resume '{o.Resume}': {e.Message.Split('\n')[0].Split(" (Parameter")[0].Trim()} Give the options of the run that saved it.");
        }

        log.WriteLine($"Resuming from step {resume.Step} of {o.Resume}: {o.Steps - resume.Step} more step(s) to {o.Steps}.");
    }

    internal static void CheckWritable(string path, string option)
    {
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null && !Directory.Exists(dir))
            throw new UsageException($"{option} '{path}': directory '{dir}' does not exist.");
        if (Directory.Exists(path))
            throw new UsageException($"{option} '{path}' is a directory.");
    }

    private static RunResult TrainOne(NaluDevice device, ModelArchitecture architecture, string unit, ArithmeticTask task,
        TrainerOptions options, TrainOptions o, TextWriter log, bool periodicSave, Checkpoint.Contents? resume, out Model model, out Trainer trainer)
    {
        // Preflight before the seed list itself is built: --models 2000000000 must be a message, not an 8 GB array.
        device.EnsureFits(4.0 * o.Models * (5.0 * architecture.ParameterCount + 1), $"--models {o.Models} of {architecture.ParameterCount} parameters");
        var trained = model = new Model(device, architecture, o.Seeds);
        var run = trainer = new Trainer(model, task, options);
        Restore(trainer, resume, o, log);
        log.WriteLine($"Training {architecture.ShortName} on {task.Op} ({task.Inputs} inputs), {o.Models} model(s), {o.Steps} steps, batch {o.Batch}, strategy {trainer.Strategy}");
        var regularizers = architecture.Layers.Where(l => l.HasRegularizer).Select(l => ModelPresets.Describe(l.Regularizer)).Distinct().ToArray();
        if (regularizers.Length > 0)
            log.WriteLine($"Regulariser: {string.Join("; ", regularizers)} (added to the gradient; the reported loss is the batch MSE without it)");
        if (architecture.Layers.FirstOrDefault(l => !l.INaluRecipe.IsNone) is { } inalu)
        {
            var r = inalu.INaluRecipe;
            log.WriteLine($"iNALU recipe: alternating updates {(r.Alternate != 0 ? "8 weight / 2 gate steps" : "off")}, saturation {r.Saturation.ToString(System.Globalization.CultureInfo.InvariantCulture)} from step {r.SaturationStart} while the loss < {r.SaturationLossBelow.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
        }

        if (options.ReinitializeEvery > 0 || options.Optimizer.ClipValue > 0)
            log.WriteLine($"Gradient clip value: {(options.Optimizer.ClipValue > 0 ? options.Optimizer.ClipValue.ToString(System.Globalization.CultureInfo.InvariantCulture) : "off")}; re-initialise stuck models every {(options.ReinitializeEvery > 0 ? $"{options.ReinitializeEvery} steps" : "never")}");
        var clock = Stopwatch.StartNew();
        Action<TrainingProgress>? periodic = periodicSave && o.SaveEvery > 0 && o.Save is not null
            ? p =>
            {
                if (p.Step % o.SaveEvery == 0 && p.Step < p.TotalSteps)
                    SaveRun(o.Save, run, trained, task, TextWriter.Null);
            }
            : null;
        int first = trainer.Step;
        Run(trainer, o.Steps - first, o.Quiet, log, periodic);
        clock.Stop();
        foreach (var r in trainer.Reinitializations)
            log.WriteLine($"Re-initialised (stuck): model {r.Model} (seed {trained.Seeds[r.Model]}) at step {r.Step}");
        var final = trainer.History.Count > 0 && trainer.History[^1].Step == trainer.Step ? trainer.History[^1] : trainer.Evaluate();
        var models = Enumerable.Range(0, trained.Count).Select(p => new ModelResult(
            trained.Seeds[p], run.LastLosses[p], final.Interpolation[p], final.Extrapolation[p],
            run.Diverged[p] || double.IsNaN(final.Interpolation[p]) || double.IsNaN(final.Extrapolation[p]))).ToArray();
        return new RunResult(architecture.ShortName, architecture.ToString(), unit, task.Op.ToString().ToLowerInvariant(), task.Inputs, o.Steps, o.Batch,
            options.Optimizer.Kind.ToString().ToLowerInvariant(), options.Optimizer.LearningRate, task.Interpolation.ToString(),
            task.Extrapolation.ToString(), device.ToString(), trainer.Strategy.ToString(), clock.Elapsed.TotalSeconds,
            (double)(o.Steps - first) * model.Count / clock.Elapsed.TotalSeconds, models);
    }

    internal static void Run(Trainer trainer, int steps, bool quiet, TextWriter log, Action<TrainingProgress>? periodic)
    {
        if (quiet)
        {
            trainer.Train(steps, periodic);
            return;
        }

        if (AnsiConsole.Profile.Capabilities.Interactive && log == Console.Out)
        {
            AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                .Start(ctx =>
                {
                    var bar = ctx.AddTask("training", maxValue: trainer.Step + steps);
                    trainer.Train(steps, p =>
                    {
                        periodic?.Invoke(p);
                        bar.Value = p.Step;
                        bar.Description = $"step {p.Step} batch MSE {Median(p.Losses):G3}";
                    });
                });
            return;
        }

        // Not a terminal: a plain line every ~10% (and at each evaluation), so logs stay readable.
        int every = Math.Max(1, steps / 10), next = every;
        var clock = Stopwatch.StartNew();
        trainer.Train(steps, p =>
        {
            periodic?.Invoke(p);
            if (p.Step < next && p.Evaluation is null && p.Step != p.TotalSteps)
                return;
            while (next <= p.Step)
                next += every;
            string eval = p.Evaluation is null ? "" : $"  interp {Median(p.Evaluation.Interpolation):G3}  extrap {Median(p.Evaluation.Extrapolation):G3}";
            log.WriteLine($"  step {p.Step,8}/{p.TotalSteps}  batch MSE {Median(p.Losses):G4}{eval}  ({p.Step / clock.Elapsed.TotalSeconds:F0} steps/s)");
        });
    }

    private static double Median(IEnumerable<float> values) => Median(values.Select(v => (double)v));

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.OrderBy(v => double.IsNaN(v) ? double.MaxValue : v).ToArray();
        return sorted[sorted.Length / 2];
    }

    internal static void PrintSummary(IReadOnlyList<RunResult> results, TextWriter log, string first = "Interpolation MSE", string second = "Extrapolation MSE")
    {
        var table = new Table().AddColumns("Model", "Seeds", "Train loss (batch MSE)", first, second, "Steps/s");
        foreach (var r in results)
        {
            var m = r.Models;
            string Cell(Func<ModelResult, double> f) => m.Count == 1 ? $"{f(m[0]):G4}" : $"median {Median(m.Select(f)):G4}";
            table.AddRow(Markup.Escape(r.Name), m.Count == 1 ? m[0].Seed.ToString() : $"{m[0].Seed}..{m[^1].Seed}",
                Cell(x => x.TrainLoss), Cell(x => x.InterpolationMse), Cell(x => x.ExtrapolationMse), $"{r.ModelStepsPerSecond:F0}");
        }

        Output.Console(log).Write(table);
        log.WriteLine("  Train loss: the last step's batch MSE, without the regulariser (nau, nmu, presets); MSEs are on the evaluation sets.");

        int diverged = results.Sum(r => r.Models.Count(x => x.Diverged));
        if (diverged > 0)
            log.WriteLine($"Warning: {diverged} model(s) produced NaN or infinite values (diverged); their MSE is reported as NaN.");
    }
}
