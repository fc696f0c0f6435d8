using System.Globalization;
using CommandLine;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Models;
using Act = Nalu.Gpu.Models.Activation;
using Nalu.Gpu.Tasks;
using Nalu.Gpu.Training;

namespace Nalu.Gpu.Bench.Cli;

/// <summary>Options that define a model, a task and an optimizer; shared by train and bench.</summary>
public abstract class ModelOptions : RegularizedOptions
{
    [Option("unit", Default = "nalu", HelpText = "Unit of every layer: nac, nac-mult, nalu, nalu-untied, nalu-gate (input-independent gate σ(G), G per output), nau, nmu, snmu (noisy NMU in training), npu, realnpu, nmru, inalu (with iNALU's recipe, see --inalu-recipe), mlp (dense layers, --activation between them, linear output); " +
        "or a two-layer preset with one --hidden width: nau-nmu (NAU then NMU), nau-npu, nau-realnpu, nau-nmru, nau-snmu (the presets nau and inalu are the unit names above: every layer that unit). " +
        "nau, nmu, snmu and the nau-... presets carry their paper's regulariser (see --regularizer).")]
    public string Unit { get; set; } = "nalu";

    [Option("activation", Default = "relu", HelpText = "Hidden activation of mlp: linear, relu, relu6, tanh, sigmoid, elu, selu, softplus, leaky-relu, prelu (learned slope), softsign, hardtanh.")]
    public string Activation { get; set; } = "relu";

    [Option("op", Default = "mul", HelpText = "Target op(a, b): add, sub, mul, div, square (a²), sqrt (√a), identity (a; with --inputs 1 the scalar identity x0).")]
    public string Op { get; set; } = "mul";

    [Option("inputs", Default = 100, HelpText = "Task size: 100 (the paper's: a, b are sums of fixed 25-element subsets) or 2 (op(x0, x1)).")]
    public int Inputs { get; set; } = 100;

    [Option("sequence", Default = 1, HelpText = "Sequence length T: 2 or more makes the first layer a recurrent cell over [x_t, h] run for T steps (state size: the first --hidden width), then the other layers read h_T. " +
        "On the arithmetic task each sample becomes T steps of --inputs values with a and b summed over every step; with --data each row's input columns are the sequence, step-major (T × F values), and their number must divide by T.")]
    public int Sequence { get; set; } = 1;

    [Option("hidden", Default = "2", HelpText = "Hidden widths, comma separated: '2' gives inputs→2→1, '8,8' two hidden layers, 'none' a single layer inputs→1.")]
    public string Hidden { get; set; } = "2";

    [Option("batch", Default = 128, HelpText = "Samples per step.")]
    public int Batch { get; set; } = 128;

    [Option("lr", Default = 1e-3f, HelpText = "Learning rate.")]
    public float LearningRate { get; set; } = 1e-3f;

    [Option("optimizer", Default = "adam", HelpText = "adam, sgd (momentum 0.9), rmsprop.")]
    public string Optimizer { get; set; } = "adam";

    [Option("clip-value", HelpText = "Clip gradient elements to [-c, c] (0: off). Default 0 (inalu: 0.1, its recipe's).")]
    public float? ClipValue { get; set; }

    [Option("clip-norm", Default = 0f, HelpText = "Clip each model's gradient L2 norm to c (0: off).")]
    public float ClipNorm { get; set; }

    [Option("seed", Default = 0, HelpText = "Seed of the first model; model k uses seed+k.")]
    public int Seed { get; set; }

    [Option("models", Default = 1, HelpText = "Independent models trained at once (a population), seeds seed..seed+models-1.")]
    public int Models { get; set; } = 1;

    [Option("interpolation", Default = "1:2", HelpText = "Training range, 'lo:hi' or 'lo:hi,lo:hi' for a union. Use --interpolation=-2:2 for negative bounds.")]
    public string Interpolation { get; set; } = "1:2";

    [Option("extrapolation", Default = "2:6", HelpText = "Test range, same syntax, e.g. --extrapolation=-6:-2,2:6.")]
    public string Extrapolation { get; set; } = "2:6";

