using System.Diagnostics;
using System.Globalization;
using CommandLine;
using Nalu.Gpu.Bench.Experiments;
using Nalu.Gpu.Experiments;
using Nalu.Gpu.Devices;
using Nalu.Gpu.Kernels;
using Spectre.Console;

namespace Nalu.Gpu.Bench.Cli;

/// <summary>
/// <c>nalu experiment arithmetic</c> (flat verb <c>experiment-arithmetic</c>; <see cref="ExperimentVerbs"/> rewrites the
/// two words into one).
/// </summary>
[Verb(VerbName, HelpText = "Experiment 2, the static arithmetic benchmark: units × ops × seeds × range pairs, each model judged at its best " +
    "validation step; success rates with Wilson intervals, solved-at step, sparsity and relative error. Resumable (results.jsonl) and " +
    "splittable (--shard K/N, then 'experiment merge'). Also spelled 'nalu experiment arithmetic'.")]
public class ExperimentArithmeticOptions : RegularizedOptions
{
    public const string VerbName = "experiment-arithmetic";

    /// <summary>Defaults sized for one CPU machine (the papers: 5·10⁶ steps, 100 seeds).</summary>
    public const int DefaultSteps = 100_000, DefaultSeeds = 10, DefaultEvalEvery = 1000;

    /// <summary>
    /// The --quick preset: about a minute on 2 idle cores. A 10-input miniature of the task whose subsets of 3 do not
    /// overlap (the protocol's 25-subsets overlap by 12, and a NAC needs far more steps to reach the threshold on a + b
    /// with an overlap: see docs/results.md), 10 seeds, 20,000 steps at lr 0.01, 1000-sample sets: the budget in which the
    /// NAC solves + and − and the NAU→NMU solves × and a² on every seed we measured (docs/results.md, "--quick").
    /// </summary>
    public const int QuickSteps = 20_000, QuickSeeds = 10, QuickEvalEvery = 1000, QuickEvalSamples = 1000, QuickThresholdSamples = 100_000,
        QuickInputs = 10, QuickSubset = 3, QuickGap = 3;

    /// <summary>The --quick learning rate (10× the protocol's), so that + and − and × are solved within its few steps.</summary>
    public const float QuickLearningRate = 1e-2f;

    /// <summary>
    /// The --quick schedule scale of the presets' regularisers: nau-nmu's warm-up 1e6→2e6 becomes 5000→10000 and nau's
    /// 5e3→5e4 becomes 25→250, so the regulariser acts within the 20,000 steps.
    /// </summary>
    public const double QuickScheduleScale = 5e-3;

    /// <summary>
    /// The --quick λ̂ of the presets whose sparsity strength is the NMU paper's 10 (nau-nmu, nau-nmru, nau-snmu): with λ̂ = 10
    /// squeezed into 5000 steps the NAU→NMU solves × on none of seeds 0–9 within 20,000 steps, with 0.1 on all ten.
    /// </summary>
    public const float QuickNmuLambda = 0.1f;

    [Option("units", HelpText = "Units, comma separated: nac, nac-mult, nalu, nalu-untied, mlp-ACTIVATION (e.g. mlp-relu6, mlp-linear, mlp-tanh), " +
        "nalu-gate, nmu, snmu, npu, realnpu, nmru (both layers that unit, no regulariser), or presets with the papers' regularisers: nau-nmu (NAU then NMU), " +
        "nau (NAU then NAU), nau-npu, nau-realnpu (NAU then NPU/RealNPU, L1), nau-nmru (NAU then NMRU), nau-snmu (NAU then sNMU), inalu (iNALU with its recipe, see --inalu-recipe). Default nac,nalu,nau-nmu,mlp-relu6,mlp-linear.")]
    public string? Units { get; set; }

    [Option("ops", HelpText = "Ops, comma separated: add, sub, mul, div, square, sqrt. Default all six.")]
    public string? Ops { get; set; }

    [Option("ranges", HelpText = "Range pairs 'interpolation=extrapolation', separated by ';', e.g. '1:2=2:6;-2:-1=-6:-2' or '-2:2=-6:-2,2:6'. Default 1:2=2:6. √ is skipped on ranges with negative numbers.")]
    public string? Ranges { get; set; }

    [Option("steps", HelpText = "Adam steps per model (default 100000; 20000 with --quick; the papers' protocol: 5000000 static, 100000 recurrent).")]
    public int? Steps { get; set; }

    [Option("seeds", HelpText = "Seeds per (unit, op, range pair) (default 10, also with --quick; 5 with experiment recurrent --quick; the papers': 100).")]
    public int? Seeds { get; set; }

    [Option("seed", Default = 0, HelpText = "First seed; the models use seed..seed+seeds-1.")]
    public int Seed { get; set; }

    [Option("eval-every", HelpText = "Evaluate validation and test MSE every this many steps, and at step 0 (default 1000; 250 with --quick).")]
    public int? EvalEvery { get; set; }

    [Option("eval-samples", HelpText = "Samples in the validation set and in the test set (default 10000; 1000 with --quick and for experiment recurrent).")]
    public int? EvalSamples { get; set; }

    [Option("lr", HelpText = "Adam learning rate (default 1e-3, the protocol's; 0.03 with --quick).")]
    public float? LearningRate { get; set; }

