using System.Reflection;
using Nalu.Gpu.Devices;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Kernels.Launch;
using Nalu.Gpu.Kernels.Units;
using Nalu.Gpu.Testing;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>
/// The token embedding (<see cref="EmbeddingUnit"/>, <see cref="EmbeddingReference"/>): the reference's backward against
/// finite differences in the table, the layout written out, the float unit on plain arrays (accumulate/overwrite), a
/// sequence of ids through <see cref="EachStepUnit{TInner}"/>, the guard for invalid ids and the kernels compiled for
/// CUDA and OpenCL. The same unit on the CPU accelerator, the native path and CUDA is in <see cref="EmbeddingKernelTests"/>.
/// </summary>
public sealed class EmbeddingTests(ITestOutputHelper output)
{
    /// <summary>Ids that select no row of a vocabulary of 3: outside [0, 3), fractional, NaN and the infinities.</summary>
    private static readonly float[] InvalidIds =
        [-1f, 3f, 2.5f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, 1e30f, -1e30f, -0.5f, MathF.BitDecrement(3f), 0.5f, int.MinValue];

    /// <summary>(batch, V, E, seed): 1s; repeats (7 samples, 3 ids); E = 10 (past one 8-wide vector); invalid ids mixed in.</summary>
    public static TheoryData<int, int, int, bool, int> Shapes => new()
    {
        { 1, 1, 1, false, 91 },
        { 7, 3, 2, false, 92 },
        { 6, 4, 10, false, 93 },
        { 8, 5, 3, true, 94 },
    };

    // ------------------------------------------------------------------ (1) reference vs finite differences

    /// <summary>
    /// The reference's table gradient against central differences of its forward for <c>L = Σ y·r</c>; its input gradient
    /// is exactly zero. Only the table is perturbed: the forward is piecewise constant in the id with a jump at every whole
    /// number, so a central difference at an id (what <see cref="FiniteDifferences.Check"/> would also take) is no derivative.
    /// </summary>
    [Theory]
    [MemberData(nameof(Shapes))]
    public void Reference_BackwardMatchesFiniteDifferences(int batch, int vocabulary, int width, bool invalid, int seed)
    {
        var rng = new Random(seed);
        var parameters = FiniteDifferences.Uniform(rng, EmbeddingReference.ParameterCount(vocabulary, width), -1, 1);
        var x = HostData.Widen(Ids(rng, batch, vocabulary, invalid));
        var r = FiniteDifferences.Uniform(rng, batch * width, -1, 1);
        var (gp, gx) = EmbeddingReference.Backward(parameters, x, r, batch, vocabulary, width);
        string what = $"embedding B={batch} V={vocabulary} E={width} (seed {seed})";
        FiniteDifferences.CompareGradient($"{what}: ∂L/∂table", parameters, gp,
            p => FiniteDifferences.Loss(EmbeddingReference.Forward(p, x, batch, vocabulary, width), r));
        Assert.Equal(new double[batch], gx);

        // The gradient carries signal exactly in the rows some sample names, and nothing elsewhere.
        for (int v = 0; v < vocabulary; v++)
        {
            var row = gp.AsSpan(v * width, width).ToArray();
            if (x.Contains(v))
                Assert.Contains(row, g => g != 0);
            else
                Assert.All(row, g => Assert.Equal(0.0, g));
        }
    }

