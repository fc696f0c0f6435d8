using System.Reflection;
using Nalu.Gpu.Devices;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Kernels.Launch;
using Nalu.Gpu.Kernels.Units;
using Nalu.Gpu.Testing;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>
/// The LSTM cell (<see cref="LstmUnit"/>, <see cref="LstmReference"/>): the reference's backward against finite
/// differences (one step and a short sequence through time), the hand-written equations (gate order, forget bias), the
/// float unit on the host (accumulate/overwrite, saturation) and its kernels compiled for CUDA and OpenCL.
/// The same unit on the CPU accelerator, the native path and CUDA is in <see cref="LstmKernelTests"/>.
/// </summary>
public sealed unsafe class LstmTests(ITestOutputHelper output)
{
    /// <summary>(batch, F, H, forgetBias, seed): 1s, F = 10 (a row of 12, past one 8-wide vector), a wide H, a non-default bias.</summary>
    public static TheoryData<int, int, int, double, int> Shapes => new()
    {
        { 1, 1, 1, 1.0, 81 },
        { 2, 3, 2, 1.0, 82 },
        { 3, 10, 2, 1.0, 83 },
        { 2, 2, 5, -0.7, 84 },
    };

    // ------------------------------------------------------------------ (1) reference vs finite differences

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Reference_BackwardMatchesFiniteDifferences(int batch, int inputsPerStep, int hidden, double forgetBias, int seed)
    {
        // Random W, b, x_t, h_{t−1} and c_{t−1} (so ∂L/∂c_{t−1} = δc'·f is exercised), and r = ∂L/∂y drawn over both
        // halves of y, so the δc from the next step and the δh through tanh(c_t) both reach every gradient.
        var rng = new Random(seed);
        var parameters = FiniteDifferences.Uniform(rng, LstmReference.ParameterCount(inputsPerStep, hidden), -1, 1);
        var x = FiniteDifferences.Uniform(rng, batch * (inputsPerStep + 2 * hidden), -2, 2);
        var (gp, gx) = FiniteDifferences.Check($"LSTM B={batch} F={inputsPerStep} H={hidden} forgetBias={forgetBias}", seed, rng, parameters, x,
            (p, xx) => LstmReference.Forward(p, xx, batch, inputsPerStep, hidden, forgetBias),
            (p, xx, dy) => LstmReference.Backward(p, xx, dy, batch, inputsPerStep, hidden, forgetBias));

        // Every block of the gradient carries signal (a check that passes on zeros proves nothing).
        int width = inputsPerStep + hidden;
        for (int gate = 0; gate < 4; gate++)
            Assert.Contains(gp.Skip(gate * hidden * width).Take(hidden * width), v => Math.Abs(v) > 1e-3);
        Assert.Contains(gx.Where((_, j) => j % (width + hidden) >= width), v => Math.Abs(v) > 1e-3);   // ∂L/∂c_{t−1}
    }

    /// <summary>
    /// BPTT over T = 3 steps with the reference alone: the input gradient's state part <c>[∂L/∂h_{t−1}, ∂L/∂c_{t−1}]</c> is
    /// exactly the previous step's dy, as a recurrent wrapper feeds it. Checked against finite differences of the
    /// unrolled sequence for the parameters, every x_t and the initial state, with a loss on both h_T and c_T.
    /// </summary>
    [Fact]
    public void Reference_ThroughTime_MatchesFiniteDifferencesOfTheUnrolledSequence()
    {
        const int steps = 3, f = 2, h = 3, seed = 85;
        var rng = new Random(seed);
        var parameters = FiniteDifferences.Uniform(rng, LstmReference.ParameterCount(f, h), -1, 1);
        var xs = FiniteDifferences.Uniform(rng, steps * f, -2, 2);
        var state0 = FiniteDifferences.Uniform(rng, 2 * h, -1, 1);
        var r = FiniteDifferences.Uniform(rng, 2 * h, -1, 1);

        var (gp, gxs, gState0) = Bptt(parameters, xs, state0, r, steps, f, h);
        string what = $"LSTM through {steps} steps (seed {seed})";
        FiniteDifferences.CompareGradient($"{what}: ∂L/∂parameters", parameters, gp,
            p => FiniteDifferences.Loss(Unroll(p, xs, state0, steps, f, h), r));
        FiniteDifferences.CompareGradient($"{what}: ∂L/∂x", xs, gxs,
            xx => FiniteDifferences.Loss(Unroll(parameters, xx, state0, steps, f, h), r));
        FiniteDifferences.CompareGradient($"{what}: ∂L/∂[h_0, c_0]", state0, gState0,
            s => FiniteDifferences.Loss(Unroll(parameters, xs, s, steps, f, h), r));
        Assert.Contains(gxs.Take(f), v => Math.Abs(v) > 1e-4);   // the first step's input still reaches the loss
    }

