namespace Nalu.Gpu.Kernels;

/// <summary>
/// Counter-based random numbers: a pure function of (seed, stream, a, b), so any sample of any step of
/// any model can be drawn on any thread, in any order, on any backend, and a seed reproduces a run.
/// </summary>
/// <remarks>
/// The key is the SplitMix64 finaliser of (seed, stream); the value is the finaliser of the key mixed with
/// the counter (a, b). SplitMix64's finaliser passes BigCrush as a hash of a counter; only 64-bit integer
/// multiplies and shifts are used, which every ILGPU backend compiles.
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

    /// <summary>SplitMix64's output function.</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>64 random bits for counter (a, b) of (seed, stream).</summary>
    public static ulong Bits(uint seed, uint stream, uint a, uint b)
    {
        ulong key = Mix(((ulong)seed << 32 | stream) + 0x9E3779B97F4A7C15UL);
        return Mix(key ^ Mix(((ulong)a << 32 | b) + 0x632BE59BD9B4E019UL));
    }

    /// <summary>A float uniform on [0, 1) with 24 random bits.</summary>
    public static float Uniform(uint seed, uint stream, uint a, uint b) =>
        (Bits(seed, stream, a, b) >> 40) * (1f / 16777216f);
}