    [Option("strategy", Default = "auto", HelpText = "Step layout: auto (the README's rule), fused (one thread per model, many steps per launch), fused-interleaved (the same over model-interleaved memory, coalesced on a GPU), group (one thread group per model), batched (batch-parallel launches), native (plain C# on the host; needs --device cpu or native).")]
    public string Strategy { get; set; } = "auto";

    internal ArithmeticTask BuildTask()
    {
        var op = ParseOp(Op);
        if (Inputs == 1 && op != ArithmeticOp.Identity)
            throw new UsageException($"--inputs 1 is only for --op identity (the scalar identity x0).");
        if (Inputs != 1 && Inputs != 2 && Inputs < 38)
            throw new UsageException($"--inputs {Inputs}: use 2, or at least 38 so that two 25-element subsets 13 apart fit.");
        try
        {
            if (Sequence < 1)
                throw new UsageException($"--sequence {Sequence} must be at least 1 (1: no recurrence).");
            return new ArithmeticTask(op, Inputs, ParseRange(Interpolation, "--interpolation"), ParseRange(Extrapolation, "--extrapolation")) { Steps = Sequence };
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }
    }

    internal ModelArchitecture BuildArchitecture(string? unitOverride = null, string? hiddenOverride = null, string option = "--hidden",
        int? inputs = null, int outputs = 1)
    {
        int inputWidth = inputs ?? Inputs * Math.Max(1, Sequence);   // the arithmetic task: T steps of --inputs values
        string text = (hiddenOverride ?? Hidden).Trim();
        if (text.Length == 0)
            throw new UsageException($"{option} is empty: give 'none' for no hidden layer, or widths such as 2 or 8,8.");
        // The activation is checked even when no layer uses it, so a typo is never silently ignored.
        if (unitOverride is null)
            ParseActivation(Activation);
        int[] hidden;
        try
        {
            hidden = text.Length == 0 || text.Equals("none", StringComparison.OrdinalIgnoreCase)
                ? []
                : text.Split(',').Select(h => int.Parse(h.Trim(), CultureInfo.InvariantCulture)).ToArray();
        }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            throw new UsageException($"{option} '{text}' must be 'none' or comma-separated positive integers, e.g. 2 or 8,8.");
        }

        if (hidden.Any(h => h < 1))
            throw new UsageException($"{option} '{text}': every width must be at least 1.");
        // A sequence model: the first layer is a cell over [x_t, h] (F + H inputs), run Sequence steps (unitOverride, the
        // --baseline MLP, reads the flattened sequence as it is).
        bool recurrent = Sequence > 1 && unitOverride is null;
        if (Sequence < 1)
            throw new UsageException($"--sequence {Sequence} must be at least 1 (1: no recurrence).");
        if (recurrent)
        {
            if (hidden.Length == 0)
                throw new UsageException($"--sequence {Sequence} needs a hidden layer: the first {option} width is the recurrent state's size.");
            if (inputWidth % Sequence != 0)
                throw new UsageException($"--sequence {Sequence}: the {inputWidth} input values per sample do not divide into {Sequence} steps (a ragged sequence?).");
            inputWidth = inputWidth / Sequence + hidden[0];
        }

        int[] widths = [inputWidth, .. hidden, outputs];
        string unit = (unitOverride ?? Unit).ToLowerInvariant();
        // The regulariser options belong to the main model only (not to a --baseline MLP).
        var overrides = unitOverride is null ? RegularizerOverrides() : null;
        if (unitOverride is null && INaluRecipeGiven && unit != "inalu")
            throw new UsageException($"--inalu-recipe, --saturation-start and --reinit-every apply to --unit inalu; --unit {unit} has no iNALU recipe.");
        bool regularized = unit is "nau" or "nmu" or "snmu" || ModelPresets.Find(unit) is { Regularizer.Kind: not RegularizerKind.None };
        if (overrides is not null && !regularized)
        {
            throw new UsageException("--regularizer, --lambda, --lambda-start, --lambda-end, --beta-end and --schedule-scale apply to nau, nmu and the presets with a regulariser " +
                $"({string.Join(", ", ModelPresets.All.Where(p => p.Regularizer.Kind != RegularizerKind.None).Select(p => p.Name))}); --unit {unit} has no regulariser.");
        }

