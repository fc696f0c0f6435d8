using System.Diagnostics;
using System.Globalization;
using Nalu.Gpu.Checkpoints;
using Nalu.Gpu.Devices;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Models;
using Nalu.Gpu.Tasks;
using Nalu.Gpu.Training;

namespace Nalu.Gpu.Experiments;

/// <summary>A unit of the benchmark: a name as the CLI spells it and the layer of that unit, or a model preset.</summary>
/// <param name="Name">e.g. <c>nac</c>, <c>nalu</c>, <c>mlp-relu6</c>, <c>mlp-linear</c>, <c>nau-nmu</c>.</param>
/// <param name="Kind">Unit kind of both layers (of the first layer for a preset).</param>
/// <param name="Activation">Dense only: the hidden layer's activation (the output layer is linear).</param>
/// <param name="Untied">NALU only: separate weights for the two paths.</param>
/// <param name="Preset">A <see cref="ModelPresets"/> entry that builds the model (e.g. NAU → NMU with its regulariser), or null.</param>
/// <param name="Overrides">Changes to the preset's regulariser (e.g. a schedule scale for short runs), or null.</param>
/// <param name="InputIndependentGate">NALU only: the gate is σ(G), one per output (<c>nalu-gate</c>).</param>
public sealed record ArithmeticUnit(string Name, UnitKind Kind, Activation Activation = Activation.Linear, bool Untied = false,
    ModelPreset? Preset = null, RegularizerOverrides? Overrides = null, bool InputIndependentGate = false)
{
    /// <summary>The regulariser and its schedule in words for a preset (e.g. <c>sparsity-linear λ̂=10, steps 1000→2000</c>); null for units without one.</summary>
    public string? Regularizer => Preset is null ? null : ModelPresets.Describe(Preset.RegularizerWith(Overrides)) + RecipeText;

    /// <summary>iNALU's recipe in words, after the regulariser (empty for every other unit, and for <c>--inalu-recipe none</c>).</summary>
    private string RecipeText => Preset?.Name != "inalu" ? ""
        : ModelPresets.DescribeINalu(INaluRecipeOverridden ? INaluRecipe : ModelPresets.INaluDefault, LoopTraining) is { Length: > 0 } text ? $"; {text}" : "";

    /// <summary>
    /// Set by <see cref="WithINaluRecipe"/>: the iNALU layers' recipe and the loop's (<see cref="LoopTraining"/>) replace the preset's.
    /// </summary>
    public bool INaluRecipeOverridden { get; init; }

    /// <summary>The iNALU layers' recipe when <see cref="INaluRecipeOverridden"/>.</summary>
    public INaluRecipe INaluRecipe { get; init; }

    /// <summary>The loop's part of the recipe when <see cref="INaluRecipeOverridden"/> (null: none).</summary>
    public PresetTraining? INaluTraining { get; init; }

    /// <summary>The loop settings this unit trains with: the preset's (e.g. iNALU's clipping and re-initialisation), or the override; null: the loop's defaults.</summary>
    public PresetTraining? LoopTraining => INaluRecipeOverridden ? INaluTraining : Preset?.Training;

    /// <summary>This unit with iNALU's recipe replaced (units without iNALU layers are unchanged).</summary>
    public ArithmeticUnit WithINaluRecipe(INaluRecipe layer, PresetTraining? loop) =>
        Preset?.Name != "inalu" ? this : this with { INaluRecipeOverridden = true, INaluRecipe = layer, INaluTraining = loop };

    /// <summary>This unit with regulariser <paramref name="overrides"/> (units without a preset are unchanged).</summary>
    public ArithmeticUnit WithOverrides(RegularizerOverrides? overrides) =>
        Preset is null || overrides is null || overrides.IsEmpty ? this : this with { Overrides = overrides };

    /// <summary>
    /// The defaults: NAC, NALU, Madsen &amp; Johansen's NAU→NMU (the unit of the set that learns ×), and the MLP baselines
    /// with ReLU6 and with no activation.
    /// </summary>
    public static readonly IReadOnlyList<ArithmeticUnit> Defaults =
    [
        new("nac", UnitKind.Nac), new("nalu", UnitKind.Nalu), Parse("nau-nmu"),
        new("mlp-relu6", UnitKind.Dense, Activation.Relu6), new("mlp-linear", UnitKind.Dense, Activation.Linear),
    ];

    /// <summary>
    /// The model of this unit for the settings' task: <see cref="Architecture(int, int)"/> for the static task; for the
    /// recurrent task the same two layers with the first one a recurrent cell over <c>[x_t, h_{t−1}]</c>
    /// (<c>Inputs + Hidden → Hidden</c>, run for <see cref="ArithmeticSettings.Sequence"/> steps from <c>h_0 = 0</c>), as
    /// Madsen &amp; Johansen's <c>SimpleFunctionRecurrentNetwork</c>: a NAC cell then a NAC, a NALU cell then a NALU, an
    /// MLP unit's dense cell (with its activation: <c>mlp-tanh</c> is the tanh RNN) then a linear layer.
    /// </summary>
    public ModelArchitecture Architecture(ArithmeticSettings s)
    {
        ArgumentNullException.ThrowIfNull(s);
        if (Kind == UnitKind.Lstm)
        {
            // The LSTM baseline (Madsen & Johansen's): an LSTM layer, then a linear readout of its last h.
            if (!s.IsRecurrent)
                throw new ArgumentException("The lstm unit runs through time: use it in the recurrent task (experiment recurrent, or --sequence 2 or more).");
            return new ModelArchitecture([LayerSpec.Lstm(s.Inputs, s.Hidden, s.Sequence), LayerSpec.Dense(s.Hidden, 1, Activation.Linear)]);
        }

        if (!s.IsRecurrent)
            return Architecture(s.Inputs, s.Hidden);
        var layers = Architecture(s.Inputs + s.Hidden, s.Hidden).Layers.ToArray();
        if (layers.Length != 2)
            throw new ArgumentException($"Unit {Name}: a recurrent model needs a two-layer unit (cell, then readout); it has {layers.Length} layers.");
        layers[0] = LayerSpec.Recurrent(layers[0], s.Sequence);
        return new ModelArchitecture(layers);
    }

    /// <summary>
    /// Default units of the recurrent task: the NAC and NALU cells (Trask et al.'s), Madsen &amp; Johansen's NAU→NMU, and the
    /// tanh RNN baseline (a dense tanh cell, then a linear readout).
    /// </summary>
    public static readonly IReadOnlyList<ArithmeticUnit> RecurrentDefaults =
    [
        new("nac", UnitKind.Nac), Parse("nau"), new("nalu", UnitKind.Nalu), Parse("rnn-tanh"), Parse("lstm"),
    ];

    /// <summary>The model <c>inputs → hidden → 1</c> of this unit; an MLP's hidden layer has the activation, its output layer none.</summary>
    public ModelArchitecture Architecture(int inputs, int hidden)
    {
        var architecture = BaseArchitecture(inputs, hidden);
        return INaluRecipeOverridden
            ? new ModelArchitecture(architecture.Layers.Select(l => l.Kind == UnitKind.INalu ? l with { INaluRecipe = INaluRecipe } : l).ToList())
            : architecture;
    }

    private ModelArchitecture BaseArchitecture(int inputs, int hidden) => Preset is not null ? Preset.Create(inputs, hidden, Overrides) : Kind switch
    {
        UnitKind.Dense => new ModelArchitecture([LayerSpec.Dense(inputs, hidden, Activation), LayerSpec.Dense(hidden, 1, Activation.Linear)]),
        UnitKind.Nalu => new ModelArchitecture([
            LayerSpec.Nalu(inputs, hidden, Untied) with { InputIndependentGate = InputIndependentGate },
            LayerSpec.Nalu(hidden, 1, Untied) with { InputIndependentGate = InputIndependentGate }]),
        _ => ModelArchitecture.Uniform(Kind, inputs, hidden, 1),
    };

    /// <summary>
    /// Parses <c>nac</c>, <c>nac-mult</c>, <c>nalu</c>, <c>nalu-untied</c>, a preset (<c>nau-nmu</c>, <c>nau</c>: see
    /// <see cref="ModelPresets"/>), <c>mlp-ACTIVATION</c> (or just the activation, e.g. <c>relu6</c>).
    /// </summary>
    /// <exception cref="FormatException">An unknown name.</exception>
    public static ArithmeticUnit Parse(string text)
    {
        string name = text.Trim().ToLowerInvariant();
        if (ModelPresets.Find(name) is { } preset)
            return new(preset.Name, UnitKind.Nau, Preset: preset);
        switch (name)
        {
            case "nac":
                return new("nac", UnitKind.Nac);
            case "nac-mult":
                return new("nac-mult", UnitKind.NacMult);
            case "nalu":
                return new("nalu", UnitKind.Nalu);
            case "nalu-untied":
                return new("nalu-untied", UnitKind.Nalu, Untied: true);
            case "nalu-gate":
                return new("nalu-gate", UnitKind.Nalu, InputIndependentGate: true);
            case "nmu":
                return new("nmu", UnitKind.Nmu);
            case "npu":
                return new("npu", UnitKind.Npu);
            case "realnpu":
                return new("realnpu", UnitKind.RealNpu);
            case "nmru":
                return new("nmru", UnitKind.Nmru);
            case "snmu":
                return new("snmu", UnitKind.Snmu);
            case "lstm":
                return new("lstm", UnitKind.Lstm);
            case "rnn-tanh" or "rnn-relu":
                // The recurrent baselines' names: a dense cell with the activation, then a linear readout (mlp-tanh, mlp-relu).
                return new(name, UnitKind.Dense, name == "rnn-tanh" ? Activation.Tanh : Activation.Relu);
        }

        string activation = name.StartsWith("mlp-", StringComparison.Ordinal) ? name[4..] : name;
        if (!ActivationNames.TryGetValue(activation.Replace("_", "-"), out var act))
        {
            throw new FormatException($"'{text}' is not a unit: use nac, nac-mult, nalu, nalu-untied, nalu-gate, nmu, snmu, npu, realnpu, nmru, lstm, rnn-tanh, rnn-relu, " +
                $"a preset ({string.Join(", ", ModelPresets.All.Select(p => p.Name))}) or mlp-ACTIVATION " +
                $"with ACTIVATION one of {string.Join(", ", ActivationNames.Keys)}.");
        }

        return new($"mlp-{FailureExperiment.NameOf(act)}", UnitKind.Dense, act);
    }

    private static readonly Dictionary<string, Activation> ActivationNames = new()
    {
        ["linear"] = Activation.Linear, ["relu"] = Activation.Relu, ["relu6"] = Activation.Relu6, ["tanh"] = Activation.Tanh,
        ["sigmoid"] = Activation.Sigmoid, ["elu"] = Activation.Elu, ["selu"] = Activation.Selu, ["softplus"] = Activation.Softplus,
        ["leaky-relu"] = Activation.LeakyRelu, ["prelu"] = Activation.PRelu, ["softsign"] = Activation.Softsign, ["hardtanh"] = Activation.Hardtanh,
    };
}