    /// <summary>
    /// The layout written out for V = 3, E = 2: row-major, row = token id; a repeated id sums its dy into its row; a row
    /// no sample names gets 0; dx is 0. Reference and float unit alike, exactly (a copy and float sums in sample order).
    /// </summary>
    [Fact]
    public void Layout_MatchesTheLookupWrittenOut()
    {
        float[] table = [1f, 2f, 3f, 4f, 5f, 6f];
        float[] x = [2f, 0f, 2f];
        float[] dy = [0.5f, -0.25f, 1.5f, 2f, -1f, 0.125f];
        double[] expectedY = [5, 6, 1, 2, 5, 6];
        double[] expectedGrad = [1.5, 2, 0, 0, 0.5 + -1, -0.25 + 0.125];

        Assert.Equal(expectedY, EmbeddingReference.Forward(HostData.Widen(table), HostData.Widen(x), 3, 3, 2));
        var (gp, gx) = EmbeddingReference.Backward(HostData.Widen(table), HostData.Widen(x), HostData.Widen(dy), 3, 3, 2);
        Assert.Equal(expectedGrad, gp);
        Assert.Equal(new double[3], gx);

        var (y, grad, dx) = RunHost(new EmbeddingUnit(3, 2), table, x, dy, 3);
        Assert.Equal(expectedY.Select(v => (float)v), y);
        Assert.Equal(expectedGrad.Select(v => (float)v), grad);
        Assert.Equal(new float[3], dx);
    }

    // ------------------------------------------------------------------ (2) the float unit on plain arrays

    /// <summary>
    /// The float unit over plain arrays against the reference for a batch with repeated ids, 0 and V−1: y; the table
    /// gradient ACCUMULATED onto a start of 5s (so it cannot be an overwrite); dx OVERWRITTEN with 0 over NaN.
    /// </summary>
    [Theory]
    [MemberData(nameof(Shapes))]
    public void Unit_OnPlainArrays_MatchesTheReference(int batch, int vocabulary, int width, bool invalid, int seed)
    {
        var rng = new Random(seed);
        var unit = new EmbeddingUnit(vocabulary, width);
        var p = ToFloat(FiniteDifferences.Uniform(rng, unit.ParameterCount, -1, 1));
        var x = Ids(rng, batch, vocabulary, invalid);
        var dy = ToFloat(FiniteDifferences.Uniform(rng, batch * width, -1, 1));
        var (y, grad, dx) = RunHost(unit, p, x, dy, batch, gradStart: 5f);

        string what = $"embedding B={batch} V={vocabulary} E={width} (seed {seed})";
        var expectedY = EmbeddingReference.Forward(HostData.Widen(p), HostData.Widen(x), batch, vocabulary, width);
        var (expectedGrad, expectedDx) = EmbeddingReference.Backward(HostData.Widen(p), HostData.Widen(x), HostData.Widen(dy), batch, vocabulary, width);
        Assert.Equal(expectedY.Select(v => (float)v), y);   // a copy: bit for bit
        Tolerance.AssertClose(expectedGrad.Select(v => v + 5).ToArray(), grad, Tolerance.Gradients, $"{what}: grad onto 5s");
        Tolerance.AssertClose(expectedDx, dx, (0, 0), $"{what}: dx over NaN");
    }

