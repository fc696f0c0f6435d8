using Nalu.Gpu.Kernels;
using Nalu.Gpu.Kernels.Units;

namespace Nalu.Gpu.Models;

/// <summary>The unit types a layer can be.</summary>
public enum UnitKind
{
    /// <summary>Neural accumulator: <c>W = tanh(Ŵ)·σ(M̂)</c>, <c>y = x Wᵀ</c>.</summary>
    Nac,
    /// <summary>Multiplicative accumulator NAC•: <c>y = exp(log(|x|+ε) Wᵀ)</c>.</summary>
    NacMult,
    /// <summary>NALU: gated mix of a NAC and a NAC•.</summary>
    Nalu,
    /// <summary>Dense layer with bias and an activation.</summary>
    Dense,
    /// <summary>NAU (Madsen &amp; Johansen): <c>y = x Wᵀ</c>, W clamped to [−1, 1], optional sparsity regulariser.</summary>
    Nau,
    /// <summary>NMU (Madsen &amp; Johansen): <c>y_o = Π_i (W_oi x_i + 1 − W_oi)</c>, W clamped to [0, 1], optional sparsity regulariser.</summary>
    Nmu,
    /// <summary>Neural power unit (Heim et al. 2020), complex: <c>z = exp(W_re log r − π W_im k)·cos(W_im log r + π W_re k)</c>.</summary>
    Npu,
    /// <summary>Real neural power unit: the NPU with <c>W_im ≡ 0</c>.</summary>
    RealNpu,
    /// <summary>Neural multiplicative reciprocal unit (Mistry et al.): an NMU over <c>[x, 1/(x ± ε)]</c>, W ∈ [0, 1].</summary>
    Nmru,
    /// <summary>iNALU (Schlör et al.): separate path weights, ω = 20 clip, sign retrieval, gate σ(G) per output; its layer recipe in <see cref="LayerSpec.INaluRecipe"/>.</summary>
    INalu,
    /// <summary>
    /// Stochastic NMU (Mistry et al.): in training, <c>NMU(x⊙n)/NMU(n)</c> with noise n ~ U[1, 5] per input element; at
    /// inference the plain NMU. W clamped to [0, 1], optional sparsity regulariser.
    /// </summary>
    Snmu,
    /// <summary>
    /// LSTM cell (the baseline of the recurrent tasks), recurrent only: <see cref="LayerSpec.Lstm"/>. Its state is
    /// <c>[h, c]</c>; the layer outputs h. Forget-gate bias +1 (a constant, as the NALU papers' code), PyTorch's gate order.
    /// </summary>
    Lstm,
    /// <summary>A unit written outside the library (<see cref="CustomUnit"/>): make its layers with <see cref="LayerSpec.Custom(CustomUnit, int, int)"/>.</summary>
    Custom,
}

/// <summary>Activations of <see cref="UnitKind.Dense"/> layers.</summary>
public enum Activation
{
    /// <summary>None (identity).</summary>
    Linear,
    /// <summary>max(0, z).</summary>
    Relu,
    /// <summary>min(max(0, z), 6).</summary>
    Relu6,
    /// <summary>tanh(z).</summary>
    Tanh,
    /// <summary>σ(z).</summary>
    Sigmoid,
    /// <summary>ELU, α = 1.</summary>
    Elu,
    /// <summary>SELU.</summary>
    Selu,
    /// <summary>log(1 + e^z).</summary>
    Softplus,
    /// <summary>Leaky ReLU, slope 0.01.</summary>
    LeakyRelu,
    /// <summary>z / (1 + |z|).</summary>
    Softsign,
    /// <summary>clamp(z, −1, 1).</summary>
    Hardtanh,
    /// <summary>PReLU: z for z &gt; 0, else α z, with ONE learned slope α per layer (initially 0.25), as <c>torch.nn.PReLU()</c>.</summary>
    PRelu,
}