    [Option("batch", Default = 128, HelpText = "Samples per step, fresh from the interpolation range every step.")]
    public int Batch { get; set; } = 128;

    [Option("inputs", HelpText = "Input width (default 100, the protocol's; 10 with --quick; experiment recurrent: values per step, default 10). 2 gives op(x0, x1), where the ε-perturbed solution of a + b is exact, so its threshold is 0.")]
    public int? Inputs { get; set; }

    [Option("subset", HelpText = "Inputs summed into a and into b (default 25; 3 with --quick and for experiment recurrent; ignored with --inputs 2).")]
    public int? Subset { get; set; }

    [Option("gap", HelpText = "Start of b's subset minus start of a's (default 13: they overlap by 12; 3 with --quick: no overlap; 2 for experiment recurrent; ignored with --inputs 2).")]
    public int? Gap { get; set; }

    [Option("epsilon", Default = 1e-5, HelpText = "Weight error of the near-perfect solution whose test MSE is the success threshold.")]
    public double Epsilon { get; set; } = 1e-5;

    [Option("threshold-samples", HelpText = "Monte Carlo samples of each success threshold (default 1000000; 100000 with --quick; 10000 for experiment recurrent).")]
    public int? ThresholdSamples { get; set; }

    [Option("shard", Default = "0/1", HelpText = "Run share K of N (0 <= K < N) of the grid: the models whose index in the canonical order (range pair, unit, op, seed) is K modulo N.")]
    public string Shard { get; set; } = "0/1";

    [Option("out", HelpText = "Output folder: results.jsonl (one line per finished model; a rerun skips those), table.md, table.csv, table.json, success.png. Default results/arithmetic (results/recurrent for experiment recurrent).")]
    public string Out { get; set; } = "results/arithmetic";

    [Option("sequence", HelpText = "Training sequence length T: 2 or more runs the recurrent task (each layer-1 unit a recurrent cell over [x_t, h]; a, b summed over T steps of --inputs values). Default 1 (static); 10 for experiment recurrent.")]
    public int? Sequence { get; set; }

    [Option("test-sequence", HelpText = "Recurrent task: the test's sequence length, at least --sequence (default 1000, Madsen & Johansen's; 100 with --quick). The test extrapolates in length, on the extrapolation range (experiment recurrent: U[1,2], the training range).")]
    public int? TestSequence { get; set; }

    /// <summary>Whether this verb is <c>experiment recurrent</c>, whose defaults are the recurrent task's.</summary>
    internal virtual bool RecurrentVerb => false;

    [Option("quick", HelpText = "A ~1 minute preset on 2 idle cores: a 10-input task with non-overlapping 3-input subsets, 10 seeds, 20000 steps at lr 0.01, 1000-sample evaluation sets; the presets' schedules scaled by 0.005 and the NMU presets' λ̂ 10 lowered to 0.1, unless a regulariser option is given. " +
        "With experiment recurrent (~2 minutes): the nac, nau, rnn-tanh and lstm units on add and sub, 5 seeds, evaluated every 2000 steps, tested on sequences of 100 steps. Explicit options override it.")]
    public bool Quick { get; set; }

    [Option("quiet", HelpText = "No progress output.")]
    public bool Quiet { get; set; }

    /// <summary>
    /// Default of --checkpoint-every: at most this many steps are lost to a kill. A checkpoint is small (60 NAC models of
    /// 100 → 2 → 1 with their training state: 0.4 MB), so writing it costs little beside 10,000 steps.
    /// </summary>
    public const int DefaultCheckpointEvery = 10_000;

    [Option("checkpoint-every", Default = DefaultCheckpointEvery, HelpText = "Save the training state of the population in training every this many steps, " +
        "atomically, to --out/checkpoints/ (0: never); a rerun after a kill resumes it from there, with results identical to an uninterrupted run. " +
        "A population's file is deleted once its results are in results.jsonl.")]
    public int CheckpointEvery { get; set; } = DefaultCheckpointEvery;

    /// <summary>For tests: stop (exit 130, as an interrupted run) right after writing this many checkpoints, as a kill would.</summary>
    [Option("stop-after-checkpoints", Hidden = true)]
    public int StopAfterCheckpoints { get; set; }

