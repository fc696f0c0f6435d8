using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using Nalu.Gpu.Kernels.Launch;
using Nalu.Gpu.Kernels.Units;
using Xunit;
using Nalu.Gpu.Models;

namespace Nalu.Gpu.Tests;

public sealed class CpuUnitKernelTests(CpuFixture fixture) : UnitKernelTests(fixture), IClassFixture<CpuFixture>;

public sealed class CudaUnitKernelTests(CudaFixture fixture) : UnitKernelTests(fixture), IClassFixture<CudaFixture>
{
    /// <summary>
    /// CUDA values: <c>tanh.approx.f32</c> (relative error ≈ 2⁻¹¹ ≈ 5e-4) inside <c>W = tanh(Ŵ)·σ(M̂)</c> and
    /// <c>ex2/lg2.approx</c> in exp/log: ≈ 1e-3 relative on each weight, then summed over the inputs.
    /// </summary>
    public static readonly (double Atol, double Rtol) CudaValues = (2e-3, 5e-3);

    /// <summary>
    /// CUDA gradients: besides the approximate weights inside a, m and g, the chain rule's factor
    /// <c>1 − tanh²Ŵ</c> inherits tanh.approx's ≈ 5e-4 absolute error twice over, ≈ 1.4% relative at |Ŵ| = 2.
    /// </summary>
    public static readonly (double Atol, double Rtol) CudaGradients = (1e-2, 3e-2);

    protected override (double Atol, double Rtol) ValueTolerance => CudaValues;
    protected override (double Atol, double Rtol) GradientTolerance => CudaGradients;

    /// <summary>
    /// Not measured yet (no GPU here). With |x| ≤ 1e-6, log(|x|+ε) ≈ −16, so tanh.approx's 5e-4 relative error on W
    /// moves z = Σ W·log by up to 2·16·5e-4 ≈ 0.016, i.e. 1.6% on y and on the gradients. 3e-2 still catches a lost
    /// ε where it matters most (×2 at |x| = 1e-7, ×11 at 1e-8).
    /// </summary>
    protected override ((double Atol, double Rtol) Values, (double Atol, double Rtol) Gradients) TinyInputTolerances =>
        ((CudaValues.Atol, 3e-2), (CudaGradients.Atol, 3e-2));

    // A sum of O(1) terms each off by ≈1e-3 relative is off by ≈1e-3 of the terms' size, not of the sum's:
    // scale the absolute part by the typical magnitude of the expected values (the median, so a few
    // edge-case giants do not loosen everything).
    protected override double AbsoluteScale(ReadOnlySpan<double> expected)
    {
        var magnitudes = new double[expected.Length];
        for (int k = 0; k < expected.Length; k++)
            magnitudes[k] = Math.Abs(expected[k]);
        Array.Sort(magnitudes);
        return magnitudes.Length == 0 ? 1 : Math.Max(1, magnitudes[magnitudes.Length / 2]);
    }
}

/// <summary>
/// Second layer of truth: each kernel of <see cref="UnitKernels"/>, for each unit type and for chains,
/// against the double references (<see cref="ModelReference"/> and friends), launched directly on every
/// backend fixture. Shapes include 1s and sizes that are not multiples of the group size, populations
/// of 1 and 3 models, and chunk counts that do not divide the batch.
/// </summary>
public abstract class UnitKernelTests
{
    private const float Sentinel = 12345f;
    private const int Hidden = 3;

    private readonly DeviceFixture _fixture;

    protected UnitKernelTests(DeviceFixture fixture) => _fixture = fixture;

    protected virtual (double Atol, double Rtol) ValueTolerance => Tolerance.Values;
    protected virtual (double Atol, double Rtol) GradientTolerance => Tolerance.Gradients;

    /// <summary>Multiplier of the absolute tolerance for one compared buffer (1 on exact-arithmetic backends).</summary>
    protected virtual double AbsoluteScale(ReadOnlySpan<double> expected) => 1;

    // ------------------------------------------------------------------ test data

    /// <summary>Units whose edge behaviour is tested in their own files (the NAC/NALU edge rows do not fit them).</summary>
    public static readonly string[] NewUnitCases = ["Npu", "RealNpu", "Nmru", "NaluGate", "NaluUntiedGate", "INalu", "Snmu"];

    public static readonly string[] SingleCases = ["Nac", "NacMult", "Nalu", "NaluUntied", "Nau", "Nmu", "Dense<Relu>", "Dense<Tanh>", .. NewUnitCases];

    public static readonly string[] ChainCases =
        ["Chain<Nalu,Nalu>", "Chain<NaluUntied,Dense<Tanh>,Nac>", "Chain<Dense<Relu>,Nac,Dense<Sigmoid>>", "Chain<Nau,Nmu>",
         "Chain<Dense<Tanh>,Npu,RealNpu>", "Chain<Nmru,Nmru>"];

    public static IEnumerable<string> AllCases => SingleCases.Concat(ChainCases);

    public static TheoryData<string, int, int, int> CacheData()
    {
        var data = new TheoryData<string, int, int, int>();
        foreach (var c in AllCases)
        {
            data.Add(c, 1, 1, 1);
            data.Add(c, 13, 3, 3);
        }

        return data;
    }

    public static TheoryData<string, int, int, int, int> ForwardData()
    {
        var data = new TheoryData<string, int, int, int, int>();
        foreach (var c in AllCases)
        {
            data.Add(c, 1, 1, 1, 1);
            data.Add(c, 37, 13, 3, 3);
        }

        return data;
    }

    public static TheoryData<string, int, int, int, int, int, bool> BackwardData()
    {
        var data = new TheoryData<string, int, int, int, int, int, bool>();
        foreach (var c in AllCases)
        {
            data.Add(c, 1, 1, 1, 1, 1, true);
            data.Add(c, 1, 1, 1, 3, 3, false);   // chunks 1 and 2 of each model are empty
            data.Add(c, 37, 13, 3, 3, 5, true);  // 5 chunks of 8, 8, 8, 8, 5 samples
            data.Add(c, 37, 13, 3, 1, 1, false);
        }

        return data;
    }

    public static TheoryData<string, int, int, int, int, int, bool> TrainingStepData()
    {
        var data = new TheoryData<string, int, int, int, int, int, bool>();
        foreach (var c in AllCases)
        {
            data.Add(c, 1, 1, 1, 1, 1, false);
            data.Add(c, 37, 13, 3, 3, 5, false);
            data.Add(c, 37, 13, 3, 1, 4, true);  // one narrow group: every grid-stride loop wraps
        }

        return data;
    }

    public static TheoryData<string> ActivationData()
    {
        var data = new TheoryData<string>();
        foreach (var a in Enum.GetValues<ReferenceActivation>())
            data.Add($"Dense<{a}>");
        return data;
    }

    public static TheoryData<string> EdgeData()
    {
        var data = new TheoryData<string>();
        foreach (var c in SingleCases.Except(NewUnitCases).Concat(["Dense<Sigmoid>", "Dense<Softplus>", "Dense<Selu>", "Dense<Hardtanh>"]))
            data.Add(c);
        return data;
    }

    // ------------------------------------------------------------------ PrepareCache

