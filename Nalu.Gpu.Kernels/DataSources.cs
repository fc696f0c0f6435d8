namespace Nalu.Gpu.Kernels;

/// <summary>
/// Where training and evaluation data come from: a source of <c>(x, target)</c> for sample <c>b</c> of step <c>s</c>
/// of a model. Kernels are generic over the source type as they are over the unit, so the one training step runs on
/// generated data (<see cref="ArithmeticSource"/>) and on a stored data set (<see cref="StoredSource{TData}"/>) alike.
/// </summary>
/// <remarks>
/// A source is a pure function of its arguments: any sample of any step can be drawn on any thread, in any order, on
/// any backend, and a seed reproduces a run bit for bit. Evaluation sets are sources too, read at step 0 with the
/// sample index as the row.
/// </remarks>
public interface IDataSource
{
    /// <summary>
    /// Writes the I inputs of sample <paramref name="sample"/> of step <paramref name="step"/> to
    /// <c>x[xOffset..]</c> and its O targets to <c>targets[targetOffset..]</c> (overwrites both).
    /// </summary>
    /// <param name="seed">The model's seed (keys its data stream).</param>
    /// <param name="op">The model's <see cref="ArithmeticOp"/> (generated data only; stored data ignores it).</param>
    /// <param name="step">0-based training step (0 for evaluation sets).</param>
    /// <param name="sample">Sample within the step's batch (row within an evaluation set).</param>
    /// <param name="x">Destination of the inputs.</param>
    /// <param name="xOffset">Offset of the first input.</param>
    /// <param name="targets">Destination of the targets.</param>
    /// <param name="targetOffset">Offset of the first target.</param>
    void Sample<TMem>(int seed, int op, int step, int sample, TMem x, int xOffset, TMem targets, int targetOffset)
        where TMem : struct, IFloatMemory;
}

/// <summary>
/// The static arithmetic task as a data source: <see cref="ArithmeticTaskMath.Generate{TMem}"/> keyed by
/// (model seed, <see cref="Stream"/>, step, sample), one target. The numbers are exactly those every path drew before
/// sources existed.
/// </summary>
public struct ArithmeticSource : IDataSource
{
    /// <summary>Input width I.</summary>
    public int Inputs;
    /// <summary>Subset size.</summary>
    public int SubsetSize;
    /// <summary>Distance from the first subset's start to the second's.</summary>
    public int SubsetGap;
    /// <summary>Which <see cref="CounterRng"/> stream draws the samples.</summary>
    public int Stream;
    /// <summary>Range the inputs are drawn from.</summary>
    public SampleRange Range;
    /// <summary>Sequence length T (1: the static task); a sample is T·<see cref="Inputs"/> values, step-major.</summary>
    public int Steps;

    // A memo of the last seed's subset offset and stream key (three SplitMix finalisers that every sample of that seed
    // would otherwise repeat; about 8 % of a NAU→NMU step on the native path). Each thread and each call of a sample
    // loop has its own copy of the source (kernels take it by value), so the memo is private to it; 0 in _memoValid
    // (the value a new source starts with) means empty.
    private int _memoValid;
    private int _memoSeed;
    private int _memoFirst;
    private ulong _memoKey;

    /// <summary>Creates the source.</summary>
    public ArithmeticSource(int inputs, int subsetSize, int subsetGap, int stream, SampleRange range, int steps = 1)
    {
        Steps = steps;
        Inputs = inputs;
        SubsetSize = subsetSize;
        SubsetGap = subsetGap;
        Stream = stream;
        Range = range;
    }

    /// <inheritdoc />
    public void Sample<TMem>(int seed, int op, int step, int sample, TMem x, int xOffset, TMem targets, int targetOffset)
        where TMem : struct, IFloatMemory
    {
        if (_memoValid == 0 || _memoSeed != seed)
        {
            _memoFirst = ArithmeticTaskMath.SubsetOffset(seed, Inputs, SubsetSize, SubsetGap);
            _memoKey = CounterRng.Key((uint)seed, (uint)Stream);
            _memoSeed = seed;
            _memoValid = 1;
        }

        targets[targetOffset] = ArithmeticTaskMath.GenerateWithKey(
            op, Inputs, SubsetSize, SubsetGap, Range, _memoFirst, _memoKey, (uint)step, sample, x, xOffset, Steps);
    }
}