    /// <summary>
    /// The equations written out for F = 1, H = 1, so the parameter layout (rows i, f, g, o, then b in the same order),
    /// the place of the constant forget bias (inside f only) and the input layout <c>[x, h, c]</c> are pinned to
    /// PyTorch's LSTMCell, which a finite-difference check alone cannot see. Reference and float unit alike.
    /// </summary>
    [Fact]
    public void GateOrderAndForgetBias_MatchTheEquationsWrittenOut()
    {
        // W rows [w_x, w_h] for i, f, g, o; then b_i, b_f, b_g, b_o.
        double[] p = [0.5, -0.25, 0.1, 0.2, -0.3, 0.4, 0.7, -0.6, 0.1, -0.2, 0.3, -0.4];
        double[] z = [0.8, -0.5, 1.5];   // x_t, h_{t−1}, c_{t−1}
        const double forgetBias = 1;
        static double Sigma(double v) => 1 / (1 + Math.Exp(-v));
        double i = Sigma(0.5 * 0.8 + -0.25 * -0.5 + 0.1);
        double f = Sigma(0.1 * 0.8 + 0.2 * -0.5 - 0.2 + forgetBias);
        double g = Math.Tanh(-0.3 * 0.8 + 0.4 * -0.5 + 0.3);
        double o = Sigma(0.7 * 0.8 + -0.6 * -0.5 - 0.4);
        double c = f * 1.5 + i * g;
        double[] expected = [o * Math.Tanh(c), c];

        Tolerance.AssertClose(expected, LstmReference.Forward(p, z, 1, 1, 1, forgetBias), (1e-12, 1e-12), "reference [h_t, c_t]");
        var (y, _, _, _) = RunHost(new LstmUnit(1, 1, (float)forgetBias), ToFloat(p), ToFloat(z), new float[2]);
        Tolerance.AssertClose(expected, y, Tolerance.Values, "float unit [h_t, c_t]");
    }

    /// <summary>The constant forget bias β is b_f shifted by β, and nothing else: the reference and the unit with β equal both with β = 0 and b_f + β.</summary>
    [Fact]
    public void ForgetBias_EqualsShiftingTheForgetGatesBias()
    {
        const int f = 3, h = 2, seed = 86;
        const float beta = 1.75f;
        var rng = new Random(seed);
        var p = FiniteDifferences.Uniform(rng, LstmReference.ParameterCount(f, h), -1, 1);
        var z = FiniteDifferences.Uniform(rng, f + 2 * h, -2, 2);
        var shifted = (double[])p.Clone();
        int biasF = 4 * h * (f + h) + h;
        for (int k = 0; k < h; k++)
            shifted[biasF + k] += beta;

        var withBias = LstmReference.Forward(p, z, 1, f, h, beta);
        Tolerance.AssertClose(LstmReference.Forward(shifted, z, 1, f, h, 0), withBias, (1e-14, 1e-13), $"reference (seed {seed})");
        Assert.True(Math.Abs(withBias[h] - LstmReference.Forward(p, z, 1, f, h, 0)[h]) > 1e-3, "the forget bias changes c_t");

        var (y, _, _, _) = RunHost(new LstmUnit(f, h, beta), ToFloat(p), ToFloat(z), new float[2 * h]);
        var (y0, _, _, _) = RunHost(new LstmUnit(f, h, 0f), ToFloat(shifted), ToFloat(z), new float[2 * h]);
        Tolerance.AssertClose(withBias, y, Tolerance.Values, $"unit with forget bias {beta} (seed {seed})");
        Tolerance.AssertClose(withBias, y0, Tolerance.Values, $"unit with b_f + {beta} (seed {seed})");
        Assert.Equal(beta, new LstmUnit(f, h, beta).ForgetBias);
        Assert.Equal(1f, new LstmUnit(f, h).ForgetBias);
    }

