using System.Diagnostics;
using Nalu.Gpu.Devices;
using Nalu.Gpu.Models;
using Nalu.Gpu.Tasks;
using Nalu.Gpu.Training;

namespace Nalu.Gpu.Experiments;

/// <summary>
/// Settings of Experiment 1 (science.md): an autoencoder learns the scalar identity on U[−r, r] and is
/// evaluated on a grid over [−R, R]. Defaults are the documented protocol; the paper publishes neither
/// the optimizer nor the step count, so Adam with lr 1e-3 and 10,000 steps are choices (see docs/results.md).
/// </summary>
public sealed record FailureSettings
{
    /// <summary>Every activation of science.md's baseline list, in its order.</summary>
    public static readonly IReadOnlyList<Activation> AllActivations =
    [
        Activation.Linear, Activation.Relu, Activation.Relu6, Activation.Tanh, Activation.Sigmoid, Activation.Elu,
        Activation.Selu, Activation.Softplus, Activation.LeakyRelu, Activation.PRelu, Activation.Softsign, Activation.Hardtanh,
    ];

    /// <summary>Optimizer steps per model (10,000).</summary>
    public int Steps { get; init; } = 10_000;
    /// <summary>Models per architecture, seeds <see cref="FirstSeed"/>.. (10).</summary>
    public int Seeds { get; init; } = 10;
    /// <summary>Seed of the first model (0).</summary>
    public int FirstSeed { get; init; }
    /// <summary>Samples per step (128).</summary>
    public int Batch { get; init; } = 128;
    /// <summary>Adam learning rate (1e-3).</summary>
    public float LearningRate { get; init; } = 1e-3f;
    /// <summary>Hidden activations of the MLPs, one MLP per activation (all twelve).</summary>
    public IReadOnlyList<Activation> Activations { get; init; } = AllActivations;
    /// <summary>Also train a NAC of the same shape (true).</summary>
    public bool IncludeNac { get; init; } = true;
    /// <summary>Also train a NAU of the same shape (Madsen &amp; Johansen's additive unit: W clamped to [−1, 1], no regulariser; false).</summary>
    public bool IncludeNau { get; init; }
    /// <summary>Hidden widths (8, 8, 8: three hidden layers of 8).</summary>
    public IReadOnlyList<int> Hidden { get; init; } = [8, 8, 8];
    /// <summary>Training range is U[−TrainLimit, TrainLimit] (5).</summary>
    public float TrainLimit { get; init; } = 5f;
    /// <summary>The evaluation grid spans [−EvalLimit, EvalLimit] (20).</summary>
    public float EvalLimit { get; init; } = 20f;
    /// <summary>Grid points (401: a step of 0.1 on [−20, 20]).</summary>
    public int Points { get; init; } = 401;
    /// <summary>Step layout (auto).</summary>
    public TrainingStrategy Strategy { get; init; } = TrainingStrategy.Auto;

    /// <summary>Checks every value; messages name the setting.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(Steps, 1, nameof(Steps));
        ArgumentOutOfRangeException.ThrowIfLessThan(Seeds, 1, nameof(Seeds));
        ArgumentOutOfRangeException.ThrowIfLessThan(Batch, 1, nameof(Batch));
        ArgumentOutOfRangeException.ThrowIfLessThan(Points, 2, nameof(Points));
        if (!(float.IsFinite(LearningRate) && LearningRate > 0f))
            throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "The learning rate must be positive and finite.");
        if (!(float.IsFinite(TrainLimit) && TrainLimit > 0f && float.IsFinite(EvalLimit) && EvalLimit > TrainLimit))
            throw new ArgumentOutOfRangeException(nameof(EvalLimit), $"Need 0 < TrainLimit ({TrainLimit}) < EvalLimit ({EvalLimit}).");
        if (Activations.Count == 0 && !IncludeNac && !IncludeNau)
            throw new ArgumentException("Nothing to train: no activation, no NAC and no NAU.");
        if (Hidden.Count == 0 || Hidden.Any(h => h < 1))
            throw new ArgumentOutOfRangeException(nameof(Hidden), "Give at least one hidden width, each at least 1.");
    }
}