/// <summary>
/// A stored data set as a source: X (N × I) and Y (N × O), row-major, read through <typeparamref name="TData"/>
/// (<see cref="DeviceMemory"/> in kernels, <see cref="HostMemory"/> on the native path). The row of step s, sample b
/// is <see cref="DataSampling.Row"/>.
/// </summary>
public struct StoredSource<TData> : IDataSource where TData : struct, IFloatMemory
{
    /// <summary>(N, I) inputs.</summary>
    public TData X;
    /// <summary>(N, O) targets.</summary>
    public TData Y;
    /// <summary>N.</summary>
    public int Rows;
    /// <summary>I.</summary>
    public int Inputs;
    /// <summary>O.</summary>
    public int Outputs;
    /// <summary>Samples per step B (positions are step·B + sample).</summary>
    public int Batch;
    /// <summary>A <see cref="SamplingMode"/>.</summary>
    public int Mode;
    /// <summary>1: each model draws the stream of its own seed; 0: every model draws the stream of <see cref="SharedSeed"/>.</summary>
    public int PerModelStreams;
    /// <summary>The seed every model shares when <see cref="PerModelStreams"/> is 0.</summary>
    public int SharedSeed;

    /// <inheritdoc />
    public readonly void Sample<TMem>(int seed, int op, int step, int sample, TMem x, int xOffset, TMem targets, int targetOffset)
        where TMem : struct, IFloatMemory
    {
        int row = DataSampling.Row(Mode, PerModelStreams != 0 ? seed : SharedSeed, Rows, Batch, step, sample);
        int xRow = row * Inputs, yRow = row * Outputs;
        x.CopyFrom(xOffset, X, xRow, Inputs);
        targets.CopyFrom(targetOffset, Y, yRow, Outputs);
    }
}

/// <summary>
/// Which stored row a sample reads, from the counter RNG alone: nothing is stored, nothing crosses to the host, and
/// the host (tests, tools) calls the same functions the kernels do.
/// </summary>
/// <remarks>
/// <para>With replacement: row = ⌊hash(seed, step, sample) · N / 2³²⌋ with the 32 high bits of
/// <see cref="CounterRng.Bits"/> under key (seed, <see cref="CounterRng.SampleStream"/>) (a multiply-shift instead of
/// a 64-bit modulo, which is slow on GPUs; the bias is below N/2³²).</para>
/// <para>Shuffle: position q = step·B + sample, epoch e = ⌊q / N⌋, row = π_e(q mod N), where π_e is a bijection on
/// [0, N) keyed by (seed, e): a 4-round balanced Feistel network on 2k bits (the smallest even width with 2^2k ≥ N,
/// so at most 4N values), with cycle-walking (re-encrypt while the value is ≥ N), which restricts a permutation of
/// [0, 2^2k) to a permutation of [0, N). The expected number of walks is below 4.</para>
/// </remarks>
public static class DataSampling
{
    /// <summary>Row of (step, sample) for <paramref name="mode"/>; <paramref name="rows"/> ≥ 1.</summary>
    public static int Row(int mode, int seed, int rows, int batch, int step, int sample)
    {
        if (mode == (int)SamplingMode.WithReplacement)
            return WithReplacement(seed, rows, step, sample);
        long position = (long)step * batch + sample;
        long epoch = position / rows;
        int index = (int)(position - epoch * rows);
        return mode == (int)SamplingMode.InOrder ? index : Permute(index, rows, seed, epoch);
    }

    /// <summary>A uniform row in [0, <paramref name="rows"/>) for (seed, step, sample), drawn with replacement.</summary>
    public static int WithReplacement(int seed, int rows, int step, int sample)
    {
        ulong bits = CounterRng.Bits(CounterRng.Key((uint)seed, CounterRng.SampleStream), (uint)step, (uint)sample);
        return (int)(((bits >> 32) * (ulong)(uint)rows) >> 32);
    }

    /// <summary>π(<paramref name="index"/>): a keyed permutation of [0, <paramref name="rows"/>), keyed by (seed, epoch).</summary>
    public static int Permute(int index, int rows, int seed, long epoch)
    {
        if (rows <= 1)
            return 0;
        int half = 1;
        while (1L << (2 * half) < rows)
            half++;
        uint mask = (1u << half) - 1u;
        ulong key = CounterRng.Key((uint)seed, CounterRng.ShuffleStream) ^ CounterRng.Mix((ulong)epoch + 0x9E3779B97F4A7C15UL);
        uint value = (uint)index;
        do
        {
            uint left = value >> half, right = value & mask;
            for (uint round = 0; round < 4; round++)
            {
                uint f = (uint)CounterRng.Mix(key + ((ulong)round << 32 | right)) & mask;
                uint next = left ^ f;
                left = right;
                right = next;
            }

            value = left << half | right;
        }
        while (value >= (uint)rows);

        return (int)value;
    }
}