    [Fact]
    public void Shape_FollowsTheContract()
    {
        var unit = new LstmUnit(10, 2);
        Assert.Equal(10 + 2 * 2, unit.Inputs);
        Assert.Equal(2 * 2, unit.Outputs);
        Assert.Equal(4 * 2 * 12 + 4 * 2, unit.ParameterCount);
        Assert.Equal(LstmReference.ParameterCount(10, 2), unit.ParameterCount);
        Assert.Equal(0, unit.CacheCount);
        Assert.Equal(unit.ParameterCount, unit.ElementCount);
        Assert.Equal(5 * 2, unit.SavedCount);
        Assert.True(unit.Trains(0, 0) && unit.Trains(unit.ParameterCount - 1, 1000));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LstmUnit(0, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LstmUnit(2, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LstmUnit(2, 2, float.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LstmUnit(2, 30000));
        Assert.Throws<ArgumentException>(() => LstmReference.Forward(new double[3], new double[4], 1, 2, 1));
    }

    // ------------------------------------------------------------------ (2) the float unit on the host

    /// <summary>
    /// Backward ACCUMULATES into grad (two calls from zero give exactly twice one call; from a non-zero start, the start
    /// plus the reference's gradient) and OVERWRITES dx (the same values over garbage, bit for bit); without an input
    /// gradient it leaves dx alone. The FinishGradient/Regularize/Constrain hooks change nothing.
    /// </summary>
    [Fact]
    public void Backward_AccumulatesParameterGradientsAndOverwritesDx()
    {
        const int f = 3, h = 2, seed = 87;
        var rng = new Random(seed);
        var unit = new LstmUnit(f, h);
        var p = ToFloat(FiniteDifferences.Uniform(rng, unit.ParameterCount, -1, 1));
        var z = ToFloat(FiniteDifferences.Uniform(rng, unit.Inputs, -2, 2));
        var dy = ToFloat(FiniteDifferences.Uniform(rng, unit.Outputs, -1, 1));
        var (expectedGrad, expectedDx) = LstmReference.Backward(Widen(p), Widen(z), Widen(dy), 1, f, h);

        var y = new float[unit.Outputs];
        var saved = new float[unit.SavedCount];
        var grad = new float[unit.ParameterCount];
        var dx = Enumerable.Repeat(float.NaN, unit.Inputs).ToArray();
        fixed (float* pp = p, pz = z, py = y, ps = saved, pdy = dy, pg = grad, pdx = dx)
        {
            HostMemory P = new(pp), Z = new(pz), Y = new(py), S = new(ps), DY = new(pdy), G = new(pg), DX = new(pdx);
            unit.Forward(SampleContext.Inference, P, 0, P, 0, Z, 0, Y, 0, S, 0);
            unit.Backward(SampleContext.Inference, P, 0, P, 0, Z, 0, S, 0, DY, 0, G, 0, true, DX, 0);
            Tolerance.AssertClose(expectedGrad, grad, Tolerance.Gradients, $"one backward (seed {seed}): grad");
            Tolerance.AssertClose(expectedDx, dx, Tolerance.Gradients, $"one backward (seed {seed}): dx over NaN");
            var once = (float[])grad.Clone();
            var dxOnce = (float[])dx.Clone();

            Array.Fill(dx, 777f);
            unit.Backward(SampleContext.Inference, P, 0, P, 0, Z, 0, S, 0, DY, 0, G, 0, true, DX, 0);
            Assert.Equal(once.Select(v => 2 * v), grad);
            Assert.Equal(dxOnce, dx);

            // From a non-zero start: accumulation, not overwrite.
            Array.Fill(grad, 5f);
            unit.Backward(SampleContext.Inference, P, 0, P, 0, Z, 0, S, 0, DY, 0, G, 0, true, DX, 0);
            Tolerance.AssertClose(expectedGrad.Select(v => v + 5).ToArray(), grad, Tolerance.Gradients, $"backward onto 5s (seed {seed})");

            // No input gradient asked: dx is not touched, grad still accumulates.
            Array.Fill(dx, 777f);
            Array.Clear(grad);
            unit.Backward(SampleContext.Inference, P, 0, P, 0, Z, 0, S, 0, DY, 0, G, 0, false, DX, 0);
            Assert.All(dx, v => Assert.Equal(777f, v));
            Assert.Equal(once, grad);

            // The per-element hooks are no-ops: raw gradients are final, no regulariser, no constraint.
            var before = (float[])grad.Clone();
            var parametersBefore = (float[])p.Clone();
            for (int e = 0; e < unit.ElementCount; e++)
            {
                unit.PrepareCache(e, P, 0, P, 0);
                unit.FinishGradient(e, P, 0, G, 0);
                unit.Regularize(e, 0, 1f, P, 0, G, 0);
                unit.Constrain(e, P, 0);
            }

            Assert.Equal(before, grad);
            Assert.Equal(parametersBefore, p);
        }
    }

    /// <summary>
    /// The float unit run through T = 4 steps by hand, as a recurrent wrapper runs it (output written into the next
    /// step's state, dx's state part fed back as dy), against the double BPTT of <see cref="Reference_ThroughTime_MatchesFiniteDifferencesOfTheUnrolledSequence"/>.
    /// </summary>
    [Fact]
    public void Unit_ThroughTime_MatchesTheReference()
    {
        const int steps = 4, f = 10, h = 3, seed = 88;
        var rng = new Random(seed);
        var unit = new LstmUnit(f, h);
        int inputs = unit.Inputs, outputs = unit.Outputs, sc = unit.SavedCount;
        var p = ToFloat(FiniteDifferences.Uniform(rng, unit.ParameterCount, -0.5, 0.5));
        var xs = ToFloat(FiniteDifferences.Uniform(rng, steps * f, -2, 2));
        var state0 = ToFloat(FiniteDifferences.Uniform(rng, outputs, -1, 1));
        var r = ToFloat(FiniteDifferences.Uniform(rng, outputs, -1, 1));

        // One buffer: z_0 … z_{T−1} (each [x_t, h_{t−1}, c_{t−1}]), then [h_T, c_T].
        var z = new float[steps * inputs + outputs];
        var saved = new float[steps * sc];
        var grad = new float[unit.ParameterCount];
        var dy = (float[])r.Clone();
        var dz = new float[inputs];
        var dxs = new float[steps * f];
        state0.CopyTo(z, f);
        fixed (float* pp = p, pz = z, ps = saved, pg = grad, pdy = dy, pdz = dz)
        {
            HostMemory P = new(pp), Z = new(pz), S = new(ps), G = new(pg), DY = new(pdy), DZ = new(pdz);
            for (int t = 0; t < steps; t++)
            {
                Array.Copy(xs, t * f, z, t * inputs, f);
                int next = t + 1 < steps ? (t + 1) * inputs + f : steps * inputs;
                unit.Forward(SampleContext.Inference, P, 0, P, 0, Z, t * inputs, Z, next, S, t * sc);
            }

            for (int t = steps - 1; t >= 0; t--)
            {
                unit.Backward(SampleContext.Inference, P, 0, P, 0, Z, t * inputs, S, t * sc, DY, 0, G, 0, true, DZ, 0);
                Array.Copy(dz, 0, dxs, t * f, f);
                Array.Copy(dz, f, dy, 0, outputs);
            }
        }

        var (gp, gxs, gState0) = Bptt(Widen(p), Widen(xs), Widen(state0), Widen(r), steps, f, h);
        string what = $"LSTM F={f} H={h} through {steps} steps (seed {seed})";
        Tolerance.AssertClose(Unroll(Widen(p), Widen(xs), Widen(state0), steps, f, h), z.AsSpan(steps * inputs), Tolerance.Values, $"{what}: [h_T, c_T]");
        Tolerance.AssertClose(gp, grad, Tolerance.Gradients, $"{what}: ∂L/∂parameters");
        Tolerance.AssertClose(gxs, dxs, Tolerance.Gradients, $"{what}: ∂L/∂x");
        Tolerance.AssertClose(gState0, dy, Tolerance.Gradients, $"{what}: ∂L/∂[h_0, c_0]");
    }

    /// <summary>
    /// |pre-activations| in the thousands saturate every gate (σ → 0 or 1, tanh → ±1) and c_{t−1} = ±1e4: outputs and
    /// gradients stay finite, |h| ≤ 1, and y still matches the reference.
    /// </summary>
    [Fact]
    public void SaturatedGates_StayFinite()
    {
        const int f = 4, h = 3, seed = 89;
        var rng = new Random(seed);
        var unit = new LstmUnit(f, h);
        var p = ToFloat(FiniteDifferences.Uniform(rng, unit.ParameterCount, -1, 1));
        float[] z = [1e4f, -1e4f, 3e3f, 0f, -5e3f, 8e3f, 1e4f, 1e4f, -1e4f, 0.5f];
        var dy = ToFloat(FiniteDifferences.Uniform(rng, unit.Outputs, -1, 1));
        var (y, grad, dx, _) = RunHost(unit, p, z, dy);
        Assert.All(y.Concat(grad).Concat(dx), v => Assert.True(float.IsFinite(v), $"non-finite value {v} (seed {seed})"));
        Assert.All(y.Take(h), v => Assert.InRange(v, -1f, 1f));
        Tolerance.AssertClose(LstmReference.Forward(Widen(p), Widen(z), 1, f, h), y, Tolerance.Values, $"saturated y (seed {seed})");
    }

    [Fact]
    public void AMismatchedForgetBiasFailsTheUnitCheck()
    {
        // Power check: the reference with forget bias 0 against the unit with 1 is caught by the tolerances of (3).
        using var device = NaluDevice.Create(DeviceKind.Native);
        var rng = new Random(90);
        var unit = new LstmUnit(2, 2);
        var p = ToFloat(FiniteDifferences.Uniform(rng, unit.ParameterCount, -1, 1));
        var x = ToFloat(FiniteDifferences.Uniform(rng, 3 * unit.Inputs, -2, 2));
        Assert.Throws<UnitCheckException>(() => UnitChecks.KernelMatchesReference(device, unit, p, x, 3,
            (pp, xx) => LstmReference.Forward(pp, xx, 3, 2, 2, 0),
            (pp, xx, dy) => LstmReference.Backward(pp, xx, dy, 3, 2, 2, 0)));
    }

    // ------------------------------------------------------------------ (4) compile-only

    public static TheoryData<string, string> CompileCases()
    {
        var data = new TheoryData<string, string>();
        foreach (var kernel in new[] { nameof(UnitKernels.Forward), nameof(UnitKernels.Backward), nameof(UnitKernels.FinishGradients) })
        {
            foreach (var backend in UnitChecks.Backends)
                data.Add(kernel, backend);
        }

        return data;
    }

    /// <summary>The batched kernels over <see cref="LstmUnit"/> build for CUDA (PTX) and OpenCL C without a device, each in a fresh context.</summary>
    [Theory]
    [MemberData(nameof(CompileCases))]
    public void BatchedKernels_CompileForCudaAndOpenCL(string kernel, string backend)
    {
        var method = typeof(UnitKernels).GetMethod(kernel, BindingFlags.Public | BindingFlags.Static)!.MakeGenericMethod(typeof(LstmUnit));
        string code = UnitChecks.Compile(method, backend);
        Assert.Contains(backend.StartsWith("PTX", StringComparison.Ordinal) ? ".entry" : "kernel", code, StringComparison.Ordinal);
        output.WriteLine($"UnitKernels.{kernel}<LstmUnit> → {backend}: {code.Length} characters");
    }

    /// <summary>The fused training and evaluation kernels over <see cref="LstmUnit"/> build for PTX sm_75, sm_90 and OpenCL C 2.0.</summary>
    [Fact]
    public void FusedKernels_CompileForCudaAndOpenCL()
    {
        var code = UnitChecks.CompileFused<LstmUnit>();
        Assert.Equal(2 * UnitChecks.Backends.Count, code.Count);
        foreach (var (name, text) in code)
            output.WriteLine($"{name}: {text.Length} characters");
    }

    // ------------------------------------------------------------------ helpers

    /// <summary>The state <c>[h_T, c_T]</c> after T steps of the reference from <paramref name="state0"/>.</summary>
    private static double[] Unroll(double[] parameters, double[] xs, double[] state0, int steps, int f, int h)
    {
        var state = state0;
        for (int t = 0; t < steps; t++)
            state = LstmReference.Forward(parameters, [.. xs.AsSpan(t * f, f), .. state], 1, f, h);
        return state;
    }

    /// <summary>BPTT with the reference for <c>L = r·[h_T, c_T]</c>: (∂L/∂parameters, ∂L/∂x (T·F), ∂L/∂[h_0, c_0]).</summary>
    private static (double[] Parameters, double[] Xs, double[] State0) Bptt(double[] parameters, double[] xs, double[] state0, double[] r, int steps, int f, int h)
    {
        var inputs = new double[steps][];
        var state = state0;
        for (int t = 0; t < steps; t++)
        {
            inputs[t] = [.. xs.AsSpan(t * f, f), .. state];
            state = LstmReference.Forward(parameters, inputs[t], 1, f, h);
        }

        var gp = new double[parameters.Length];
        var gxs = new double[steps * f];
        var dy = r;
        for (int t = steps - 1; t >= 0; t--)
        {
            var (g, dz) = LstmReference.Backward(parameters, inputs[t], dy, 1, f, h);
            for (int j = 0; j < g.Length; j++)
                gp[j] += g[j];
            Array.Copy(dz, 0, gxs, t * f, f);
            dy = dz[f..];
        }

        return (gp, gxs, dy);
    }

    /// <summary>Forward then Backward (with dx) of one sample on the host over pinned arrays: (y, grad from zero, dx, saved).</summary>
    private static (float[] Y, float[] Grad, float[] Dx, float[] Saved) RunHost(LstmUnit unit, float[] p, float[] z, float[] dy)
    {
        var y = new float[unit.Outputs];
        var saved = new float[unit.SavedCount];
        var grad = new float[unit.ParameterCount];
        var dx = new float[unit.Inputs];
        fixed (float* pp = p, pz = z, py = y, ps = saved, pdy = dy, pg = grad, pdx = dx)
        {
            HostMemory P = new(pp), Z = new(pz), Y = new(py), S = new(ps), DY = new(pdy), G = new(pg), DX = new(pdx);
            unit.Forward(SampleContext.Inference, P, 0, P, 0, Z, 0, Y, 0, S, 0);
            unit.Backward(SampleContext.Inference, P, 0, P, 0, Z, 0, S, 0, DY, 0, G, 0, true, DX, 0);
        }

        return (y, grad, dx, saved);
    }

    private static float[] ToFloat(double[] values) => values.Select(v => (float)v).ToArray();

    private static double[] Widen(float[] values) => HostData.Widen(values);
}

public sealed class CpuLstmKernelTests(CpuFixture fixture) : LstmKernelTests(fixture), IClassFixture<CpuFixture>;

/// <summary>The native path: the unit's own methods over <see cref="HostMemory"/> (pinned arrays, 256-bit SIMD in Dot/AddScaled).</summary>
public sealed class NativeLstmKernelTests(NativeFixture fixture) : LstmKernelTests(fixture), IClassFixture<NativeFixture>;

public sealed class CudaLstmKernelTests(CudaFixture fixture) : LstmKernelTests(fixture), IClassFixture<CudaFixture>
{
    // tanh.approx and ex2.approx inside every gate (see CudaUnitKernelTests).
    protected override (double Atol, double Rtol) ValueTolerance => CudaUnitKernelTests.CudaValues;
    protected override (double Atol, double Rtol) GradientTolerance => CudaUnitKernelTests.CudaGradients;
}

/// <summary>
/// (3) <see cref="LstmUnit"/> run by the library's batched kernels (cache, forward, backward in 3 chunks, chunk
/// reduction, finish) on each backend fixture, or by the native path's host loop, against <see cref="LstmReference"/>:
/// y, ∂L/∂parameters and ∂L/∂x for populations of 1–3 models, dy random over both halves.
/// </summary>
public abstract class LstmKernelTests(DeviceFixture fixture)
{
    protected virtual (double Atol, double Rtol) ValueTolerance => Tolerance.Values;
    protected virtual (double Atol, double Rtol) GradientTolerance => Tolerance.Gradients;

    /// <summary>(batch, F, H, models, forgetBias): 1s; a batch that 3 chunks do not divide; F + H = 16, two full 8-wide vectors.</summary>
    public static TheoryData<int, int, int, int, float> Cases => new()
    {
        { 1, 1, 1, 1, 1f },
        { 7, 3, 2, 2, 1f },
        { 5, 10, 2, 3, 0.5f },
        { 4, 13, 3, 1, 1f },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void UnitMatchesTheReference(int batch, int inputsPerStep, int hidden, int models, float forgetBias)
    {
        var device = fixture.Device;
        int seed = 9100 + 1000 * batch + 100 * inputsPerStep + 10 * hidden + models;
        var rng = new Random(seed);
        var unit = new LstmUnit(inputsPerStep, hidden, forgetBias);
        var p = Enumerable.Range(0, models * unit.ParameterCount).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var x = Enumerable.Range(0, models * batch * unit.Inputs).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
        UnitChecks.KernelMatchesReference(device, unit, p, x, batch,
            (pp, xx) => LstmReference.Forward(pp, xx, batch, inputsPerStep, hidden, forgetBias),
            (pp, xx, dy) => LstmReference.Backward(pp, xx, dy, batch, inputsPerStep, hidden, forgetBias),
            seed, ValueTolerance, GradientTolerance);
    }
}
