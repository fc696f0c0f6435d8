using Nalu.Gpu.Kernels;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>The native path's SIMD primitives against the plain definitions (which DeviceMemory implements as loops).</summary>
public sealed unsafe class HostMemoryTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(100)]
    [InlineData(203)]
    public void UniformDrawsEqualTheCounterRngBitForBit(int count)
    {
        var ranges = new[] { new SampleRange(1f, 2f, 2f, 2f), new SampleRange(-6f, -2f, 2f, 6f), new SampleRange(0.1f, 0.2f, 0.2f, 0.2f) };
        foreach (var range in ranges)
        {
            var actual = new float[count + 3];
            ulong key = CounterRng.Key(42, CounterRng.TrainStream);
            fixed (float* p = actual)
                new HostMemory(p).StoreUniform(3, key, 17, 1234, count, range);
            for (int i = 0; i < count; i++)
                Assert.Equal(range.Map(CounterRng.Uniform(key, 17, 1234 + (uint)i)), actual[3 + i]);
            Assert.Equal(0f, actual[0]);
        }
    }

    /// <summary>
    /// The vector path steps SplitMix's state by addition; where the scalar counter's low word would wrap, the call
    /// must still equal <see cref="CounterRng"/> (it takes the scalar loop).
    /// </summary>
    [Theory]
    [InlineData(uint.MaxValue - 3u, 16)]
    [InlineData(uint.MaxValue - 16u, 16)]
    [InlineData(0u, 64)]
    public void UniformDrawsEqualTheCounterRngNearTheCounterWrap(uint firstIndex, int count)
    {
        var range = new SampleRange(-6f, -2f, 2f, 6f);
        var actual = new float[count];
        ulong key = CounterRng.Key(7, CounterRng.TrainStream);
        fixed (float* p = actual)
            new HostMemory(p).StoreUniform(0, key, uint.MaxValue, firstIndex, count, range);
        for (int i = 0; i < count; i++)
            Assert.Equal(range.Map(CounterRng.Uniform(key, uint.MaxValue, unchecked(firstIndex + (uint)i))), actual[i]);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(8)]
    [InlineData(9)]
    [InlineData(100)]
    public void DotAddScaledAndLogAbsMatchTheirDefinitions(int count)
    {
        var random = new Random(count);
        float[] a = Enumerable.Range(0, count + 2).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
        float[] b = Enumerable.Range(0, count + 5).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
        b[5] = 0f;
        float[] y = (float[])b.Clone();
        float[] logs = new float[count];
        fixed (float* pa = a, pb = b, py = y, pl = logs)
        {
            var ma = new HostMemory(pa);
            var mb = new HostMemory(pb);
            double dot = 0;
            for (int i = 0; i < count; i++)
                dot += (double)a[2 + i] * b[5 + i];
            Assert.Equal(dot, ma.Dot(2, mb, 5, count), 4);

            new HostMemory(py).AddScaled(5, 0.5f, ma, 2, count);
            for (int i = 0; i < count; i++)
                Assert.Equal(b[5 + i] + 0.5f * a[2 + i], y[5 + i], 6);

            new HostMemory(pl).StoreLogAbs(0, mb, 5, count);
            for (int i = 0; i < count; i++)
                Assert.Equal(Math.Log(Math.Abs((double)b[5 + i]) + UnitMath.Epsilon), logs[i], 5);
        }
    }
}