/// <summary>A training range and the extrapolation range it is tested on.</summary>
/// <param name="Interpolation">Training and validation range.</param>
/// <param name="Extrapolation">Test range.</param>
public sealed record RangePair(SampleInterval Interpolation, SampleInterval Extrapolation)
{
    /// <summary>The reference pair U[1,2] → U[2,6].</summary>
    public static readonly RangePair Default = new(new SampleInterval(1f, 2f), new SampleInterval(2f, 6f));

    /// <summary>The recurrent task's default, U[1,2] for training and test: its test extrapolates in length, not in range.</summary>
    public static readonly RangePair Recurrent = new(new SampleInterval(1f, 2f), new SampleInterval(1f, 2f));

    /// <summary>Text form <c>1:2=2:6</c> (a union is <c>-2:2=-6:-2,2:6</c>).</summary>
    public override string ToString() => $"{Interpolation}={Extrapolation}";

    /// <summary>Parses <c>lo:hi=lo:hi</c>; pairs in a list are separated by <c>;</c>.</summary>
    /// <exception cref="FormatException">Not two ranges separated by '='.</exception>
    public static RangePair Parse(string text)
    {
        var sides = text.Split('=', StringSplitOptions.TrimEntries);
        if (sides.Length != 2)
            throw new FormatException($"Range pair '{text}' must be 'interpolation=extrapolation', e.g. 1:2=2:6 or -2:2=-6:-2,2:6.");
        return new RangePair(SampleInterval.Parse(sides[0]), SampleInterval.Parse(sides[1]));
    }