        // 'nau' and 'inalu' are presets and also plain unit names: every layer that unit, any depth.
        if (ModelPresets.Find(unit) is { } preset && unit is not ("nau" or "inalu"))
        {
            if (hidden.Length != 1)
                throw new UsageException($"--unit {unit} is a two-layer preset (inputs→hidden→1): give one {option} width, e.g. 2.");
            if (outputs != 1)
                throw new UsageException($"--unit {unit} is a preset with one output, but the data has {outputs} target columns; use a unit name such as nau or nmu.");
            var r = RegularizerOptions.Apply(preset.Regularizer, overrides);
            return Recurrent(preset.Build(inputWidth, hidden[0], r));
        }

        // nau (every layer an NAU, the 'nau' preset's regulariser) and nmu (every layer an NMU, the NMU model's).
        var nau = RegularizerOptions.Apply(ModelPresets.NauDefault, overrides);
        var nmu = RegularizerOptions.Apply(ModelPresets.NmuDefault, overrides);
        var layers = new List<LayerSpec>();
        for (int i = 0; i + 1 < widths.Length; i++)
        {
            bool last = i + 2 == widths.Length;
            layers.Add(unit switch
            {
                "nac" => LayerSpec.Nac(widths[i], widths[i + 1]),
                "nac-mult" => LayerSpec.NacMult(widths[i], widths[i + 1]),
                "nalu" => LayerSpec.Nalu(widths[i], widths[i + 1]),
                "nalu-untied" => LayerSpec.Nalu(widths[i], widths[i + 1], untied: true),
                "nau" => LayerSpec.Nau(widths[i], widths[i + 1], nau),
                "nmu" => LayerSpec.Nmu(widths[i], widths[i + 1], nmu),
                "nalu-gate" => LayerSpec.Nalu(widths[i], widths[i + 1]) with { InputIndependentGate = true },
                "npu" => LayerSpec.Npu(widths[i], widths[i + 1]),
                "realnpu" => LayerSpec.RealNpu(widths[i], widths[i + 1]),
                "nmru" => LayerSpec.Nmru(widths[i], widths[i + 1]),
                "snmu" => LayerSpec.Snmu(widths[i], widths[i + 1], nmu),
                "inalu" => LayerSpec.INalu(widths[i], widths[i + 1], INaluRecipeSettings().Layer),
                "mlp" => LayerSpec.Dense(widths[i], widths[i + 1], last ? Act.Linear : ParseActivation(Activation)),
                _ => throw new UsageException($"--unit '{unit}' is not one of nac, nac-mult, nalu, nalu-untied, nalu-gate, nau, nmu, snmu, npu, realnpu, nmru, inalu, mlp, {string.Join(", ", ModelPresets.All.Select(p => p.Name))}."),
            });
        }

        return Recurrent(new ModelArchitecture(layers));

