using Nalu.Gpu.Kernels.Units;

namespace Nalu.Gpu.Models;

/// <summary>
/// A sequential stack of layers of any depth, e.g. NALU→NALU, or 100→2→1. Adjacent widths must agree.
/// </summary>
public sealed class ModelArchitecture
{
    /// <summary>Builds and validates an architecture.</summary>
    /// <exception cref="ArgumentException">No layers, or widths that do not chain.</exception>
    public ModelArchitecture(IReadOnlyList<LayerSpec> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        if (layers.Count == 0)
            throw new ArgumentException("A model needs at least one layer.", nameof(layers));
        for (int i = 0; i < layers.Count; i++)
        {
            layers[i].Validate();
            if (i > 0 && layers[i - 1].LayerOutputs != layers[i].LayerInputs)
            {
                throw new ArgumentException(
                    $"Layer {i - 1} ({layers[i - 1]}) has {layers[i - 1].LayerOutputs} outputs but layer {i} ({layers[i]}) reads {layers[i].LayerInputs} inputs.",
                    nameof(layers));
            }
        }

        Layers = layers.ToArray();
        Unit = Compose(Layers);
        ParameterCount = Unit.ParameterCount;
    }

    /// <summary>All layers of one unit kind through the given widths: <c>Uniform(Nalu, 100, 2, 1)</c> is 100→2→1.</summary>
    public static ModelArchitecture Uniform(UnitKind kind, params int[] widths) =>
        Uniform(kind, Activation.Relu, widths);

    /// <summary>As <see cref="Uniform(UnitKind, int[])"/>, with an activation for dense layers (the last dense layer is linear).</summary>
    public static ModelArchitecture Uniform(UnitKind kind, Activation hidden, params int[] widths)
    {
        if (widths is null || widths.Length < 2)
            throw new ArgumentException("Give at least an input and an output width, e.g. 100,2,1.", nameof(widths));
        var layers = new List<LayerSpec>();
        for (int i = 0; i + 1 < widths.Length; i++)
        {
            bool last = i + 2 == widths.Length;
            layers.Add(new LayerSpec(kind, widths[i], widths[i + 1], false, kind == UnitKind.Dense && !last ? hidden : Activation.Linear));
        }

        return new ModelArchitecture(layers);
    }

    /// <summary>The layers, first to last.</summary>
    public IReadOnlyList<LayerSpec> Layers { get; }

    /// <summary>Input width.</summary>
    public int Inputs => Layers[0].LayerInputs;

    /// <summary>Output width.</summary>
    public int Outputs => Layers[^1].LayerOutputs;

    /// <summary>Parameters per model.</summary>
    public int ParameterCount { get; }

    /// <summary>The whole model as one kernel unit (nested <see cref="Chain{THead,TTail}"/>).</summary>
    internal IUnit Unit { get; }

    /// <summary>Offset of each layer's parameter block.</summary>
    public int LayerOffset(int layer) => Layers.Take(layer).Sum(l => l.ParameterCount);

    /// <summary>Initial parameters of one model.</summary>
    public float[] Initialize(int seed)
    {
        var values = new float[ParameterCount];
        for (int l = 0; l < Layers.Count; l++)
            Layers[l].Initialize(values.AsSpan(LayerOffset(l), Layers[l].ParameterCount), seed, l);
        return values;
    }

    /// <summary>Compact name, e.g. <c>nalu 100→2→1</c> or <c>mlp-relu 2→16→16→1</c>; mixed stacks fall back to <see cref="ToString"/>.</summary>
    public string ShortName => IsRecurrent
        ? $"{FeedForwardName} (recurrent, T = {string.Join("/", Layers.Where(l => l.IsRecurrent).Select(l => l.Steps).Distinct())})"
        : FeedForwardName;

    private string FeedForwardName
    {
        get
        {
            string widths = string.Join("→", Layers.Select(l => l.LayerInputs).Append(Outputs));
            if (Layers.All(l => l.Kind == UnitKind.Dense))
            {
                var hidden = Layers.Take(Layers.Count - 1).Select(l => l.Activation).Distinct().ToArray();
                string act = hidden.Length == 0 ? Layers[^1].Activation.ToString() : hidden.Length == 1 ? hidden[0].ToString() : "mixed";
                return $"mlp-{act.ToLowerInvariant()} {widths}";
            }

            var first = Layers[0];
            if (Layers.All(l => l.Kind == UnitKind.Custom && l.CustomUnit == first.CustomUnit))
                return $"{first.CustomUnit!.Name} {widths}";
            return Layers.All(l => l.Kind == first.Kind && l.Untied == first.Untied && l.InputIndependentGate == first.InputIndependentGate)
                ? $"{first.Kind.ToString().ToLowerInvariant()}{(first.Untied ? "-untied" : "")}{(first.InputIndependentGate ? "-gate" : "")} {widths}"
                : ToString();
        }
    }

    /// <summary>e.g. <c>nalu(100→2) → nalu(2→1)</c>.</summary>
    public override string ToString() => string.Join(" → ", Layers);

    /// <summary>Whether any layer runs through time.</summary>
    public bool IsRecurrent => Layers.Any(l => l.IsRecurrent);

    /// <summary>
    /// The same model with every recurrent layer run for <paramref name="steps"/> steps, and every per-step layer
    /// (<see cref="LayerSpec.EachStep"/>) applied to as many: the same parameters (a recurrent layer's are its cell's), so a model trained on short sequences is evaluated on longer ones by loading its
    /// parameters into this architecture.
    /// </summary>
    /// <exception cref="InvalidOperationException">No layer is recurrent.</exception>
    public ModelArchitecture WithSteps(int steps)
    {
        if (!IsRecurrent)
            throw new InvalidOperationException($"{this} has no recurrent layer to run for {steps} steps.");
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        return new ModelArchitecture(Layers.Select(l => l.IsRecurrent ? l with { Steps = steps } : l.EachStep > 0 ? l with { EachStep = steps } : l).ToArray());
    }

    private static IUnit Compose(IReadOnlyList<LayerSpec> layers)
    {
        IUnit unit = layers[^1].CreateUnit();
        for (int i = layers.Count - 2; i >= 0; i--)
        {
            IUnit head = layers[i].CreateUnit();
            var chain = typeof(Chain<,>).MakeGenericType(head.GetType(), unit.GetType());
            unit = (IUnit)Activator.CreateInstance(chain, head, unit)!;
        }

        return unit;
    }
}
