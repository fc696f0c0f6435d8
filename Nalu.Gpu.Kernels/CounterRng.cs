namespace Nalu.Gpu.Kernels;

/// <summary>
/// Counter-based random numbers: a pure function of (seed, stream, a, b), so any sample of any step of
/// any model can be drawn on any thread, in any order, on any backend, and a seed reproduces a run.
/// </summary>
/// <remarks>
/// SplitMix64 used as a counter-based generator: the key is the SplitMix64 finaliser of (seed, stream), and
/// draw n of that key is <c>Mix(key + (n + 1)·γ)</c> with γ the golden-ratio increment, exactly SplitMix64's
/// n-th output from state <c>key</c> (which passes BigCrush). One finaliser per draw: two 64-bit multiplies
/// and three shifts, which every ILGPU backend compiles. Hot loops compute the key once (<see cref="Key"/>).
/// </remarks>
public static class CounterRng
{
    /// <summary>Stream for parameter initialisation.</summary>
    public const uint InitStream = 1;
    /// <summary>Stream for the task's per-seed choices (subset offsets).</summary>
    public const uint TaskStream = 2;
    /// <summary>Stream for training samples.</summary>
    public const uint TrainStream = 3;
    /// <summary>Stream for the interpolation (validation) set.</summary>
    public const uint InterpolationStream = 4;
    /// <summary>Stream for the extrapolation (test) set.</summary>
    public const uint ExtrapolationStream = 5;
    /// <summary>Stream for stored-data rows drawn with replacement (<see cref="DataSampling.WithReplacement"/>).</summary>
    public const uint SampleStream = 6;
    /// <summary>Stream for the per-epoch permutations of stored data (<see cref="DataSampling.Permute"/>).</summary>
    public const uint ShuffleStream = 7;
    /// <summary>Stream for training-time noise inside a unit (the sNMU's multiplicative noise), keyed by (step, sample·I + element).</summary>
    public const uint NoiseStream = 8;
    /// <summary>Stream for re-initialising a stuck model (iNALU's recipe), keyed by (step, parameter).</summary>
    public const uint ReinitStream = 9;

    /// <summary>SplitMix64's state increment γ (the golden ratio in 64 bits); the host's vector draws use it too.</summary>
    internal const ulong Gamma = 0x9E3779B97F4A7C15UL;

    /// <summary>The two multipliers of SplitMix64's finaliser (<see cref="Mix"/>), shared with the host's vector version.</summary>
    internal const ulong MixMultiplier1 = 0xBF58476D1CE4E5B9UL, MixMultiplier2 = 0x94D049BB133111EBUL;

    /// <summary>SplitMix64's output function.</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * MixMultiplier1;
        z = (z ^ (z >> 27)) * MixMultiplier2;
        return z ^ (z >> 31);
    }

    /// <summary>The key of (seed, stream).</summary>
    public static ulong Key(uint seed, uint stream) => Mix(((ulong)seed << 32 | stream) * Gamma + 0x632BE59BD9B4E019UL);

    /// <summary>64 random bits for counter (a, b) under <paramref name="key"/>.</summary>
    public static ulong Bits(ulong key, uint a, uint b) => Mix(key + (((ulong)a << 32 | b) + 1UL) * Gamma);

    /// <summary>A float uniform on [0, 1) with 24 random bits, for counter (a, b) under <paramref name="key"/>.</summary>
    public static float Uniform(ulong key, uint a, uint b) => (Bits(key, a, b) >> 40) * (1f / 16777216f);

    /// <summary>A float uniform on [0, 1) for counter (a, b) of (seed, stream).</summary>
    public static float Uniform(uint seed, uint stream, uint a, uint b) => Uniform(Key(seed, stream), a, b);
}