/// <summary>One layer of a model: its unit type and widths.</summary>
/// <remarks>
/// Initialisation (a documented choice; the papers' code uses these): every NAC/NALU matrix (Ŵ, M̂, G) is
/// Xavier-uniform, <c>U(±√(6/(I+O)))</c>; dense weights are Kaiming-uniform <c>U(±√(6/I))</c> for the ReLU
/// family and Xavier-uniform otherwise, with zero biases. Values come from the counter RNG keyed by
/// (seed, layer, element), so a seed fixes the initial model on every device. A PReLU layer's slope α starts
/// at 0.25 (PyTorch's default) and its weights are initialised as for the ReLU family. NAU (Madsen &amp; Johansen):
/// <c>U[−r, r]</c> with <c>r = min(0.5, √3·√(2/(I+O)))</c>; NMU: <c>U[0.25, 0.75]</c>. NPU and RealNPU (Heim et al.):
/// W_re Xavier-uniform, W_im = 0, every gate g = <see cref="NpuInitialGate"/> (0.5). NMRU: W ~ U[0.25, 0.75], the NMU's.
/// iNALU (Schlör et al.): Ŵ ~ N(1, 0.1) and M̂ ~ N(−1, 0.1) on both paths, G ~ N(0, 0.1).
/// </remarks>
/// <param name="Kind">Unit type.</param>
/// <param name="Inputs">Input width I ≥ 1.</param>
/// <param name="Outputs">Output width O ≥ 1.</param>
/// <param name="Untied">NALU only: separate weights for the additive and multiplicative paths.</param>
/// <param name="Activation">Dense only: the activation.</param>
public sealed record LayerSpec(UnitKind Kind, int Inputs, int Outputs, bool Untied = false, Activation Activation = Activation.Linear)
{
    /// <summary>A NAC layer.</summary>
    public static LayerSpec Nac(int inputs, int outputs) => new(UnitKind.Nac, inputs, outputs);
    /// <summary>A NAC• layer.</summary>
    public static LayerSpec NacMult(int inputs, int outputs) => new(UnitKind.NacMult, inputs, outputs);
    /// <summary>A NALU layer (tied weights unless <paramref name="untied"/>).</summary>
    public static LayerSpec Nalu(int inputs, int outputs, bool untied = false) => new(UnitKind.Nalu, inputs, outputs, untied);
    /// <summary>An NAU layer with an optional sparsity regulariser (none by default).</summary>
    public static LayerSpec Nau(int inputs, int outputs, RegularizerSettings regularizer = default) =>
        new(UnitKind.Nau, inputs, outputs) { Regularizer = regularizer };
    /// <summary>An NMU layer with an optional sparsity regulariser (none by default).</summary>
    public static LayerSpec Nmu(int inputs, int outputs, RegularizerSettings regularizer = default) =>
        new(UnitKind.Nmu, inputs, outputs) { Regularizer = regularizer };
    /// <summary>A complex NPU layer (Heim et al.), optionally with their L1 regulariser.</summary>
    public static LayerSpec Npu(int inputs, int outputs, RegularizerSettings regularizer = default) =>
        new(UnitKind.Npu, inputs, outputs) { Regularizer = regularizer };
    /// <summary>A real NPU layer, optionally with Heim et al.'s L1 regulariser.</summary>
    public static LayerSpec RealNpu(int inputs, int outputs, RegularizerSettings regularizer = default) =>
        new(UnitKind.RealNpu, inputs, outputs) { Regularizer = regularizer };
    /// <summary>An NMRU layer, optionally with the NMU's sparsity regulariser.</summary>
    public static LayerSpec Nmru(int inputs, int outputs, RegularizerSettings regularizer = default) =>
        new(UnitKind.Nmru, inputs, outputs) { Regularizer = regularizer };
    /// <summary>An sNMU layer (training-time noise, inference the NMU), optionally with the NMU's sparsity regulariser.</summary>
    public static LayerSpec Snmu(int inputs, int outputs, RegularizerSettings regularizer = default) =>
        new(UnitKind.Snmu, inputs, outputs) { Regularizer = regularizer };
    /// <summary>An iNALU layer with (optionally) the layer part of its training recipe.</summary>
    public static LayerSpec INalu(int inputs, int outputs, INaluRecipe recipe = default) =>
        new(UnitKind.INalu, inputs, outputs) { INaluRecipe = recipe };
    /// <summary>A dense layer with bias.</summary>
    /// <summary>
    /// An LSTM layer of <paramref name="hidden"/> units over sequences of <paramref name="steps"/> steps of
    /// <paramref name="inputsPerStep"/> values (<see cref="LstmUnit"/>): its spec's widths are the cell's visible ones,
    /// <c>Inputs = F + H</c> (x_t and h) and <c>Outputs = H</c>; the cell state c travels with h inside the layer.
    /// </summary>
    public static LayerSpec Lstm(int inputsPerStep, int hidden, int steps, bool everyStep = false) =>
        Recurrent(new(UnitKind.Lstm, inputsPerStep + hidden, hidden), steps, everyStep);

