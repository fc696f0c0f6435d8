using Nalu.Gpu.Checkpoints;
using Nalu.Gpu.Devices;
using Nalu.Gpu.Kernels.Units;
using Nalu.Gpu.Models;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>The NALU's input-independent gate option <c>g = σ(G)</c>, G of size O.</summary>
public sealed class NaluGateTests
{
    public static TheoryData<bool, int, int, int, int> Shapes => new()
    {
        { false, 1, 1, 1, 71 },
        { false, 5, 4, 3, 72 },
        { true, 1, 1, 1, 73 },
        { true, 7, 13, 3, 74 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Backward_MatchesFiniteDifferences(bool untied, int batch, int inputs, int outputs, int seed)
    {
        var rng = new Random(seed);
        var parameters = FiniteDifferences.Uniform(rng, NaluReference.ParameterCount(inputs, outputs, untied, inputIndependentGate: true), -2, 2);
        var x = FiniteDifferences.Uniform(rng, batch * inputs, 0.1, 2).Select((v, k) => k % 3 == 1 ? -v : v).ToArray();
        FiniteDifferences.Check($"NALU gate untied={untied} B={batch} I={inputs} O={outputs}", seed, rng, parameters, x,
            (p, xx) => NaluReference.Forward(p, xx, batch, inputs, outputs, untied, inputIndependentGate: true),
            (p, xx, dy) => NaluReference.Backward(p, xx, dy, batch, inputs, outputs, untied, inputIndependentGate: true));
    }

    [Fact]
    public void GateIsSigmoidOfGAndIgnoresTheInput()
    {
        // I = 2, O = 1, tied: Ŵ, M̂ (2 each) then G (1). G = 0: g = ½ for every input.
        double[] parameters = [0.5, -0.3, 1, 2, 0];
        var y = NaluReference.Forward(parameters, [1.5, 2, -1, 3], 2, 2, 1, inputIndependentGate: true);
        double w0 = Math.Tanh(0.5) / (1 + Math.Exp(-1)), w1 = Math.Tanh(-0.3) / (1 + Math.Exp(-2));
        double a = w0 * 1.5 + w1 * 2, m = Math.Exp(w0 * Math.Log(1.5 + 1e-7) + w1 * Math.Log(2 + 1e-7));
        Assert.Equal(0.5 * a + 0.5 * m, y[0], 12);
        Assert.Equal(2 * 2 * 3 + 3, NaluReference.ParameterCount(2, 3, inputIndependentGate: true));
    }

    [Fact]
    public void LayerSpecTensorsCheckpointAndValidation()
    {
        var spec = LayerSpec.Nalu(3, 2) with { InputIndependentGate = true };
        Assert.Equal(["W_hat", "M_hat", "G"], spec.Tensors.Select(t => t.Name));
        Assert.Equal([2], spec.Tensors[2].Shape);
        Assert.Equal(14, spec.ParameterCount);
        Assert.Equal("nalu-gate(3→2)", spec.ToString());
        var untied = LayerSpec.Nalu(3, 2, untied: true) with { InputIndependentGate = true };
        Assert.Equal(26, untied.ParameterCount);
        var ex = Assert.Throws<ArgumentException>(() => new ModelArchitecture([LayerSpec.Nac(2, 1) with { InputIndependentGate = true }]));
        Assert.Equal(nameof(LayerSpec.InputIndependentGate), ex.ParamName);

        string path = Path.Combine(Path.GetTempPath(), "nalu-gate-" + Guid.NewGuid().ToString("N") + ".safetensors");
        try
        {
            using var device = NaluDevice.Create(DeviceKind.Cpu);
            var architecture = new ModelArchitecture([spec, LayerSpec.Nalu(2, 1, untied: true) with { InputIndependentGate = true }]);
            Assert.Equal("nalu-gate 3→2→1", new ModelArchitecture([spec, LayerSpec.Nalu(2, 1) with { InputIndependentGate = true }]).ShortName);
            using var model = new Model(device, architecture, [1, 2]);
            Checkpoint.Save(path, model);
            var contents = Checkpoint.Read(path);
            Assert.Equal(architecture.Layers, contents.Architecture.Layers);
            Assert.Equal(model.GetParameters(), contents.Parameters);
            using var loaded = Checkpoint.Load(path, device, out _);
            Assert.Equal(model.Predict([1f, 2f, 3f], 1)[1], loaded.Predict([1f, 2f, 3f], 1)[1]);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
