using System.Diagnostics;
using Nalu.Gpu.Data;
using Nalu.Gpu.Devices;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Kernels.Units;
using Nalu.Gpu.Models;
using Nalu.Gpu.Tasks;
using Nalu.Gpu.Training;

namespace Nalu.Gpu.Experiments;

/// <summary>The settings of <see cref="CountingExperiment"/>; the defaults are the full run's.</summary>
public sealed record CountingSettings
{
    /// <summary>The heads <see cref="CountingExperiment"/> knows: recurrent NAC and NAU accumulators, and the papers' baselines.</summary>
    public static readonly IReadOnlyList<string> KnownHeads = ["nac", "nau", "lstm", "rnn-tanh"];

    /// <summary>Counting (10 outputs) or addition (1 output).</summary>
    public ImageSequenceTarget Target { get; init; } = ImageSequenceTarget.Counting;

    /// <summary>The recurrent heads on top of the per-image network, each trained from its own seeds.</summary>
    public IReadOnlyList<string> Heads { get; init; } = ["nac", "nau", "lstm", "rnn-tanh"];

    /// <summary>Seeds per head (trained together, as one population).</summary>
    public int Seeds { get; init; } = 5;

    /// <summary>The first seed; the models use FirstSeed..FirstSeed + Seeds − 1.</summary>
    public int FirstSeed { get; init; }

    /// <summary>Adam steps.</summary>
    public int Steps { get; init; } = 20_000;

    /// <summary>Adam's learning rate.</summary>
    public float LearningRate { get; init; } = 3e-3f;

    /// <summary>Sequences per step.</summary>
    public int Batch { get; init; } = 32;

    /// <summary>The training sequences' length (Trask et al.: 10).</summary>
    public int TrainLength { get; init; } = 10;

    /// <summary>Training sequences drawn from the training images (once; the trainer shuffles them every epoch).</summary>
    public int TrainSequences { get; init; } = 10_000;

    /// <summary>The test lengths (Trask et al.: 1, 10, 100, 1,000).</summary>
    public IReadOnlyList<int> TestLengths { get; init; } = [1, 10, 100, 1000];

    /// <summary>Test sequences per length, drawn from the test images.</summary>
    public int TestSequences { get; init; } = 1000;

    /// <summary>The per-image network's hidden width (dense ReLU layer).</summary>
    public int Hidden { get; init; } = 64;

    /// <summary>The LSTM's and the tanh RNN's hidden width.</summary>
    public int RecurrentHidden { get; init; } = 32;

    /// <summary>Average pooling of each image before the network (1: 28×28; 2: 14×14).</summary>
    public int Pool { get; init; } = 1;

    /// <summary>
    /// Train on the counts (or sum) after every image, not only after the last: Madsen &amp; Johansen's cumulative targets.
    /// A loss on every step tells the recurrent weights directly that the state must carry over unchanged; with only the
    /// last step's target, short training sequences leave a shrinking state (weight 0.9, say) nearly as good as the exact 1.
    /// The test always scores the last step.
    /// </summary>
    public bool Cumulative { get; init; } = true;

    /// <summary>
    /// λ of the NAU head's sparsity regulariser (Madsen &amp; Johansen's, pulling each weight to −1, 0 or 1), warmed up
    /// linearly over the middle third of the training; 0 turns it off. A state weight of 1.005 instead of 1 is invisible
    /// on 10 images and multiplies the count by e⁵ over 1,000.
    /// </summary>
    public float NauSparsity { get; init; } = 0.1f;

    /// <summary>Seed of the sequences drawn for training and test.</summary>
    public int DataSeed { get; init; } = 12345;

    /// <summary>Refuses settings that cannot run, naming the setting.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Target))
            throw new ArgumentOutOfRangeException(nameof(Target), Target, "Unknown target.");
        if (Heads.Count == 0)
            throw new ArgumentException("Give at least one head.", nameof(Heads));
        foreach (var head in Heads)
        {
            if (!KnownHeads.Contains(head))
                throw new ArgumentException($"Unknown head '{head}'; the heads are {string.Join(", ", KnownHeads)}.", nameof(Heads));
        }

        if (Heads.Distinct().Count() != Heads.Count)
            throw new ArgumentException("A head is named twice.", nameof(Heads));
        Positive(Seeds, nameof(Seeds));
        Positive(Steps, nameof(Steps));
        Positive(Batch, nameof(Batch));
        Positive(TrainLength, nameof(TrainLength));
        Positive(TrainSequences, nameof(TrainSequences));
        Positive(TestSequences, nameof(TestSequences));
        Positive(Hidden, nameof(Hidden));
        Positive(RecurrentHidden, nameof(RecurrentHidden));
        Positive(Pool, nameof(Pool));
        if (!(float.IsFinite(LearningRate) && LearningRate > 0))
            throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "The learning rate must be a positive number.");
        if (TestLengths.Count == 0 || TestLengths.Any(l => l < 1))
            throw new ArgumentOutOfRangeException(nameof(TestLengths), "Give at least one test length, each at least 1.");
    }

    private static void Positive(int value, string name)
    {
        if (value < 1)
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be at least 1.");
    }
}