    /// <summary>The settings, with --quick applied where an option was not given.</summary>
    /// <exception cref="UsageException">A bad value, naming the option.</exception>
    internal ArithmeticSettings BuildSettings()
    {
        int sequence = Sequence ?? (RecurrentVerb ? ExperimentRecurrentOptions.DefaultSequence : 1);
        if (sequence < 1)
            throw new UsageException($"--sequence {sequence} must be at least 1 (1: the static task).");
        bool recurrent = sequence > 1;
        if (TestSequence is { } t && !recurrent)
            throw new UsageException($"--test-sequence {t} needs the recurrent task: give --sequence 2 or more.");
        int testSequence = TestSequence ?? (!recurrent ? 0 : Quick ? ExperimentRecurrentOptions.QuickTestSequence : ExperimentRecurrentOptions.DefaultTestSequence);
        if (recurrent && testSequence < sequence)
            throw new UsageException($"--test-sequence {testSequence} is shorter than --sequence {sequence}: the test extrapolates to longer sequences.");
        int steps = Steps ?? (Quick ? (recurrent ? ExperimentRecurrentOptions.QuickRecurrentSteps : QuickSteps) : DefaultSteps);
        int seeds = Seeds ?? (Quick ? (recurrent ? ExperimentRecurrentOptions.QuickRecurrentSeeds : QuickSeeds) : DefaultSeeds);
        int evalEvery = EvalEvery ?? (Quick ? (recurrent ? ExperimentRecurrentOptions.QuickRecurrentEvalEvery : QuickEvalEvery) : DefaultEvalEvery);
        int evalSamples = EvalSamples ?? (Quick ? QuickEvalSamples : recurrent ? ExperimentRecurrentOptions.DefaultEvalSamples : 10_000);
        float lr = LearningRate ?? (Quick ? QuickLearningRate : 1e-3f);
        int thresholdSamples = ThresholdSamples ?? (recurrent ? ExperimentRecurrentOptions.DefaultThresholdSamples : Quick ? QuickThresholdSamples : 1_000_000);
        int inputs = Inputs ?? (Quick || recurrent ? QuickInputs : 100);
        int subset = Subset ?? (Quick || recurrent ? QuickSubset : 25);
        int gap = Gap ?? (Quick ? QuickGap : recurrent ? ExperimentRecurrentOptions.DefaultGap : 13);
        if (steps < 1)
            throw new UsageException($"--steps {steps} must be at least 1.");
        if (seeds < 1)
            throw new UsageException($"--seeds {seeds} must be at least 1.");
        if (Seed < 0 || (long)Seed + seeds > ArithmeticExperiment.ReferenceSeed)
            throw new UsageException($"--seed {Seed} with --seeds {seeds}: seeds must lie in [0, {ArithmeticExperiment.ReferenceSeed}).");
        if (evalEvery < 1)
            throw new UsageException($"--eval-every {evalEvery} must be at least 1.");
        if (evalSamples < 1)
            throw new UsageException($"--eval-samples {evalSamples} must be at least 1.");
        if (thresholdSamples < 1)
            throw new UsageException($"--threshold-samples {thresholdSamples} must be at least 1.");
        if (Batch < 1)
            throw new UsageException($"--batch {Batch} must be at least 1.");
        if (!(float.IsFinite(lr) && lr > 0))
            throw new UsageException($"--lr {lr} must be a positive number.");
        if (!(Epsilon > 0 && Epsilon < 0.5))
            throw new UsageException($"--epsilon {Epsilon} must lie in (0, 0.5).");
        if (inputs < 2)
            throw new UsageException($"--inputs {inputs} must be at least 2.");
        if (inputs > 2 && (subset < 1 || gap < 0 || gap + subset > inputs))
            throw new UsageException($"--inputs {inputs}: subsets of --subset {subset} inputs --gap {gap} apart need at least {gap + subset} inputs.");
        if (string.IsNullOrWhiteSpace(Out))
            throw new UsageException("--out must name a folder.");
        if (CheckpointEvery < 0)
            throw new UsageException($"--checkpoint-every {CheckpointEvery} must be ≥ 0 (0: no checkpoints).");
        var (shard, shards) = ParseShard(Shard);
        var units = ParseList(Units, !recurrent ? ArithmeticUnit.Defaults : Quick ? ExperimentRecurrentOptions.QuickUnits : ArithmeticUnit.RecurrentDefaults,
            ArithmeticUnit.Parse, u => u.Name, "--units");
        var overrides = RegularizerOverrides();
        if (overrides is not null && units.All(u => u.Preset is null))
        {
            throw new UsageException("--regularizer, --lambda, --lambda-start, --lambda-end, --beta-end and --schedule-scale apply to the preset units " +
                $"({string.Join(", ", Nalu.Gpu.Models.ModelPresets.All.Select(p => p.Name))}); --units names none.");
        }

        foreach (var unit in units.Where(u => u.Preset is not null))
            RegularizerOptions.Apply(unit.Preset!.Regularizer, overrides ?? QuickOverrides(unit));
        if (INaluRecipeGiven && units.All(u => u.Preset?.Name != "inalu"))
            throw new UsageException("--inalu-recipe, --saturation-start and --reinit-every apply to the inalu preset; --units does not name it.");
        var (inaluLayer, inaluLoop) = INaluRecipeSettings();
        var settings = new ArithmeticSettings
        {
            Units = units.Select(u => u.WithOverrides(overrides ?? QuickOverrides(u))).Select(u => INaluRecipeGiven ? u.WithINaluRecipe(inaluLayer, inaluLoop) : u).ToArray(),
            Ops = ParseList(Ops, recurrent && Quick ? ExperimentRecurrentOptions.QuickOps : ArithmeticSettings.AllOps, ArithmeticExperiment.ParseOp, ArithmeticExperiment.OpName, "--ops"),
            Seeds = seeds, FirstSeed = Seed, Steps = steps, Batch = Batch, LearningRate = lr, EvalEvery = evalEvery,
            EvalSamples = evalSamples, Inputs = inputs, SubsetSize = inputs == 2 ? 1 : subset, SubsetGap = inputs == 2 ? 1 : gap, Epsilon = Epsilon, ThresholdSamples = thresholdSamples,
            ShardIndex = shard, ShardCount = shards,
            Ranges = ParseRanges(Ranges, recurrent),
            Sequence = sequence, TestSequence = testSequence,
        };
        try
        {
            settings.Validate();
        }
        catch (ArgumentException e)
        {
            throw new UsageException(Program.Clean(e));
        }

        return settings;
    }

