using Nalu.Gpu.Kernels;

namespace Nalu.Gpu.Tasks;

/// <summary>
/// The static arithmetic ("simple function") task of science.md: <see cref="Inputs"/> numbers from a range;
/// <c>a</c> and <c>b</c> are sums of two fixed subsets (chosen once per seed); the target is <c>op(a, b)</c>.
/// With 2 inputs it is the quick form <c>op(x₀, x₁)</c>; with 1 input (the identity op only) the target is <c>x₀</c>.
/// </summary>
public sealed record ArithmeticTask
{
    /// <summary>A task; validates that the op is defined on the ranges.</summary>
    public ArithmeticTask(ArithmeticOp op, int inputs = 100, SampleInterval? interpolation = null, SampleInterval? extrapolation = null,
        int? subsetSize = null, int? subsetGap = null)
    {
        if (!Enum.IsDefined(op))
            throw new ArgumentOutOfRangeException(nameof(op), op, "Unknown op.");
        if (inputs == 1 && op != ArithmeticOp.Identity)
            throw new ArgumentOutOfRangeException(nameof(inputs), inputs, $"Only the identity task has 1 input; op {op} needs at least 2.");
        ArgumentOutOfRangeException.ThrowIfLessThan(inputs, 1);
        Op = op;
        Inputs = inputs;
        Interpolation = interpolation ?? new SampleInterval(1f, 2f);
        Extrapolation = extrapolation ?? new SampleInterval(2f, 6f);
        if (inputs == 1)
        {
            // The scalar identity: a = b = x₀ (one subset of size 1 at offset 0).
            SubsetSize = 1;
            SubsetGap = 0;
        }
        else if (inputs == 2)
        {
            SubsetSize = 1;
            SubsetGap = 1;
        }
        else
        {
            // Defaults follow the input count in the protocol's proportions: a quarter of the inputs per subset (25 of
            // 100), the second subset half a subset later (13), so ArithmeticTask(op, inputs: 4) just works.
            int size = subsetSize ?? Math.Max(1, (inputs + 2) / 4);
            int gap = subsetGap ?? (size + 1) / 2;
            ArgumentOutOfRangeException.ThrowIfLessThan(size, 1, nameof(subsetSize));
            ArgumentOutOfRangeException.ThrowIfLessThan(gap, 0, nameof(subsetGap));
            if (gap + size > inputs)
            {
                throw new ArgumentOutOfRangeException(nameof(subsetSize),
                    $"Subsets of size {size} with gap {gap} need at least {gap + size} inputs; the task has {inputs}.");
            }

            SubsetSize = size;
            SubsetGap = gap;
        }

        CheckDomain(op, Interpolation, "interpolation");
        CheckDomain(op, Extrapolation, "extrapolation");
    }

    /// <summary>The quick 2-input form.</summary>
    public static ArithmeticTask TwoInput(ArithmeticOp op, SampleInterval? interpolation = null, SampleInterval? extrapolation = null) =>
        new(op, 2, interpolation, extrapolation);

    /// <summary>The scalar identity <c>t = x₀</c> with one input: the autoencoder task of the NALU paper's first figure.</summary>
    public static ArithmeticTask Identity(SampleInterval interpolation, SampleInterval extrapolation) =>
        new(ArithmeticOp.Identity, 1, interpolation, extrapolation);

    /// <summary>
    /// Sequence length T (1, the default: the static task). With T ≥ 2 a sample is a sequence of T vectors of
    /// <see cref="Inputs"/> values each (step-major, <see cref="SampleInputs"/> in all), every value drawn from the range,
    /// and a and b are the sums of the two fixed subsets over every step: the recurrent task of Trask et al. §4.1 and
    /// Madsen &amp; Johansen's <c>simple_function_recurrent</c>. A longer T extrapolates in length, hence in magnitude.
    /// </summary>
    public int Steps
    {
        get => _steps;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1, nameof(Steps));
            if ((long)value * Inputs > int.MaxValue / 4)
                throw new ArgumentOutOfRangeException(nameof(Steps), value, $"{value} steps of {Inputs} inputs are too many values per sample.");
            _steps = value;
        }
    }

    private readonly int _steps = 1;

    /// <summary>Whether samples are sequences (<see cref="Steps"/> ≥ 2).</summary>
    public bool IsSequence => _steps > 1;

    /// <summary>Values per sample, what a model must read: <see cref="Steps"/> × <see cref="Inputs"/>.</summary>
    public int SampleInputs => _steps * Inputs;

    /// <summary>Operation.</summary>
    public ArithmeticOp Op { get; }
    /// <summary>Input width (100 in the paper's setup).</summary>
    public int Inputs { get; }
    /// <summary>Training and validation range (default U[1,2]).</summary>
    public SampleInterval Interpolation { get; }
    /// <summary>Test range (default U[2,6]).</summary>
    public SampleInterval Extrapolation { get; }
    /// <summary>Subset size (25).</summary>
    public int SubsetSize { get; }
    /// <summary>Offset of the second subset after the first (13, so they overlap by 12).</summary>
    public int SubsetGap { get; }

    /// <summary>Start of the first subset for a seed (drawn once per seed).</summary>
    public int SubsetOffset(int seed) => ArithmeticTaskMath.SubsetOffset(seed, Inputs, SubsetSize, SubsetGap);

    /// <summary>The exact first-layer selection for a seed: which inputs feed a and which feed b.</summary>
    public (int First, int Second) Subsets(int seed)
    {
        int first = SubsetOffset(seed);
        return (first, first + SubsetGap);
    }

    private static void CheckDomain(ArithmeticOp op, SampleInterval range, string which)
    {
        if (op == ArithmeticOp.Sqrt && !range.IsNonNegative)
            throw new ArgumentException($"Op sqrt is undefined on the {which} range {range}: it contains negative numbers.");
    }
}
