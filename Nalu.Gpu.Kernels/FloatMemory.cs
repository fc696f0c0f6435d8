using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using ILGPU;

namespace Nalu.Gpu.Kernels;

/// <summary>
/// Flat float storage that unit math reads and writes through. The unit math is written once, generic over
/// this interface, and runs on ILGPU views inside kernels (<see cref="DeviceMemory"/>) or on raw host memory
/// (<see cref="HostMemory"/>) for the native CPU path.
/// </summary>
/// <remarks>
/// Besides element access, the interface carries the three vector primitives the units' inner loops are made
/// of. Each memory type implements them its best way: plain loops on a device (one thread per sample already
/// saturates a GPU, and ILGPU compiles them for every backend), 256-bit SIMD on the host. The math that calls
/// them exists once.
/// </remarks>
public interface IFloatMemory
{
    /// <summary>Element <paramref name="index"/> of the storage.</summary>
    float this[int index] { get; set; }

    /// <summary><c>Σᵢ this[offset+i] · other[otherOffset+i]</c> for i &lt; <paramref name="count"/>.</summary>
    float Dot<TOther>(int offset, TOther other, int otherOffset, int count) where TOther : struct, IFloatMemory;

    /// <summary><c>this[offset+i] += alpha · x[xOffset+i]</c> for i &lt; <paramref name="count"/>.</summary>
    void AddScaled<TOther>(int offset, float alpha, TOther x, int xOffset, int count) where TOther : struct, IFloatMemory;

    /// <summary><c>this[offset+i] = log(|x[xOffset+i]| + ε)</c> for i &lt; <paramref name="count"/> (see <see cref="UnitMath.LogAbs"/>).</summary>
    void StoreLogAbs<TOther>(int offset, TOther x, int xOffset, int count) where TOther : struct, IFloatMemory;

    /// <summary>
    /// <c>this[offset+i] = range.Map(CounterRng.Uniform(key, counter, firstIndex + i))</c> for i &lt; <paramref name="count"/>:
    /// the same values on every memory type, bit for bit.
    /// </summary>
    void StoreUniform(int offset, ulong key, uint counter, uint firstIndex, int count, SampleRange range);

    /// <summary><c>this[offset+i] = source[sourceOffset+i]</c> for i &lt; <paramref name="count"/> (a stored data set's row into a sample).</summary>
    void CopyFrom<TOther>(int offset, TOther source, int sourceOffset, int count) where TOther : struct, IFloatMemory;
}

/// <summary>An ILGPU view as <see cref="IFloatMemory"/>; what every kernel instantiates the unit math with.</summary>
public struct DeviceMemory : IFloatMemory
{
    /// <summary>The underlying view.</summary>
    public ArrayView<float> View;

    /// <summary>Wraps a view.</summary>
    public DeviceMemory(ArrayView<float> view) => View = view;

    /// <inheritdoc />
    public float this[int index]
    {
        readonly get => View[index];
        set => View[index] = value;
    }

    /// <inheritdoc />
    public readonly float Dot<TOther>(int offset, TOther other, int otherOffset, int count) where TOther : struct, IFloatMemory
    {
        float sum = 0f;
        for (int i = 0; i < count; i++)
            sum += View[offset + i] * other[otherOffset + i];
        return sum;
    }

    /// <inheritdoc />
    public void AddScaled<TOther>(int offset, float alpha, TOther x, int xOffset, int count) where TOther : struct, IFloatMemory
    {
        for (int i = 0; i < count; i++)
            View[offset + i] += alpha * x[xOffset + i];
    }

    /// <inheritdoc />
    public void StoreLogAbs<TOther>(int offset, TOther x, int xOffset, int count) where TOther : struct, IFloatMemory
    {
        for (int i = 0; i < count; i++)
            View[offset + i] = UnitMath.LogAbs(x[xOffset + i]);
    }

    /// <inheritdoc />
    public void CopyFrom<TOther>(int offset, TOther source, int sourceOffset, int count) where TOther : struct, IFloatMemory
    {
        for (int i = 0; i < count; i++)
            View[offset + i] = source[sourceOffset + i];
    }