/// <summary>One model's score at one test length.</summary>
/// <param name="Length">Images per test sequence.</param>
/// <param name="Accuracy">The fraction of outputs (counts, or sums) that round to the target.</param>
/// <param name="SequenceAccuracy">The fraction of sequences whose every output rounds to its target.</param>
/// <param name="Mae">Mean |prediction − target| over sequences and outputs (NaN when a prediction was not finite).</param>
public sealed record CountingScore(int Length, double Accuracy, double SequenceAccuracy, double Mae);

/// <summary>One trained model: its head, seed, training and per-length scores.</summary>
public sealed record CountingModel(string Head, int Seed, string Architecture, double FinalLoss, bool Diverged, double TrainSeconds,
    IReadOnlyList<CountingScore> Scores);

/// <summary>What <see cref="CountingExperiment.Run"/> returns.</summary>
public sealed record CountingResult(CountingSettings Settings, string Device, int PixelsPerImage, int TrainImages, int TestImages,
    IReadOnlyList<CountingModel> Models);

/// <summary>
/// Trask et al. section 4.2 (Table 2): a per-image network reads each image of a sequence and a recurrent head
/// accumulates what it saw: how many images of each class (<see cref="ImageSequenceTarget.Counting"/>) or the sum of
/// their labels (<see cref="ImageSequenceTarget.Addition"/>). Trained on sequences of 10 images from the training
/// files, tested on longer sequences from the test files. The per-image network and the head are one model trained by
/// the one fused step: <c>ForEachStep(Dense(P→H, ReLU)) → ForEachStep(Dense(H→K)) → head</c>, with K = 10 sigmoid class
/// scores for counting and K = 1 linear value for addition (Madsen &amp; Johansen regress the digit's value).
/// </summary>
public static class CountingExperiment
{
    /// <summary>The per-image network's output width, K.</summary>
    public static int Features(ImageSequenceTarget target) => target == ImageSequenceTarget.Counting ? ImageSet.Classes : 1;

    /// <summary>The model of <paramref name="head"/> for sequences of <paramref name="length"/> images of <paramref name="pixels"/> values.</summary>
    public static ModelArchitecture Architecture(CountingSettings s, string head, int pixels, int length)
    {
        int k = Features(s.Target), outputs = ImageSequences.Outputs(s.Target), r = s.RecurrentHidden;
        bool every = s.Cumulative;
        // A readout after an LSTM or RNN: on every step's hidden state when the targets are cumulative.
        LayerSpec Readout() => every ? LayerSpec.ForEachStep(LayerSpec.Dense(r, outputs, Activation.Linear), length) : LayerSpec.Dense(r, outputs, Activation.Linear);
        var front = new List<LayerSpec>
        {
            LayerSpec.ForEachStep(LayerSpec.Dense(pixels, s.Hidden, Activation.Relu), length),
            LayerSpec.ForEachStep(LayerSpec.Dense(s.Hidden, k, s.Target == ImageSequenceTarget.Counting ? Activation.Sigmoid : Activation.Linear), length),
        };
        front.AddRange(head switch
        {
            "nac" => [LayerSpec.Recurrent(LayerSpec.Nac(k + outputs, outputs), length, every)],
            "nau" => [LayerSpec.Recurrent(LayerSpec.Nau(k + outputs, outputs,
                s.NauSparsity > 0 ? RegularizerSettings.Sparsity(s.NauSparsity, s.Steps / 3, 2 * s.Steps / 3) : RegularizerSettings.None), length, every)],
            "lstm" => [LayerSpec.Lstm(k, r, length, every), Readout()],
            "rnn-tanh" => [LayerSpec.Recurrent(LayerSpec.Dense(k + r, r, Activation.Tanh), length, every), Readout()],
            _ => throw new ArgumentException($"Unknown head '{head}'.", nameof(head)),
        });
        return new ModelArchitecture(front);
    }