    public static LayerSpec Dense(int inputs, int outputs, Activation activation) => new(UnitKind.Dense, inputs, outputs, false, activation);

    /// <summary>
    /// <paramref name="cell"/> as a recurrent layer run for <paramref name="steps"/> steps: <c>h_t = cell([x_t, h_{t−1}])</c>
    /// from <c>h_0 = 0</c>, output <c>h_T</c> (see <see cref="Steps"/>). The cell's widths are its own: it reads
    /// <c>F + S</c> values (F per step, then the state) and writes the state S, so
    /// <c>Recurrent(Nac(10 + 2, 2), 10)</c> reads sequences of 10 steps of 10 values and outputs 2. With
    /// <paramref name="everyStep"/> it outputs every step's state (T·S values, step-major; see <see cref="ReadEveryStep"/>).
    /// </summary>
    public static LayerSpec Recurrent(LayerSpec cell, int steps, bool everyStep = false)
    {
        ArgumentNullException.ThrowIfNull(cell);
        var layer = cell with { Steps = steps, ReadEveryStep = everyStep };
        layer.Validate();
        return layer;
    }

    /// <summary>
    /// <paramref name="layer"/> applied to each of <paramref name="steps"/> steps of a sequence with the same weights
    /// ("time-distributed", <see cref="Kernels.Units.EachStepUnit{TInner}"/>): it reads T·I values and writes T·O, step-major.
    /// A per-image network in front of a recurrent head: <c>ForEachStep(Dense(784, 64, Relu), 10)</c>.
    /// </summary>
    public static LayerSpec ForEachStep(LayerSpec layer, int steps)
    {
        ArgumentNullException.ThrowIfNull(layer);
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        var each = layer with { EachStep = steps };
        each.Validate();
        return each;
    }

    /// <summary>A layer of a custom unit (an <see cref="IUnit"/> struct of the caller's own assembly).</summary>
    public static LayerSpec Custom(CustomUnit unit, int inputs, int outputs)
    {
        ArgumentNullException.ThrowIfNull(unit);
        return new(UnitKind.Custom, inputs, outputs) { CustomUnit = unit };
    }

    /// <summary>A layer of the custom unit registered as <paramref name="name"/> (<see cref="CustomUnits.Register"/>).</summary>
    /// <exception cref="ArgumentException">No custom unit of that name is registered.</exception>
    public static LayerSpec Custom(string name, int inputs, int outputs) =>
        Custom(CustomUnits.Find(name) ?? throw new ArgumentException($"No custom unit named '{name}' is registered (CustomUnits.Register).", nameof(name)),
            inputs, outputs);

    /// <summary>
    /// A layer of a custom unit, described here (not registered): <paramref name="create"/> makes the I→O unit value;
    /// <paramref name="tensors"/> and <paramref name="initialize"/> as in <see cref="Models.CustomUnit.Create"/>.
    /// </summary>
    public static LayerSpec Custom<TUnit>(string name, int inputs, int outputs, Func<int, int, TUnit> create,
        Func<int, int, IReadOnlyList<(string Name, int[] Shape)>>? tensors = null, CustomInitializer? initialize = null)
        where TUnit : struct, IUnit =>
        Custom(Models.CustomUnit.Create(name, create, tensors, initialize), inputs, outputs);

