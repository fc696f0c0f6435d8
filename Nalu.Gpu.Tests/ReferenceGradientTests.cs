using Nalu.Gpu.Kernels.Units;
using Xunit;
using Nalu.Gpu.Models;

namespace Nalu.Gpu.Tests;

/// <summary>
/// First layer of truth: every reference backward against central finite differences, in double, for a
/// scalar loss <c>L = Σ y·r</c> with random r (so ∂L/∂y = r), both parameter and input gradients.
/// </summary>
public sealed class ReferenceGradientTests
{
    private const double Step = 1e-6;

    // |analytic − finite difference| ≤ Atol·(1 + Σ|y·r|·1e-3) + Rtol·max(|analytic|, |fd|). The loss-scaled
    // part covers the round-off of the differenced loss, ≈ 1e-16·Σ|y·r|/h.
    private const double Atol = 1e-6;
    private const double Rtol = 1e-5;

    public static TheoryData<int, int, int, int> Shapes => new()
    {
        { 1, 1, 1, 11 },
        { 5, 4, 3, 12 },
        { 7, 13, 3, 13 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Nac_BackwardMatchesFiniteDifferences(int batch, int inputs, int outputs, int seed)
    {
        var rng = new Random(seed);
        var parameters = Uniform(rng, NacReference.ParameterCount(inputs, outputs), -2, 2);
        var x = Uniform(rng, batch * inputs, -2, 2);
        Check(
            $"NAC B={batch} I={inputs} O={outputs}", seed, rng, parameters, x,
            (p, xx) => NacReference.Forward(p, xx, batch, inputs, outputs),
            (p, xx, dy) => NacReference.Backward(p, xx, dy, batch, inputs, outputs));
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void NacMult_BackwardMatchesFiniteDifferences(int batch, int inputs, int outputs, int seed)
    {
        var rng = new Random(seed);
        var parameters = Uniform(rng, NacMultReference.ParameterCount(inputs, outputs), -2, 2);
        var x = AwayFromZero(rng, batch * inputs);
        if (x.Length > 1)
            x[^1] = 0; // sign(0) = 0: the central difference of log(|x|+ε) at 0 is exactly 0 too.
        Check(
            $"NAC• B={batch} I={inputs} O={outputs}", seed, rng, parameters, x,
            (p, xx) => NacMultReference.Forward(p, xx, batch, inputs, outputs),
            (p, xx, dy) => NacMultReference.Backward(p, xx, dy, batch, inputs, outputs));
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Nau_BackwardMatchesFiniteDifferences(int batch, int inputs, int outputs, int seed)
    {
        var rng = new Random(seed);
        var parameters = Uniform(rng, NauReference.ParameterCount(inputs, outputs), -1, 1);
        var x = Uniform(rng, batch * inputs, -2, 2);
        Check(
            $"NAU B={batch} I={inputs} O={outputs}", seed, rng, parameters, x,
            (p, xx) => NauReference.Forward(p, xx, batch, inputs, outputs),
            (p, xx, dy) => NauReference.Backward(p, xx, dy, batch, inputs, outputs));
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Nmu_BackwardMatchesFiniteDifferences(int batch, int inputs, int outputs, int seed)
    {
        var rng = new Random(seed);
        var parameters = Uniform(rng, NmuReference.ParameterCount(inputs, outputs), 0, 1);
        var x = Uniform(rng, batch * inputs, -2, 3);
        Check(
            $"NMU B={batch} I={inputs} O={outputs}", seed, rng, parameters, x,
            (p, xx) => NmuReference.Forward(p, xx, batch, inputs, outputs),
            (p, xx, dy) => NmuReference.Backward(p, xx, dy, batch, inputs, outputs));
    }

    [Fact]
    public void Nmu_ZeroFactorGivesFiniteExactGradients()
    {
        // Output 0: W = 1 on x0 = 0, so its factor is exactly 0 and z = 0; the other factors are 1.5 and 1.6.
        // Output 1: no zero factor. A backward that divided z by the factor would give 0/0 here.
        double[] w = [1, 0.5, 0.3, 0.2, 0.7, 0.9];
        double[] x = [0, 2, 3];
        var y = NmuReference.Forward(w, x, 1, 3, 2);
        Assert.Equal(0, y[0]);
        var (gw, gx) = NmuReference.Backward(w, x, [1.0, 0.0], 1, 3, 2);
        Assert.All(gw, g => Assert.True(double.IsFinite(g)));
        Assert.All(gx, g => Assert.True(double.IsFinite(g)));
        Assert.Equal(-1 * 1.5 * 1.6, gw[0], 12);   // (x0 − 1)·f1·f2
        Assert.Equal(0, gw[1]);                     // (x1 − 1)·f0·f2, f0 = 0
        Assert.Equal(0, gw[2]);
        Assert.Equal(1 * 1.5 * 1.6, gx[0], 12);     // W0·f1·f2
        Assert.Equal(0, gx[1]);
        Assert.Equal(0, gx[2]);

        // And the finite differences agree (the product is a polynomial: smooth through the zero).
        var rng = new Random(302);
        Check("NMU zero factor", 302, rng, w, x,
            (p, xx) => NmuReference.Forward(p, xx, 1, 3, 2),
            (p, xx, dy) => NmuReference.Backward(p, xx, dy, 1, 3, 2));
    }

    public static TheoryData<bool, int> Regularizers => new() { { false, 400 }, { true, 401 } };

    [Theory]
    [MemberData(nameof(Regularizers))]
    public void Sparsity_GradientMatchesFiniteDifferencesOfLambdaTimesMeanPenalty(bool squared, int seed)
    {
        // λ̂ = 10 ramped over steps 100→300; at step 250 λ = 7.5.
        var settings = RegularizerSettings.Sparsity(10f, 100, 300, squared);
        const int step = 250;
        var rng = new Random(seed);
        // W in [−1, 1] away from the linear shape's kinks at 0 and ±½.
        var w = Uniform(rng, 23, -1, 1).Select(v => Math.Abs(Math.Abs(v) - 0.5) < 0.02 || Math.Abs(v) < 0.02 ? v + 0.05 : v).ToArray();
        var analytic = SparsityReference.Gradient(settings, step, w);
        CompareWithFiniteDifferences($"sparsity squared={squared} (seed {seed})", w, analytic, p => SparsityReference.Loss(settings, step, p), mayHaveKinks: false);

        // The float code the units run (RegularizerSettings) gives the same gradient and penalty.
        float lambda = settings.StrengthAt(step);
        Assert.Equal(7.5f, lambda);
        for (int k = 0; k < w.Length; k++)
        {
            Assert.Equal(analytic[k], lambda * settings.PenaltyDerivative((float)w[k]) / w.Length, 5);
            Assert.Equal(SparsityReference.Penalty(squared, w[k]), settings.Penalty((float)w[k]), 5);
        }
    }

    [Fact]
    public void Sparsity_StrengthAtStartMidpointAndEnd()
    {
        var r = RegularizerSettings.Sparsity(10f, 1000, 3000);
        Assert.Equal(0f, r.StrengthAt(0));
        Assert.Equal(0f, r.StrengthAt(999));
        Assert.Equal(0f, r.StrengthAt(1000));   // the ramp starts at 0
        Assert.Equal(5f, r.StrengthAt(2000));   // midpoint
        Assert.Equal(10f, r.StrengthAt(3000));  // end
        Assert.Equal(10f, r.StrengthAt(int.MaxValue));
        foreach (int step in new[] { 0, 999, 1000, 1500, 2000, 2999, 3000, 5000 })
            Assert.Equal(SparsityReference.Strength(10, 1000, 3000, step), r.StrengthAt(step), 5);
        // start = end: a step function at start.
        var jump = RegularizerSettings.Sparsity(2f, 50, 50);
        Assert.Equal(0f, jump.StrengthAt(49));
        Assert.Equal(2f, jump.StrengthAt(50));
    }

    public static TheoryData<bool, int, int, int, int> NaluShapes => new()
    {
        { false, 1, 1, 1, 21 },
        { false, 5, 4, 3, 22 },
        { false, 7, 13, 3, 23 },
        { true, 1, 1, 1, 24 },
        { true, 5, 4, 3, 25 },
        { true, 7, 13, 3, 26 },
    };

    [Theory]
    [MemberData(nameof(NaluShapes))]
    public void Nalu_BackwardMatchesFiniteDifferences(bool untied, int batch, int inputs, int outputs, int seed)
    {
        var rng = new Random(seed);
        var parameters = Uniform(rng, NaluReference.ParameterCount(inputs, outputs, untied), -2, 2);
        // No exact zero here: at x = 0 the log path jumps on the scale of ε, so the gate's product with m
        // sees m(±h) ≠ m(0) and a difference quotient cannot see the one-sided derivative; the zero-input
        // convention is checked directly in LogPath_PassesNoInputGradientIntoAnExactZero.
        var x = AwayFromZero(rng, batch * inputs);
        Check(
            $"NALU untied={untied} B={batch} I={inputs} O={outputs}", seed, rng, parameters, x,
            (p, xx) => NaluReference.Forward(p, xx, batch, inputs, outputs, untied),
            (p, xx, dy) => NaluReference.Backward(p, xx, dy, batch, inputs, outputs, untied));
    }

    public static TheoryData<ReferenceActivation> Activations
    {
        get
        {
            var data = new TheoryData<ReferenceActivation>();
            foreach (var a in Enum.GetValues<ReferenceActivation>())
                data.Add(a);
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Activations))]
    public void Dense_BackwardMatchesFiniteDifferences(ReferenceActivation activation)
    {
        const int batch = 6, inputs = 5, outputs = 4;
        int seed = 100 + (int)activation;
        var rng = new Random(seed);
        var parameters = Uniform(rng, DenseReference.ParameterCount(inputs, outputs), -1.5, 1.5);
        // Wide inputs so ReLU6 and hardtanh see both their flat and their linear parts.
        var x = Uniform(rng, batch * inputs, -3, 3);
        Check(
            $"Dense<{activation}>", seed, rng, parameters, x,
            (p, xx) => DenseReference.Forward(p, xx, batch, inputs, outputs, activation),
            (p, xx, dy) => DenseReference.Backward(p, xx, dy, batch, inputs, outputs, activation),
            mayHaveKinks: DenseReference.Kinks(activation).Length > 0);
    }

    [Fact]
    public void Dense_DerivativeAtKinksIsPyTorchs()
    {
        Assert.Equal(0, DenseReference.Derivative(ReferenceActivation.Relu, 0));
        Assert.Equal(0, DenseReference.Derivative(ReferenceActivation.Relu6, 0));
        Assert.Equal(0, DenseReference.Derivative(ReferenceActivation.Relu6, 6));
        Assert.Equal(0.01, DenseReference.Derivative(ReferenceActivation.LeakyRelu, 0));
        Assert.Equal(0, DenseReference.Derivative(ReferenceActivation.Hardtanh, 1));
        Assert.Equal(0, DenseReference.Derivative(ReferenceActivation.Hardtanh, -1));
        Assert.Equal(1.0507009873554805 * 1.6732632423543772, DenseReference.Derivative(ReferenceActivation.Selu, 0), 15);
        Assert.Equal(Math.Log(2), DenseReference.Apply(ReferenceActivation.Softplus, 0), 15);
        Assert.Equal(1000, DenseReference.Apply(ReferenceActivation.Softplus, 1000), 12);
    }

    public static TheoryData<string> Models => new() { "NaluUntied-Dense<Tanh>-Nac", "NacMult-Dense<Relu>-Nalu", "Dense<Selu>-Nac-NacMult", "Nau-Nmu" };

    [Theory]
    [MemberData(nameof(Models))]
    public void Model_BackwardMatchesFiniteDifferences(string model)
    {
        const int batch = 5;
        ReferenceLayer[] layers = model switch
        {
            "NaluUntied-Dense<Tanh>-Nac" =>
                [ReferenceLayer.Nalu(4, 3, untied: true), ReferenceLayer.Dense(3, 5, ReferenceActivation.Tanh), ReferenceLayer.Nac(5, 2)],
            "NacMult-Dense<Relu>-Nalu" =>
                [ReferenceLayer.NacMult(3, 4), ReferenceLayer.Dense(4, 4, ReferenceActivation.Relu), ReferenceLayer.Nalu(4, 2)],
            "Nau-Nmu" => [ReferenceLayer.Nau(4, 3), ReferenceLayer.Nmu(3, 2)],
            _ => [ReferenceLayer.Dense(3, 4, ReferenceActivation.Selu), ReferenceLayer.Nac(4, 3), ReferenceLayer.NacMult(3, 2)],
        };
        int seed = 200 + model.Length;
        var rng = new Random(seed);
        var parameters = Uniform(rng, ModelReference.ParameterCount(layers), -1.5, 1.5);
        var x = AwayFromZero(rng, batch * layers[0].Inputs);
        Check(
            $"Model {string.Join(" → ", layers)}", seed, rng, parameters, x,
            (p, xx) => ModelReference.Forward(layers, p, xx, batch),
            (p, xx, dy) => ModelReference.Backward(layers, p, xx, dy, batch),
            mayHaveKinks: true);
    }

    [Fact]
    public void Model_OfOneLayerIsThatLayer()
    {
        var rng = new Random(300);
        var layer = ReferenceLayer.Nalu(3, 2, untied: true);
        var parameters = Uniform(rng, layer.ParameterCount, -2, 2);
        var x = Uniform(rng, 4 * 3, -2, 2);
        var dy = Uniform(rng, 4 * 2, -1, 1);
        Assert.Equal(NaluReference.Forward(parameters, x, 4, 3, 2, untied: true), ModelReference.Forward([layer], parameters, x, 4));
        var (gp, gx) = ModelReference.Backward([layer], parameters, x, dy, 4);
        var (rp, rx) = NaluReference.Backward(parameters, x, dy, 4, 3, 2, untied: true);
        Assert.Equal(rp, gp);
        Assert.Equal(rx, gx);
    }

    [Fact]
    public void Model_RejectsLayersThatDoNotChain()
    {
        ReferenceLayer[] layers = [ReferenceLayer.Nac(2, 3), ReferenceLayer.Nac(2, 1)];
        var ex = Assert.Throws<ArgumentException>(() => ModelReference.Forward(layers, new double[ModelReference.ParameterCount(layers)], new double[2], 1));
        Assert.Contains("do not chain", ex.Message);
    }

    [Fact]
    public void NacMult_ClampedExponentPassesNoGradient()
    {
        // W ≈ 0.988 on both inputs and |x| = 1e20: z ≈ 2·0.988·46.05 ≈ 91 ≥ 88, so y = e^88 exactly.
        double[] parameters = [3, 3, 5, 5];
        double[] x = [1e20, -1e20];
        var y = NacMultReference.Forward(parameters, x, 1, 2, 1);
        Assert.Equal(Math.Exp(88), y[0]);

        var (gp, gx) = NacMultReference.Backward(parameters, x, [1.0], 1, 2, 1);
        Assert.All(gp, g => Assert.Equal(0, g));
        Assert.All(gx, g => Assert.Equal(0, g));

        // The clamp is flat, so the finite differences agree exactly.
        var rng = new Random(301);
        Check("NAC• clamped", 301, rng, parameters, [1e20, -1e20],
            (p, xx) => NacMultReference.Forward(p, xx, 1, 2, 1),
            (p, xx, dy) => NacMultReference.Backward(p, xx, dy, 1, 2, 1));
    }

    [Fact]
    public void Nalu_ClampedExponentPassesNoGradientThroughTheMultiplicativePath()
    {
        // Untied, I = 2, O = 2. Output 0: Wm ≈ 0.988 and |x| = 1e20, so its exponent clamps; output 1: small Wm.
        const int n = 4;
        var p = new double[5 * n];
        double[] wHatA = [0.3, -0.2, 0.5, 0.1], mHatA = [1, 1, 1, 1];
        double[] wHatM = [3, 3, 0.5, -0.5], mHatM = [5, 5, -3, -3];
        double[] gate = [1e-20, 0.5e-20, 2e-20, 1e-20]; // x·G = 0.5 and 1: moderate gates, both paths live.
        wHatA.CopyTo(p, 0);
        mHatA.CopyTo(p, n);
        wHatM.CopyTo(p, 2 * n);
        mHatM.CopyTo(p, 3 * n);
        gate.CopyTo(p, 4 * n);
        double[] x = [1e20, -1e20];
        var (gp, _) = NaluReference.Backward(p, x, [1.0, 1.0], 1, 2, 2, untied: true);

        // Ŵm, M̂m row 0 (output 0): exactly zero. Row 1: not clamped, so non-zero.
        Assert.Equal(0, gp[2 * n + 0]);
        Assert.Equal(0, gp[2 * n + 1]);
        Assert.Equal(0, gp[3 * n + 0]);
        Assert.Equal(0, gp[3 * n + 1]);
        Assert.NotEqual(0, gp[2 * n + 2]);
        // The additive path and the gate still learn from output 0.
        Assert.NotEqual(0, gp[0]);
        Assert.NotEqual(0, gp[4 * n]);
        Assert.All(NaluReference.Forward(p, x, 1, 2, 2, untied: true), v => Assert.True(double.IsFinite(v)));
    }

    [Fact]
    public void LogPath_PassesNoInputGradientIntoAnExactZero()
    {
        double[] parameters = [0.7, -0.4, 0.2, 1.1]; // NAC•, I = 2, O = 1
        double[] x = [0, 1.5];
        var (_, gx) = NacMultReference.Backward(parameters, x, [1.0], 1, 2, 1);
        Assert.Equal(0, gx[0]);
        Assert.NotEqual(0, gx[1]);
        double[] nalu = [0.7, -0.4, 0.2, 1.1, 0.3, 0.3]; // tied NALU, I = 2, O = 1: dx at 0 is the a and gate parts only
        var (_, nx) = NaluReference.Backward(nalu, x, [1.0], 1, 2, 1);
        double g = 1 / (1 + Math.Exp(-0.45));
        double w0 = Math.Tanh(0.7) / (1 + Math.Exp(-0.2));
        double m = Math.Exp(w0 * Math.Log(1e-7) + Math.Tanh(-0.4) / (1 + Math.Exp(-1.1)) * Math.Log(1.5 + 1e-7));
        double a = w0 * 0 + Math.Tanh(-0.4) / (1 + Math.Exp(-1.1)) * 1.5;
        Assert.Equal(g * w0 + (a - m) * g * (1 - g) * 0.3, nx[0], 12);
    }

    public static TheoryData<string, int> TinyCases => new()
    {
        { "NacMult", 41 }, { "Nalu", 42 }, { "NaluUntied", 43 }, { "NacMult", 44 },
    };

    /// <summary>
    /// |x| between 1e-8 and 1e-6, where the ε = 1e-7 of log(|x|+ε) and of its derivative sign(x)/(|x|+ε) decides the
    /// value: at |x| = 1e-7 dropping ε doubles the derivative, at 1e-8 multiplies it by 11. The input's step is relative
    /// to |x| + ε (a step of 1e-6 would jump across the whole region), so the central difference stays accurate to
    /// ≈ (h/(|x|+ε))²/3 ≈ 3e-7 relative.
    /// </summary>
    [Theory]
    [MemberData(nameof(TinyCases))]
    public void TinyInputs_BackwardMatchesFiniteDifferences(string unit, int seed)
    {
        const int batch = 3, inputs = 3, outputs = 2;
        var rng = new Random(seed);
        bool untied = unit == "NaluUntied";
        int count = unit == "NacMult" ? NacMultReference.ParameterCount(inputs, outputs) : NaluReference.ParameterCount(inputs, outputs, untied);
        var parameters = Uniform(rng, count, -2, 2);
        var x = TinyValues(rng, batch * inputs);
        Func<double[], double[], double[]> forward = unit == "NacMult"
            ? (p, xx) => NacMultReference.Forward(p, xx, batch, inputs, outputs)
            : (p, xx) => NaluReference.Forward(p, xx, batch, inputs, outputs, untied);
        Func<double[], double[], double[], (double[], double[])> backward = unit == "NacMult"
            ? (p, xx, dy) => NacMultReference.Backward(p, xx, dy, batch, inputs, outputs)
            : (p, xx, dy) => NaluReference.Backward(p, xx, dy, batch, inputs, outputs, untied);
        var r = Uniform(rng, batch * outputs, -1, 1);
        var (gp, gx) = backward(parameters, x, r);
        double l0 = Loss(forward(parameters, x), r);

        var bad = new List<string>();
        void Compare(string what, double[] point, double[] analytic, Func<double[], double> loss, Func<double, double> step)
        {
            var probe = (double[])point.Clone();
            for (int j = 0; j < point.Length; j++)
            {
                double h = step(point[j]);
                probe[j] = point[j] + h;
                double plus = loss(probe);
                probe[j] = point[j] - h;
                double minus = loss(probe);
                probe[j] = point[j];
                double fd = (plus - minus) / (2 * h);
                // Round-off of the differenced loss is ≈ 1e-16·|L|/h; 1e-9·|L|/h leaves a wide margin.
                double limit = 1e-9 * Math.Abs(l0) / h + 1e-5 * Math.Max(Math.Abs(fd), Math.Abs(analytic[j]));
                if (!(Math.Abs(fd - analytic[j]) <= limit) && bad.Count < 8)
                    bad.Add($"{what}[{j}] at {point[j]:G3}: analytic {analytic[j]:G12}, finite difference {fd:G12} (limit {limit:G3})");
            }
        }

        Compare("∂L/∂x", x, gx, xx => Loss(forward(parameters, xx), r), v => 1e-3 * (Math.Abs(v) + 1e-7));
        Compare("∂L/∂parameters", parameters, gp, p => Loss(forward(p, x), r), _ => 1e-6);
        Assert.True(bad.Count == 0, $"{unit} with |x| in [1e-8, 1e-6] (seed {seed}):\n  " + string.Join("\n  ", bad));
    }

    /// <summary>
    /// The exponent clamp at 88 ± δ: NAC• I = 2, O = 1, W ≈ 0.9845 on both inputs and x chosen so that
    /// z = 2·W·log(x + ε) is 88 − 0.01 (smooth: y = e^z, finite differences hold, the gradient is not zero) or
    /// 88 + 0.01 (clamped: y = e^88 and no gradient at all).
    /// </summary>
    [Theory]
    [InlineData(-0.01)]
    [InlineData(0.01)]
    public void NacMult_ExponentJustBelowAndAboveTheClamp(double delta)
    {
        double[] parameters = [3, 3, 5, 5];
        double w = Math.Tanh(3) / (1 + Math.Exp(-5));
        double z = 88 + delta;
        double xValue = Math.Exp(z / (2 * w)) - 1e-7;
        double[] x = [xValue, xValue];
        var y = NacMultReference.Forward(parameters, x, 1, 2, 1);
        var (gp, gx) = NacMultReference.Backward(parameters, x, [1.0], 1, 2, 1);
        if (delta < 0)
        {
            Assert.Equal(Math.Exp(z), y[0], Math.Exp(z) * 1e-12);
            Assert.All(gp, g => Assert.NotEqual(0, g));
            Assert.All(gx, g => Assert.NotEqual(0, g));
        }
        else
        {
            Assert.Equal(Math.Exp(88), y[0]);
            Assert.All(gp, g => Assert.Equal(0, g));
            Assert.All(gx, g => Assert.Equal(0, g));
        }

        // Steps of 1e-6 move z by ≤ 1e-4, far from the clamp, so the difference quotient sees one side only.
        Check($"NAC• at z = 88 {delta:+0.00;-0.00}", 302, new Random(302), parameters, x,
            (p, xx) => NacMultReference.Forward(p, xx, 1, 2, 1),
            (p, xx, dy) => NacMultReference.Backward(p, xx, dy, 1, 2, 1));
    }

    [Fact]
    public void LogAbsDerivative_KeepsItsEpsilon()
    {
        // The scalar definitions themselves, float and double, at and around |x| = ε.
        foreach (double v in new[] { 1e-8, 1e-7, 1e-6 })
        {
            Assert.Equal(1 / (v + 1e-7), ReferenceMath.LogAbsDerivative(v), 1e-9 / v);
            Assert.Equal(-1 / (v + 1e-7), ReferenceMath.LogAbsDerivative(-v), 1e-9 / v);
            Assert.Equal(1 / (v + 1e-7), Nalu.Gpu.Kernels.UnitMath.LogAbsDerivative((float)v), 1e-5 / (v + 1e-7));
            Assert.Equal(Math.Log(v + 1e-7), ReferenceMath.LogAbs([v])[0], 1e-12);
            Assert.Equal(Math.Log(v + 1e-7), Nalu.Gpu.Kernels.UnitMath.LogAbs((float)v), 1e-5);
        }
    }

    /// <summary>|x| = 10^U(−8, −6) with a random sign.</summary>
    internal static double[] TinyValues(Random rng, int count)
    {
        var values = new double[count];
        for (int k = 0; k < count; k++)
            values[k] = Math.Pow(10, -8 + 2 * rng.NextDouble()) * (rng.Next(2) == 0 ? -1 : 1);
        return values;
    }

    [Fact]
    public void References_RejectWrongLengths()
    {
        Assert.Throws<ArgumentException>(() => NacReference.Forward(new double[3], new double[2], 1, 2, 1));
        Assert.Throws<ArgumentException>(() => NaluReference.Forward(new double[6], new double[3], 1, 2, 1));
        Assert.Throws<ArgumentException>(() => DenseReference.Backward(new double[3], new double[2], new double[2], 1, 2, 1, ReferenceActivation.Tanh));
        Assert.Throws<ArgumentException>(() => new ReferenceLayer(ReferenceUnitKind.Nac, 2, 2, untied: true));
    }

    // ---------------------------------------------------------------------------------------------

    private static void Check(
        string what, int seed, Random rng, double[] parameters, double[] x,
        Func<double[], double[], double[]> forward,
        Func<double[], double[], double[], (double[] ParameterGradient, double[] InputGradient)> backward,
        bool mayHaveKinks = false)
    {
        var y = forward(parameters, x);
        var r = Uniform(rng, y.Length, -1, 1);
        var (gp, gx) = backward(parameters, x, r);
        Assert.True(gp.Length == parameters.Length, $"{what} (seed {seed}): {gp.Length} parameter gradients for {parameters.Length} parameters.");
        Assert.True(gx.Length == x.Length, $"{what} (seed {seed}): {gx.Length} input gradients for {x.Length} inputs.");
        int skipped = CompareWithFiniteDifferences($"{what} (seed {seed}) ∂L/∂parameters", parameters, gp, p => Loss(forward(p, x), r), mayHaveKinks);
        skipped += CompareWithFiniteDifferences($"{what} (seed {seed}) ∂L/∂x", x, gx, xx => Loss(forward(parameters, xx), r), mayHaveKinks);
        int total = parameters.Length + x.Length;
        Assert.True(skipped * 10 <= total, $"{what} (seed {seed}): {skipped} of {total} coordinates straddle a kink; the check lost its power.");
    }

    /// <summary>Returns how many coordinates were skipped because the difference straddles a kink.</summary>
    private static int CompareWithFiniteDifferences(
        string what, double[] point, double[] analytic, Func<double[], double> loss, bool mayHaveKinks)
    {
        var bad = new List<string>();
        int skipped = 0;
        double l0 = loss(point);
        var probe = (double[])point.Clone();
        for (int j = 0; j < point.Length; j++)
        {
            double h = Step * Math.Max(1, Math.Abs(point[j]));
            probe[j] = point[j] + h;
            double plus = loss(probe);
            probe[j] = point[j] - h;
            double minus = loss(probe);
            probe[j] = point[j];
            double fd = (plus - minus) / (2 * h);

            if (mayHaveKinks)
            {
                // At a kink the one-sided slopes disagree by O(1); on smooth ground by O(h·f'').
                double right = (plus - l0) / h, left = (l0 - minus) / h;
                if (Math.Abs(right - left) > 1e-3 * Math.Max(1, Math.Max(Math.Abs(right), Math.Abs(left))))
                {
                    skipped++;
                    continue;
                }
            }

            double limit = Atol * (1 + 1e-3 * Math.Abs(l0)) + Rtol * Math.Max(Math.Abs(fd), Math.Abs(analytic[j]));
            if (!(Math.Abs(fd - analytic[j]) <= limit) && bad.Count < 8)
                bad.Add($"[{j}] analytic {analytic[j]:G12}, finite difference {fd:G12} (limit {limit:G3})");
        }

        Assert.True(bad.Count == 0, $"{what}: mismatches\n  " + string.Join("\n  ", bad));
        return skipped;
    }

    private static double Loss(double[] y, double[] r)
    {
        double sum = 0;
        for (int k = 0; k < y.Length; k++)
            sum += y[k] * r[k];
        return sum;
    }

    private static double[] Uniform(Random rng, int count, double low, double high)
    {
        var values = new double[count];
        for (int k = 0; k < count; k++)
            values[k] = low + (high - low) * rng.NextDouble();
        return values;
    }

    /// <summary>|x| in [0.1, 2] with a random sign: away from the log path's steep region near 0.</summary>
    private static double[] AwayFromZero(Random rng, int count)
    {
        var values = Uniform(rng, count, 0.1, 2);
        for (int k = 0; k < count; k++)
        {
            if (rng.Next(2) == 0)
                values[k] = -values[k];
        }

        return values;
    }
}