    [Theory]
    [MemberData(nameof(CacheData))]
    public void PrepareCache_WritesTheEffectiveWeights(string name, int inputs, int outputs, int models)
    {
        var acc = _fixture.Device.Accelerator;
        var problem = Problem.Random(KernelCase.Create(name, inputs, outputs), models, batch: 1, Seed(name, inputs, models));
        var shape = Shape(problem, chunks: 1, needDx: false);
        using var buffers = new DeviceBuffers(acc, problem.Case.Unit, shape);
        buffers.Upload(problem);

        // The cache view has exactly its documented length, inside a buffer with 16 sentinel floats after it. A write
        // past the view aborts the process on the CPU accelerator (ILGPU's bounds assertion) and lands in the sentinels
        // on a GPU, where it is caught below.
        int documented = models * problem.Case.Unit.CacheCount;
        long viewLength = Math.Max(1, documented);
        using var padded = Allocate(acc, viewLength + 16);
        padded.View.CopyFromCPU(Enumerable.Repeat(Sentinel, (int)padded.Length).ToArray());
        var views = buffers.Views with { Cache = padded.View.SubView(0, viewLength) };
        ValidateLengths(problem.Case.Unit, shape, views);
        problem.Case.PrepareCache(acc, Config(acc, false), shape, views);
        acc.Synchronize();

        var expected = new List<double>();
        for (int p = 0; p < models; p++)
            expected.AddRange(ExpectedCache(problem.Case.Layers, problem.ParametersOf(p)));
        var cache = padded.GetAsArray1D();
        Compare(expected.ToArray(), cache[..documented], ValueTolerance, problem, "cache");
        Assert.True(cache[documented..].All(v => v == Sentinel), $"{problem}: wrote past the documented cache length {documented}.");
        Assert.Equal(viewLength + 16 - documented, cache[documented..].Length);
    }

    // ------------------------------------------------------------------ Forward

    [Theory]
    [MemberData(nameof(ForwardData))]
    public void Forward_MatchesReference(string name, int batch, int inputs, int outputs, int models)
    {
        var acc = _fixture.Device.Accelerator;
        var problem = Problem.Random(KernelCase.Create(name, inputs, outputs), models, batch, Seed(name, batch, inputs, models));
        var shape = Shape(problem, chunks: 1, needDx: false);
        using var buffers = new DeviceBuffers(acc, problem.Case.Unit, shape);
        buffers.Upload(problem);
        buffers.Fill(buffers.Y, Sentinel);
        buffers.Fill(buffers.Saved, Sentinel);

        Launch(acc, problem, shape, buffers, (c, b) =>
        {
            problem.Case.PrepareCache(acc, c, shape, b);
            problem.Case.Forward(acc, c, shape, b);
        });

        Compare(problem.ExpectedY(), buffers.Download(buffers.Y), ValueTolerance, problem, "y");
    }

    // ------------------------------------------------------------------ Backward

    [Theory]
    [MemberData(nameof(BackwardData))]
    public void Backward_ChunkPartialsMatchReference(
        string name, int batch, int inputs, int outputs, int models, int chunks, bool needInputGradient)
    {
        var acc = _fixture.Device.Accelerator;
        var problem = Problem.Random(KernelCase.Create(name, inputs, outputs), models, batch, Seed(name, batch, inputs, models, chunks));
        var shape = Shape(problem, chunks, needInputGradient);
        using var buffers = new DeviceBuffers(acc, problem.Case.Unit, shape);
        buffers.Upload(problem);
        buffers.Fill(buffers.Partials, Sentinel);   // the backward OVERWRITES every partial, empty chunks too
        buffers.Fill(buffers.Dx, Sentinel);         // and Dx only when asked

        Launch(acc, problem, shape, buffers, (c, b) =>
        {
            problem.Case.PrepareCache(acc, c, shape, b);
            problem.Case.Forward(acc, c, shape, b);
            problem.Case.Backward(acc, c, shape, b);
        });

        // Each partial holds the RAW gradient sum of its chunk's samples; the reference's chain rule
        // through tanh·σ turns it into the final gradient the reference computes for those samples.
        var partials = buffers.Download(buffers.Partials);
        int n = problem.N, perChunk = (batch + chunks - 1) / chunks;
        var expected = new List<double>();
        var actual = new List<double>();
        for (int p = 0; p < models; p++)
        {
            var parameters = problem.ParametersOf(p);
            for (int chunk = 0; chunk < chunks; chunk++)
            {
                int first = Math.Min(batch, chunk * perChunk), last = Math.Min(batch, first + perChunk);
                var (gradient, _) = ModelReference.Backward(
                    problem.Case.Layers, parameters,
                    problem.XOf(p).AsSpan(first * problem.I, (last - first) * problem.I),
                    problem.DyOf(p).AsSpan(first * problem.O, (last - first) * problem.O),
                    last - first);
                expected.AddRange(gradient);
                var raw = partials.AsSpan((p * chunks + chunk) * n, n).ToArray().Select(v => (double)v).ToArray();
                actual.AddRange(RawToFinal(problem.Case.Layers, parameters, raw));
            }
        }

        Compare(expected.ToArray(), actual.ToArray(), GradientTolerance, problem, $"chunk partials ({chunks} chunks of ≤ {perChunk})");
        var dx = buffers.Download(buffers.Dx);
        if (needInputGradient)
            Compare(problem.ExpectedDx(), dx, GradientTolerance, problem, "dx");
        else
            Assert.True(dx.All(v => v == Sentinel), $"{problem}: Dx was written although no input gradient was asked for.");
    }