    /// <summary>
    /// 0 (the default): a feed-forward layer. T ≥ 1: a recurrent layer whose cell (this spec's unit, with its own
    /// <see cref="Inputs"/> = F + S and <see cref="Outputs"/> = S) runs T steps over a sequence of T·F values
    /// (<see cref="Kernels.Units.RecurrentUnit{TCell}"/>); the layer reads <see cref="LayerInputs"/> = T·F values and
    /// writes the last state. Its parameters are the cell's, whatever T.
    /// </summary>
    public int Steps { get; init; }

    /// <summary>
    /// 0 (the default): the unit reads its own inputs once. T ≥ 1: the unit is applied to each of T steps of a sequence
    /// with the same weights (<see cref="ForEachStep"/>); the layer reads T·<see cref="Inputs"/> values and writes
    /// T·<see cref="Outputs"/> (<see cref="LayerInputs"/>, <see cref="LayerOutputs"/>). Never together with <see cref="Steps"/>.
    /// </summary>
    public int EachStep { get; init; }

    /// <summary>
    /// Recurrent layers only: the layer outputs the state read after every step (T·O values, step-major) instead of after
    /// the last, so a loss can be put on every step (cumulative targets, as Madsen &amp; Johansen train sequential MNIST).
    /// </summary>
    public bool ReadEveryStep { get; init; }

    /// <summary>Whether the layer runs its unit through time (<see cref="Steps"/> ≥ 1).</summary>
    public bool IsRecurrent => Steps > 0;

    /// <summary>F: the values a recurrent layer reads per step (<see cref="Inputs"/> − <see cref="Outputs"/>); a feed-forward layer's inputs.</summary>
    public int InputsPerStep => IsRecurrent ? Inputs - Outputs : Inputs;

    /// <summary>The values the layer reads from the previous layer or the data: T·F for a recurrent layer, else <see cref="Inputs"/>.</summary>
    public int LayerInputs => IsRecurrent ? Steps * (Inputs - Outputs) : EachStep > 0 ? EachStep * Inputs : Inputs;

    /// <summary>The values the layer writes: T·O for a per-step layer (<see cref="EachStep"/>), else <see cref="Outputs"/>.</summary>
    public int LayerOutputs => EachStep > 0 ? EachStep * Outputs : IsRecurrent && ReadEveryStep ? Steps * Outputs : Outputs;

    /// <summary>Whether the layer reads a sequence: recurrent, or applied to each step.</summary>
    public bool ReadsSequence => IsRecurrent || EachStep > 0;

    /// <summary><see cref="UnitKind.Custom"/> only: the unit (null for every built-in kind).</summary>
    public CustomUnit? CustomUnit { get; init; }

    /// <summary>
    /// The layer's weight regulariser and its schedule (none by default). Only units that define one use it
    /// (NAU, NMU and NMRU: sparsity; NPU and RealNPU: L1); <see cref="Validate"/> rejects it on any other unit.
    /// </summary>
    public RegularizerSettings Regularizer { get; init; }

    /// <summary>
    /// NALU only: the gate is <c>σ(G_o)</c> with one trained value per output (tensor <c>G</c> of shape [O]) instead of
    /// <c>σ(x Gᵀ)</c> — the input-independent gate of iNALU as an option of the NALU.
    /// </summary>
    public bool InputIndependentGate { get; init; }

    /// <summary>
    /// iNALU only: the layer's part of Schlör et al.'s training recipe (alternating weight/gate updates, saturation
    /// regulariser); none by default. <see cref="Validate"/> rejects it on any other unit.
    /// </summary>
    public INaluRecipe INaluRecipe { get; init; }

    /// <summary>
    /// NPU and RealNPU: the initial relevance gate g of every input (Heim et al.: 0.5). Must lie in [0, 1], the range
    /// the unit clamps g to.
    /// </summary>
    public float NpuInitialGate { get; init; } = 0.5f;

    /// <summary>The standard deviation of iNALU's normal initialisation (Schlör et al.: 0.1).</summary>
    public const float INaluInitialStd = 0.1f;