    /// <summary>Parses <c>K/N</c> with 0 ≤ K &lt; N.</summary>
    internal static (int Index, int Count) ParseShard(string text)
    {
        var parts = text.Split('/', StringSplitOptions.TrimEntries);
        if (parts.Length != 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int k)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < 1 || k >= n)
            throw new UsageException($"--shard '{text}' must be K/N with 0 <= K < N, e.g. 0/10 (K counts from 0, as SLURM_ARRAY_TASK_ID and JOB_COMPLETION_INDEX do).");
        return (k, n);
    }

    private static IReadOnlyList<T> ParseList<T>(string? text, IReadOnlyList<T> defaults, Func<string, T> parse, Func<T, string> name, string option)
    {
        if (text is null)
            return defaults;
        var list = new List<T>();
        foreach (string part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            T value;
            try
            {
                value = parse(part);
            }
            catch (FormatException e)
            {
                throw new UsageException($"{option}: {e.Message}");
            }

            if (list.Any(v => name(v) == name(value)))
                throw new UsageException($"{option} names '{part}' twice.");
            list.Add(value);
        }

        if (list.Count == 0)
            throw new UsageException($"{option} is empty.");
        return list;
    }

    private static IReadOnlyList<RangePair> ParseRanges(string? text, bool recurrent)
    {
        if (text is null)
            return [recurrent ? RangePair.Recurrent : RangePair.Default];
        try
        {
            var list = RangePair.ParseList(text);
            if (list.Count == 0)
                throw new UsageException("--ranges is empty.");
            if (list.Distinct().Count() != list.Count)
                throw new UsageException("--ranges names a range pair twice.");
            return list;
        }
        catch (FormatException e)
        {
            throw new UsageException($"--ranges: {e.Message}");
        }
    }

    /// <summary>
    /// The regulariser settings --quick gives <paramref name="unit"/> when no regulariser option is given: the presets'
    /// schedules scaled by <see cref="QuickScheduleScale"/>, and λ̂ = <see cref="QuickNmuLambda"/> for the presets whose
    /// sparsity strength is the NMU paper's 10. Null without --quick.
    /// </summary>
    private Nalu.Gpu.Models.RegularizerOverrides? QuickOverrides(ArithmeticUnit unit)
    {
        if (!Quick || unit.Preset is null)
            return null;
        var r = unit.Preset.Regularizer;
        bool nmuStrength = r.Kind is Nalu.Gpu.Models.RegularizerKind.SparsityLinear or Nalu.Gpu.Models.RegularizerKind.SparsitySquared
            && r.Strength == Nalu.Gpu.Models.ModelPresets.NmuDefault.Strength;
        return new Nalu.Gpu.Models.RegularizerOverrides { ScheduleScale = QuickScheduleScale, Lambda = nmuStrength ? QuickNmuLambda : null };
    }

    /// <summary>The full equivalent command line, every setting spelled out.</summary>
    internal string CommandLine(ArithmeticSettings s)
    {
        var inv = CultureInfo.InvariantCulture;
        var parts = new List<string>
        {
            RecurrentVerb ? "nalu experiment recurrent" : "nalu experiment arithmetic",
            $"--units {string.Join(",", s.Units.Select(u => u.Name))}",
            $"--ops {string.Join(",", s.Ops.Select(ArithmeticExperiment.OpName))}",
            $"--ranges '{string.Join(";", s.Ranges)}'",
            $"--steps {s.Steps}", $"--seeds {s.Seeds}",
        };
        if (s.FirstSeed != 0)
            parts.Add($"--seed {s.FirstSeed}");
        parts.Add($"--lr {s.LearningRate.ToString("G", inv)}");
        parts.Add($"--eval-every {s.EvalEvery}");
        parts.Add($"--eval-samples {s.EvalSamples}");
        if (s.Batch != 128)
            parts.Add($"--batch {s.Batch}");
        parts.Add($"--inputs {s.Inputs}");
        if (s.Inputs != 2)
            parts.Add($"--subset {s.SubsetSize} --gap {s.SubsetGap}");
        if (s.Epsilon != 1e-5)
            parts.Add($"--epsilon {s.Epsilon.ToString("G", inv)}");
        parts.Add($"--threshold-samples {s.ThresholdSamples}");
        if (s.IsRecurrent || RecurrentVerb)
            parts.Add($"--sequence {s.Sequence}{(s.IsRecurrent ? $" --test-sequence {s.TestLength}" : "")}");
        // --quick's regulariser settings differ by preset, and no option spells that; every other setting is written out,
        // so --quick itself reproduces them (it changes nothing an explicit option here sets).
        string regularizer = Quick && RegularizerOverrides() is null ? "--quick"
            : RegularizerOptions.CommandLine(s.Units.FirstOrDefault(u => u.Overrides is not null)?.Overrides);
        if (regularizer.Length > 0)
            parts.Add(regularizer);
        // iNALU's recipe options, as given (the defaults need none).
        if (INaluRecipe is not null)
            parts.Add($"--inalu-recipe {INaluRecipe.Trim().ToLowerInvariant()}");
        if (SaturationStart is { } start)
            parts.Add($"--saturation-start {start}");
        if (ReinitEvery is { } every)
            parts.Add($"--reinit-every {every}");
        if (s.ShardCount > 1)
            parts.Add($"--shard {s.ShardIndex}/{s.ShardCount}");
        parts.Add($"--device {Device.ToLowerInvariant()}");
        parts.Add($"--out {Out}");
        return string.Join(" ", parts);
    }
}