    /// <summary>
    /// One sample: two backwards from zero give exactly twice one; without an input gradient dx is not touched; the
    /// per-element hooks (none: <see cref="EmbeddingUnit.ElementCount"/> is 0) and the counts are as documented.
    /// </summary>
    [Fact]
    public void Backward_AccumulatesTheTableAndOverwritesDx()
    {
        var rng = new Random(95);
        var unit = new EmbeddingUnit(4, 3);
        Assert.Equal((1, 3, 12, 0, 0, 0), (unit.Inputs, unit.Outputs, unit.ParameterCount, unit.CacheCount, unit.ElementCount, unit.SavedCount));
        Assert.True(unit.Trains(0, 0) && unit.Trains(11, 1000));
        var p = new ArrayMemory(ToFloat(FiniteDifferences.Uniform(rng, 12, -1, 1)));
        var x = new ArrayMemory([1f]);
        var dy = new ArrayMemory(ToFloat(FiniteDifferences.Uniform(rng, 3, -1, 1)));
        var grad = new ArrayMemory(new float[12]);
        var dx = new ArrayMemory([777f]);
        var none = new ArrayMemory([float.NaN]);   // cache and saved: never read

        unit.Backward(default, p, 0, none, 0, x, 0, none, 0, dy, 0, grad, 0, true, dx, 0);
        Assert.Equal(0f, dx[0]);
        float[] once = [0f, 0f, 0f, dy[0], dy[1], dy[2], 0f, 0f, 0f, 0f, 0f, 0f];
        Assert.Equal(once, grad.Data);

        dx[0] = 777f;
        unit.Backward(default, p, 0, none, 0, x, 0, none, 0, dy, 0, grad, 0, false, dx, 0);
        Assert.Equal(777f, dx[0]);
        Assert.Equal(once.Select(v => 2 * v), grad.Data);

        // The hooks are no-ops (called for a few elements although there are none, to show they touch nothing).
        var gradBefore = (float[])grad.Data.Clone();
        var parametersBefore = (float[])p.Data.Clone();
        for (int e = 0; e < 3; e++)
        {
            unit.PrepareCache(e, p, 0, none, 0);
            unit.FinishGradient(e, p, 0, grad, 0);
            unit.Regularize(e, 0, 1f, p, 0, grad, 0);
            unit.Constrain(e, p, 0);
        }

        Assert.Equal(gradBefore, grad.Data);
        Assert.Equal(parametersBefore, p.Data);
    }

    // ------------------------------------------------------------------ (4) a sequence of ids through EachStepUnit

    /// <summary>
    /// <c>EachStepUnit&lt;EmbeddingUnit&gt;</c> over T = 4 ids [2, 0, 2, V−1]: y is the four rows concatenated (bit for bit),
    /// the repeated id 2 gets dy_0 + dy_2 in its row, ids 0 and V−1 their one dy, row 1 nothing, dx four zeros. The same
    /// as the reference over a batch of T ids (a sample of T ids is T samples of one, step-major).
    /// </summary>
    [Fact]
    public void EachStep_ConcatenatesRowsAndSumsRepeatedIds()
    {
        const int vocabulary = 4, width = 3, steps = 4;
        var rng = new Random(96);
        var unit = new EachStepUnit<EmbeddingUnit>(new EmbeddingUnit(vocabulary, width), steps);
        Assert.Equal((steps, steps * width, vocabulary * width, 0), (unit.Inputs, unit.Outputs, unit.ParameterCount, unit.SavedCount));
        var p = ToFloat(FiniteDifferences.Uniform(rng, unit.ParameterCount, -1, 1));
        float[] x = [2f, 0f, 2f, vocabulary - 1];
        var dy = ToFloat(FiniteDifferences.Uniform(rng, steps * width, -1, 1));
        var (y, grad, dx) = RunHost(unit, p, x, dy, 1);

        var expectedY = new float[steps * width];
        var expectedGrad = new float[vocabulary * width];
        for (int t = 0; t < steps; t++)
        {
            int id = (int)x[t];
            for (int k = 0; k < width; k++)
            {
                expectedY[t * width + k] = p[id * width + k];
                expectedGrad[id * width + k] += dy[t * width + k];   // in step order, as the unit sums
            }
        }

        Assert.Equal(expectedY, y);
        Assert.Equal(expectedGrad, grad);
        Assert.All(grad.AsSpan(width, width).ToArray(), g => Assert.Equal(0f, g));   // row 1: no step names it
        for (int k = 0; k < width; k++)
            Assert.Equal(dy[k] + dy[2 * width + k], grad[2 * width + k]);
        Assert.Equal(new float[steps], dx);

        var (refGrad, refDx) = EmbeddingReference.Backward(HostData.Widen(p), HostData.Widen(x), HostData.Widen(dy), steps, vocabulary, width);
        Tolerance.AssertClose(EmbeddingReference.Forward(HostData.Widen(p), HostData.Widen(x), steps, vocabulary, width), y, Tolerance.Values, "each-step y");
        Tolerance.AssertClose(refGrad, grad, Tolerance.Gradients, "each-step ∂L/∂table");
        Tolerance.AssertClose(refDx, dx, (0, 0), "each-step ∂L/∂x");
    }