/// <summary>One architecture's result: the curve of mean absolute error over the grid, averaged over seeds.</summary>
/// <param name="Name">Short name: the activation as the CLI spells it (<c>relu</c>, <c>leaky-relu</c>) or <c>nac</c>.</param>
/// <param name="Architecture">e.g. <c>mlp-relu 1→8→8→8→1</c>.</param>
/// <param name="Seeds">Seeds trained.</param>
/// <param name="Diverged">Seeds whose loss or predictions became NaN/Inf; they are left out of the averages.</param>
/// <param name="TrainSeconds">Wall time of the training (all seeds together).</param>
/// <param name="FinalLoss">Median over seeds of the last step's training MSE.</param>
/// <param name="Mae">Per grid point, the mean over the finite seeds of |y − x| (NaN when every seed diverged).</param>
/// <param name="MaeInside">Mean of <paramref name="Mae"/> over the grid points inside the training range.</param>
/// <param name="MaeOutside">Mean of <paramref name="Mae"/> over the grid points outside it.</param>
public sealed record FailureModel(
    string Name, string Architecture, int[] Seeds, int[] Diverged, double TrainSeconds, double FinalLoss,
    double[] Mae, double MaeInside, double MaeOutside)
{
    /// <summary>How many times larger the error is outside the training range than inside.</summary>
    public double Ratio => MaeOutside / MaeInside;
}

/// <summary>The whole experiment.</summary>
/// <param name="Settings">What was run.</param>
/// <param name="Device">The device, in words.</param>
/// <param name="Strategy">The resolved training step layout.</param>
/// <param name="WallSeconds">Wall time of training and evaluation.</param>
/// <param name="X">The grid.</param>
/// <param name="Models">One entry per architecture, in training order.</param>
public sealed record FailureResult(FailureSettings Settings, string Device, string Strategy, double WallSeconds, double[] X, IReadOnlyList<FailureModel> Models)
{
    /// <summary>The mean |x| of the grid points outside the training range: the scale a relative error divides by.</summary>
    public double MeanAbsOutside => X.Where(x => Math.Abs(x) > Settings.TrainLimit).Select(Math.Abs).DefaultIfEmpty(double.NaN).Average();
}

/// <summary>
/// Experiment 1, the NALU paper's first figure: MLPs of every activation (and a NAC) learn the scalar identity
/// on [−5, 5]; the mean absolute error over [−20, 20] shows which extrapolate. All seeds of one architecture
/// train as one population (one <see cref="Model"/> of P seeds, one <see cref="Trainer"/>).
/// </summary>
public static class FailureExperiment
{
    /// <summary>The CLI spelling of each activation.</summary>
    public static string NameOf(Activation activation) => activation switch
    {
        Activation.LeakyRelu => "leaky-relu",
        _ => activation.ToString().ToLowerInvariant(),
    };

    /// <summary>The architectures to train, in order: one MLP per activation (linear output layer), then the NAC, then the NAU.</summary>
    public static IReadOnlyList<(string Name, ModelArchitecture Architecture)> Architectures(FailureSettings settings)
    {
        int[] widths = [1, .. settings.Hidden, 1];
        var list = settings.Activations
            .Select(a => (NameOf(a), ModelArchitecture.Uniform(UnitKind.Dense, a, widths)))
            .ToList();
        if (settings.IncludeNac)
            list.Add(("nac", ModelArchitecture.Uniform(UnitKind.Nac, widths)));
        if (settings.IncludeNau)
            list.Add(("nau", ModelArchitecture.Uniform(UnitKind.Nau, widths)));
        return list;
    }

    /// <summary>The identity task: train on U[−r, r]; the trainer's own test set is [−R, −r] ∪ [r, R].</summary>
    public static ArithmeticTask Task(FailureSettings settings) => ArithmeticTask.Identity(
        new SampleInterval(-settings.TrainLimit, settings.TrainLimit),
        new SampleInterval(-settings.EvalLimit, -settings.TrainLimit, settings.TrainLimit, settings.EvalLimit));