    /// <inheritdoc />
    public void StoreUniform(int offset, ulong key, uint counter, uint firstIndex, int count, SampleRange range)
    {
        for (int i = 0; i < count; i++)
            View[offset + i] = range.Map(CounterRng.Uniform(key, counter, firstIndex + (uint)i));
    }
}

/// <summary>
/// Unchecked host memory as <see cref="IFloatMemory"/>: the native CPU path runs the same unit math over
/// pinned arrays without ILGPU's per-access checks, with 256-bit SIMD in the vector primitives. Callers
/// validate lengths first.
/// </summary>
public readonly unsafe struct HostMemory : IFloatMemory
{
    private readonly float* _data;

    /// <summary>Wraps a pointer to pinned or native memory.</summary>
    public HostMemory(float* data) => _data = data;

    /// <inheritdoc />
    public float this[int index]
    {
        get => _data[index];
        set => _data[index] = value;
    }

    // The generic TOther is always HostMemory on the native path; the JIT folds the type test away.
    private static float* Pointer<TOther>(TOther other) where TOther : struct, IFloatMemory =>
        typeof(TOther) == typeof(HostMemory) ? Unsafe.As<TOther, HostMemory>(ref other)._data : null;

    /// <inheritdoc />
    public float Dot<TOther>(int offset, TOther other, int otherOffset, int count) where TOther : struct, IFloatMemory
    {
        float* b = Pointer(other);
        float* a = _data + offset;
        int i = 0;
        float sum = 0f;
        if (b is not null)
        {
            b += otherOffset;
            if (Vector256.IsHardwareAccelerated && count >= 8)
            {
                var acc = Vector256<float>.Zero;
                for (; i <= count - 8; i += 8)
                    acc += Vector256.Load(a + i) * Vector256.Load(b + i);
                sum = Vector256.Sum(acc);
            }

            for (; i < count; i++)
                sum += a[i] * b[i];
            return sum;
        }

        for (; i < count; i++)
            sum += a[i] * other[otherOffset + i];
        return sum;
    }

    /// <inheritdoc />
    public void AddScaled<TOther>(int offset, float alpha, TOther x, int xOffset, int count) where TOther : struct, IFloatMemory
    {
        float* src = Pointer(x);
        float* dst = _data + offset;
        int i = 0;
        if (src is not null)
        {
            src += xOffset;
            if (Vector256.IsHardwareAccelerated && count >= 8)
            {
                var a = Vector256.Create(alpha);
                for (; i <= count - 8; i += 8)
                    Vector256.Store(Vector256.Load(dst + i) + a * Vector256.Load(src + i), dst + i);
            }

            for (; i < count; i++)
                dst[i] += alpha * src[i];
            return;
        }

        for (; i < count; i++)
            dst[i] += alpha * x[xOffset + i];
    }

    /// <inheritdoc />
    public void StoreLogAbs<TOther>(int offset, TOther x, int xOffset, int count) where TOther : struct, IFloatMemory
    {
        // Vector256.Log is within 2 ulp of the correctly rounded log, MathF.Log within 1 (HostVectorMathTests); the native
        // path already differs from the kernels in summation order, and both stay within the tolerances the tests check.
        float* src = Pointer(x);
        float* dst = _data + offset;
        int i = 0;
        if (src is not null && Vector256.IsHardwareAccelerated)
        {
            src += xOffset;
            // Four scalar logf cost more than one vector of eight (7 ns against 10 ns here), so the last partial vector is
            // recomputed as the final eight elements (same inputs, same outputs, when src and dst do not overlap): 132 ns
            // instead of 156 ns for a row of 100. A row shorter than eight stays scalar; one padded vector measured 36 ns
            // against 14 ns for two scalar logs.
            for (; i <= count - 8; i += 8)
                Vector256.Store(HostVectorMath.LogAbs(Vector256.Load(src + i)), dst + i);
            if (i < count && count >= 8 && (dst + count <= src || src + count <= dst))
            {
                Vector256.Store(HostVectorMath.LogAbs(Vector256.Load(src + count - 8)), dst + count - 8);
                return;
            }
        }

        for (; i < count; i++)
            dst[i] = UnitMath.LogAbs(x[xOffset + i]);
    }

    /// <inheritdoc />
    public void CopyFrom<TOther>(int offset, TOther source, int sourceOffset, int count) where TOther : struct, IFloatMemory
    {
        float* src = Pointer(source);
        float* dst = _data + offset;
        if (src is not null)
        {
            // A stored row is a gather of one random row; a block copy lets the CPU stream it instead of going element by element.
            Buffer.MemoryCopy(src + sourceOffset, dst, (long)count * sizeof(float), (long)count * sizeof(float));
            return;
        }

        for (int i = 0; i < count; i++)
            dst[i] = source[sourceOffset + i];
    }

    /// <inheritdoc />
    public void StoreUniform(int offset, ulong key, uint counter, uint firstIndex, int count, SampleRange range)
    {
        float* dst = _data + offset;
        int i = 0;
        // The vector path steps the SplitMix state by addition, which equals the scalar counter only while firstIndex + i
        // stays below 2³² (the scalar counter wraps in its low word); sample offsets are far below that, so the guard
        // only sends an absurd call to the scalar loop.
        if (Vector256.IsHardwareAccelerated && Vector256<ulong>.IsSupported && count >= 8 && (ulong)firstIndex + (ulong)count <= uint.MaxValue)
        {
            // Four 64-bit SplitMix64 draws per vector, two vectors per 8 floats: the scalar formula lane by lane
            // (integer math is exact and the float steps are the same), so values match CounterRng bit for bit.
            // Draw n's state is key + (n + 1)·γ, so consecutive states differ by γ: lane k of the first vector starts at
            // key + (counter·2³² + firstIndex + 1 + k)·γ and every vector moves on by 8γ, one of SplitMix's three
            // 64-bit multiplies (emulated on AVX2) replaced by an addition.
            const ulong gamma = CounterRng.Gamma;
            ulong start = key + ((ulong)counter << 32 | firstIndex) * gamma + gamma;
            var lanes = Vector256.Create(0UL, gamma, unchecked(2 * gamma), unchecked(3 * gamma));
            var state = Vector256.Create(start) + lanes;
            var stride = Vector256.Create(unchecked(8 * gamma));
            for (; i <= count - 8; i += 8, state += stride)
                Vector256.Store(UniformVector(state, range), dst + i);

            // The last partial vector is recomputed as the final eight draws (each is a pure function of its index, so
            // the overlap rewrites the same values): no scalar draw, which costs as much as a vector of them.
            if (i < count)
                Vector256.Store(UniformVector(Vector256.Create(start + unchecked((ulong)(count - 8) * gamma)) + lanes, range), dst + count - 8);

            return;
        }

        for (; i < count; i++)
            dst[i] = range.Map(CounterRng.Uniform(key, counter, firstIndex + (uint)i));
    }

    /// <summary>
    /// Eight uniforms on <paramref name="range"/>: lanes 0–3 from the SplitMix64 states in <paramref name="state"/>, lanes
    /// 4–7 from the states four draws on (4γ later).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> UniformVector(Vector256<ulong> state, SampleRange range)
    {
        var later = state + Vector256.Create(unchecked(4 * CounterRng.Gamma));
        var bits = Vector256.Narrow(Mix(state) >> 40, Mix(later) >> 40);
        var u = Vector256.ConvertToSingle(bits.AsInt32()) * Vector256.Create(1f / 16777216f);
        var first = Vector256.Create(range.High1 - range.Low1);
        var t = u * (first + Vector256.Create(range.High2 - range.Low2));
        return Vector256.ConditionalSelect(Vector256.LessThan(t, first), Vector256.Create(range.Low1) + t, Vector256.Create(range.Low2) + (t - first));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ulong> Mix(Vector256<ulong> z)
    {
        z = (z ^ (z >>> 30)) * Vector256.Create(CounterRng.MixMultiplier1);
        z = (z ^ (z >>> 27)) * Vector256.Create(CounterRng.MixMultiplier2);
        return z ^ (z >>> 31);
    }
}