    // ------------------------------------------------------------------ (5) invalid ids: the guard

    /// <summary>
    /// Ids outside [0, V), fractional, NaN and ±∞ do not throw and never reach outside the table: with guard values on
    /// both sides of the table, of the gradient and of every output row, y is zeros (over NaN), the guards and the table
    /// are unchanged, nothing is added to the gradient (a start of 5s stays 5s bit for bit), and dx is 0. Plain arrays
    /// (an index outside them throws) and pinned host memory (the native path's, unchecked).
    /// </summary>
    [Fact]
    public unsafe void InvalidIds_WriteZerosAndTouchNothingOutsideTheTable()
    {
        const int vocabulary = 3, width = 4, guard = 5;
        var unit = new EmbeddingUnit(vocabulary, width);
        int n = unit.ParameterCount, batch = InvalidIds.Length, rowStride = width + 2 * guard;
        var rng = new Random(97);
        var p = new float[n + 2 * guard];
        Array.Fill(p, 999f);
        ToFloat(FiniteDifferences.Uniform(rng, n, -1, 1)).CopyTo(p, guard);
        var grad = new float[n + 2 * guard];
        Array.Fill(grad, -777f);
        grad.AsSpan(guard, n).Fill(5f);
        var y = new float[batch * rowStride];
        Array.Fill(y, 555f);
        var dy = new float[batch * rowStride];
        Array.Fill(dy, 1f);
        var dx = new float[batch + 2 * guard];
        Array.Fill(dx, 333f);
        var pBefore = (float[])p.Clone();
        var gradBefore = (float[])grad.Clone();

        void Check(string memory)
        {
            Assert.Equal(pBefore, p);
            Assert.Equal(gradBefore, grad);
            for (int b = 0; b < batch; b++)
            {
                Assert.All(y.AsSpan(b * rowStride, guard).ToArray(), v => Assert.Equal(555f, v));
                Assert.True(y.AsSpan(b * rowStride + guard, width).ToArray().All(v => v == 0f), $"{memory}: id {InvalidIds[b]} gave a non-zero row");
                Assert.All(y.AsSpan(b * rowStride + guard + width, guard).ToArray(), v => Assert.Equal(555f, v));
            }

            Assert.All(dx.AsSpan(0, guard).ToArray(), v => Assert.Equal(333f, v));
            Assert.All(dx.AsSpan(guard, batch).ToArray(), v => Assert.Equal(0f, v));
            Assert.All(dx.AsSpan(guard + batch).ToArray(), v => Assert.Equal(333f, v));
        }

        // Plain arrays: out-of-array access would throw.
        for (int b = 0; b < batch; b++)
            y.AsSpan(b * rowStride + guard, width).Fill(float.NaN);
        RunSamples(unit, new ArrayMemory(p), new ArrayMemory(InvalidIds), new ArrayMemory(y), new ArrayMemory(dy), new ArrayMemory(grad), new ArrayMemory(dx),
            batch, guard, rowStride);
        Check("plain arrays");

        // Pinned host memory, as the native path runs the unit.
        for (int b = 0; b < batch; b++)
            y.AsSpan(b * rowStride + guard, width).Fill(float.NaN);
        Array.Fill(dx, 333f);
        fixed (float* pp = p, px = InvalidIds, py = y, pdy = dy, pg = grad, pdx = dx)
            RunSamples(unit, new HostMemory(pp), new HostMemory(px), new HostMemory(py), new HostMemory(pdy), new HostMemory(pg), new HostMemory(pdx), batch, guard, rowStride);
        Check("host memory");
    }

