using System.Collections.Concurrent;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Kernels.Units;

namespace Nalu.Gpu.Models;

/// <summary>Writes the initial parameters of one custom layer: <paramref name="block"/> is its parameter block.</summary>
/// <param name="block">The layer's parameters, in the order of its tensors.</param>
/// <param name="inputs">Input width I.</param>
/// <param name="outputs">Output width O.</param>
/// <param name="seed">The model's seed.</param>
/// <param name="layerIndex">The layer's index in the model (key it into <see cref="CustomUnit.Uniform"/> so a seed fixes the model).</param>
public delegate void CustomInitializer(Span<float> block, int inputs, int outputs, int seed, int layerIndex);

/// <summary>
/// A unit written outside the library: an <see cref="IUnit"/> struct of the caller's own assembly, with its name (saved in
/// checkpoints), its factory, its named tensors and its initializer. Make layers of it with
/// <see cref="LayerSpec.Custom(CustomUnit, int, int)"/>; register it with <see cref="CustomUnits.Register"/> so that
/// checkpoints naming it can be loaded.
/// </summary>
/// <remarks>
/// The unit type must be a public struct (ILGPU compiles it into every kernel: fused training, batched, evaluation,
/// and the native path runs it on the host). Nothing in the trainer knows it: its regulariser and constraint are its own
/// <see cref="IUnit.Regularize"/> and <see cref="IUnit.Constrain"/>.
/// </remarks>
public sealed class CustomUnit
{
    private readonly Func<int, int, IUnit> _create;
    private readonly Func<int, int, IReadOnlyList<(string Name, int[] Shape)>>? _tensors;
    private readonly CustomInitializer? _initialize;

    private CustomUnit(string name, Type unitType, Func<int, int, IUnit> create,
        Func<int, int, IReadOnlyList<(string Name, int[] Shape)>>? tensors, CustomInitializer? initialize)
    {
        Name = name;
        UnitType = unitType;
        _create = create;
        _tensors = tensors;
        _initialize = initialize;
    }

    /// <summary>
    /// Describes a custom unit. <paramref name="tensors"/> names the parameter block's tensors (for checkpoints) in
    /// layout order; by default one tensor <c>parameters</c> of shape [ParameterCount]. <paramref name="initialize"/>
    /// writes a layer's initial parameters; by default every parameter is Xavier-uniform, <c>U(±√(6/(I+O)))</c>, from the
    /// counter RNG keyed by (seed, layer, element), as the built-in units.
    /// </summary>
    /// <exception cref="ArgumentException">An empty name, or one with characters other than letters, digits, '-', '_' and '.'.</exception>
    public static CustomUnit Create<TUnit>(string name, Func<int, int, TUnit> create,
        Func<int, int, IReadOnlyList<(string Name, int[] Shape)>>? tensors = null, CustomInitializer? initialize = null)
        where TUnit : struct, IUnit
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(create);
        if (!name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            throw new ArgumentException($"Custom unit name '{name}': use letters, digits, '-', '_' and '.'.", nameof(name));
        if (!typeof(TUnit).IsPublic && !typeof(TUnit).IsNestedPublic)
            throw new ArgumentException($"Custom unit '{name}': {typeof(TUnit)} must be public (kernels take it as a parameter).", nameof(create));
        return new CustomUnit(name, typeof(TUnit), (i, o) => create(i, o), tensors, initialize);
    }

    /// <summary>The name saved in checkpoints (metadata <c>custom</c> of the layer).</summary>
    public string Name { get; }

    /// <summary>The unit struct's type.</summary>
    public Type UnitType { get; }

    /// <summary>The unit value of an I→O layer, checked against its tensors.</summary>
    public IUnit CreateUnit(int inputs, int outputs)
    {
        var unit = _create(inputs, outputs);
        if (unit.Inputs != inputs || unit.Outputs != outputs)
            throw new ArgumentException($"Custom unit '{Name}': asked for {inputs}→{outputs}, the factory made {unit.Inputs}→{unit.Outputs}.");
        int count = Tensors(inputs, outputs).Sum(t => t.Shape.Aggregate(1, (a, b) => a * b));
        if (unit.ParameterCount != count)
            throw new ArgumentException($"Custom unit '{Name}': its tensors hold {count} values but the unit has {unit.ParameterCount} parameters.");
        return unit;
    }

    /// <summary>The named tensors of an I→O layer, in layout order.</summary>
    public IReadOnlyList<(string Name, int[] Shape)> Tensors(int inputs, int outputs) =>
        _tensors?.Invoke(inputs, outputs) ?? [("parameters", [_create(inputs, outputs).ParameterCount])];

    /// <summary>Writes the initial parameters of an I→O layer.</summary>
    public void Initialize(Span<float> block, int inputs, int outputs, int seed, int layerIndex)
    {
        if (_initialize is not null)
        {
            _initialize(block, inputs, outputs, seed, layerIndex);
            return;
        }

        float bound = MathF.Sqrt(6f / (inputs + outputs));
        for (int k = 0; k < block.Length; k++)
            block[k] = (2f * Uniform(seed, layerIndex, k) - 1f) * bound;
    }

    /// <summary>The counter RNG the built-in initializers use: a uniform value in [0, 1) for (seed, layer, element).</summary>
    public static float Uniform(int seed, int layerIndex, int element) =>
        CounterRng.Uniform((uint)seed, CounterRng.InitStream, (uint)layerIndex, (uint)element);

    /// <inheritdoc />
    public override string ToString() => Name;
}

/// <summary>
/// The custom units a process knows by name, so that <see cref="Checkpoints.Checkpoint.Read(string)"/> can rebuild layers
/// saved with them (the built-in units need no registration).
/// </summary>
public static class CustomUnits
{
    private static readonly ConcurrentDictionary<string, CustomUnit> Units = new(StringComparer.Ordinal);

    /// <summary>Registers (or replaces) <paramref name="unit"/> under its name and returns it.</summary>
    public static CustomUnit Register(CustomUnit unit)
    {
        ArgumentNullException.ThrowIfNull(unit);
        Units[unit.Name] = unit;
        return unit;
    }

    /// <summary>Describes a custom unit (<see cref="CustomUnit.Create"/>) and registers it.</summary>
    public static CustomUnit Register<TUnit>(string name, Func<int, int, TUnit> create,
        Func<int, int, IReadOnlyList<(string Name, int[] Shape)>>? tensors = null, CustomInitializer? initialize = null)
        where TUnit : struct, IUnit =>
        Register(CustomUnit.Create(name, create, tensors, initialize));

    /// <summary>The registered unit of that name, or null.</summary>
    public static CustomUnit? Find(string name) => Units.TryGetValue(name, out var unit) ? unit : null;

    /// <summary>Forgets a name; returns whether it was registered.</summary>
    public static bool Unregister(string name) => Units.TryRemove(name, out _);
}