    /// <summary>Parses a ';'-separated list of pairs.</summary>
    public static IReadOnlyList<RangePair> ParseList(string text) =>
        text.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(Parse).ToArray();
}

/// <summary>
/// Settings of Experiment 2 (science.md), the static arithmetic task. Defaults are the reference protocol except
/// <see cref="Steps"/> and <see cref="Seeds"/> (5·10⁶ and 100 in the papers), which are sized to a CPU.
/// </summary>
public sealed record ArithmeticSettings
{
    /// <summary>The six ops of the benchmark.</summary>
    public static readonly IReadOnlyList<ArithmeticOp> AllOps =
        [ArithmeticOp.Add, ArithmeticOp.Sub, ArithmeticOp.Mul, ArithmeticOp.Div, ArithmeticOp.Square, ArithmeticOp.Sqrt];

    /// <summary>Units (NAC, NALU, MLP-ReLU6, MLP-linear).</summary>
    public IReadOnlyList<ArithmeticUnit> Units { get; init; } = ArithmeticUnit.Defaults;
    /// <summary>Ops (all six).</summary>
    public IReadOnlyList<ArithmeticOp> Ops { get; init; } = AllOps;
    /// <summary>Range pairs (U[1,2] → U[2,6]).</summary>
    public IReadOnlyList<RangePair> Ranges { get; init; } = [RangePair.Default];
    /// <summary>Seeds per (unit, op, range): <see cref="FirstSeed"/> .. FirstSeed + Seeds − 1.</summary>
    public int Seeds { get; init; } = 10;
    /// <summary>First seed (0).</summary>
    public int FirstSeed { get; init; }
    /// <summary>Adam steps per model.</summary>
    public int Steps { get; init; } = 20_000;
    /// <summary>Samples per step (128).</summary>
    public int Batch { get; init; } = 128;
    /// <summary>Adam learning rate (1e-3).</summary>
    public float LearningRate { get; init; } = 1e-3f;
    /// <summary>Evaluate (validation and test) every this many steps; also at step 0.</summary>
    public int EvalEvery { get; init; } = 1000;
    /// <summary>Samples in the validation set and in the test set (10,000 each).</summary>
    public int EvalSamples { get; init; } = 10_000;
    /// <summary>Input width (100; 2 is the quick <c>op(x₀, x₁)</c> form).</summary>
    public int Inputs { get; init; } = 100;
    /// <summary>Hidden width (2).</summary>
    public int Hidden { get; init; } = 2;
    /// <summary>Size of the subsets summed into a and b (25; 1 with 2 inputs).</summary>
    public int SubsetSize { get; init; } = 25;
    /// <summary>Distance from the start of subset A to the start of subset B (13, an overlap of 12; 1 with 2 inputs).</summary>
    public int SubsetGap { get; init; } = 13;
    /// <summary>Weight error of the near-perfect model that defines success (1e-5).</summary>
    public double Epsilon { get; init; } = 1e-5;
    /// <summary>Monte Carlo samples of the success threshold (1,000,000).</summary>
    public int ThresholdSamples { get; init; } = 1_000_000;
    /// <summary>Step layout (auto).</summary>
    public TrainingStrategy Strategy { get; init; } = TrainingStrategy.Auto;
    /// <summary>This process runs share <see cref="ShardIndex"/> of <see cref="ShardCount"/> of the grid.</summary>
    public int ShardIndex { get; init; }
    /// <summary>Number of shards (1: the whole grid).</summary>
    public int ShardCount { get; init; } = 1;
    /// <summary>
    /// Sequence length in training (1, the default: the static task). T ≥ 2 runs the recurrent task (Trask et al. §4.1,
    /// Madsen &amp; Johansen's <c>simple_function_recurrent</c>): each sample is T steps of <see cref="Inputs"/> values, a and
    /// b sum the two subsets over every step, and the model's first layer is its unit as a recurrent cell over
    /// <c>[x_t, h_{t−1}]</c> (<see cref="ArithmeticUnit.Architecture(ArithmeticSettings)"/>).
    /// </summary>
    public int Sequence { get; init; } = 1;
    /// <summary>Recurrent task: the test's sequence length (0: 10 × <see cref="Sequence"/>); the test draws from the extrapolation range.</summary>
    public int TestSequence { get; init; }
    /// <summary>Whether this is the recurrent task (<see cref="Sequence"/> ≥ 2).</summary>
    public bool IsRecurrent => Sequence > 1;
    /// <summary>The test's sequence length: <see cref="TestSequence"/>, or 10 × <see cref="Sequence"/>; 1 for the static task.</summary>
    public int TestLength => !IsRecurrent ? 1 : TestSequence > 0 ? TestSequence : 10 * Sequence;

