namespace Nalu.Gpu.Kernels.Units;

/// <summary>
/// One layer's math for ONE sample, written once and instantiated by every kernel and by the native
/// CPU path. A unit value carries its own shape; <see cref="Chain{THead,TTail}"/> composes units into a
/// model of any depth, and is itself a unit.
/// </summary>
/// <remarks>
/// Storage layout per model, all offsets in floats:
/// <list type="bullet">
/// <item><b>parameters</b> (<see cref="ParameterCount"/>): the trained values, e.g. Ŵ, M̂, G for NALU.</item>
/// <item><b>cache</b> (<see cref="CacheCount"/>): values derived from the parameters once per step
/// (e.g. <c>W = tanh(Ŵ)·σ(M̂)</c>) by <see cref="PrepareCache"/>, so the per-sample loop pays no
/// transcendental per weight.</item>
/// <item><b>gradients</b> (<see cref="ParameterCount"/>): <see cref="Backward"/> ACCUMULATES raw
/// per-sample gradients (e.g. ∂L/∂W in the Ŵ slot) over the batch; <see cref="FinishGradient"/> then
/// turns the raw sums into ∂L/∂parameters in place, once per step.</item>
/// <item><b>saved</b> (<see cref="SavedCount"/>, per sample): what <see cref="Forward"/> stores for the
/// backward pass of the same sample.</item>
/// </list>
/// </remarks>
public interface IUnit
{
    /// <summary>Input width I.</summary>
    int Inputs { get; }

    /// <summary>Output width O.</summary>
    int Outputs { get; }

    /// <summary>Number of trained parameters.</summary>
    int ParameterCount { get; }

    /// <summary>Number of derived values refreshed once per step.</summary>
    int CacheCount { get; }

    /// <summary>Number of independent work items of <see cref="PrepareCache"/> and <see cref="FinishGradient"/>.</summary>
    int ElementCount { get; }

    /// <summary>Per-sample scratch the forward writes and the backward reads.</summary>
    int SavedCount { get; }

    /// <summary>Computes the cache entries of work item <paramref name="element"/> from the parameters.</summary>
    void PrepareCache<TMem>(int element, TMem parameters, int paramOffset, TMem cache, int cacheOffset)
        where TMem : struct, IFloatMemory;

    /// <summary>
    /// Forward pass of one sample: reads <c>x[xOffset..+I]</c>, writes <c>y[yOffset..+O]</c> (overwrite)
    /// and this sample's saved values. <paramref name="context"/> says which sample of which step of which model this is,
    /// and whether it is a training pass (only units with training-time noise, the sNMU, read it).
    /// </summary>
    void Forward<TMem>(
        SampleContext context, TMem parameters, int paramOffset, TMem cache, int cacheOffset,
        TMem x, int xOffset, TMem y, int yOffset, TMem saved, int savedOffset)
        where TMem : struct, IFloatMemory;

    /// <summary>
    /// Backward pass of one sample from <c>dy</c>: ACCUMULATES raw gradients into
    /// <c>grad[gradOffset..]</c>, and when <paramref name="needInputGradient"/> OVERWRITES
    /// <c>dx[dxOffset..+I]</c>. <paramref name="context"/> is the one the sample's <see cref="Forward"/> saw.
    /// </summary>
    void Backward<TMem>(
        SampleContext context, TMem parameters, int paramOffset, TMem cache, int cacheOffset,
        TMem x, int xOffset, TMem saved, int savedOffset, TMem dy, int dyOffset,
        TMem grad, int gradOffset, bool needInputGradient, TMem dx, int dxOffset)
        where TMem : struct, IFloatMemory;

    /// <summary>Turns the accumulated raw gradients of work item <paramref name="element"/> into parameter gradients, in place.</summary>
    void FinishGradient<TMem>(int element, TMem parameters, int paramOffset, TMem grad, int gradOffset)
        where TMem : struct, IFloatMemory;

    /// <summary>
    /// ACCUMULATES into the finished gradient of work item <paramref name="element"/> the gradient of this unit's
    /// regulariser at 0-based <paramref name="step"/> (e.g. NAU/NMU sparsity with its warm-up). Called after
    /// <see cref="FinishGradient"/> and before clipping, so the regulariser is part of the loss the optimizer sees.
    /// <paramref name="loss"/> is the step's batch MSE (without any regulariser), for regularisers that apply only below a
    /// loss (iNALU's saturation term). Units without a regulariser do nothing.
    /// </summary>
    void Regularize<TMem>(int element, int step, float loss, TMem parameters, int paramOffset, TMem grad, int gradOffset)
        where TMem : struct, IFloatMemory;

    /// <summary>
    /// After the optimizer update, projects the parameters of work item <paramref name="element"/> back onto their
    /// feasible set, in place (NAU: W ∈ [−1, 1]; NMU: W ∈ [0, 1]). Units without constraints do nothing.
    /// </summary>
    void Constrain<TMem>(int element, TMem parameters, int paramOffset)
        where TMem : struct, IFloatMemory;

    /// <summary>
    /// Whether parameter <paramref name="parameter"/> (index into this unit's block) is updated at 0-based
    /// <paramref name="step"/>. A parameter that does not train keeps its value and its optimizer state bit for bit that
    /// step (iNALU's alternating weight/gate updates); every other unit trains every parameter at every step.
    /// </summary>
    bool Trains(int parameter, int step);
}