    /// <summary>The evaluation grid: <see cref="FailureSettings.Points"/> evenly spaced points on [−R, R].</summary>
    public static double[] Grid(FailureSettings settings) =>
        Enumerable.Range(0, settings.Points)
            .Select(k => Math.Round(-settings.EvalLimit + 2.0 * settings.EvalLimit * k / (settings.Points - 1), 10))
            .ToArray();

    /// <summary>Trains and evaluates every architecture.</summary>
    /// <param name="device">Where to train.</param>
    /// <param name="settings">What to run.</param>
    /// <param name="onProgress">Called between launches with (architecture index, steps done, steps in all).</param>
    /// <param name="onModel">Called when an architecture is done.</param>
    /// <param name="cancellationToken">Stops between launches.</param>
    public static FailureResult Run(NaluDevice device, FailureSettings settings,
        Action<int, int, int>? onProgress = null, Action<int, FailureModel>? onModel = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        var clock = Stopwatch.StartNew();
        var grid = Grid(settings);
        var task = Task(settings);
        var seeds = Enumerable.Range(settings.FirstSeed, settings.Seeds).ToArray();
        var options = new TrainerOptions
        {
            Batch = settings.Batch,
            Optimizer = OptimizerOptions.Adam(settings.LearningRate),
            EvaluateEvery = 0,
            Strategy = settings.Strategy,
        };

        var models = new List<FailureModel>();
        string strategy = "";
        var architectures = Architectures(settings);
        for (int a = 0; a < architectures.Count; a++)
        {
            var (name, architecture) = architectures[a];
            using var model = new Model(device, architecture, seeds);
            using var trainer = new Trainer(model, task, options);
            strategy = trainer.Strategy.ToString();
            var trainClock = Stopwatch.StartNew();
            int index = a;
            trainer.Train(settings.Steps, p => onProgress?.Invoke(index, p.Step, p.TotalSteps), cancellationToken);
            trainClock.Stop();
            var result = Evaluate(model, trainer, name, architecture.ShortName, grid, settings, trainClock.Elapsed.TotalSeconds);
            models.Add(result);
            onModel?.Invoke(a, result);
        }

        return new FailureResult(settings, device.ToString(), strategy, clock.Elapsed.TotalSeconds, grid, models);
    }

    private static FailureModel Evaluate(Model model, Trainer trainer, string name, string architecture, double[] grid,
        FailureSettings settings, double trainSeconds)
    {
        var x = grid.Select(v => (float)v).ToArray();
        var y = model.Predict(x, x.Length);
        var sums = new double[grid.Length];
        var diverged = new List<int>();
        var losses = new List<double>();
        int finite = 0;
        for (int p = 0; p < model.Count; p++)
        {
            if (trainer.Diverged[p] || y[p].Any(v => !float.IsFinite(v)))
            {
                diverged.Add(model.Seeds[p]);
                continue;
            }

            finite++;
            losses.Add(trainer.LastLosses[p]);
            for (int k = 0; k < grid.Length; k++)
                sums[k] += Math.Abs(y[p][k] - grid[k]);
        }

        var mae = sums.Select(s => finite == 0 ? double.NaN : s / finite).ToArray();
        double inside = Mean(mae, grid, v => Math.Abs(v) <= settings.TrainLimit);
        double outside = Mean(mae, grid, v => Math.Abs(v) > settings.TrainLimit);
        losses.Sort();
        double loss = losses.Count == 0 ? double.NaN : losses[losses.Count / 2];
        return new FailureModel(name, architecture, model.Seeds.ToArray(), diverged.ToArray(), trainSeconds, loss, mae, inside, outside);
    }

    private static double Mean(double[] values, double[] grid, Func<double, bool> keep)
    {
        double sum = 0;
        int count = 0;
        for (int k = 0; k < grid.Length; k++)
        {
            if (keep(grid[k]))
            {
                sum += values[k];
                count++;
            }
        }

        return count == 0 ? double.NaN : sum / count;
    }
}