    /// <summary>Checks every value; messages name the setting.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(Seeds, 1, nameof(Seeds));
        ArgumentOutOfRangeException.ThrowIfLessThan(Steps, 1, nameof(Steps));
        ArgumentOutOfRangeException.ThrowIfLessThan(Batch, 1, nameof(Batch));
        ArgumentOutOfRangeException.ThrowIfLessThan(EvalEvery, 1, nameof(EvalEvery));
        ArgumentOutOfRangeException.ThrowIfLessThan(EvalSamples, 1, nameof(EvalSamples));
        ArgumentOutOfRangeException.ThrowIfLessThan(Hidden, 1, nameof(Hidden));
        ArgumentOutOfRangeException.ThrowIfLessThan(ThresholdSamples, 1, nameof(ThresholdSamples));
        ArgumentOutOfRangeException.ThrowIfNegative(FirstSeed, nameof(FirstSeed));
        if ((long)FirstSeed + Seeds > ArithmeticExperiment.ReferenceSeed)
            throw new ArgumentOutOfRangeException(nameof(Seeds), $"Seeds must stay below {ArithmeticExperiment.ReferenceSeed} (the random reference models' seeds).");
        if (!(float.IsFinite(LearningRate) && LearningRate > 0f))
            throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "The learning rate must be positive and finite.");
        if (!(Epsilon > 0 && Epsilon < 0.5))
            throw new ArgumentOutOfRangeException(nameof(Epsilon), Epsilon, "ε must lie in (0, 0.5).");
        if (Units.Count == 0 || Ops.Count == 0 || Ranges.Count == 0)
            throw new ArgumentException("Give at least one unit, op and range pair.");
        if (ShardCount < 1 || ShardIndex < 0 || ShardIndex >= ShardCount)
            throw new ArgumentOutOfRangeException(nameof(ShardIndex), $"Shard {ShardIndex}/{ShardCount}: need 0 ≤ K < N.");
        if (Inputs < 2 || (Inputs > 2 && (SubsetSize < 1 || SubsetGap < 0 || SubsetGap + SubsetSize > Inputs)))
            throw new ArgumentOutOfRangeException(nameof(SubsetSize), $"Subsets of {SubsetSize} inputs {SubsetGap} apart do not fit in {Inputs} inputs.");
        if (Ops.Contains(ArithmeticOp.Identity))
            throw new ArgumentException("The identity op is not part of the arithmetic benchmark.");
        if (Sequence < 1)
            throw new ArgumentOutOfRangeException(nameof(Sequence), Sequence, "The sequence length must be at least 1 (1: the static task).");
        if (TestSequence < 0 || (TestSequence > 0 && !IsRecurrent))
            throw new ArgumentOutOfRangeException(nameof(TestSequence), TestSequence, "A test sequence length needs the recurrent task (a training sequence length of 2 or more).");
        if (IsRecurrent && TestLength < Sequence)
        {
            throw new ArgumentOutOfRangeException(nameof(TestSequence), TestSequence,
                $"The test sequences ({TestLength} steps) are shorter than the training sequences ({Sequence}); the test extrapolates in length.");
        }

        if ((long)TestLength * Inputs > 1 << 24)
            throw new ArgumentOutOfRangeException(nameof(TestSequence), $"{TestLength} steps × {Inputs} inputs is more than 2^24 values per test sample.");
        foreach (var unit in Units)
            _ = unit.Architecture(this);   // a unit that cannot run this task (an LSTM on the static one) says so before anything runs
    }

    /// <summary>Where these settings leave the reference protocol (science.md, Experiment 2), in words; empty when they do not.</summary>
    public IReadOnlyList<string> Deviations()
    {
        var inv = CultureInfo.InvariantCulture;
        var list = new List<string>();
        if (IsRecurrent)
        {
            // Madsen & Johansen's recurrent protocol: 10 values per step, sequences of 10 in training and 1,000 in the test.
            if (Inputs != 10)
                list.Add($"{Inputs} values per step (protocol: 10)");
            if (Sequence != 10 || TestLength != 1000)
                list.Add($"sequences of {Sequence} steps, tested on {TestLength} (protocol: 10 and 1,000)");
        }
        else if (Inputs != 100 || SubsetSize != 25 || SubsetGap != 13)
        {
            string overlap = Inputs == 2 ? "a = x0, b = x1"
                : SubsetGap >= SubsetSize ? $"subsets of {SubsetSize} that do not overlap" : $"subsets of {SubsetSize} overlapping by {SubsetSize - SubsetGap}";
            list.Add($"{Inputs} inputs, {overlap} (protocol: 100 inputs, subsets of 25 overlapping by 12)");
        }

        int protocolSteps = IsRecurrent ? 100_000 : 5_000_000;
        if (Steps != protocolSteps)
            list.Add($"{Steps.ToString("N0", inv)} steps (protocol: {protocolSteps.ToString("N0", inv)})");
        if (Seeds != 100)
            list.Add($"{Seeds} seeds (protocol: 100)");
        if (LearningRate != 1e-3f)
            list.Add($"lr {LearningRate.ToString("G", inv)} (protocol: 1e-3)");
        if (Batch != 128)
            list.Add($"batch {Batch} (protocol: 128)");
        if (EvalSamples != 10_000)
            list.Add($"{EvalSamples.ToString("N0", inv)}-sample validation and test sets (protocol: 10,000)");
        if (Epsilon != 1e-5)
            list.Add($"ε = {Epsilon.ToString("G", inv)} (protocol: 1e-5)");
        return list;
    }

    /// <summary>The training task of an op and range pair (sequences of <see cref="Sequence"/> steps in the recurrent task).</summary>
    public ArithmeticTask Task(ArithmeticOp op, RangePair range) =>
        new(op, Inputs, range.Interpolation, range.Extrapolation, SubsetSize, SubsetGap) { Steps = Sequence };

    /// <summary>The task whose extrapolation set is the test: the training task, or its <see cref="TestLength"/>-step sequences.</summary>
    public ArithmeticTask TestTask(ArithmeticOp op, RangePair range) => Task(op, range) with { Steps = TestLength };

    /// <summary>Whether an op is defined on a range pair (√ needs non-negative inputs).</summary>
    public bool IsDefined(ArithmeticOp op, RangePair range)
    {
        try
        {
            _ = Task(op, range);
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}

/// <summary>One model of the grid.</summary>
/// <param name="Index">Position in the canonical order (range pair, unit, op, seed; the seed varies fastest).</param>
/// <param name="Unit">Unit.</param>
/// <param name="Op">Op.</param>
/// <param name="Range">Range pair.</param>
/// <param name="Seed">Model seed.</param>
public sealed record GridItem(int Index, ArithmeticUnit Unit, ArithmeticOp Op, RangePair Range, int Seed)
{
    /// <summary>The identity of a result: unit, op, range pair and seed.</summary>
    public ResultKey Key => new(Unit.Name, ArithmeticExperiment.OpName(Op), Range.Interpolation.ToString(), Range.Extrapolation.ToString(), Seed);
}

/// <summary>The identity of one model's result.</summary>
public readonly record struct ResultKey(string Unit, string Op, string Interpolation, string Extrapolation, int Seed)
{
    /// <summary>e.g. <c>nac add 1:2=2:6 seed 3</c>.</summary>
    public override string ToString() => $"{Unit} {Op} {Interpolation}={Extrapolation} seed {Seed}";
}

/// <summary>
/// Experiment 2, the static arithmetic task: every (unit, op, range pair, seed) of the grid is trained, judged at its
/// best-validation step, and written as one <see cref="ModelRecord"/>. All pending models of one unit and range pair
/// train together as ONE population (one <see cref="Model"/>, per-model ops through <see cref="TrainerOptions.Ops"/>).
/// </summary>
public static class ArithmeticExperiment
{
    /// <summary>Seed of the first random reference model; reference model k has seed <c>ReferenceSeed + k</c>.</summary>
    public const int ReferenceSeed = 1_000_000;

    /// <summary>Random (untrained) models per (unit, op, range pair) whose mean test MSE is the 100 of the relative error.</summary>
    public const int ReferenceModels = 20;

    /// <summary>Evaluation work items per model, fixed so that a model's scores do not depend on its population.</summary>
    public const int EvaluationChunks = 32;

    /// <summary>Counter-RNG seed and stream of the threshold's Monte Carlo samples (their own, shared by no model).</summary>
    public const uint ThresholdSeed = 0x7E5701D, ThresholdStream = 7;

    /// <summary>The CLI spelling of an op.</summary>
    public static string OpName(ArithmeticOp op) => op.ToString().ToLowerInvariant();

    /// <summary>Parses an op name (add, sub, mul, div, square, sqrt).</summary>
    public static ArithmeticOp ParseOp(string text) => text.Trim().ToLowerInvariant() switch
    {
        "add" or "+" => ArithmeticOp.Add,
        "sub" or "-" => ArithmeticOp.Sub,
        "mul" or "*" or "x" => ArithmeticOp.Mul,
        "div" or "/" => ArithmeticOp.Div,
        "square" or "sq" => ArithmeticOp.Square,
        "sqrt" => ArithmeticOp.Sqrt,
        _ => throw new FormatException($"'{text}' is not an op: use add, sub, mul, div, square, sqrt."),
    };

    /// <summary>
    /// The whole grid in canonical order: range pairs, then units, then ops, then seeds (fastest). Combinations where
    /// the op is undefined on the range pair (√ of negative numbers) are left out.
    /// </summary>
    public static IReadOnlyList<GridItem> Grid(ArithmeticSettings s)
    {
        var items = new List<GridItem>();
        foreach (var range in s.Ranges)
        {
            foreach (var unit in s.Units)
            {
                foreach (var op in s.Ops)
                {
                    if (!s.IsDefined(op, range))
                        continue;
                    for (int k = 0; k < s.Seeds; k++)
                        items.Add(new GridItem(items.Count, unit, op, range, s.FirstSeed + k));
                }
            }
        }

        return items;
    }

    /// <summary>
    /// Shard K of N: the grid items whose canonical index i has <c>i mod N = K</c>. Round-robin gives every shard a
    /// near-equal share of every unit, op and range pair, so shards take about the same time.
    /// </summary>
    public static IReadOnlyList<GridItem> Shard(IReadOnlyList<GridItem> grid, int index, int count) =>
        grid.Where(g => g.Index % count == index).ToArray();

    /// <summary>
    /// The success threshold: the test MSE of the ε-perturbed exact solution, by Monte Carlo on the extrapolation range.
    /// </summary>
    /// <remarks>
    /// Following Madsen &amp; Johansen (ICLR 2020; their <c>function_task_static_mse_expectation.r</c>): the exact first
    /// layer selects the subsets A and B; the perturbed one has weight 1 − ε where the exact one has 1 and ε where it has
    /// 0, so <c>a' = (1−ε)·Σ_{i∈A} xᵢ + ε·Σ_{i∉A} xᵢ</c> and likewise <c>b'</c>. The second layer is exact: the output is
    /// <c>op(a', b')</c> (for × ÷ a² √a this is the multiplicative path with exponents (1, 1), (1, −1), 2 and ½ applied to
    /// a', b'). The threshold is <c>E[(op(a', b') − op(a, b))²]</c> over inputs drawn from the extrapolation range; it is the
    /// same for every unit and seed (the inputs are i.i.d., so where the subsets sit does not matter). Computed in double
    /// from float32 draws of the counter RNG (seed <see cref="ThresholdSeed"/>, stream <see cref="ThresholdStream"/>),
    /// summed in fixed blocks, so it is deterministic.
    /// </remarks>
    public static double Threshold(ArithmeticTask task, double epsilon, int samples)
    {
        ArgumentNullException.ThrowIfNull(task);
        return Thresholds(task, [task.Op], epsilon, samples)[0];
    }

    /// <summary>
    /// <see cref="Threshold"/> of several ops on the task's ranges and subsets, from one pass over the same samples
    /// (each op's value is exactly what <see cref="Threshold"/> gives for it alone).
    /// </summary>
    public static double[] Thresholds(ArithmeticTask task, IReadOnlyList<ArithmeticOp> ops, double epsilon, int samples)
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(ops);
        ArgumentOutOfRangeException.ThrowIfLessThan(samples, 1);
        int inputs = task.Inputs, size = task.SubsetSize, gap = task.SubsetGap, count = ops.Count, steps = task.Steps;
        var range = task.Extrapolation.ToDevice();
        ulong key = CounterRng.Key(ThresholdSeed, ThresholdStream);
        const int Blocks = 64;
        var sums = new double[Blocks, count];
        int per = (samples + Blocks - 1) / Blocks;
        Parallel.For(0, Blocks, block =>
        {
            var sum = new double[count];
            int end = Math.Min(samples, (block + 1) * per);
            for (int n = block * per; n < end; n++)
            {
                // The near-perfect model of a sequence is the recurrent cell whose every weight is off by ε, the weights on
                // its own state included (1 − ε on the identity, ε across): a' and b' are that cell's states after the last
                // step. With one step this is the static task's a' = (1 − ε)·a + ε·(Σx − a), bit for bit.
                double a = 0, b = 0, a2 = 0, b2 = 0;
                for (int t = 0; t < steps; t++)
                {
                    double sa = 0, sb = 0, all = 0;
                    for (int j = 0; j < inputs; j++)
                    {
                        double x = range.Map(CounterRng.Uniform(key, (uint)n, (uint)(t * inputs + j)));
                        all += x;
                        if (j < size)
                            sa += x;
                        if (j >= gap && j < gap + size)
                            sb += x;
                    }

                    a += sa;
                    b += sb;
                    double nextA = (1 - epsilon) * a2 + epsilon * b2 + (1 - epsilon) * sa + epsilon * (all - sa);
                    b2 = epsilon * a2 + (1 - epsilon) * b2 + (1 - epsilon) * sb + epsilon * (all - sb);
                    a2 = nextA;
                }

                for (int k = 0; k < count; k++)
                {
                    double d = Apply(ops[k], a2, b2) - Apply(ops[k], a, b);
                    sum[k] += d * d;
                }
            }

            for (int k = 0; k < count; k++)
                sums[block, k] = sum[k];
        });
        var result = new double[count];
        for (int k = 0; k < count; k++)
        {
            double total = 0;
            for (int block = 0; block < Blocks; block++)
                total += sums[block, k];
            result[k] = total / samples;
        }

        return result;
    }

    /// <summary>op(a, b) in double.</summary>
    public static double Apply(ArithmeticOp op, double a, double b) => op switch
    {
        ArithmeticOp.Add => a + b,
        ArithmeticOp.Sub => a - b,
        ArithmeticOp.Mul => a * b,
        ArithmeticOp.Div => a / b,
        ArithmeticOp.Square => a * a,
        ArithmeticOp.Sqrt => Math.Sqrt(a),
        _ => a,
    };

    /// <summary>Success: the test MSE at the best-validation step is below the threshold (NaN is a failure).</summary>
    public static bool IsSuccess(double extrapolationMse, double threshold) => extrapolationMse < threshold;

    /// <summary>
    /// The sparsity error <c>max over weights of min(|W|, |1 − |W||)</c> (science.md, Madsen &amp; Johansen) over every layer's
    /// effective weights, as stable-nalu logs it (see docs/results.md): <c>W = tanh(Ŵ)·σ(M̂)</c> for NAC, NAC•, NALU and
    /// iNALU (both paths when untied; a gate is not a weight of the arithmetic), the clamped W of NAU, NMU and NMRU, the
    /// real weights W_re of the NPU and RealNPU (their gate g and W_im are not included, as in Heim et al.'s export), and
    /// the weight matrix of a dense layer (not the bias).
    /// </summary>
    public static double SparsityError(ModelArchitecture architecture, ReadOnlySpan<float> parameters)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        if (parameters.Length != architecture.ParameterCount)
            throw new ArgumentException($"Expected {architecture.ParameterCount} parameters, got {parameters.Length}.", nameof(parameters));
        double worst = 0;
        for (int l = 0; l < architecture.Layers.Count; l++)
        {
            var layer = architecture.Layers[l];
            var block = parameters.Slice(architecture.LayerOffset(l), layer.ParameterCount);
            int w = layer.Inputs * layer.Outputs;
            switch (layer.Kind)
            {
                case UnitKind.Dense or UnitKind.Nau or UnitKind.Nmu or UnitKind.Snmu or UnitKind.Npu or UnitKind.RealNpu:
                    for (int k = 0; k < w; k++)
                        worst = Math.Max(worst, Sparsity(block[k]));
                    break;
                case UnitKind.Custom:
                    return double.NaN;   // a custom unit's weights mean what its author says: no sparsity error is defined
                case UnitKind.Nmru:
                    for (int k = 0; k < 2 * w; k++)
                        worst = Math.Max(worst, Sparsity(block[k]));
                    break;
                default:
                    int paths = layer.Kind == UnitKind.INalu || (layer.Kind == UnitKind.Nalu && layer.Untied) ? 2 : 1;
                    for (int path = 0; path < paths; path++)
                    {
                        var hat = block.Slice(2 * path * w, w);
                        var gate = block.Slice((2 * path + 1) * w, w);
                        for (int k = 0; k < w; k++)
                            worst = Math.Max(worst, Sparsity(Math.Tanh(hat[k]) / (1 + Math.Exp(-gate[k]))));
                    }

                    break;
            }
        }

        return worst;
    }

    private static double Sparsity(double w)
    {
        double abs = Math.Abs(w);
        return double.IsFinite(abs) ? Math.Min(abs, Math.Abs(1 - abs)) : double.NaN;
    }

    /// <summary>
    /// The Wilson score interval of a binomial proportion: successes out of n at normal quantile z (1.96 for 95%).
    /// <c>(p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n)</c>, clamped to [0, 1]. n = 0 gives [0, 1].
    /// </summary>
    public static (double Low, double High) Wilson(int successes, int n, double z = 1.96)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(successes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(successes, n);
        if (n == 0)
            return (0, 1);
        double p = (double)successes / n, z2 = z * z;
        double denominator = 1 + z2 / n;
        double centre = (p + z2 / (2.0 * n)) / denominator;
        double half = z * Math.Sqrt(p * (1 - p) / n + z2 / (4.0 * n * n)) / denominator;
        return (Math.Max(0, centre - half), Math.Min(1, centre + half));
    }

    /// <summary>Progress of one population, between launches.</summary>
    /// <param name="Population">0-based index among this run's populations.</param>
    /// <param name="Populations">Populations in this run.</param>
    /// <param name="Label">e.g. <c>nac 1:2=2:6 (60 models)</c>.</param>
    /// <param name="Step">Steps done.</param>
    /// <param name="Steps">Steps in all.</param>
    /// <param name="Solved">Models of the population whose test MSE has been below the threshold at an evaluation.</param>
    /// <param name="Models">Models in the population.</param>
    public sealed record Progress(int Population, int Populations, string Label, int Step, int Steps, int Solved, int Models);

    /// <summary>
    /// Trains and scores <paramref name="items"/> (already sharded and without finished ones), one population per
    /// (range pair, unit), and hands the records of a population's models to <paramref name="onRecords"/> as soon as it is done;
    /// then calls <paramref name="onPopulationDone"/> with the population's index. With <paramref name="checkpoints"/>, a
    /// population resumes from its checkpoint file when there is one, saves its training state every
    /// <see cref="PopulationCheckpoints.Every"/> steps, and deletes the file once its records are handed over; the records
    /// are bit-identical to those of a run that never stopped.
    /// </summary>
    public static void Run(NaluDevice device, ArithmeticSettings settings, IReadOnlyList<GridItem> items,
        Action<IReadOnlyList<ModelRecord>> onRecords, Action<Progress>? onProgress = null, Action<int>? onPopulationDone = null,
        CancellationToken cancellationToken = default, PopulationCheckpoints? checkpoints = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(onRecords);
        settings.Validate();
        var populations = items.GroupBy(i => (i.Range, i.Unit)).Select(g => g.ToArray()).ToArray();
        var thresholds = new Dictionary<(ArithmeticOp, RangePair), double>();
        for (int p = 0; p < populations.Length; p++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            RunPopulation(device, settings, populations[p], p, populations.Length, thresholds, onRecords, onProgress, cancellationToken, checkpoints);
            onPopulationDone?.Invoke(p);
        }
    }

    /// <summary>The threshold of an op on a range pair; the first request for a range pair computes every op's at once.</summary>
    private static double ThresholdOf(ArithmeticSettings s, ArithmeticOp op, RangePair range, Dictionary<(ArithmeticOp, RangePair), double> cache)
    {
        if (!cache.TryGetValue((op, range), out double value))
        {
            var ops = s.Ops.Where(o => s.IsDefined(o, range)).Append(op).Distinct().ToArray();
            var values = Thresholds(s.TestTask(op, range), ops, s.Epsilon, s.ThresholdSamples);
            for (int k = 0; k < ops.Length; k++)
                cache[(ops[k], range)] = values[k];
            value = cache[(op, range)];
        }

        return value;
    }

    private static TrainerOptions Options(ArithmeticSettings s, ArithmeticUnit unit, IReadOnlyList<ArithmeticOp> ops, int validationSamples)
    {
        var options = BaseOptions(s, ops, validationSamples);
        return unit.LoopTraining is { } loop ? loop.ApplyTo(options) : options;
    }

    private static TrainerOptions BaseOptions(ArithmeticSettings s, IReadOnlyList<ArithmeticOp> ops, int validationSamples) => new()
    {
        Batch = s.Batch,
        Optimizer = OptimizerOptions.Adam(s.LearningRate),
        EvaluateEvery = s.EvalEvery,
        ValidationSamples = validationSamples,
        TestSamples = s.EvalSamples,
        Strategy = s.Strategy,
        Ops = ops,
        EvaluationChunks = EvaluationChunks,
    };

    /// <summary>
    /// Mean test MSE of <see cref="ReferenceModels"/> untrained models (seeds <see cref="ReferenceSeed"/>..), each on its
    /// own seed's test set, per op: the "randomly initialised model" of the relative error. Independent of the sweep's
    /// seeds and shards, so every record carries its final relative error. Non-finite MSEs are left out of the mean.
    /// </summary>
    public static Dictionary<ArithmeticOp, double> RandomMse(NaluDevice device, ArithmeticSettings s, ArithmeticUnit unit, RangePair range,
        IReadOnlyList<ArithmeticOp> ops)
    {
        var seeds = new List<int>();
        var modelOps = new List<ArithmeticOp>();
        foreach (var op in ops)
        {
            for (int k = 0; k < ReferenceModels; k++)
            {
                seeds.Add(ReferenceSeed + k);
                modelOps.Add(op);
            }
        }

        // The recurrent task's random models are tested as the trained ones are: on the test's longer sequences.
        var architecture = unit.Architecture(s);
        using var model = new Model(device, s.IsRecurrent ? architecture.WithSteps(s.TestLength) : architecture, seeds);
        using var trainer = new Trainer(model, s.TestTask(ops[0], range), Options(s, unit, modelOps, validationSamples: 1));
        var test = trainer.Evaluate().Extrapolation;
        var result = new Dictionary<ArithmeticOp, double>();
        for (int o = 0; o < ops.Count; o++)
        {
            var finite = test.Skip(o * ReferenceModels).Take(ReferenceModels).Where(double.IsFinite).ToArray();
            result[ops[o]] = finite.Length == 0 ? double.NaN : finite.Average();
        }

        return result;
    }

    private static void RunPopulation(NaluDevice device, ArithmeticSettings s, GridItem[] items, int index, int count,
        Dictionary<(ArithmeticOp, RangePair), double> thresholdCache, Action<IReadOnlyList<ModelRecord>> onRecords, Action<Progress>? onProgress,
        CancellationToken cancellationToken, PopulationCheckpoints? checkpoints)
    {
        var clock = Stopwatch.StartNew();
        var unit = items[0].Unit;
        var range = items[0].Range;
        var ops = items.Select(i => i.Op).ToArray();
        var distinctOps = ops.Distinct().ToArray();
        var thresholds = distinctOps.ToDictionary(op => op, op => ThresholdOf(s, op, range, thresholdCache));
        var randomMse = RandomMse(device, s, unit, range, distinctOps);
        string label = $"{unit.Name} {range} ({items.Length} model{(items.Length == 1 ? "" : "s")})";

        var architecture = unit.Architecture(s);
        using var model = new Model(device, architecture, items.Select(i => i.Seed).ToArray());
        using var trainer = new Trainer(model, s.Task(ops[0], range), Options(s, unit, ops, s.EvalSamples));
        // The recurrent task's test: the same parameters on TestLength-step sequences, in a model of the longer architecture.
        using var tester = s.IsRecurrent ? new LengthTest(device, s, unit, architecture, items, ops, range) : null;
        var firstSuccess = new int?[items.Length];
        int solved = 0;

        void Check(Evaluation e, double[]? test)
        {
            test ??= e.Extrapolation;
            for (int m = 0; m < items.Length; m++)
            {
                if (firstSuccess[m] is null && IsSuccess(test[m], thresholds[ops[m]]))
                {
                    firstSuccess[m] = e.Step;
                    solved++;
                }
            }
        }

        // Step 0: the untrained models (their test MSE is recorded) are the first candidates for the best step.
        var untrained = trainer.Evaluate(record: true);
        var untrainedTest = tester?.Run(model.GetParameters()) ?? untrained.Extrapolation;
        Check(untrained, untrainedTest);
        string? path = checkpoints?.PathOf(unit, range, s.ShardIndex, s.ShardCount);
        // A resumed recurrent population cannot replay its length tests (the checkpoint keeps the evaluations at the
        // training length only): its solved-at steps count from the resumed evaluations on; the final verdicts are exact.
        if (path is not null && File.Exists(path))
            Resume(trainer, path, label, s, checkpoints!, e => Check(e, tester is null ? null : Enumerable.Repeat(double.NaN, items.Length).ToArray()));
        onProgress?.Invoke(new Progress(index, count, label, trainer.Step, s.Steps, solved, items.Length));
        int every = checkpoints?.Every ?? 0;
        while (trainer.Step < s.Steps)
        {
            int chunk = every > 0 ? Math.Min(s.Steps - trainer.Step, every - trainer.Step % every) : s.Steps - trainer.Step;
            trainer.Train(chunk, p =>
            {
                if (p.Evaluation is { } e)
                    Check(e, tester?.Run(model.GetParameters()));
                onProgress?.Invoke(new Progress(index, count, label, p.Step, s.Steps, solved, items.Length));
            }, cancellationToken);
            if (every > 0 && trainer.Step < s.Steps)
            {
                Directory.CreateDirectory(checkpoints!.Folder);
                trainer.SaveCheckpoint(path!);
                checkpoints.Saved(path!, trainer.Step);
            }
        }

        if (trainer.History[^1].Step != trainer.Step)
            Check(trainer.Evaluate(record: true), tester?.Run(model.GetParameters()));
        var bestTests = tester?.RunBest(trainer.Best);
        clock.Stop();

        var records = new ModelRecord[items.Length];
        for (int m = 0; m < items.Length; m++)
        {
            var item = items[m];
            var best = trainer.Best[m];
            double threshold = thresholds[item.Op];
            double extrapolation = bestTests is not null ? bestTests[m] : best?.Extrapolation ?? double.NaN;
            double random = randomMse[item.Op];
            records[m] = new ModelRecord
            {
                Unit = unit.Name,
                Op = OpName(item.Op),
                Interpolation = range.Interpolation.ToString(),
                Extrapolation = range.Extrapolation.ToString(),
                Seed = item.Seed,
                Regularizer = unit.Regularizer,
                Inputs = s.Inputs,
                Hidden = s.Hidden,
                SubsetSize = trainer.Task!.SubsetSize,
                SubsetGap = trainer.Task!.SubsetGap,
                Steps = s.Steps,
                Batch = s.Batch,
                LearningRate = s.LearningRate,
                EvalEvery = s.EvalEvery,
                EvalSamples = s.EvalSamples,
                Epsilon = s.Epsilon,
                ThresholdSamples = s.ThresholdSamples,
                BestStep = best?.Step,
                InterpolationMse = best?.Interpolation ?? double.NaN,
                ExtrapolationMse = extrapolation,
                Threshold = threshold,
                Success = IsSuccess(extrapolation, threshold),
                FirstSuccessStep = firstSuccess[m],
                SparsityError = best is null ? double.NaN : SparsityError(architecture, best.Parameters),
                UntrainedMse = untrainedTest[m],
                RandomMse = random,
                RelativeError = 100 * extrapolation / random,
                // A recurrent model whose test sequences overflow (the NALU's exp through time) is diverged, never a success.
                Diverged = trainer.Diverged[m] || (s.IsRecurrent && best is not null && !double.IsFinite(extrapolation)),
                Sequence = s.IsRecurrent ? s.Sequence : null,
                TestSequence = s.IsRecurrent ? s.TestLength : null,
                Reinitializations = trainer.Reinitializations.Count(r => r.Model == m),
                Population = items.Length,
                WallSeconds = Math.Round(clock.Elapsed.TotalSeconds, 3),
                Device = device.ShortName,
            };
        }

        onRecords(records);
        if (path is not null && File.Exists(path))
            checkpoints!.Delete(path);
    }

    /// <summary>
    /// Restores a population's checkpoint and replays its evaluations through <paramref name="check"/> (the first step
    /// at which each model succeeded), as the uninterrupted run saw them. A damaged file, or one of another population
    /// or other settings, is a note, and the population starts from step 0.
    /// </summary>
    private static void Resume(Trainer trainer, string path, string label, ArithmeticSettings s, PopulationCheckpoints checkpoints,
        Action<Evaluation> check)
    {
        try
        {
            var saved = Checkpoint.Read(path);
            if (saved.Step > s.Steps)
                throw new ArgumentException($"it is at step {saved.Step}, past the {s.Steps} steps of this run");
            trainer.Restore(saved);
        }
        catch (Exception e) when (e is CheckpointFormatException or ArgumentException or IOException or UnauthorizedAccessException)
        {
            checkpoints.Note($"Note: {path} does not continue {label} ({e.Message.Split('\n')[0].Split(" (Parameter")[0].Trim()}); training it from step 0.");
            return;
        }

        foreach (var evaluation in trainer.History)
            check(evaluation);
        checkpoints.Note($"Resuming {label} from step {trainer.Step} ({path}).");
    }

    /// <summary>
    /// The recurrent task's test: the trained parameters run on <see cref="ArithmeticSettings.TestLength"/>-step sequences
    /// (the same parameters in the architecture <see cref="ModelArchitecture.WithSteps"/> gives), scored by the test-set
    /// MSE of a trainer that never trains.
    /// </summary>
    private sealed class LengthTest : IDisposable
    {
        private readonly Model _model;
        private readonly Trainer _trainer;

        public LengthTest(NaluDevice device, ArithmeticSettings s, ArithmeticUnit unit, ModelArchitecture architecture,
            GridItem[] items, IReadOnlyList<ArithmeticOp> ops, RangePair range)
        {
            _model = new Model(device, architecture.WithSteps(s.TestLength), items.Select(i => i.Seed).ToArray());
            try
            {
                _trainer = new Trainer(_model, s.TestTask(ops[0], range), Options(s, unit, ops, validationSamples: 1));
            }
            catch
            {
                _model.Dispose();
                throw;
            }
        }

        /// <summary>Test MSE of every model with <paramref name="parameters"/> (all models' parameters, model after model).</summary>
        public double[] Run(float[] parameters)
        {
            _model.SetParameters(parameters);
            return _trainer.Evaluate().Extrapolation;
        }

        /// <summary>Test MSE of each model's best parameters (NaN for a model that never had a finite validation error).</summary>
        public double[] RunBest(IReadOnlyList<BestEvaluation?> best)
        {
            for (int m = 0; m < best.Count; m++)
            {
                if (best[m] is { } b)
                    _model.SetParameters(b.Parameters, m);
            }

            var test = _trainer.Evaluate().Extrapolation;
            return test.Select((v, m) => best[m] is null ? double.NaN : v).ToArray();
        }

        public void Dispose()
        {
            _trainer.Dispose();
            _model.Dispose();
        }
    }

    /// <summary>Invariant formatting of a float setting.</summary>
    internal static string Format(double value) => value.ToString("G", CultureInfo.InvariantCulture);
}
