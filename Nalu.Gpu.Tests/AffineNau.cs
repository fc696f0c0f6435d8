// The README's "Bring your own unit" example, verbatim (CustomUnitTests.ReadmeShowsThisFile keeps them equal).
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Kernels.Units;
using Nalu.Gpu.Models;

namespace Nalu.Gpu.Tests;

/// <summary>An NAU with a bias: <c>y = W x + b</c>, W (O×I) clamped to [−1, 1] after each step, then b (O).</summary>
public readonly struct AffineNau(int inputs, int outputs) : IUnit
{
    public int Inputs => inputs;
    public int Outputs => outputs;
    public int ParameterCount => inputs * outputs + outputs;
    public int CacheCount => 0;
    public int ElementCount => inputs * outputs;
    public int SavedCount => 0;

    public void PrepareCache<TMem>(int element, TMem parameters, int paramOffset, TMem cache, int cacheOffset) where TMem : struct, IFloatMemory { }
    public void Forward<TMem>(SampleContext context, TMem parameters, int paramOffset, TMem cache, int cacheOffset,
        TMem x, int xOffset, TMem y, int yOffset, TMem saved, int savedOffset) where TMem : struct, IFloatMemory
    {
        for (int o = 0; o < outputs; o++)
            y[yOffset + o] = parameters.Dot(paramOffset + o * inputs, x, xOffset, inputs) + parameters[paramOffset + inputs * outputs + o];
    }

    public void Backward<TMem>(SampleContext context, TMem parameters, int paramOffset, TMem cache, int cacheOffset,
        TMem x, int xOffset, TMem saved, int savedOffset, TMem dy, int dyOffset,
        TMem grad, int gradOffset, bool needInputGradient, TMem dx, int dxOffset) where TMem : struct, IFloatMemory
    {
        for (int i = 0; needInputGradient && i < inputs; i++)
            dx[dxOffset + i] = 0f;
        for (int o = 0; o < outputs; o++)
        {
            float delta = dy[dyOffset + o];
            grad.AddScaled(gradOffset + o * inputs, delta, x, xOffset, inputs);            // ∂L/∂W += δ xᵀ
            grad[gradOffset + inputs * outputs + o] += delta;                             // ∂L/∂b += δ
            if (needInputGradient)
                dx.AddScaled(dxOffset, delta, parameters, paramOffset + o * inputs, inputs); // ∂L/∂x = δ W
        }
    }

    public void FinishGradient<TMem>(int element, TMem parameters, int paramOffset, TMem grad, int gradOffset) where TMem : struct, IFloatMemory { }
    public void Regularize<TMem>(int element, int step, float loss, TMem parameters, int paramOffset, TMem grad, int gradOffset) where TMem : struct, IFloatMemory { }

    public bool Trains(int parameter, int step) => true;
    public void Constrain<TMem>(int element, TMem parameters, int paramOffset) where TMem : struct, IFloatMemory
    {
        float w = parameters[paramOffset + element];
        parameters[paramOffset + element] = w < -1f ? -1f : w > 1f ? 1f : w;
    }

    /// <summary>Registers it for checkpoints: tensors W and b, W ~ U(±0.5), b = 0.</summary>
    public static CustomUnit Register() => CustomUnits.Register("affine-nau", (i, o) => new AffineNau(i, o),
        tensors: (i, o) => [("W", [o, i]), ("b", [o])],
        initialize: (block, i, o, seed, layer) =>
        {
            for (int k = 0; k < block.Length; k++)
                block[k] = k < i * o ? CustomUnit.Uniform(seed, layer, k) - 0.5f : 0f;
        });
}