    /// <summary>The named tensors of this layer's parameter block, in layout order.</summary>
    public IReadOnlyList<(string Name, int[] Shape)> Tensors
    {
        get
        {
            int[] matrix = [Outputs, Inputs];
            return Kind switch
            {
                UnitKind.Custom => CustomUnit?.Tensors(Inputs, Outputs) ?? [],
                UnitKind.Nac or UnitKind.NacMult => [("W_hat", matrix), ("M_hat", matrix)],
                UnitKind.Nalu when Untied => [("W_hat_add", matrix), ("M_hat_add", matrix), ("W_hat_mul", matrix), ("M_hat_mul", matrix), ("G", GateShape)],
                UnitKind.Nalu => [("W_hat", matrix), ("M_hat", matrix), ("G", GateShape)],
                UnitKind.Nau or UnitKind.Nmu or UnitKind.Snmu => [("W", matrix)],
                UnitKind.Npu => [("W_re", matrix), ("W_im", matrix), ("g", [Inputs])],
                UnitKind.RealNpu => [("W_re", matrix), ("g", [Inputs])],
                UnitKind.Nmru => [("W", [Outputs, 2 * Inputs])],
                UnitKind.Lstm => [("weight", [4 * Outputs, Inputs]), ("bias", [4 * Outputs])],
                UnitKind.INalu => [("W_hat_add", matrix), ("M_hat_add", matrix), ("W_hat_mul", matrix), ("M_hat_mul", matrix), ("G", [Outputs])],
                _ when Activation == Activation.PRelu => [("weight", matrix), ("bias", [Outputs]), ("alpha", [1])],
                _ => [("weight", matrix), ("bias", [Outputs])],
            };
        }
    }

    private int[] GateShape => InputIndependentGate ? [Outputs] : [Outputs, Inputs];

    /// <summary>Number of parameters.</summary>
    public int ParameterCount => Tensors.Sum(t => t.Shape.Aggregate(1, (a, b) => a * b));

    /// <summary>Short description, e.g. <c>nalu(100→2)</c>.</summary>
    public override string ToString() => IsRecurrent ? $"recurrent[{CellName}, T={Steps}{(ReadEveryStep ? ", every step" : "")}]" : EachStep > 0 ? $"each-step[{CellName}, T={EachStep}]" : CellName;

    private string CellName => Kind switch
    {
        UnitKind.Custom => $"{CustomUnit?.Name ?? "custom"}({Inputs}→{Outputs})",
        UnitKind.Dense => $"dense-{Activation.ToString().ToLowerInvariant()}({Inputs}→{Outputs})",
        UnitKind.Nalu when Untied || InputIndependentGate => $"nalu{(Untied ? "-untied" : "")}{(InputIndependentGate ? "-gate" : "")}({Inputs}→{Outputs})",
        _ => $"{Kind.ToString().ToLowerInvariant()}({Inputs}→{Outputs})",
    };

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(Inputs, 1, nameof(Inputs));
        ArgumentOutOfRangeException.ThrowIfLessThan(Outputs, 1, nameof(Outputs));
        if (!Enum.IsDefined(Kind))
            throw new ArgumentOutOfRangeException(nameof(Kind), Kind, "Unknown unit kind.");
        if (!Enum.IsDefined(Activation))
            throw new ArgumentOutOfRangeException(nameof(Activation), Activation, "Unknown activation.");
        ArgumentOutOfRangeException.ThrowIfNegative(Steps, nameof(Steps));
        ArgumentOutOfRangeException.ThrowIfNegative(EachStep, nameof(EachStep));
        if (ReadEveryStep && !IsRecurrent)
            throw new ArgumentException($"Layer {CellName}: only a recurrent layer can read its state after every step.");
        if (IsRecurrent && EachStep > 0)
            throw new ArgumentException($"Layer {CellName}: a layer is either recurrent (Steps) or applied to each step (EachStep), not both.");
        if (EachStep > 0 && (long)EachStep * Math.Max(Inputs, Outputs) > int.MaxValue / 4)
            throw new ArgumentOutOfRangeException(nameof(EachStep), EachStep, $"Layer {this}: a sequence of {EachStep} steps × {Math.Max(Inputs, Outputs)} values is too long for 32-bit indexing.");
        if (Kind == UnitKind.Lstm && !IsRecurrent)
            throw new ArgumentException($"An LSTM layer runs through time: use LayerSpec.Lstm(inputsPerStep, hidden, steps) (or LayerSpec.Recurrent with steps ≥ 1); got {this}.");
        if (IsRecurrent && Inputs <= Outputs)
        {
            throw new ArgumentException(
                $"A recurrent cell reads [x_t, h_(t-1)]: layer {this} needs more inputs ({Inputs}) than state values ({Outputs}), " +
                $"e.g. {Outputs + 1} for one value per step.", nameof(Inputs));
        }