internal static class ExperimentArithmeticCommand
{
    public const string CheckpointFolder = "checkpoints";

    public const string ResultsFileName = "results.jsonl", MarkdownFile = "table.md", CsvFile = "table.csv", JsonFile = "table.json", PngFile = "success.png";

    public static int Run(ExperimentArithmeticOptions o) => Run(o, Console.Out);

    public static int Run(ExperimentArithmeticOptions o, TextWriter log)
    {
        var settings = o.BuildSettings();
        if (File.Exists(o.Out))
            throw new UsageException($"--out '{o.Out}' is a file; give a folder.");
        // One run per folder: a second run on a busy --out is refused (naming the owner) rather than training
        // everything twice; a killed run's lock is released by the operating system.
        using var claim = Nalu.Gpu.IO.DirectoryLock.Acquire(o.Out);
        string resultsPath = Path.Combine(o.Out, ResultsFileName);
        string command = o.CommandLine(settings);

        // Resume: what is already in results.jsonl is kept; a torn last line is cut off (its model is redone).
        var records = new List<ModelRecord>();
        if (File.Exists(resultsPath))
        {
            var (existing, repaired) = ResultsFile.Load(resultsPath, repair: true);
            if (repaired is not null)
                log.WriteLine($"Note: {repaired}");
            records = ResultsFile.Combine(existing.Select(r => (resultsPath, r)));
        }

        var grid = ArithmeticExperiment.Grid(settings);
        var share = ArithmeticExperiment.Shard(grid, settings.ShardIndex, settings.ShardCount);
        var done = records.ToDictionary(r => r.Key);
        var pending = new List<GridItem>();
        foreach (var item in share)
        {
            if (!done.TryGetValue(item.Key, out var record))
            {
                pending.Add(item);
                continue;
            }

            if (record.SettingsDifference(Prototype(settings, item)) is { } d)
            {
                throw new UsageException($"{resultsPath} already holds {item.Key} trained with {d.Name} {d.Mine}; this run asks for " +
                    $"{d.Name} {d.Theirs}. Use another --out, or the settings of the first run.");
            }
        }

        var skipped = settings.Ranges.SelectMany(r => settings.Ops.Where(op => !settings.IsDefined(op, r))
            .Select(op => $"{ArithmeticExperiment.OpName(op)} on {r}")).ToArray();

        if (!o.Quiet)
        {
            string models = settings.IsRecurrent
                ? $"recurrent models ({settings.Inputs} values per step, hidden {settings.Hidden}, trained on {settings.Sequence} steps, tested on {settings.TestLength})"
                : $"models of {settings.Inputs}→{settings.Hidden}→1";
            log.WriteLine($"{(settings.IsRecurrent ? "Recurrent" : "Static")} arithmetic benchmark: {settings.Units.Count} unit(s) × {settings.Ops.Count} op(s) × {settings.Ranges.Count} range pair(s) " +
                $"× {settings.Seeds} seed(s) = {grid.Count} {models}; Adam lr {settings.LearningRate.ToString("G", CultureInfo.InvariantCulture)}, " +
                $"batch {settings.Batch}, {settings.Steps} steps, evaluated every {settings.EvalEvery} steps on {settings.EvalSamples} + {settings.EvalSamples} samples.");
            var deviations = settings.Deviations();
            if (deviations.Count > 0)
                log.WriteLine($"Not the reference protocol{(o.Quick ? " (--quick)" : "")}: {string.Join("; ", deviations)}.");
            if (skipped.Length > 0)
                log.WriteLine($"Skipped (undefined): {string.Join(", ", skipped)}.");
            if (settings.ShardCount > 1)
                log.WriteLine($"Shard {settings.ShardIndex}/{settings.ShardCount}: {share.Count} of the {grid.Count} models.");
            if (share.Count > pending.Count)
                log.WriteLine($"Resuming: {share.Count - pending.Count} of {share.Count} models are already in {resultsPath}; training the other {pending.Count}.");
        }

        using var stop = new CancellationTokenSource();
        int saved = 0;
        var checkpoints = new PopulationCheckpoints(Path.Combine(o.Out, CheckpointFolder), o.CheckpointEvery)
        {
            OnNote = note => log.WriteLine(note),
            OnSaved = (_, _) =>
            {
                if (++saved == o.StopAfterCheckpoints)
                    stop.Cancel();
            },
        };

        // A population whose every model is recorded needs no checkpoint (one is left when a run is killed between
        // recording the results and deleting it).
        foreach (var population in share.GroupBy(i => (i.Range, i.Unit)))
        {
            string file = checkpoints.PathOf(population.Key.Unit, population.Key.Range, settings.ShardIndex, settings.ShardCount);
            if (!population.Any(pending.Contains) && File.Exists(file))
                checkpoints.Delete(file);
        }

        var clock = Stopwatch.StartNew();
        if (pending.Count > 0)
        {
            using var device = NaluDevice.Create(o.DeviceKind, o.DeviceIndex);
            if (!o.Quiet)
                log.WriteLine($"Device: {device}");
            void OnRecords(IReadOnlyList<ModelRecord> finished)
            {
                ResultsFile.Append(resultsPath, finished);
                records.AddRange(finished);
            }

            void OnPopulationDone(int _) => WriteTables(o.Out, records, settings, command, clock.Elapsed.TotalSeconds);
            try
            {
                Train(device, settings, pending, OnRecords, OnPopulationDone, o.Quiet, log, checkpoints, stop.Token);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                log.WriteLine($"Stopped after {saved} checkpoint(s) (--stop-after-checkpoints); run the same command again to resume.");
                return 130;
            }
        }

        clock.Stop();
        var rows = WriteTables(o.Out, records, settings, command, clock.Elapsed.TotalSeconds);
        if (!o.Quiet)
        {
            log.WriteLine();
            PrintTable(rows, log);
            log.WriteLine($"{records.Count} model(s) in {resultsPath}; this run trained {pending.Count} in {clock.Elapsed.TotalSeconds:F1} s. " +
                $"Wrote {MarkdownFile}, {CsvFile}, {JsonFile} and {PngFile} to {Path.GetFullPath(o.Out)}");
        }

        return 0;
    }