    /// <summary>
    /// Trains every head on sequences drawn from <paramref name="train"/> and scores it at every test length on
    /// sequences drawn from <paramref name="test"/>.
    /// </summary>
    /// <param name="device">The device every model trains on.</param>
    /// <param name="s">The settings.</param>
    /// <param name="train">The training images (the dataset's own training files).</param>
    /// <param name="test">The test images (its test files, never the training ones).</param>
    /// <param name="onProgress">(head, step) while training; may be null.</param>
    /// <param name="onModel">Each head's models once scored; may be null.</param>
    /// <param name="cancellationToken">Stops between training launches.</param>
    public static CountingResult Run(NaluDevice device, CountingSettings s, ImageSet train, ImageSet test,
        Action<string, TrainingProgress>? onProgress = null, Action<string, IReadOnlyList<CountingModel>>? onModel = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(s);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(test);
        s.Validate();
        if (train.PixelsPerImage != test.PixelsPerImage)
            throw new ArgumentException($"The training images have {train.PixelsPerImage} pixels and the test images {test.PixelsPerImage}; they must match.");
        int pixels = train.PixelsPerImage, outputs = ImageSequences.Outputs(s.Target);
        var (x, y, _) = ImageSequences.Draw(train, s.Target, s.TrainSequences, s.TrainLength, s.DataSeed, s.Cumulative);
        using var data = new Dataset(device, x, s.TrainLength * pixels, y, (s.Cumulative ? s.TrainLength : 1) * outputs);
        var seeds = Enumerable.Range(s.FirstSeed, s.Seeds).ToArray();
        var models = new List<CountingModel>();
        foreach (string head in s.Heads)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var architecture = Architecture(s, head, pixels, s.TrainLength);
            using var model = new Model(device, architecture, seeds);
            var clock = Stopwatch.StartNew();
            float[] losses;
            bool[] diverged;
            using (var trainer = new Trainer(model, data, new TrainerOptions
            {
                Batch = s.Batch, Optimizer = OptimizerOptions.Adam(s.LearningRate), EvaluateEvery = 0,
                ReportEvery = Math.Max(1, s.Steps / 20),
            }))
            {
                trainer.Train(s.Steps, p => onProgress?.Invoke(head, p), cancellationToken);
                losses = trainer.LastLosses;
                diverged = trainer.Diverged;
            }

            double seconds = clock.Elapsed.TotalSeconds;
            var parameters = model.GetParameters();
            var scores = s.TestLengths.Select(length => Score(device, s, head, seeds, parameters, test, length)).ToArray();
            var trained = seeds.Select((seed, m) => new CountingModel(head, seed, architecture.ToString(), losses[m],
                diverged[m] || scores.Any(sc => !double.IsFinite(sc[m].Mae)), seconds, scores.Select(sc => sc[m]).ToArray())).ToArray();
            models.AddRange(trained);
            onModel?.Invoke(head, trained);
        }

        return new CountingResult(s, device.ToString(), pixels, train.Count, test.Count, models);
    }

    /// <summary>Every model's score on <see cref="CountingSettings.TestSequences"/> test sequences of <paramref name="length"/> images.</summary>
    private static CountingScore[] Score(NaluDevice device, CountingSettings s, string head, int[] seeds, float[] parameters, ImageSet test, int length)
    {
        int pixels = test.PixelsPerImage, outputs = ImageSequences.Outputs(s.Target), p = seeds.Length;
        using var model = new Model(device, Architecture(s, head, pixels, length), seeds);
        model.SetParameters(parameters);
        var absError = new double[p];
        var correct = new long[p];
        var wholeCorrect = new long[p];
        // Chunks of at most ~4 M input values per model, so a length of 1,000 does not hold every sequence at once.
        int chunk = (int)Math.Clamp(4_000_000L / ((long)length * pixels), 1, s.TestSequences);
        for (int done = 0, part = 0; done < s.TestSequences; done += chunk, part++)
        {
            int n = Math.Min(chunk, s.TestSequences - done);
            // The test sequences of a length are the same for every head: seeded by the data seed, the length and the part.
            var (x, targets, _) = ImageSequences.Draw(test, s.Target, n, length, HashCode.Combine(s.DataSeed, length, part, 7));
            var predictions = model.Predict(x, n);
            // The last step's outputs: with cumulative targets the model writes every step's, step-major.
            int written = s.Cumulative ? length * outputs : outputs, lastStep = written - outputs;
            for (int m = 0; m < p; m++)
            {
                for (int q = 0; q < n; q++)
                {
                    bool all = true;
                    for (int o = 0; o < outputs; o++)
                    {
                        double predicted = predictions[m][q * written + lastStep + o], target = targets[q * outputs + o];
                        absError[m] += Math.Abs(predicted - target);
                        bool right = double.IsFinite(predicted) && Math.Round(predicted) == target;
                        if (right)
                            correct[m]++;
                        all &= right;
                    }

                    if (all)
                        wholeCorrect[m]++;
                }
            }
        }

        double values = (double)s.TestSequences * outputs;
        return Enumerable.Range(0, p).Select(m => new CountingScore(length, correct[m] / values, wholeCorrect[m] / (double)s.TestSequences,
            absError[m] / values)).ToArray();
    }
}