        ModelArchitecture Recurrent(ModelArchitecture a) => !recurrent ? a
            : new ModelArchitecture(a.Layers.Select((l, i) => i == 0 ? LayerSpec.Recurrent(l, Sequence) : l).ToArray());
    }

    /// <summary>
    /// The trainer options the command line asks for. <paramref name="withUnitRecipe"/>: whether iNALU's loop recipe comes
    /// with <c>--unit inalu</c>; the <c>--baseline</c> MLP trains without it (it is iNALU's recipe, not the task's).
    /// </summary>
    internal TrainerOptions BuildTrainerOptions(int evaluateEvery, int evalSamples, bool withUnitRecipe = true)
    {
        if (Batch < 1)
            throw new UsageException($"--batch {Batch} must be at least 1.");
        if (Models < 1)
            throw new UsageException($"--models {Models} must be at least 1.");
        if (!(float.IsFinite(LearningRate) && LearningRate > 0))
            throw new UsageException($"--lr {LearningRate} must be a positive number.");
        if (ClipValue is { } clip && !(clip >= 0 && float.IsFinite(clip)) || !(ClipNorm >= 0 && float.IsFinite(ClipNorm)))
            throw new UsageException("--clip-value and --clip-norm must be non-negative numbers (0 turns them off).");
        var optimizer = Optimizer.ToLowerInvariant() switch
        {
            "adam" => OptimizerOptions.Adam(LearningRate),
            "sgd" => OptimizerOptions.Sgd(LearningRate),
            "rmsprop" => OptimizerOptions.RmsProp(LearningRate),
            _ => throw new UsageException($"--optimizer '{Optimizer}' is not one of adam, sgd, rmsprop."),
        };
        var strategy = ParseStrategy(Strategy);
        var options = new TrainerOptions
        {
            Batch = Batch,
            Optimizer = optimizer.WithClipping(ClipValue ?? 0f, ClipNorm),
            EvaluateEvery = evaluateEvery,
            ValidationSamples = evalSamples,
            TestSamples = evalSamples,
            Strategy = strategy,
        };
        // iNALU's loop recipe (clip value unless given, re-initialisation) comes with the unit.
        return withUnitRecipe && Unit.Trim().Equals("inalu", StringComparison.OrdinalIgnoreCase) && INaluRecipeSettings(ClipValue).Loop is { } loop
            ? loop.ApplyTo(options)
            : options;
    }

    /// <summary>
    /// A --strategy name: any <see cref="TrainingStrategy"/> member, case and dashes ignored (fused-interleaved), or
    /// interleaved for <see cref="TrainingStrategy.FusedInterleaved"/>.
    /// </summary>
    internal static TrainingStrategy ParseStrategy(string name)
    {
        string key = name.Trim().Replace("-", "", StringComparison.Ordinal).Replace("_", "", StringComparison.Ordinal);
        if (key.Equals("interleaved", StringComparison.OrdinalIgnoreCase))
            return TrainingStrategy.FusedInterleaved;
        if (!key.All(char.IsAsciiLetter) || !Enum.TryParse<TrainingStrategy>(key, ignoreCase: true, out var strategy))
        {
            throw new UsageException($"--strategy '{name}' is not one of " +
                string.Join(", ", Enum.GetNames<TrainingStrategy>().Select(StrategyName)) + ".");
        }

        return strategy;
    }

    /// <summary>The command-line spelling of a strategy: fused-interleaved for FusedInterleaved.</summary>
    internal static string StrategyName(TrainingStrategy strategy) => StrategyName(strategy.ToString());

    private static string StrategyName(string member) =>
        string.Concat(member.Select((c, i) => char.IsUpper(c) && i > 0 ? "-" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));

    /// <summary>Seeds seed, seed+1, …; a range that would pass int.MaxValue is a usage error rather than wrapping to negative seeds.</summary>
    internal int[] Seeds => (long)Seed + Models - 1 > int.MaxValue
        ? throw new UsageException($"--seed {Seed} with --models {Models} would need seeds beyond {int.MaxValue}; use a smaller --seed.")
        : Enumerable.Range(0, Models).Select(k => Seed + k).ToArray();

    internal static ArithmeticOp ParseOp(string op) => op.ToLowerInvariant() switch
    {
        "add" or "+" => ArithmeticOp.Add,
        "sub" or "-" => ArithmeticOp.Sub,
        "mul" or "*" or "x" => ArithmeticOp.Mul,
        "div" or "/" => ArithmeticOp.Div,
        "square" or "sq" => ArithmeticOp.Square,
        "sqrt" => ArithmeticOp.Sqrt,
        "identity" or "id" => ArithmeticOp.Identity,
        _ => throw new UsageException($"--op '{op}' is not one of add, sub, mul, div, square, sqrt, identity."),
    };

    internal static Act ParseActivation(string name) => name.ToLowerInvariant().Replace("-", "").Replace("_", "") switch
    {
        "linear" or "none" => Act.Linear,
        "relu" => Act.Relu,
        "relu6" => Act.Relu6,
        "tanh" => Act.Tanh,
        "sigmoid" => Act.Sigmoid,
        "elu" => Act.Elu,
        "selu" => Act.Selu,
        "softplus" => Act.Softplus,
        "leakyrelu" => Act.LeakyRelu,
        "softsign" => Act.Softsign,
        "hardtanh" => Act.Hardtanh,
        "prelu" => Act.PRelu,
        _ => throw new UsageException($"--activation '{name}' is not a known activation (linear, relu, relu6, tanh, sigmoid, elu, selu, softplus, leaky-relu, prelu, softsign, hardtanh)."),
    };

    private static SampleInterval ParseRange(string text, string option)
    {
        try
        {
            return SampleInterval.Parse(text);
        }
        catch (FormatException e)
        {
            throw new UsageException($"{option}: {e.Message}");
        }
    }
}