    /// <summary>A record with the settings of this run, to compare with what a results file already holds.</summary>
    private static ModelRecord Prototype(ArithmeticSettings s, GridItem item) => new()
    {
        Unit = item.Unit.Name, Regularizer = item.Unit.Regularizer, Op = ArithmeticExperiment.OpName(item.Op), Interpolation = item.Range.Interpolation.ToString(),
        Extrapolation = item.Range.Extrapolation.ToString(), Seed = item.Seed, Inputs = s.Inputs, Hidden = s.Hidden,
        SubsetSize = s.SubsetSize, SubsetGap = s.SubsetGap, Steps = s.Steps,
        Batch = s.Batch, LearningRate = s.LearningRate, EvalEvery = s.EvalEvery, EvalSamples = s.EvalSamples, Epsilon = s.Epsilon,
        ThresholdSamples = s.ThresholdSamples,
        Sequence = s.IsRecurrent ? s.Sequence : null, TestSequence = s.IsRecurrent ? s.TestLength : null,
    };

    private static void Train(NaluDevice device, ArithmeticSettings settings, IReadOnlyList<GridItem> pending,
        Action<IReadOnlyList<ModelRecord>> onRecords, Action<int> onPopulationDone, bool quiet, TextWriter log,
        PopulationCheckpoints checkpoints, CancellationToken cancellation)
    {
        if (quiet)
        {
            ArithmeticExperiment.Run(device, settings, pending, onRecords, onPopulationDone: onPopulationDone,
                cancellationToken: cancellation, checkpoints: checkpoints);
            return;
        }

        if (AnsiConsole.Profile.Capabilities.Interactive && log == Console.Out && !Console.IsOutputRedirected)
        {
            var labels = pending.GroupBy(i => (i.Range, i.Unit)).Select(g => $"{g.Key.Unit.Name} {g.Key.Range} ({g.Count()} models)").ToArray();
            AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                .Start(ctx =>
                {
                    var bars = labels.Select(l => ctx.AddTask(Markup.Escape(l), autoStart: false, maxValue: settings.Steps)).ToArray();
                    ArithmeticExperiment.Run(device, settings, pending, onRecords,
                        p =>
                        {
                            var bar = bars[p.Population];
                            if (!bar.IsStarted)
                                bar.StartTask();
                            bar.Value = p.Step;
                            bar.Description = Markup.Escape($"{p.Label}: {p.Solved} below threshold");
                        },
                        index =>
                        {
                            bars[index].StopTask();
                            onPopulationDone(index);
                        }, cancellation, checkpoints);
                });
            return;
        }

        // Not a terminal: a plain line every ~10% of a population and one when it is done.
        int every = Math.Max(settings.EvalEvery, settings.Steps / 10), next = every;
        var clock = Stopwatch.StartNew();
        int current = -1;
        var finished = new List<ModelRecord>();
        ArithmeticExperiment.Run(device, settings, pending,
            batch =>
            {
                onRecords(batch);
                finished.AddRange(batch);
            },
            p =>
            {
                if (p.Population != current)
                {
                    current = p.Population;
                    next = every;
                    clock.Restart();
                    log.WriteLine($"[{p.Population + 1}/{p.Populations}] {p.Label}");
                }

                if (p.Step < next && p.Step != p.Steps)
                    return;
                while (next <= p.Step)
                    next += every;
                log.WriteLine($"  step {p.Step,9}/{p.Steps}  {p.Solved,4}/{p.Models} below threshold  ({p.Step / Math.Max(clock.Elapsed.TotalSeconds, 1e-9):F0} steps/s)");
            },
            index =>
            {
                var byOp = finished.GroupBy(r => r.Op).Select(g => $"{g.Key} {g.Count(r => r.Success)}/{g.Count()}");
                log.WriteLine($"  done in {clock.Elapsed.TotalSeconds:F1} s; successes: {string.Join(", ", byOp)}");
                finished.Clear();
                onPopulationDone(index);
            }, cancellation, checkpoints);
    }