        if (IsRecurrent && (long)Steps * (Inputs - Outputs) > int.MaxValue / 4)
            throw new ArgumentOutOfRangeException(nameof(Steps), Steps, $"Layer {this}: a sequence of {Steps} steps × {Inputs - Outputs} values is too long for 32-bit indexing.");
        if (Untied && Kind != UnitKind.Nalu)
            throw new ArgumentException($"Only NALU layers can be untied; got {Kind}.");
        if (!INaluRecipe.IsNone && Kind != UnitKind.INalu)
            throw new ArgumentException($"Only iNALU layers take the iNALU training recipe; got {Kind}.", nameof(INaluRecipe));
        INaluRecipe.Validate();
        if (InputIndependentGate && Kind != UnitKind.Nalu)
            throw new ArgumentException($"Only NALU layers have the input-independent gate option; got {Kind}.", nameof(InputIndependentGate));
        if (!(NpuInitialGate >= 0f && NpuInitialGate <= 1f))
            throw new ArgumentOutOfRangeException(nameof(NpuInitialGate), NpuInitialGate, "The NPU's initial gate must lie in [0, 1].");
        if (Kind == UnitKind.Custom && CustomUnit is null)
            throw new ArgumentException("A custom layer needs its unit: use LayerSpec.Custom.", nameof(CustomUnit));
        if (Kind != UnitKind.Custom && CustomUnit is not null)
            throw new ArgumentException($"Only custom layers carry a CustomUnit; got {Kind}.", nameof(CustomUnit));
        if (CustomUnit is not null)
            CustomUnit.CreateUnit(Inputs, Outputs);   // the factory's widths and parameter count agree with the tensors
        ValidateRegularizer();
        if ((long)Inputs * Outputs * 5 > int.MaxValue / 4)
            throw new ArgumentOutOfRangeException(nameof(Inputs), $"Layer {Inputs}→{Outputs} is too large for 32-bit indexing.");
    }

    /// <summary>Whether this layer's unit has a regulariser (NAU, NMU and NMRU: sparsity; NPU and RealNPU: L1).</summary>
    public bool HasRegularizer => Kind is UnitKind.Nau or UnitKind.Nmu or UnitKind.Snmu or UnitKind.Nmru or UnitKind.Npu or UnitKind.RealNpu;

    /// <summary>Which regulariser kinds a unit defines: the sparsity shapes for NAU, NMU and NMRU, Heim et al.'s L1 for the NPUs.</summary>
    private static bool SupportsRegularizer(UnitKind unit, RegularizerKind kind) => unit switch
    {
        UnitKind.Npu or UnitKind.RealNpu => kind == RegularizerKind.L1,
        UnitKind.Nau or UnitKind.Nmu or UnitKind.Snmu or UnitKind.Nmru => kind is RegularizerKind.SparsityLinear or RegularizerKind.SparsitySquared,
        _ => false,
    };

    private void ValidateRegularizer()
    {
        var r = Regularizer;
        if (r.Kind == RegularizerKind.None)
            return;
        if (!Enum.IsDefined(r.Kind))
            throw new ArgumentOutOfRangeException(nameof(Regularizer), r.Kind, $"Layer {this}: unknown regulariser kind.");
        if (!SupportsRegularizer(Kind, r.Kind))
        {
            throw new ArgumentException(HasRegularizer
                ? $"Layer {this}: a {r.Kind} regulariser is not defined for {Kind} layers."
                : $"Layer {this}: {Kind} layers have no regulariser, but a {r.Kind} regulariser was given (only NAU, NMU, NMRU, NPU and RealNPU layers take one).");
        }

        if (!(float.IsFinite(r.Strength) && r.Strength >= 0f) || !(float.IsFinite(r.StrengthEnd) && r.StrengthEnd >= 0f))
            throw new ArgumentOutOfRangeException(nameof(Regularizer), r.Strength, $"Layer {this}: the regulariser strength must be finite and ≥ 0.");
        if (r.Kind == RegularizerKind.L1 ? r.Every < 1 : r.Start < 0 || r.End < r.Start)
        {
            throw new ArgumentOutOfRangeException(nameof(Regularizer),
                $"Layer {this}: bad regulariser schedule (start {r.Start}, end {r.End}, every {r.Every}); need 0 ≤ start ≤ end (L1: every ≥ 1).");
        }
    }

    /// <summary>The kernel-side unit value.</summary>
    internal IUnit CreateUnit()
    {
        var cell = CreateCell();
        if (EachStep > 0)
            return (IUnit)Activator.CreateInstance(typeof(EachStepUnit<>).MakeGenericType(cell.GetType()), cell, EachStep)!;
        if (!IsRecurrent)
            return cell;
        var recurrent = typeof(RecurrentUnit<>).MakeGenericType(cell.GetType());
        // An LSTM's state is [h, c]: the layer reads out h, the first Outputs values.
        return (IUnit)Activator.CreateInstance(recurrent, cell, Steps, Kind == UnitKind.Lstm ? Outputs : 0, ReadEveryStep)!;
    }

    private IUnit CreateCell() => Kind switch
    {
        UnitKind.Nac => new NacUnit(Inputs, Outputs),
        UnitKind.NacMult => new NacMultUnit(Inputs, Outputs),
        UnitKind.Nalu => new NaluUnit(Inputs, Outputs, Untied, InputIndependentGate),
        UnitKind.Nau => new NauUnit(Inputs, Outputs, Regularizer),
        UnitKind.Nmu => new NmuUnit(Inputs, Outputs, Regularizer),
        UnitKind.Npu => new NpuUnit(Inputs, Outputs, Regularizer),
        UnitKind.RealNpu => new RealNpuUnit(Inputs, Outputs, Regularizer),
        UnitKind.Nmru => new NmruUnit(Inputs, Outputs, Regularizer),
        UnitKind.INalu => new INaluUnit(Inputs, Outputs, INaluRecipe),
        UnitKind.Snmu => new SnmuUnit(Inputs, Outputs, Regularizer),
        UnitKind.Lstm => new LstmUnit(Inputs - Outputs, Outputs),
        UnitKind.Custom => CustomUnit!.CreateUnit(Inputs, Outputs),
        _ => Activation switch
        {
            Activation.Linear => new DenseUnit<Linear>(Inputs, Outputs),
            Activation.Relu => new DenseUnit<Relu>(Inputs, Outputs),
            Activation.Relu6 => new DenseUnit<Relu6>(Inputs, Outputs),
            Activation.Tanh => new DenseUnit<Tanh>(Inputs, Outputs),
            Activation.Sigmoid => new DenseUnit<Kernels.Units.Sigmoid>(Inputs, Outputs),
            Activation.Elu => new DenseUnit<Elu>(Inputs, Outputs),
            Activation.Selu => new DenseUnit<Selu>(Inputs, Outputs),
            Activation.Softplus => new DenseUnit<Softplus>(Inputs, Outputs),
            Activation.LeakyRelu => new DenseUnit<LeakyRelu>(Inputs, Outputs),
            Activation.Softsign => new DenseUnit<Softsign>(Inputs, Outputs),
            Activation.PRelu => new PReluDenseUnit(Inputs, Outputs),
            _ => new DenseUnit<Hardtanh>(Inputs, Outputs),
        },
    };

    /// <summary>Writes this layer's initial parameters for <paramref name="seed"/>.</summary>
    internal void Initialize(Span<float> block, int seed, int layerIndex)
    {
        if (Kind == UnitKind.Custom)
        {
            CustomUnit!.Initialize(block, Inputs, Outputs, seed, layerIndex);
            return;
        }

        float xavier = MathF.Sqrt(6f / (Inputs + Outputs));
        if (Kind is UnitKind.Nau or UnitKind.Nmu or UnitKind.Snmu)
        {
            // NAU: U[−r, r], r = min(0.5, √3·√(2/(I+O))); NMU: U[0.25, 0.75] (Madsen & Johansen).
            float r = MathF.Min(0.5f, MathF.Sqrt(3f) * MathF.Sqrt(2f / (Inputs + Outputs)));
            for (int k = 0; k < block.Length; k++)
            {
                float u = CounterRng.Uniform((uint)seed, CounterRng.InitStream, (uint)layerIndex, (uint)k);
                block[k] = Kind == UnitKind.Nau ? (2f * u - 1f) * r : 0.25f + 0.5f * u;   // NMU and sNMU alike
            }

            return;
        }

        if (Kind == UnitKind.Lstm)
        {
            // PyTorch's nn.LSTM initialisation: every weight and bias U[−1/√H, 1/√H].
            float k = 1f / MathF.Sqrt(Outputs);
            for (int j = 0; j < block.Length; j++)
                block[j] = (2f * CounterRng.Uniform((uint)seed, CounterRng.InitStream, (uint)layerIndex, (uint)j) - 1f) * k;
            return;
        }

        if (Kind == UnitKind.INalu)
        {
            // Schlör et al.'s initialisation: Ŵ ~ N(1, 0.1) and M̂ ~ N(−1, 0.1) on both paths, G ~ N(0, 0.1), so every
            // weight tanh(Ŵ)·σ(M̂) starts small but away from the saturated ends. Box–Muller over two counter-RNG draws.
            int matrix = Inputs * Outputs;
            for (int k = 0; k < block.Length; k++)
            {
                int part = k < 4 * matrix ? k / matrix : 4;   // Ŵ add, M̂ add, Ŵ mul, M̂ mul, then G
                float mean = part is 0 or 2 ? 1f : part is 1 or 3 ? -1f : 0f;
                float u1 = 1f - CounterRng.Uniform((uint)seed, CounterRng.InitStream, (uint)layerIndex, (uint)(2 * k));
                float u2 = CounterRng.Uniform((uint)seed, CounterRng.InitStream, (uint)layerIndex, (uint)(2 * k + 1));
                block[k] = mean + INaluInitialStd * MathF.Sqrt(-2f * MathF.Log(u1)) * MathF.Cos(2f * MathF.PI * u2);
            }

            return;
        }

        bool reluFamily = Activation is Activation.Relu or Activation.Relu6 or Activation.LeakyRelu or Activation.PRelu;
        float bound = Kind == UnitKind.Dense && reluFamily ? MathF.Sqrt(6f / Inputs) : xavier;
        int weights = Kind == UnitKind.Dense ? Inputs * Outputs : block.Length;
        for (int k = 0; k < block.Length; k++)
        {
            float u = CounterRng.Uniform((uint)seed, CounterRng.InitStream, (uint)layerIndex, (uint)k);
            block[k] = k < weights ? (2f * u - 1f) * bound : 0f;
        }

        if (Kind == UnitKind.Dense && Activation == Activation.PRelu)
            block[^1] = PReluDenseUnit.InitialSlope;

        if (Kind is UnitKind.Npu or UnitKind.RealNpu)
        {
            // W_re Xavier-uniform (drawn above), W_im = 0, g = NpuInitialGate (Heim et al.).
            int w = Inputs * Outputs;
            block[w..].Fill(0f);
            block[^Inputs..].Fill(NpuInitialGate);
        }

        if (Kind == UnitKind.Nmru)
        {
            // The NMU's U[0.25, 0.75] (Madsen & Johansen), for both halves of W.
            for (int k = 0; k < block.Length; k++)
                block[k] = 0.25f + 0.5f * CounterRng.Uniform((uint)seed, CounterRng.InitStream, (uint)layerIndex, (uint)k);
        }
    }
}