    // ------------------------------------------------------------------ ReduceGradients

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(3, 5, 7)]
    [InlineData(2, 3, 40)]
    public void ReduceGradients_SumsChunkPartialsInChunkOrder(int models, int chunks, int parameterCount)
    {
        var acc = _fixture.Device.Accelerator;
        int seed = 7000 + 100 * models + 10 * chunks + parameterCount;
        var rng = new Random(seed);
        var partials = new float[models * chunks * parameterCount];
        for (int k = 0; k < partials.Length; k++)
            partials[k] = (float)(rng.NextDouble() * 4 - 2) * (k % 5 == 0 ? 1000f : 1f);

        var shape = new BatchShape { Models = models, Batch = 1, Chunks = chunks, NeedInputGradient = 0 };
        using var partialBuffer = Allocate(acc, partials.Length);
        using var gradientBuffer = Allocate(acc, models * parameterCount);
        partialBuffer.View.CopyFromCPU(partials);
        gradientBuffer.View.CopyFromCPU(Enumerable.Repeat(Sentinel, models * parameterCount).ToArray());
        using var unused = Allocate(acc, 1);   // the views this kernel does not touch, still valid ones
        var buffers = new UnitBuffers
        {
            Parameters = unused.View, Cache = unused.View, X = unused.View, Y = unused.View, Saved = unused.View,
            Dy = unused.View, Dx = unused.View, Partials = partialBuffer.View, Gradients = gradientBuffer.View,
        };
        Assert.Equal((long)models * chunks * parameterCount, buffers.Partials.Length);
        Assert.Equal((long)models * parameterCount, buffers.Gradients.Length);

        KernelCache.Get(acc, null, nameof(UnitKernels.ReduceGradients),
            a => a.LoadStreamKernel<int, BatchShape, UnitBuffers>(UnitKernels.ReduceGradients))(Config(acc, false), parameterCount, shape, buffers);
        acc.Synchronize();

        // Deterministic: exactly the float sum in chunk order, on every backend.
        var actual = gradientBuffer.GetAsArray1D();
        for (int p = 0; p < models; p++)
        {
            for (int j = 0; j < parameterCount; j++)
            {
                float sum = 0f;
                for (int c = 0; c < chunks; c++)
                    sum += partials[(p * chunks + c) * parameterCount + j];
                Assert.True(sum == actual[p * parameterCount + j],
                    $"seed {seed}: gradient [{p}, {j}] is {actual[p * parameterCount + j]:G9}, the chunk-order sum is {sum:G9}.");
            }
        }
    }

    // ------------------------------------------------------------------ FinishGradients

    [Theory]
    [MemberData(nameof(CacheData))]
    public void FinishGradients_AppliesTheChainRuleThroughTanhSigmoid(string name, int inputs, int outputs, int models)
    {
        var acc = _fixture.Device.Accelerator;
        var problem = Problem.Random(KernelCase.Create(name, inputs, outputs), models, batch: 1, Seed(name, inputs, models, 99));
        var shape = Shape(problem, chunks: 1, needDx: false);
        var rng = new Random(Seed(name, inputs, models, 98));
        var raw = new float[models * problem.N];
        for (int k = 0; k < raw.Length; k++)
            raw[k] = (float)(rng.NextDouble() * 20 - 10);

        using var buffers = new DeviceBuffers(acc, problem.Case.Unit, shape);
        buffers.Upload(problem);
        buffers.Gradients.View.CopyFromCPU(raw);

        Launch(acc, problem, shape, buffers, (c, b) => problem.Case.FinishGradients(acc, c, shape, b));

        var expected = new List<double>();
        for (int p = 0; p < models; p++)
            expected.AddRange(RawToFinal(problem.Case.Layers, problem.ParametersOf(p), raw.AsSpan(p * problem.N, problem.N).ToArray().Select(v => (double)v).ToArray()));
        Compare(expected.ToArray(), buffers.Download(buffers.Gradients), GradientTolerance, problem, "finished gradients");
    }

    // ------------------------------------------------------------------ whole step

    [Theory]
    [MemberData(nameof(TrainingStepData))]
    public void TrainingStep_MatchesReference(string name, int batch, int inputs, int outputs, int models, int chunks, bool narrow)
    {
        var problem = Problem.Random(KernelCase.Create(name, inputs, outputs), models, batch, Seed(name, batch, inputs, models, chunks));
        RunStepAndCompare(problem, chunks, narrow);
    }

    [Theory]
    [MemberData(nameof(ActivationData))]
    public void EveryActivation_TrainingStepMatchesReference(string name)
    {
        var problem = Problem.Random(KernelCase.Create(name, 13, 3), models: 2, batch: 37, Seed(name, 37, 13, 2, 5));
        RunStepAndCompare(problem, chunks: 5, narrow: false);
    }

    /// <summary>
    /// Edge rows: x = 0, all-negative x, zeros mixed in, |x| = 1e4 (NAC• and NALU output 0 then clamps its
    /// exponent at 88), saturated gates (G rows of ±20) and saturated NAC weights.
    /// </summary>
    [Theory]
    [MemberData(nameof(EdgeData))]
    public void EdgeInputs_MatchReference(string name)
    {
        var problem = Problem.Edge(KernelCase.Create(name, 13, 3), models: 2, Seed(name, 9, 13, 2, 2));
        var (y, gradients, _) = RunStepAndCompare(problem, chunks: 2, narrow: false);
        Assert.True(y.All(float.IsFinite), $"{problem}: non-finite output {string.Join(", ", y.Where(v => !float.IsFinite(v)))}.");
        Assert.True(gradients.All(float.IsFinite), $"{problem}: non-finite gradient.");
    }

    /// <summary>
    /// |x| = 1e4 on all 13 inputs with W ≈ 0.99 on output 0: the exponent is ≈ 118, clamped at 88, so
    /// y = e^88 (finite) and the clamp passes no gradient. Sample 0 alone is chunk 0, so its partial holds
    /// exactly this sample's raw gradient.
    /// </summary>
    [Theory]
    [InlineData("NacMult")]
    [InlineData("Nalu")]
    [InlineData("NaluUntied")]
    public void HugeInputs_ClampTheExponentAndPassNoGradient(string name)
    {
        var acc = _fixture.Device.Accelerator;
        var problem = Problem.Edge(KernelCase.Create(name, 13, 3), models: 1, Seed(name, 2, 13));
        problem = problem with { X = [.. Enumerable.Repeat(1e4f, 13), .. problem.X.AsSpan(5 * 13, 13)], Dy = [.. problem.Dy.AsSpan(0, 6)], Batch = 2 };
        var shape = Shape(problem, chunks: 2, needDx: true);
        using var buffers = new DeviceBuffers(acc, problem.Case.Unit, shape);
        buffers.Upload(problem);

        Launch(acc, problem, shape, buffers, (c, b) =>
        {
            problem.Case.PrepareCache(acc, c, shape, b);
            problem.Case.Forward(acc, c, shape, b);
            problem.Case.Backward(acc, c, shape, b);
        });

        var y = buffers.Download(buffers.Y);
        Assert.True(y.All(float.IsFinite), $"{problem}: y = [{string.Join(", ", y)}]");
        Compare([Math.Exp(88)], new[] { y[0] }, ValueTolerance, problem, "y of the clamped output");

        // Raw gradient of sample 0, row 0 (output 0) of every matrix the clamped output reaches. NAC•: the
        // exponent's gradient is zero. NALU: G row 0 is −20, so g = 0 and y = m: the additive path and the
        // gate see g = 0 or g(1−g) = 0, and the multiplicative path is clamped — the whole row is exactly 0.
        var partials = buffers.Download(buffers.Partials);
        int n = problem.N, weights = 13 * 3;
        int[] blocks = name switch { "NacMult" => [0], "Nalu" => [0, 2], _ => [0, 2, 4] };
        foreach (int block in blocks)
        {
            for (int i = 0; i < 13; i++)
                Assert.True(partials[block * weights + i] == 0f, $"{problem}: raw gradient of block {block}, [0, {i}] is {partials[block * weights + i]:G9}, not 0.");
        }

        Assert.True(partials.All(float.IsFinite));
        Assert.True(buffers.Download(buffers.Dx).All(float.IsFinite));
        Assert.Equal(n * 2, partials.Length);
    }

    /// <summary>
    /// FinishGradients also runs each unit's Regularize: with λ = λ̂ from step 0 (start = end = 0) the finished NAU/NMU
    /// gradient is the raw one plus the sparsity reference's <c>λ·penalty′(W)/(O·I)</c>, for both shapes.
    /// </summary>
    [Theory]
    [InlineData("Nau+Linear", 1, 1)]
    [InlineData("Nau+Squared", 13, 3)]
    [InlineData("Nmu+Linear", 13, 3)]
    [InlineData("Nmu+Squared", 1, 1)]
    [InlineData("Chain<Nau,Nmu>+Linear", 13, 3)]
    public void FinishGradients_AddsTheRegularizerGradient(string name, int inputs, int outputs)
    {
        var acc = _fixture.Device.Accelerator;
        const int models = 2;
        var problem = Problem.Random(KernelCase.Create(name, inputs, outputs), models, batch: 1, Seed(name, inputs, models, 97));
        var shape = Shape(problem, chunks: 1, needDx: false);
        var rng = new Random(Seed(name, inputs, models, 96));
        var raw = new float[models * problem.N];
        for (int k = 0; k < raw.Length; k++)
            raw[k] = (float)(rng.NextDouble() * 2 - 1);

        using var buffers = new DeviceBuffers(acc, problem.Case.Unit, shape);
        buffers.Upload(problem);
        buffers.Gradients.View.CopyFromCPU(raw);
        Launch(acc, problem, shape, buffers, (c, b) => problem.Case.FinishGradients(acc, c, shape, b));

        var settings = KernelCase.RegularizerOf(name);
        var expected = new List<double>();
        for (int p = 0; p < models; p++)
        {
            var parameters = problem.ParametersOf(p);
            int offset = 0;
            foreach (var layer in problem.Case.Layers)
            {
                var w = parameters.AsSpan(offset, layer.ParameterCount);
                var g = SparsityReference.Gradient(settings, 0, w);
                for (int k = 0; k < g.Length; k++)
                    expected.Add(raw[p * problem.N + offset + k] + g[k]);
                offset += layer.ParameterCount;
            }
        }

        Compare(expected.ToArray(), buffers.Download(buffers.Gradients), GradientTolerance, problem, "regularised gradients");
    }

    /// <summary>
    /// Rows with |x| between 1e-8 and 1e-6, alone and mixed with ordinary values: here the ε = 1e-7 of log(|x|+ε)
    /// sets the outputs and the parameter gradients, and the ε of sign(x)/(|x|+ε) sets dx (dropping it doubles dx at
    /// |x| = 1e-7). Parameters in [−1, 1] keep |z| ≤ 2·16·0.56 ≈ 18.
    /// </summary>
    [Theory]
    [InlineData("NacMult")]
    [InlineData("Nalu")]
    [InlineData("NaluUntied")]
    public void TinyInputs_MatchReference(string name)
    {
        const int inputs = 2, outputs = 2, models = 2, batch = 6;
        int seed = Seed(name, 1, 8);
        var random = Problem.Random(KernelCase.Create(name, inputs, outputs), models, batch, seed);
        var rng = new System.Random(seed);
        var tiny = ReferenceGradientTests.TinyValues(rng, models * batch * inputs);
        var x = new float[tiny.Length];
        for (int k = 0; k < x.Length; k++)
            x[k] = (k / inputs) % 3 == 2 && k % inputs == 1 ? random.X[k] : (float)tiny[k];   // every third row mixes in an ordinary value
        var parameters = random.Parameters.Select(v => v / 2f).ToArray();
        var problem = random with { X = x, Parameters = parameters };
        RunStepAndCompare(problem, chunks: 2, narrow: false, TinyInputTolerances);
    }

    /// <summary>The tolerances of <see cref="TinyInputs_MatchReference"/> (values, gradients).</summary>
    protected virtual ((double Atol, double Rtol) Values, (double Atol, double Rtol) Gradients) TinyInputTolerances =>
        (ValueTolerance, GradientTolerance);

    /// <summary>
    /// The exponent clamp at 88 ± 0.01 in float: NAC• I = 2, O = 1, W ≈ 0.9845, row 0 at z = 87.99 (y = e^z ≈ 1.6e38,
    /// gradient flows), row 1 at z = 88.01 (y = e^88, no gradient). dy = 1e-30 keeps the raw gradient (≈ y·log x)
    /// inside float.
    /// </summary>
    [Fact]
    public void ExponentJustBelowAndAboveTheClamp_MatchesReference()
    {
        var kernelCase = KernelCase.Create("NacMult", 2, 1);
        double w = Math.Tanh(3) / (1 + Math.Exp(-5));
        float below = (float)Math.Exp(87.99 / (2 * w)), above = (float)Math.Exp(88.01 / (2 * w));
        var problem = new Problem(kernelCase, Models: 1, Batch: 2, Seed: 0, Parameters: [3f, 3f, 5f, 5f],
            X: [below, below, above, above], Dy: [1e-30f, 1e-30f]);
        var (y, _, dx) = RunStepAndCompare(problem, chunks: 2, narrow: false);
        // The clamp: exp(88), not exp(88.01) (1 % more). Exact on the CPU; CUDA's ex2.approx was measured 1.8e-6 below
        // MathF.Exp(88) on an H200 (2026-12-04), so a relative 1e-5 is allowed.
        Assert.True(Math.Abs(y[1] / MathF.Exp(88f) - 1) <= 1e-5, $"y at the clamp: {y[1]:G9}, expected {MathF.Exp(88f):G9}");
        Assert.True(y[0] < y[1] && y[0] > 1e38f, $"y below the clamp: {y[0]:G9}");
        Assert.NotEqual(0f, dx[0]);
        Assert.Equal(0f, dx[2]);
        Assert.Equal(0f, dx[3]);
    }

    [Fact]
    public void Launch_RejectsBuffersOfTheWrongLength()
    {
        var acc = _fixture.Device.Accelerator;
        var problem = Problem.Random(KernelCase.Create("Nalu", 3, 2), models: 2, batch: 4, seed: 1);
        var shape = Shape(problem, chunks: 3, needDx: true);
        using var buffers = new DeviceBuffers(acc, problem.Case.Unit, shape);
        var wrong = shape with { Chunks = 4 };   // Partials is one chunk short for this shape
        var ex = Assert.Throws<InvalidOperationException>(() => ValidateLengths(problem.Case.Unit, wrong, buffers.Views));
        Assert.Contains("Partials", ex.Message);
        ValidateLengths(problem.Case.Unit, shape, buffers.Views);
    }

    // ------------------------------------------------------------------ helpers

    private (float[] Y, float[] Gradients, float[] Dx) RunStepAndCompare(Problem problem, int chunks, bool narrow,
        ((double Atol, double Rtol) Values, (double Atol, double Rtol) Gradients)? tolerances = null)
    {
        var (valueTolerance, gradientTolerance) = tolerances ?? (ValueTolerance, GradientTolerance);
        var acc = _fixture.Device.Accelerator;
        var shape = Shape(problem, chunks, needDx: true);
        using var buffers = new DeviceBuffers(acc, problem.Case.Unit, shape);
        buffers.Upload(problem);
        buffers.Fill(buffers.Gradients, Sentinel);

        Launch(acc, problem, shape, buffers, (c, b) =>
        {
            problem.Case.PrepareCache(acc, c, shape, b);
            problem.Case.Forward(acc, c, shape, b);
            problem.Case.Backward(acc, c, shape, b);
            problem.Case.ReduceGradients(acc, c, shape, b);
            problem.Case.FinishGradients(acc, c, shape, b);
        }, narrow);

        var y = buffers.Download(buffers.Y);
        var gradients = buffers.Download(buffers.Gradients);
        var dx = buffers.Download(buffers.Dx);
        Compare(problem.ExpectedY(), y, valueTolerance, problem, "y");
        Compare(problem.ExpectedGradients(), gradients, gradientTolerance, problem, $"gradients ({chunks} chunks)");
        Compare(problem.ExpectedDx(), dx, gradientTolerance, problem, "dx");
        return (y, gradients, dx);
    }

    private void Compare(double[] expected, float[] actual, (double Atol, double Rtol) tolerance, Problem problem, string what) =>
        Tolerance.AssertClose(expected, actual, (tolerance.Atol * AbsoluteScale(expected), tolerance.Rtol), $"{problem} on {_fixture.Kind}: {what}");

    private void Compare(double[] expected, double[] actual, (double Atol, double Rtol) tolerance, Problem problem, string what) =>
        Tolerance.AssertClose(expected, actual, (tolerance.Atol * AbsoluteScale(expected), tolerance.Rtol), $"{problem} on {_fixture.Kind}: {what}");

    private static BatchShape Shape(Problem problem, int chunks, bool needDx) => new()
    {
        Models = problem.Models,
        Batch = problem.Batch,
        Chunks = chunks,
        NeedInputGradient = needDx ? 1 : 0,
    };

    private static KernelConfig Config(Accelerator acc, bool narrow)
    {
        if (narrow)
            return new KernelConfig(1, acc.WarpSize);
        int group = acc.AcceleratorType == AcceleratorType.CPU ? acc.MaxNumThreadsPerGroup : Math.Min(128, acc.MaxNumThreadsPerGroup);
        return new KernelConfig(acc.NumMultiprocessors, group);
    }

    /// <summary>Checks every length against <see cref="UnitBuffers"/>' documentation, then launches and waits.</summary>
    private static void Launch(Accelerator acc, Problem problem, BatchShape shape, DeviceBuffers buffers, Action<KernelConfig, UnitBuffers> kernels, bool narrow = false)
    {
        var views = buffers.Views;
        ValidateLengths(problem.Case.Unit, shape, views);
        kernels(Config(acc, narrow), views);
        acc.Synchronize();
    }

    /// <summary>
    /// An out-of-bounds access aborts the whole test process on the CPU accelerator, so every length is
    /// checked on the host first.
    /// </summary>
    private static void ValidateLengths(IUnit unit, BatchShape s, UnitBuffers b)
    {
        if (s.Models < 1 || s.Batch < 1 || s.Chunks < 1 || s.NeedInputGradient is not (0 or 1))
            throw new InvalidOperationException($"Bad shape: P={s.Models}, B={s.Batch}, chunks={s.Chunks}, dx={s.NeedInputGradient}.");
        var errors = new List<string>();
        void Check(string name, ArrayView<float> view, long documented)
        {
            // Zero-length buffers are allocated with one element (see DeviceBuffers).
            if (view.Length != Math.Max(1, documented))
                errors.Add($"{name} has {view.Length} floats, {documented} documented");
        }

        long p = s.Models, n = unit.ParameterCount, bsz = s.Batch;
        Check(nameof(b.Parameters), b.Parameters, p * n);
        Check(nameof(b.Gradients), b.Gradients, p * n);
        Check(nameof(b.Cache), b.Cache, p * unit.CacheCount);
        Check(nameof(b.Partials), b.Partials, p * s.Chunks * n);
        Check(nameof(b.X), b.X, p * bsz * unit.Inputs);
        Check(nameof(b.Dx), b.Dx, p * bsz * unit.Inputs);
        Check(nameof(b.Y), b.Y, p * bsz * unit.Outputs);
        Check(nameof(b.Dy), b.Dy, p * bsz * unit.Outputs);
        Check(nameof(b.Saved), b.Saved, p * bsz * unit.SavedCount);
        if (errors.Count > 0)
            throw new InvalidOperationException("Buffer lengths do not match the shape: " + string.Join("; ", errors) + ".");
    }

    private static MemoryBuffer1D<float, Stride1D.Dense> Allocate(Accelerator acc, long length)
    {
        var buffer = acc.Allocate1D<float>(Math.Max(1, length));
        buffer.MemSetToZero();
        return buffer;
    }

    private static int Seed(string name, params int[] values)
    {
        // Stable across runs (string.GetHashCode is randomised per process).
        int seed = 17;
        foreach (char ch in name)
            seed = unchecked(seed * 31 + ch);
        foreach (int v in values)
            seed = unchecked(seed * 31 + v);
        return seed & 0x7fffffff;
    }

    /// <summary>What <see cref="IUnit.PrepareCache"/> must produce: each layer's <c>tanh(Ŵ)·σ(M̂)</c> matrices.</summary>
    private static double[] ExpectedCache(ReferenceLayer[] layers, double[] parameters)
    {
        var cache = new List<double>();
        int offset = 0;
        foreach (var layer in layers)
        {
            int w = layer.Inputs * layer.Outputs;
            var block = parameters.AsSpan(offset, layer.ParameterCount);
            if (layer.Kind is ReferenceUnitKind.Nac or ReferenceUnitKind.NacMult or ReferenceUnitKind.Nalu or ReferenceUnitKind.INalu)
                cache.AddRange(NacReference.Weights(block[..w], block[w..(2 * w)]));
            if (layer.Untied || layer.Kind == ReferenceUnitKind.INalu)
                cache.AddRange(NacReference.Weights(block[(2 * w)..(3 * w)], block[(3 * w)..(4 * w)]));
            offset += layer.ParameterCount;
        }

        return cache.ToArray();
    }

    /// <summary>
    /// The contract of <see cref="IUnit.FinishGradient"/>, in double: raw ∂L/∂W sits in each Ŵ slot and becomes
    /// ∂L/∂Ŵ and ∂L/∂M̂ through the reference's chain rule; G and dense parameters are already final.
    /// </summary>
    private static double[] RawToFinal(ReferenceLayer[] layers, double[] parameters, double[] raw)
    {
        var final = (double[])raw.Clone();
        int offset = 0;
        foreach (var layer in layers)
        {
            int w = layer.Inputs * layer.Outputs;
            int pairs = layer.Kind == ReferenceUnitKind.INalu ? 2
                : layer.Kind is not (ReferenceUnitKind.Nac or ReferenceUnitKind.NacMult or ReferenceUnitKind.Nalu) ? 0 : layer.Untied ? 2 : 1;
            for (int pair = 0; pair < pairs; pair++)
            {
                int wHat = offset + 2 * pair * w, mHat = wHat + w;
                var (gWHat, gMHat) = NacReference.WeightBackward(
                    raw.AsSpan(wHat, w), parameters.AsSpan(wHat, w), parameters.AsSpan(mHat, w));
                gWHat.CopyTo(final, wHat);
                gMHat.CopyTo(final, mHat);
            }

            offset += layer.ParameterCount;
        }

        return final;
    }

    // ------------------------------------------------------------------ cases, problems, buffers

    /// <summary>A unit type under test: the struct the kernels are instantiated with, and its reference layers.</summary>
    private abstract class KernelCase(string name, ReferenceLayer[] layers)
    {
        public string Name { get; } = name;
        public ReferenceLayer[] Layers { get; } = layers;
        public abstract IUnit Unit { get; }

        public abstract void PrepareCache(Accelerator acc, KernelConfig config, BatchShape shape, UnitBuffers b);
        public abstract void Forward(Accelerator acc, KernelConfig config, BatchShape shape, UnitBuffers b);
        public abstract void Backward(Accelerator acc, KernelConfig config, BatchShape shape, UnitBuffers b);
        public abstract void FinishGradients(Accelerator acc, KernelConfig config, BatchShape shape, UnitBuffers b);

        public void ReduceGradients(Accelerator acc, KernelConfig config, BatchShape shape, UnitBuffers b) =>
            KernelCache.Get(acc, null, nameof(UnitKernels.ReduceGradients),
                a => a.LoadStreamKernel<int, BatchShape, UnitBuffers>(UnitKernels.ReduceGradients))(config, Unit.ParameterCount, shape, b);

        public static KernelCase Create(string name, int inputs, int outputs)
        {
            int i = inputs, o = outputs, h = Hidden;
            return name switch
            {
                "Nac" => Of(name, new NacUnit(i, o), ReferenceLayer.Nac(i, o)),
                "NacMult" => Of(name, new NacMultUnit(i, o), ReferenceLayer.NacMult(i, o)),
                "Nalu" => Of(name, new NaluUnit(i, o), ReferenceLayer.Nalu(i, o)),
                "NaluUntied" => Of(name, new NaluUnit(i, o, untied: true), ReferenceLayer.Nalu(i, o, untied: true)),
                "Nau" => Of(name, new NauUnit(i, o), ReferenceLayer.Nau(i, o)),
                "Nmu" => Of(name, new NmuUnit(i, o), ReferenceLayer.Nmu(i, o)),
                "Nau+Linear" or "Nau+Squared" => Of(name, new NauUnit(i, o, RegularizerOf(name)), ReferenceLayer.Nau(i, o)),
                "Nmu+Linear" or "Nmu+Squared" => Of(name, new NmuUnit(i, o, RegularizerOf(name)), ReferenceLayer.Nmu(i, o)),
                "Chain<Nau,Nmu>" => Of(name, new Chain<NauUnit, NmuUnit>(new NauUnit(i, h), new NmuUnit(h, o)), ReferenceLayer.Nau(i, h), ReferenceLayer.Nmu(h, o)),
                "Chain<Nau,Nmu>+Linear" => Of(name,
                    new Chain<NauUnit, NmuUnit>(new NauUnit(i, h, RegularizerOf(name)), new NmuUnit(h, o, RegularizerOf(name))),
                    ReferenceLayer.Nau(i, h), ReferenceLayer.Nmu(h, o)),
                "Npu" => Of(name, new NpuUnit(i, o), ReferenceLayer.Npu(i, o)),
                "RealNpu" => Of(name, new RealNpuUnit(i, o), ReferenceLayer.RealNpu(i, o)),
                "Chain<Dense<Tanh>,Npu,RealNpu>" => Of(name,
                    new Chain<DenseUnit<Tanh>, Chain<NpuUnit, RealNpuUnit>>(
                        new DenseUnit<Tanh>(i, h), new Chain<NpuUnit, RealNpuUnit>(new NpuUnit(h, h), new RealNpuUnit(h, o))),
                    ReferenceLayer.Dense(i, h, ReferenceActivation.Tanh), ReferenceLayer.Npu(h, h), ReferenceLayer.RealNpu(h, o)),
                "Nmru" => Of(name, new NmruUnit(i, o), ReferenceLayer.Nmru(i, o)),
                "INalu" => Of(name, new INaluUnit(i, o), ReferenceLayer.INalu(i, o)),
                "Snmu" => Of(name, new SnmuUnit(i, o), ReferenceLayer.Snmu(i, o)),   // inference: the plain NMU (training: SnmuTests)
                "NaluGate" => Of(name, new NaluUnit(i, o, inputIndependentGate: true), ReferenceLayer.Nalu(i, o, inputIndependentGate: true)),
                "NaluUntiedGate" => Of(name, new NaluUnit(i, o, untied: true, inputIndependentGate: true),
                    ReferenceLayer.Nalu(i, o, untied: true, inputIndependentGate: true)),
                "Chain<Nmru,Nmru>" => Of(name,
                    new Chain<NmruUnit, NmruUnit>(new NmruUnit(i, h), new NmruUnit(h, o)),
                    ReferenceLayer.Nmru(i, h), ReferenceLayer.Nmru(h, o)),
                "Dense<Linear>" => Dense<Linear>(name, i, o, ReferenceActivation.Linear),
                "Dense<Relu>" => Dense<Relu>(name, i, o, ReferenceActivation.Relu),
                "Dense<Relu6>" => Dense<Relu6>(name, i, o, ReferenceActivation.Relu6),
                "Dense<Tanh>" => Dense<Tanh>(name, i, o, ReferenceActivation.Tanh),
                "Dense<Sigmoid>" => Dense<Sigmoid>(name, i, o, ReferenceActivation.Sigmoid),
                "Dense<Elu>" => Dense<Elu>(name, i, o, ReferenceActivation.Elu),
                "Dense<Selu>" => Dense<Selu>(name, i, o, ReferenceActivation.Selu),
                "Dense<Softplus>" => Dense<Softplus>(name, i, o, ReferenceActivation.Softplus),
                "Dense<LeakyRelu>" => Dense<LeakyRelu>(name, i, o, ReferenceActivation.LeakyRelu),
                "Dense<Softsign>" => Dense<Softsign>(name, i, o, ReferenceActivation.Softsign),
                "Dense<Hardtanh>" => Dense<Hardtanh>(name, i, o, ReferenceActivation.Hardtanh),
                "Chain<Nalu,Nalu>" => Of(name,
                    new Chain<NaluUnit, NaluUnit>(new NaluUnit(i, h), new NaluUnit(h, o)),
                    ReferenceLayer.Nalu(i, h), ReferenceLayer.Nalu(h, o)),
                "Chain<NaluUntied,Dense<Tanh>,Nac>" => Of(name,
                    new Chain<NaluUnit, Chain<DenseUnit<Tanh>, NacUnit>>(
                        new NaluUnit(i, h, untied: true), new Chain<DenseUnit<Tanh>, NacUnit>(new DenseUnit<Tanh>(h, h + 1), new NacUnit(h + 1, o))),
                    ReferenceLayer.Nalu(i, h, untied: true), ReferenceLayer.Dense(h, h + 1, ReferenceActivation.Tanh), ReferenceLayer.Nac(h + 1, o)),
                "Chain<Dense<Relu>,Nac,Dense<Sigmoid>>" => Of(name,
                    new Chain<DenseUnit<Relu>, Chain<NacUnit, DenseUnit<Sigmoid>>>(
                        new DenseUnit<Relu>(i, h), new Chain<NacUnit, DenseUnit<Sigmoid>>(new NacUnit(h, h), new DenseUnit<Sigmoid>(h, o))),
                    ReferenceLayer.Dense(i, h, ReferenceActivation.Relu), ReferenceLayer.Nac(h, h), ReferenceLayer.Dense(h, o, ReferenceActivation.Sigmoid)),
                _ => throw new ArgumentOutOfRangeException(nameof(name), name, "Unknown kernel case."),
            };
        }

        /// <summary>The regulariser of a "+Linear"/"+Squared" case: λ̂ = 3 in full from step 0.</summary>
        public static RegularizerSettings RegularizerOf(string name) =>
            RegularizerSettings.Sparsity(3f, 0, 0, squared: name.EndsWith("+Squared", StringComparison.Ordinal));

        private static KernelCase Dense<TActivation>(string name, int i, int o, ReferenceActivation activation)
            where TActivation : struct, IActivation =>
            Of(name, new DenseUnit<TActivation>(i, o), ReferenceLayer.Dense(i, o, activation));

        private static KernelCase Of<TUnit>(string name, TUnit unit, params ReferenceLayer[] layers)
            where TUnit : struct, IUnit
        {
            if (unit.ParameterCount != ModelReference.ParameterCount(layers))
                throw new InvalidOperationException($"{name}: the unit has {unit.ParameterCount} parameters, its reference {ModelReference.ParameterCount(layers)}.");
            return new KernelCase<TUnit>(name, unit, layers);
        }
    }

    private sealed class KernelCase<TUnit>(string name, TUnit unit, ReferenceLayer[] layers) : KernelCase(name, layers)
        where TUnit : struct, IUnit
    {
        public override IUnit Unit => unit;

        public override void PrepareCache(Accelerator acc, KernelConfig config, BatchShape shape, UnitBuffers b) =>
            Load(acc, nameof(UnitKernels.PrepareCache), UnitKernels.PrepareCache)(config, unit, shape, b);

        public override void Forward(Accelerator acc, KernelConfig config, BatchShape shape, UnitBuffers b) =>
            Load(acc, nameof(UnitKernels.Forward), UnitKernels.Forward)(config, unit, shape, b);

        public override void Backward(Accelerator acc, KernelConfig config, BatchShape shape, UnitBuffers b) =>
            Load(acc, nameof(UnitKernels.Backward), UnitKernels.Backward)(config, unit, shape, b);

        public override void FinishGradients(Accelerator acc, KernelConfig config, BatchShape shape, UnitBuffers b) =>
            Load(acc, nameof(UnitKernels.FinishGradients), UnitKernels.FinishGradients)(config, unit, shape, b);

        private static Action<KernelConfig, TUnit, BatchShape, UnitBuffers> Load(
            Accelerator acc, string name, Action<TUnit, BatchShape, UnitBuffers> kernel) =>
            KernelCache.Get(acc, typeof(TUnit), name, a => a.LoadStreamKernel(kernel));
    }

    /// <summary>
    /// Loaded kernels per accelerator, kept alive for the fixture's lifetime (ILGPU caches them only weakly,
    /// and a compile per test would dominate the run time).
    /// </summary>
    private static class KernelCache
    {
        private static readonly ConditionalWeakTable<Accelerator, ConcurrentDictionary<(Type?, string), Delegate>> Loaded = new();

        public static T Get<T>(Accelerator acc, Type? unit, string kernel, Func<Accelerator, T> load) where T : Delegate =>
            (T)Loaded.GetOrCreateValue(acc).GetOrAdd((unit, kernel), _ => load(acc));
    }

    /// <summary>Host data of P models (one after another, as on the device) and the references' answers.</summary>
    private sealed record Problem(KernelCase Case, int Models, int Batch, int Seed, float[] Parameters, float[] X, float[] Dy)
    {
        public int N => Case.Unit.ParameterCount;
        public int I => Case.Unit.Inputs;
        public int O => Case.Unit.Outputs;

        public double[] ParametersOf(int p) => Widen(Parameters.AsSpan(p * N, N));
        public double[] XOf(int p) => Widen(X.AsSpan(p * Batch * I, Batch * I));
        public double[] DyOf(int p) => Widen(Dy.AsSpan(p * Batch * O, Batch * O));

        public double[] ExpectedY() =>
            Enumerable.Range(0, Models).SelectMany(p => ModelReference.Forward(Case.Layers, ParametersOf(p), XOf(p), Batch)).ToArray();

        public double[] ExpectedGradients() =>
            Enumerable.Range(0, Models).SelectMany(p => ModelReference.Backward(Case.Layers, ParametersOf(p), XOf(p), DyOf(p), Batch).ParameterGradient).ToArray();

        public double[] ExpectedDx() =>
            Enumerable.Range(0, Models).SelectMany(p => ModelReference.Backward(Case.Layers, ParametersOf(p), XOf(p), DyOf(p), Batch).InputGradient).ToArray();

        public override string ToString() => $"{Case.Name} (I={I}, O={O}) P={Models} B={Batch} seed {Seed}";

        public static Problem Random(KernelCase kernelCase, int models, int batch, int seed)
        {
            var rng = new System.Random(seed);
            var parameters = new List<float>();
            for (int p = 0; p < models; p++)
                parameters.AddRange(RandomParameters(rng, kernelCase.Layers));
            var x = Uniform(rng, models * batch * kernelCase.Unit.Inputs, -2, 2);
            var dy = Uniform(rng, models * batch * kernelCase.Unit.Outputs, -1, 1);
            return new Problem(kernelCase, models, batch, seed, parameters.ToArray(), x, dy);
        }

        /// <summary>
        /// Nine edge rows per model (for one-layer cases with I = 13, O = 3): zeros, all negative, zeros mixed
        /// in, +1e4 everywhere, ±1e4 alternating, then four random rows. NAC•/NALU: output 0 has W ≈ 0.99 (so
        /// |x| = 1e4 clamps its exponent), outputs 1–2 small W (σ(M̂) = σ(−3)) so nothing else overflows float;
        /// NALU gates: G row 0 = −20, row 1 = +20 (saturated); NAC: row 0 saturated at Ŵ = M̂ = 20.
        /// </summary>
        public static Problem Edge(KernelCase kernelCase, int models, int seed)
        {
            const int batch = 9;
            var layer = kernelCase.Layers.Single();
            int i = layer.Inputs, o = layer.Outputs, w = i * o;
            var rng = new System.Random(seed);
            var parameters = new List<float>();
            for (int p = 0; p < models; p++)
            {
                var block = RandomParameters(rng, [layer]);
                if (layer.Kind is ReferenceUnitKind.NacMult or ReferenceUnitKind.Nalu)
                {
                    for (int pair = 0; pair < (layer.Untied ? 2 : 1); pair++)
                    {
                        int wHat = 2 * pair * w, mHat = wHat + w;
                        for (int k = 0; k < w; k++)
                        {
                            bool row0 = k < i;
                            if (row0)
                                block[wHat + k] = 3f;
                            block[mHat + k] = row0 ? 5f : -3f;
                        }
                    }
                }

                if (layer.Kind == ReferenceUnitKind.Nalu)
                {
                    int gate = (layer.Untied ? 4 : 2) * w;
                    for (int k = 0; k < i; k++)
                    {
                        block[gate + k] = -20f;
                        if (o > 1)
                            block[gate + i + k] = 20f;
                    }
                }

                if (layer.Kind == ReferenceUnitKind.Nmu)
                {
                    // W = 1 on every 4th input, 0 elsewhere: at most 4 factors of 1e4 (a float product of 1e16, not ∞),
                    // and x = 0 with W = 1 makes a factor exactly 0 (the backward must not divide by it).
                    for (int k = 0; k < w; k++)
                        block[k] = k % i % 4 == 0 ? 1f : k % 3 == 0 ? 0.5f : 0f;
                }

                if (layer.Kind == ReferenceUnitKind.Nac)
                {
                    for (int k = 0; k < i; k++)
                        block[k] = block[w + k] = 20f;
                }

                parameters.AddRange(block);
            }

            var x = new List<float>();
            for (int p = 0; p < models; p++)
            {
                x.AddRange(new float[i]);                                                             // x = 0
                x.AddRange(Uniform(rng, i, 0.1, 2).Select(v => -v));                                  // negative
                x.AddRange(Uniform(rng, i, -2, 2).Select((v, k) => k % 3 == 0 ? 0f : v));           // zeros mixed in
                x.AddRange(Enumerable.Repeat(1e4f, i));                                                // huge
                x.AddRange(Enumerable.Range(0, i).Select(k => k % 2 == 0 ? 1e4f : -1e4f));            // huge, mixed sign
                x.AddRange(Uniform(rng, 4 * i, -2, 2));
            }

            var dy = Uniform(rng, models * batch * o, -1, 1);
            return new Problem(kernelCase, models, batch, seed, parameters.ToArray(), x.ToArray(), dy);
        }

        private static float[] RandomParameters(System.Random rng, ReferenceLayer[] layers)
        {
            var values = new List<float>();
            foreach (var layer in layers)
            {
                int w = layer.Inputs * layer.Outputs;
                switch (layer.Kind)
                {
                    case ReferenceUnitKind.Dense:
                        values.AddRange(Uniform(rng, w, -1, 1));
                        values.AddRange(Uniform(rng, layer.Outputs, -0.5, 0.5));
                        break;
                    case ReferenceUnitKind.Npu or ReferenceUnitKind.RealNpu:
                        // Weights small enough that 13 inputs stay far from the clamp; gates inside and outside [0, 1].
                        values.AddRange(Uniform(rng, (layer.Kind == ReferenceUnitKind.Npu ? 2 : 1) * w, -0.7, 0.7));
                        values.AddRange(Uniform(rng, layer.Inputs, -0.2, 1.2));
                        break;
                    case ReferenceUnitKind.INalu:
                        values.AddRange(Uniform(rng, 4 * w, -2, 2));
                        values.AddRange(Uniform(rng, layer.Outputs, -1, 1));
                        break;
                    case ReferenceUnitKind.Nmru:
                        // W in [0, 1]; mostly near 0 or 1 on the reciprocal half, so 13 factors of up to |1/x| stay moderate.
                        values.AddRange(Uniform(rng, layer.Outputs * 2 * layer.Inputs, 0, 1).Select((v, k) => k % (2 * layer.Inputs) < layer.Inputs ? v : v * v * v * 0.3f));
                        break;
                    case ReferenceUnitKind.Nalu:
                        values.AddRange(Uniform(rng, (layer.Untied ? 4 : 2) * w, -2, 2));
                        values.AddRange(Uniform(rng, layer.InputIndependentGate ? layer.Outputs : w, -1, 1));
                        break;
                    case ReferenceUnitKind.Nau:
                        values.AddRange(Uniform(rng, w, -1, 1));    // its feasible set
                        break;
                    case ReferenceUnitKind.Nmu or ReferenceUnitKind.Snmu:
                        values.AddRange(Uniform(rng, w, 0, 1));
                        break;
                    default:
                        values.AddRange(Uniform(rng, 2 * w, -2, 2));
                        break;
                }
            }

            return values.ToArray();
        }

        private static float[] Uniform(System.Random rng, int count, double low, double high)
        {
            var values = new float[count];
            for (int k = 0; k < count; k++)
                values[k] = (float)(low + (high - low) * rng.NextDouble());
            return values;
        }

        private static double[] Widen(ReadOnlySpan<float> values)
        {
            var wide = new double[values.Length];
            for (int k = 0; k < values.Length; k++)
                wide[k] = values[k];
            return wide;
        }
    }

    /// <summary>
    /// The nine device buffers of <see cref="UnitBuffers"/>, each with exactly its documented length, zeroed.
    /// A documented length of 0 (a dense layer's cache, a NAC's saved values) is allocated as one element,
    /// as the host API does: CUDA cannot allocate zero bytes.
    /// </summary>
    private sealed class DeviceBuffers : IDisposable
    {
        public DeviceBuffers(Accelerator acc, IUnit unit, BatchShape s)
        {
            long p = s.Models, n = unit.ParameterCount, b = s.Batch;
            Parameters = Allocate(acc, p * n);
            Gradients = Allocate(acc, p * n);
            Cache = Allocate(acc, p * unit.CacheCount);
            Partials = Allocate(acc, p * s.Chunks * n);
            X = Allocate(acc, p * b * unit.Inputs);
            Dx = Allocate(acc, p * b * unit.Inputs);
            Y = Allocate(acc, p * b * unit.Outputs);
            Dy = Allocate(acc, p * b * unit.Outputs);
            Saved = Allocate(acc, p * b * unit.SavedCount);
        }

        public MemoryBuffer1D<float, Stride1D.Dense> Parameters { get; }
        public MemoryBuffer1D<float, Stride1D.Dense> Gradients { get; }
        public MemoryBuffer1D<float, Stride1D.Dense> Cache { get; }
        public MemoryBuffer1D<float, Stride1D.Dense> Partials { get; }
        public MemoryBuffer1D<float, Stride1D.Dense> X { get; }
        public MemoryBuffer1D<float, Stride1D.Dense> Dx { get; }
        public MemoryBuffer1D<float, Stride1D.Dense> Y { get; }
        public MemoryBuffer1D<float, Stride1D.Dense> Dy { get; }
        public MemoryBuffer1D<float, Stride1D.Dense> Saved { get; }

        public UnitBuffers Views => new()
        {
            Parameters = Parameters.View,
            Cache = Cache.View,
            Gradients = Gradients.View,
            Partials = Partials.View,
            X = X.View,
            Y = Y.View,
            Saved = Saved.View,
            Dy = Dy.View,
            Dx = Dx.View,
        };

        public void Upload(Problem problem)
        {
            Assert.Equal(Parameters.Length, problem.Parameters.Length);
            Assert.Equal(X.Length, problem.X.Length);
            Assert.Equal(Dy.Length, problem.Dy.Length);
            Parameters.View.CopyFromCPU(problem.Parameters);
            X.View.CopyFromCPU(problem.X);
            Dy.View.CopyFromCPU(problem.Dy);
        }

        public void Fill(MemoryBuffer1D<float, Stride1D.Dense> buffer, float value) =>
            buffer.View.CopyFromCPU(Enumerable.Repeat(value, (int)buffer.Length).ToArray());

        public float[] Download(MemoryBuffer1D<float, Stride1D.Dense> buffer) => buffer.GetAsArray1D();

        public void Dispose()
        {
            foreach (var buffer in new[] { Parameters, Gradients, Cache, Partials, X, Dx, Y, Dy, Saved })
                buffer.Dispose();
        }
    }
}