    /// <summary>Writes table.md, table.csv, table.json and success.png (each atomically) from every record so far.</summary>
    internal static IReadOnlyList<SummaryRow> WriteTables(string outDir, IReadOnlyList<ModelRecord> records, ArithmeticSettings settings,
        string command, double wallSeconds)
    {
        var rows = ArithmeticTable.Rows(records);
        var deviations = settings.Deviations();
        string source = $"command: `{command}`" + (deviations.Count > 0 ? $"\n\nNot the reference protocol: {string.Join("; ", deviations)}." : "");
        WriteTables(outDir, rows, records, source, new
        {
            Command = command,
            WallSecondsThisRun = Math.Round(wallSeconds, 1),
            Models = records.Count,
            Settings = new
            {
                Units = settings.Units.Select(u => u.Name), Ops = settings.Ops.Select(ArithmeticExperiment.OpName),
                Ranges = settings.Ranges.Select(r => r.ToString()), settings.Seeds, settings.FirstSeed, settings.Steps, settings.Batch,
                Lr = settings.LearningRate, settings.EvalEvery, settings.EvalSamples, settings.Inputs, settings.Hidden, settings.SubsetSize,
                settings.SubsetGap, settings.Epsilon,
                settings.ThresholdSamples, Shard = $"{settings.ShardIndex}/{settings.ShardCount}",
                Regularizers = settings.Units.Where(u => u.Regularizer is not null).ToDictionary(u => u.Name, u => u.Regularizer),
            },
            Deviations = deviations,
        });
        return rows;
    }

    /// <summary>Writes the four table/plot files for <paramref name="rows"/>.</summary>
    internal static void WriteTables(string outDir, IReadOnlyList<SummaryRow> rows, IReadOnlyList<ModelRecord> records, string source, object about)
    {
        string header = Header(records, source);
        Output.WriteAtomically(Path.Combine(outDir, MarkdownFile), ArithmeticTable.Markdown(rows, header));
        Output.WriteAtomically(Path.Combine(outDir, CsvFile), ArithmeticTable.Csv(rows));
        Output.WriteAtomically(Path.Combine(outDir, JsonFile), ArithmeticTable.ToJson(rows, about));
        if (rows.Count > 0)
            Output.WriteAtomically(Path.Combine(outDir, PngFile), ArithmeticPlot.Render(rows, PlotTitle(records)));
    }

    private static string Header(IReadOnlyList<ModelRecord> records, string source)
    {
        var inv = CultureInfo.InvariantCulture;
        string Values<T>(Func<ModelRecord, T> f) => string.Join(" / ", records.Select(f).Distinct().Select(v => Convert.ToString(v, inv)));
        bool recurrent = records.Any(r => r.Sequence is not null);
        string title = recurrent ? "# Recurrent arithmetic benchmark" : "# Static arithmetic benchmark";
        if (records.Count == 0)
            return $"{title}\n\n{source}\n\nNo results yet.";
        string models = recurrent
            ? $"recurrent models (cell over {Values(r => r.Inputs)} values per step and a state of {Values(r => r.Hidden)}, then a readout), trained on sequences of " +
              $"{Values(r => r.Sequence)} steps and tested on {Values(r => r.TestSequence)}"
            : $"models of {Values(r => r.Inputs)}→{Values(r => r.Hidden)}→1";
        return $"{title}\n\n" +
            $"{source}\n\n" +
            $"{records.Count} {models} (a, b: sums of {Values(r => r.SubsetSize)} inputs, " +
            $"{Values(r => r.SubsetGap)} apart); {Values(r => r.Steps)} Adam steps (lr {Values(r => r.LearningRate)}, batch {Values(r => r.Batch)}), " +
            $"evaluated every {Values(r => r.EvalEvery)} steps and at step 0 on {Values(r => r.EvalSamples)} validation + {Values(r => r.EvalSamples)} test samples; " +
            $"each model judged at its best-validation step; threshold ε = {Values(r => r.Epsilon)} ({Values(r => r.ThresholdSamples)} Monte Carlo samples)." +
            Regularizers(records);
    }

    /// <summary>The regulariser schedules of the preset units, as a sentence (empty when no record has one).</summary>
    private static string Regularizers(IReadOnlyList<ModelRecord> records)
    {
        var used = records.Where(r => r.Regularizer is not null).Select(r => $"{r.Unit}: {r.Regularizer}").Distinct().ToArray();
        return used.Length == 0 ? "" : $"\n\nRegulariser schedules (the reported MSEs never include the regulariser): {string.Join("; ", used)}.";
    }

    private static string PlotTitle(IReadOnlyList<ModelRecord> records)
    {
        var inv = CultureInfo.InvariantCulture;
        string Values<T>(Func<ModelRecord, T> f) => string.Join("/", records.Select(f).Distinct().Select(v => Convert.ToString(v, inv)));
        int seeds = records.GroupBy(r => r.Group).Select(g => g.Count()).DefaultIfEmpty(0).Max();
        string task = records.Any(r => r.Sequence is not null)
            ? $"Recurrent arithmetic, T = {Values(r => r.Sequence)} → {Values(r => r.TestSequence)}"
            : $"Static arithmetic, {Values(r => r.Inputs)}→{Values(r => r.Hidden)}→1";
        return $"{task}: success rate over {(seeds == 1 ? "1 seed" : $"up to {seeds} seeds")} " +
            $"({Values(r => r.Steps.ToString("N0", inv))} Adam steps, lr {Values(r => r.LearningRate)})";
    }