    /// <summary>The id rule: a whole number in [0, V) is its own row, anything else −1; the reference's rule agrees.</summary>
    [Fact]
    public void RowOf_AcceptsExactlyTheWholeNumbersBelowTheVocabulary()
    {
        Assert.Equal(0, EmbeddingUnit.RowOf(0f, 3));
        Assert.Equal(0, EmbeddingUnit.RowOf(-0f, 3));
        Assert.Equal(2, EmbeddingUnit.RowOf(2f, 3));
        Assert.Equal(EmbeddingUnit.MaxVocabulary - 1, EmbeddingUnit.RowOf(EmbeddingUnit.MaxVocabulary - 1, EmbeddingUnit.MaxVocabulary));
        foreach (float id in InvalidIds)
        {
            Assert.Equal(-1, EmbeddingUnit.RowOf(id, 3));
            Assert.Equal(-1, EmbeddingReference.RowOf(id, 3));
        }

        for (float id = -2f; id <= 5f; id += 0.25f)
            Assert.Equal(EmbeddingReference.RowOf(id, 3), EmbeddingUnit.RowOf(id, 3));
    }

    [Fact]
    public void Constructor_RefusesEmptyAndOversizedTables()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new EmbeddingUnit(0, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => new EmbeddingUnit(4, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new EmbeddingUnit(EmbeddingUnit.MaxVocabulary + 1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new EmbeddingUnit(EmbeddingUnit.MaxVocabulary, 256));   // 2^32 values
        Assert.Equal(EmbeddingUnit.MaxVocabulary * 127, new EmbeddingUnit(EmbeddingUnit.MaxVocabulary, 127).ParameterCount);
        Assert.Throws<ArgumentException>(() => EmbeddingReference.Forward(new double[5], [0.0], 1, 3, 2));   // 5 ≠ V·E
    }

    [Fact]
    public void AWrongRowFailsTheUnitCheck()
    {
        // Power check: a reference that reads row id + 1 (mod V) is caught by the unit check of (3).
        using var device = NaluDevice.Create(DeviceKind.Native);
        var unit = new EmbeddingUnit(3, 2);
        float[] p = [1f, 2f, 3f, 4f, 5f, 6f];
        float[] x = [0f, 1f, 2f];
        Assert.Throws<UnitCheckException>(() => UnitChecks.KernelMatchesReference(device, unit, p, x, 3,
            (pp, xx) => EmbeddingReference.Forward(pp, xx.Select(v => (v + 1) % 3).ToArray(), 3, 3, 2),
            (pp, xx, dy) => EmbeddingReference.Backward(pp, xx.Select(v => (v + 1) % 3).ToArray(), dy, 3, 3, 2)));
    }

    // ------------------------------------------------------------------ compile-only

    public static TheoryData<string, string> CompileCases()
    {
        var data = new TheoryData<string, string>();
        foreach (var kernel in new[] { nameof(UnitKernels.Forward), nameof(UnitKernels.Backward) })
        {
            foreach (var backend in UnitChecks.Backends)
                data.Add(kernel, backend);
        }

        return data;
    }

    /// <summary>The batched forward and backward over <see cref="EmbeddingUnit"/> build for CUDA (PTX) and OpenCL C without a device.</summary>
    [Theory]
    [MemberData(nameof(CompileCases))]
    public void BatchedKernels_CompileForCudaAndOpenCL(string kernel, string backend)
    {
        var method = typeof(UnitKernels).GetMethod(kernel, BindingFlags.Public | BindingFlags.Static)!.MakeGenericMethod(typeof(EmbeddingUnit));
        string code = UnitChecks.Compile(method, backend);
        Assert.Contains(backend.StartsWith("PTX", StringComparison.Ordinal) ? ".entry" : "kernel", code, StringComparison.Ordinal);
        output.WriteLine($"UnitKernels.{kernel}<EmbeddingUnit> → {backend}: {code.Length} characters");
    }

    /// <summary>The fused training and evaluation kernels over <c>EachStepUnit&lt;EmbeddingUnit&gt;</c>, the layer as it is used, build for PTX and OpenCL C.</summary>
    [Fact]
    public void FusedKernels_OverEachStep_CompileForCudaAndOpenCL()
    {
        var code = UnitChecks.CompileFused<EachStepUnit<EmbeddingUnit>>();
        Assert.Equal(2 * UnitChecks.Backends.Count, code.Count);
        foreach (var (name, text) in code)
            output.WriteLine($"{name}: {text.Length} characters");
    }

    // ------------------------------------------------------------------ helpers

    /// <summary>
    /// <paramref name="batch"/> ids: 0, then V−1, then uniform (so a batch longer than V repeats ids); with
    /// <paramref name="invalid"/>, samples 2–5 are −1, V, 2.5 and NaN.
    /// </summary>
    internal static float[] Ids(Random rng, int batch, int vocabulary, bool invalid)
    {
        var x = new float[batch];
        for (int b = 0; b < batch; b++)
            x[b] = b == 0 ? 0 : b == 1 ? vocabulary - 1 : rng.Next(vocabulary);
        if (invalid)
        {
            float[] bad = [-1f, vocabulary, 2.5f, float.NaN];
            for (int j = 0; j < bad.Length && 2 + j < batch; j++)
                x[2 + j] = bad[j];
        }

        return x;
    }

    /// <summary>
    /// <paramref name="batch"/> samples through the unit's float code on plain arrays: every forward, then every backward
    /// (with dx) into one gradient that starts at <paramref name="gradStart"/>; saved and dx start as NaN.
    /// </summary>
    private static (float[] Y, float[] Grad, float[] Dx) RunHost<TUnit>(TUnit unit, float[] p, float[] x, float[] dy, int batch, float gradStart = 0f)
        where TUnit : struct, IUnit
    {
        int inputs = unit.Inputs, outputs = unit.Outputs, s = unit.SavedCount;
        var parameters = new ArrayMemory(p);
        var cache = new ArrayMemory(new float[Math.Max(1, unit.CacheCount)]);
        var xs = new ArrayMemory(x);
        var y = new ArrayMemory(Enumerable.Repeat(float.NaN, batch * outputs).ToArray());
        var saved = new ArrayMemory(Enumerable.Repeat(float.NaN, batch * s).ToArray());
        var grad = new ArrayMemory(Enumerable.Repeat(gradStart, unit.ParameterCount).ToArray());
        var dx = new ArrayMemory(Enumerable.Repeat(float.NaN, batch * inputs).ToArray());
        var dys = new ArrayMemory(dy);
        for (int e = 0; e < unit.ElementCount; e++)
            unit.PrepareCache(e, parameters, 0, cache, 0);
        for (int b = 0; b < batch; b++)
            unit.Forward(default, parameters, 0, cache, 0, xs, b * inputs, y, b * outputs, saved, b * s);
        for (int b = 0; b < batch; b++)
            unit.Backward(default, parameters, 0, cache, 0, xs, b * inputs, saved, b * s, dys, b * outputs, grad, 0, true, dx, b * inputs);
        for (int e = 0; e < unit.ElementCount; e++)
            unit.FinishGradient(e, parameters, 0, grad, 0);
        return (y.Data, grad.Data, dx.Data);
    }

    /// <summary>One id per sample, the table and its gradient at <paramref name="guard"/>, row b of y and dy at <c>b·stride + guard</c>, dx at <c>guard + b</c>.</summary>
    private static void RunSamples<TMem>(EmbeddingUnit unit, TMem p, TMem x, TMem y, TMem dy, TMem grad, TMem dx, int batch, int guard, int stride)
        where TMem : struct, IFloatMemory
    {
        for (int b = 0; b < batch; b++)
        {
            unit.Forward(default, p, guard, p, guard, x, b, y, b * stride + guard, y, 0);
            unit.Backward(default, p, guard, p, guard, x, b, y, 0, dy, b * stride + guard, grad, guard, true, dx, guard + b);
        }
    }

    private static float[] ToFloat(double[] values) => values.Select(v => (float)v).ToArray();
}

public sealed class CpuEmbeddingKernelTests(CpuFixture fixture) : EmbeddingKernelTests(fixture), IClassFixture<CpuFixture>;

/// <summary>The native path: the unit's own methods over <see cref="HostMemory"/> (pinned arrays, 256-bit SIMD in CopyFrom/AddScaled).</summary>
public sealed class NativeEmbeddingKernelTests(NativeFixture fixture) : EmbeddingKernelTests(fixture), IClassFixture<NativeFixture>;

/// <summary>CUDA (skipped without a GPU): a copy and sums, no approximate math, so the default tolerances.</summary>
public sealed class CudaEmbeddingKernelTests(CudaFixture fixture) : EmbeddingKernelTests(fixture), IClassFixture<CudaFixture>;

/// <summary>
/// (3) <see cref="EmbeddingUnit"/> run by the library's batched kernels (forward, backward in 3 chunks, chunk reduction)
/// on each backend fixture, or by the native path's host loop, against <see cref="EmbeddingReference"/>: y, ∂L/∂table and
/// ∂L/∂x (zeros) for populations of 1–3 models, with ids 0 and V−1 in every batch, repeated ids whose dy must sum across
/// chunks, and a case with invalid ids (−1, V, 2.5, NaN) that must read and write nothing.
/// </summary>
public abstract class EmbeddingKernelTests(DeviceFixture fixture)
{
    /// <summary>(batch, V, E, models, invalid ids).</summary>
    public static TheoryData<int, int, int, int, bool> Cases => new()
    {
        { 1, 1, 1, 1, false },
        { 7, 3, 2, 2, false },
        { 5, 4, 10, 3, false },
        { 8, 5, 3, 1, true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void UnitMatchesTheReference(int batch, int vocabulary, int width, int models, bool invalid)
    {
        var device = fixture.Device;
        int seed = 9700 + 1000 * batch + 100 * vocabulary + 10 * width + models;
        var rng = new Random(seed);
        var unit = new EmbeddingUnit(vocabulary, width);
        var p = Enumerable.Range(0, models * unit.ParameterCount).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var x = Enumerable.Range(0, models).SelectMany(_ => EmbeddingTests.Ids(rng, batch, vocabulary, invalid)).ToArray();
        UnitChecks.KernelMatchesReference(device, unit, p, x, batch,
            (pp, xx) => EmbeddingReference.Forward(pp, xx, batch, vocabulary, width),
            (pp, xx, dy) => EmbeddingReference.Backward(pp, xx, dy, batch, vocabulary, width),
            seed);
    }

    /// <summary>
    /// <c>EachStepUnit&lt;EmbeddingUnit&gt;</c> over T = 4 ids per sample, 2 models: the reference is the plain embedding
    /// over B·T ids (step-major), so y is each sample's rows concatenated and every repeated id sums its dy.
    /// </summary>
    [Fact]
    public void EachStepMatchesTheReference()
    {
        const int batch = 3, steps = 4, vocabulary = 3, width = 2, models = 2, seed = 9800;
        var device = fixture.Device;
        var rng = new Random(seed);
        var unit = new EachStepUnit<EmbeddingUnit>(new EmbeddingUnit(vocabulary, width), steps);
        var p = Enumerable.Range(0, models * unit.ParameterCount).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var x = Enumerable.Range(0, models).SelectMany(_ => EmbeddingTests.Ids(rng, batch * steps, vocabulary, invalid: false)).ToArray();
        UnitChecks.KernelMatchesReference(device, unit, p, x, batch,
            (pp, xx) => EmbeddingReference.Forward(pp, xx, batch * steps, vocabulary, width),
            (pp, xx, dy) => EmbeddingReference.Backward(pp, xx, dy, batch * steps, vocabulary, width),
            seed);
    }
}