    /// <summary>The table on the console.</summary>
    internal static void PrintTable(IReadOnlyList<SummaryRow> rows, TextWriter log)
    {
        var inv = CultureInfo.InvariantCulture;
        bool ranges = rows.Select(r => (r.Interpolation, r.Extrapolation)).Distinct().Count() > 1;
        var table = new Table();
        table.AddColumn("unit");
        table.AddColumn("op");
        if (ranges)
            table.AddColumn("range");
        table.AddColumns("success", "95% CI", "solved at", "sparsity err.", "relative err.", "extrap. MSE", "threshold");
        foreach (var r in rows)
        {
            var cells = new List<string> { r.Unit, ArithmeticTable.Symbol(r.Op) };
            if (ranges)
                cells.Add($"{r.Interpolation}={r.Extrapolation}");
            cells.Add($"{r.Successes}/{r.Models}");
            cells.Add($"[{(100 * r.SuccessLow).ToString("0", inv)}%, {(100 * r.SuccessHigh).ToString("0", inv)}%]");
            cells.Add(r.MedianSolvedAtStep is { } s ? s.ToString("0", inv) : "—");
            cells.Add(r.MedianSparsityError is { } e ? e.ToString("0.0e0", inv) : "—");
            cells.Add(Number(r.MedianRelativeError));
            cells.Add(r.MedianExtrapolationMse.ToString("0.0e0", inv));
            cells.Add(r.Threshold.ToString("0.0e0", inv));
            table.AddRow(cells.Select(Markup.Escape).ToArray());
        }

        Output.Console(log).Write(table);
        log.WriteLine("  success: extrapolation MSE at the best-validation step below the threshold; solved at: median first step below it;");
        log.WriteLine("  sparsity err.: median over successes; relative err.: median of 100 × extrapolation MSE / random model's (0 perfect, 100 random).");
    }

    private static string Number(double value) =>
        double.IsNaN(value) ? "NaN" : value is >= 1e4 or (< 0.1 and > 0) ? value.ToString("0.0e0", CultureInfo.InvariantCulture) : value.ToString("0.0", CultureInfo.InvariantCulture);
}

/// <summary>
/// <c>nalu experiment recurrent</c>: the arithmetic experiment's engine, files, table, resume and shards on the recurrent
/// task (Trask et al. §4.1 and Table 1's recurrent column; Madsen &amp; Johansen's <c>simple_function_recurrent</c>): each
/// unit's first layer is a recurrent cell, trained on short sequences and tested on much longer ones.
/// </summary>
[Verb(VerbName, HelpText = "Experiment 3, the recurrent arithmetic task: each unit as a recurrent cell over [x_t, h] (then its readout layer), " +
    "trained on sequences of --sequence steps of --inputs values (a, b summed over every step) and tested on --test-sequence steps; " +
    "the arithmetic experiment's success criterion, files, resume and shards. Also spelled 'nalu experiment recurrent'.")]
public sealed class ExperimentRecurrentOptions : ExperimentArithmeticOptions
{
    public new const string VerbName = "experiment-recurrent";

    /// <summary>Madsen &amp; Johansen's recurrent protocol: sequences of 10 in training, 1,000 in the test.</summary>
    public const int DefaultSequence = 10, DefaultTestSequence = 1000;

    /// <summary>
    /// The --quick preset's test length (10× the training length, the issue's bar) and steps: on 2 idle cores a minute or two.
    /// </summary>
    public const int QuickTestSequence = 100, QuickRecurrentSteps = 20_000, QuickRecurrentSeeds = 5;

    /// <summary>--quick's evaluation interval: the 100-step test sequences cost as much as the training, so every 2,000 steps.</summary>
    public const int QuickRecurrentEvalEvery = 2000;

    /// <summary>The --quick units: the NAC and NAU cells against the tanh RNN and the LSTM (the full run adds the NALU).</summary>
    public static readonly IReadOnlyList<ArithmeticUnit> QuickUnits =
        [ArithmeticUnit.Parse("nac"), ArithmeticUnit.Parse("nau"), ArithmeticUnit.Parse("rnn-tanh"), ArithmeticUnit.Parse("lstm")];

    /// <summary>The --quick ops: + and −, what a recurrent accumulator is for (the full run has all six).</summary>
    public static readonly IReadOnlyList<Nalu.Gpu.Tasks.ArithmeticOp> QuickOps = [Nalu.Gpu.Tasks.ArithmeticOp.Add, Nalu.Gpu.Tasks.ArithmeticOp.Sub];

    /// <summary>Test samples of a full run: 1,000 sequences of 1,000 steps (10 million values per model and evaluation).</summary>
    public const int DefaultEvalSamples = 1000;

    /// <summary>Monte Carlo samples of the threshold: 10,000 sequences (10⁸ draws at T = 1000; the sums concentrate).</summary>
    public const int DefaultThresholdSamples = 10_000;

    /// <summary>
    /// Subsets 2 apart (3 values each, overlapping by 1 of the 10 per step): Madsen &amp; Johansen's 25 % subsets with a 50 %
    /// overlap, rounded. --quick uses non-overlapping subsets, as the static --quick does.
    /// </summary>
    public const int DefaultGap = 2;

    public ExperimentRecurrentOptions() => Out = "results/recurrent";

    internal override bool RecurrentVerb => true;
}
