using System.Diagnostics;
using System.Globalization;
using System.Text;
using CommandLine;
using Nalu.Gpu.Data;
using Nalu.Gpu.Devices;
using Nalu.Gpu.Experiments;
using Nalu.Gpu.Tasks;

namespace Nalu.Gpu.Bench.Cli;

/// <summary><c>nalu experiment counting</c> (flat verb <c>experiment-counting</c>): Trask et al.'s Table 2 on IDX images.</summary>
[Verb(ExperimentCountingOptions.VerbName, HelpText = "Experiment 4, the NALU paper's Table 2: a per-image network and a recurrent head " +
    "(NAC, NAU, LSTM, tanh RNN) count the classes of, or add the labels of, a sequence of images; trained on 10 images, tested on " +
    "longer sequences. Default data: Debian's dataset-fashion-mnist. Also spelled 'nalu experiment counting'.")]
public sealed class ExperimentCountingOptions : CommonOptions
{
    public const string VerbName = "experiment-counting";

    /// <summary>Where Debian's <c>dataset-fashion-mnist</c> puts its files.</summary>
    public const string DebianFashionMnist = "/usr/share/datasets/fashion-mnist";

    [Option("task", Default = "counting", HelpText = "counting (how many images of each class: 10 outputs) or addition (the sum of the labels, each read as a digit 0-9).")]
    public string Task { get; set; } = "counting";

    [Option("heads", HelpText = "Recurrent heads, comma separated: nac, nau, lstm, rnn-tanh (default all four; nac,lstm with --quick).")]
    public string? Heads { get; set; }

    [Option("seeds", HelpText = "Seeds per head, trained together (default 5; 3 with --quick).")]
    public int? Seeds { get; set; }

    [Option("seed", Default = 0, HelpText = "First seed; the models use seed..seed+seeds-1.")]
    public int Seed { get; set; }

    [Option("steps", Default = 20000, HelpText = "Adam steps (also with --quick: fewer leave the recurrent weights short of 1, see docs/results.md).")]
    public int Steps { get; set; } = 20000;

    [Option("lr", Default = 3e-3f, HelpText = "Adam learning rate.")]
    public float LearningRate { get; set; } = 3e-3f;

    [Option("batch", Default = 32, HelpText = "Sequences per step.")]
    public int Batch { get; set; } = 32;

    [Option("train-length", Default = 10, HelpText = "Images per training sequence (Trask et al.: 10).")]
    public int TrainLength { get; set; } = 10;

    [Option("test-lengths", HelpText = "Images per test sequence, comma separated (default 1,10,100,1000; 10,100,1000 with --quick).")]
    public string? TestLengths { get; set; }

    [Option("train-sequences", HelpText = "Training sequences drawn once from the training images (default 10000; 2000 with --quick).")]
    public int? TrainSequences { get; set; }

    [Option("test-sequences", HelpText = "Test sequences per test length, from the test images (default 1000; 100 with --quick).")]
    public int? TestSequences { get; set; }

    [Option("hidden", HelpText = "Hidden width of the per-image network (default 64; 32 with --quick).")]
    public int? Hidden { get; set; }

    [Option("recurrent-hidden", Default = 32, HelpText = "Hidden width of the LSTM and tanh-RNN heads.")]
    public int RecurrentHidden { get; set; } = 32;

    [Option("pool", HelpText = "Average-pool each image by this factor first (default 1: 28x28; 2 with --quick: 14x14).")]
    public int? Pool { get; set; }

    [Option("data", HelpText = "A folder holding the four MNIST-named IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each optionally .gz). Default: " + DebianFashionMnist + ".")]
    public string? Data { get; set; }

    [Option("images", HelpText = "TRAIN,TEST image files (IDX), instead of --data; give --labels too.")]
    public string? Images { get; set; }

    [Option("labels", HelpText = "TRAIN,TEST label files (IDX, labels 0-9), with --images.")]
    public string? Labels { get; set; }

    [Option("out", Default = "results/counting", HelpText = "Output folder: results.json, table.md, table.csv.")]
    public string Out { get; set; } = "results/counting";

    [Option("quick", HelpText = "About 3 minutes on 2 cores: heads nac,lstm, 3 seeds, 14x14 images, a 32-wide per-image network, 2000 training sequences, 100 test sequences per length 10/100/1000.")]
    public bool Quick { get; set; }

    [Option("quiet", HelpText = "No progress output.")]
    public bool Quiet { get; set; }

    internal CountingSettings BuildSettings()
    {
        var target = Task.Trim().ToLowerInvariant() switch
        {
            "counting" => ImageSequenceTarget.Counting,
            "addition" => ImageSequenceTarget.Addition,
            _ => throw new UsageException($"--task '{Task}' is not counting or addition."),
        };
        var heads = (Heads ?? (Quick ? "nac,lstm" : string.Join(",", CountingSettings.KnownHeads)))
            .Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(h => h.ToLowerInvariant()).ToArray();
        foreach (var head in heads)
        {
            if (!CountingSettings.KnownHeads.Contains(head))
                throw new UsageException($"--heads: '{head}' is not one of {string.Join(", ", CountingSettings.KnownHeads)}.");
        }

        if (heads.Length == 0)
            throw new UsageException("--heads names no head.");
        if (heads.Distinct().Count() != heads.Length)
            throw new UsageException("--heads names a head twice.");
        var lengths = ParseLengths(TestLengths ?? (Quick ? "10,100,1000" : "1,10,100,1000"));
        var s = new CountingSettings
        {
            Target = target, Heads = heads, Seeds = Seeds ?? (Quick ? 3 : 5), FirstSeed = Seed, Steps = Steps,
            LearningRate = LearningRate, Batch = Batch, TrainLength = TrainLength, TestLengths = lengths,
            TrainSequences = TrainSequences ?? (Quick ? 2000 : 10_000), TestSequences = TestSequences ?? (Quick ? 100 : 1000),
            Hidden = Hidden ?? (Quick ? 32 : 64), RecurrentHidden = RecurrentHidden, Pool = Pool ?? (Quick ? 2 : 1),
        };
        Check(s.Seeds, "--seeds");
        Check(s.Steps, "--steps");
        Check(s.Batch, "--batch");
        Check(s.TrainLength, "--train-length");
        Check(s.TrainSequences, "--train-sequences");
        Check(s.TestSequences, "--test-sequences");
        Check(s.Hidden, "--hidden");
        Check(s.RecurrentHidden, "--recurrent-hidden");
        Check(s.Pool, "--pool");
        if (!(float.IsFinite(s.LearningRate) && s.LearningRate > 0))
            throw new UsageException($"--lr {s.LearningRate} must be a positive number.");
        if (string.IsNullOrWhiteSpace(Out))
            throw new UsageException("--out must name a folder.");
        return s;
    }

    private static void Check(int value, string option)
    {
        if (value < 1)
            throw new UsageException($"{option} {value} must be at least 1.");
    }

    private static int[] ParseLengths(string text)
    {
        var lengths = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!int.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out int length) || length < 1)
                throw new UsageException($"--test-lengths: '{part}' is not a whole number of images ≥ 1.");
            if (lengths.Contains(length))
                throw new UsageException($"--test-lengths names {length} twice.");
            lengths.Add(length);
        }

        return lengths.Count > 0 ? lengths.ToArray() : throw new UsageException("--test-lengths names no length.");
    }

    /// <summary>The four files: from --images/--labels, else --data, else Debian's Fashion-MNIST.</summary>
    internal (string TrainImages, string TrainLabels, string TestImages, string TestLabels) DataFiles()
    {
        if (Images is not null || Labels is not null)
        {
            if (Data is not null)
                throw new UsageException("Give either --data or --images with --labels, not both.");
            if (Images is null || Labels is null)
                throw new UsageException("--images and --labels go together: each names a TRAIN,TEST pair of IDX files.");
            var images = Pair(Images, "--images");
            var labels = Pair(Labels, "--labels");
            return (images.Train, labels.Train, images.Test, labels.Test);
        }

        string folder = Data ?? DebianFashionMnist;
        if (!Directory.Exists(folder))
        {
            throw new UsageException(Data is null
                ? $"No image data: Fashion-MNIST is not installed in {DebianFashionMnist}. Install it with 'sudo apt-get install dataset-fashion-mnist' " +
                  "(Debian/Ubuntu, 30 MB), or give --data FOLDER (MNIST-named IDX files) or --images TRAIN,TEST --labels TRAIN,TEST."
                : $"--data '{Data}' is not a folder. (For Fashion-MNIST, 'sudo apt-get install dataset-fashion-mnist' puts its files in {DebianFashionMnist}.)");
        }

        return (Find(folder, "train-images-idx3-ubyte"), Find(folder, "train-labels-idx1-ubyte"),
            Find(folder, "t10k-images-idx3-ubyte"), Find(folder, "t10k-labels-idx1-ubyte"));
    }

    private static (string Train, string Test) Pair(string text, string option)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length != 2 || parts.Any(p => p.Length == 0))
            throw new UsageException($"{option} '{text}' must be two files, TRAIN,TEST.");
        if (Path.GetFullPath(parts[0]) == Path.GetFullPath(parts[1]))
            throw new UsageException($"{option} names the same file for training and test; the test images must be others than the training ones.");
        return (parts[0], parts[1]);
    }

    private static string Find(string folder, string name)
    {
        foreach (var candidate in new[] { name, name + ".gz", name.Replace("-idx", ".idx", StringComparison.Ordinal), name.Replace("-idx", ".idx", StringComparison.Ordinal) + ".gz" })
        {
            string path = Path.Combine(folder, candidate);
            if (File.Exists(path))
                return path;
        }

        throw new UsageException($"{folder} has no {name} (nor {name}.gz): it needs the four MNIST-named IDX files.");
    }

    /// <summary>The full equivalent command line, for the result files.</summary>
    internal string CommandLine(CountingSettings s, (string, string, string, string) files)
    {
        var inv = CultureInfo.InvariantCulture;
        return string.Join(" ", new[]
        {
            "nalu experiment counting", $"--task {s.Target.ToString().ToLowerInvariant()}", $"--heads {string.Join(",", s.Heads)}",
            $"--seeds {s.Seeds}", $"--seed {s.FirstSeed}", $"--steps {s.Steps}", $"--lr {s.LearningRate.ToString("G", inv)}", $"--batch {s.Batch}",
            $"--train-length {s.TrainLength}", $"--test-lengths {string.Join(",", s.TestLengths)}", $"--train-sequences {s.TrainSequences}",
            $"--test-sequences {s.TestSequences}", $"--hidden {s.Hidden}", $"--recurrent-hidden {s.RecurrentHidden}", $"--pool {s.Pool}",
            $"--images {files.Item1},{files.Item3}", $"--labels {files.Item2},{files.Item4}", $"--device {Device.ToLowerInvariant()}", $"--out {Out}",
        });
    }
}

internal static class ExperimentCountingCommand
{
    public const string JsonFile = "results.json", MarkdownFile = "table.md", CsvFile = "table.csv";

    public static int Run(ExperimentCountingOptions o) => Run(o, Console.Out);

    public static int Run(ExperimentCountingOptions o, TextWriter log)
    {
        var settings = o.BuildSettings();
        var files = o.DataFiles();
        if (File.Exists(o.Out))
            throw new UsageException($"--out '{o.Out}' is a file; give a folder.");
        IO.SafeFile.EnsureDistinct(
            [("training images", files.TrainImages), ("training labels", files.TrainLabels), ("test images", files.TestImages), ("test labels", files.TestLabels)],
            [("results", Path.Combine(o.Out, ExperimentCountingCommand.JsonFile)), ("table", Path.Combine(o.Out, MarkdownFile)), ("table", Path.Combine(o.Out, CsvFile))]);
        ImageSet train, test;
        try
        {
            train = ImageSet.Load(files.TrainImages, files.TrainLabels, settings.Pool);
            test = ImageSet.Load(files.TestImages, files.TestLabels, settings.Pool);
        }
        catch (Exception e) when (e is DataFileException or FileNotFoundException or DirectoryNotFoundException)
        {
            throw new UsageException(e.Message);
        }

        if (train.PixelsPerImage != test.PixelsPerImage)
            throw new UsageException($"The training images are {train.Rows}×{train.Columns} after pooling, the test images {test.Rows}×{test.Columns}; they must match.");
        using var device = NaluDevice.Create(o.DeviceKind, o.DeviceIndex);
        Directory.CreateDirectory(o.Out);
        string command = o.CommandLine(settings, files);
        if (!o.Quiet)
        {
            log.WriteLine($"Device: {device}");
            log.WriteLine($"{settings.Target} on {train.Count:N0} training and {test.Count:N0} test images ({train.Rows}×{train.Columns}): " +
                $"{settings.Heads.Count} head(s) × {settings.Seeds} seeds, {settings.Steps} Adam steps (lr {settings.LearningRate:G}), " +
                $"sequences of {settings.TrainLength}, tested at {string.Join(", ", settings.TestLengths)}");
        }

        var clock = Stopwatch.StartNew();
        int lastReported = -1;
        var result = CountingExperiment.Run(device, settings, train, test,
            onProgress: o.Quiet ? null : (head, p) =>
            {
                int tenth = 10 * p.Step / Math.Max(1, p.TotalSteps);
                if (tenth == lastReported)
                    return;
                lastReported = tenth;
                log.WriteLine(FormattableString.Invariant($"  {head,-8} step {p.Step,6}/{p.TotalSteps}  loss {Median(p.Losses),-10:G3} ({p.StepsPerSecond:F0} steps/s)"));
            },
            onModel: o.Quiet ? null : (head, models) =>
            {
                lastReported = -1;
                log.WriteLine($"  {head}: trained and scored in {models[0].TrainSeconds:F1} s of training");
            });
        clock.Stop();

        string markdown = Markdown(result);
        Output.WriteAtomically(Path.Combine(o.Out, JsonFile), System.Text.Json.JsonSerializer.Serialize(new
        {
            Command = command, WallSeconds = clock.Elapsed.TotalSeconds, result.Device, result.Settings, result.PixelsPerImage,
            result.TrainImages, result.TestImages, result.Models,
        }, Output.Json));
        Output.WriteAtomically(Path.Combine(o.Out, MarkdownFile), $"Command: `{command}`\n\nWall time {clock.Elapsed.TotalSeconds:F0} s on {result.Device}.\n\n{markdown}");
        Output.WriteAtomically(Path.Combine(o.Out, CsvFile), Csv(result));
        if (!o.Quiet)
        {
            log.WriteLine();
            log.Write(markdown);
            log.WriteLine($"Wrote {JsonFile}, {MarkdownFile} and {CsvFile} to {Path.GetFullPath(o.Out)} ({clock.Elapsed.TotalSeconds:F0} s)");
        }

        // 3, as every verb: a model diverged in training or overflowed on a test length (its files are still written).
        return result.Models.Any(m => m.Diverged) ? 3 : 0;
    }

    private static double Median(float[] values)
    {
        var sorted = values.Where(float.IsFinite).Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted[sorted.Length / 2];
    }

    /// <summary>Per head and length: the median over seeds of the accuracy and the MAE, and how many seeds diverged.</summary>
    internal static IEnumerable<(string Head, int Length, double Accuracy, double SequenceAccuracy, double Mae, double MaePerImage, int Diverged, int Seeds)> Rows(CountingResult r)
    {
        foreach (var head in r.Settings.Heads)
        {
            var models = r.Models.Where(m => m.Head == head).ToArray();
            foreach (int length in r.Settings.TestLengths)
            {
                var scores = models.Select(m => m.Scores.First(s => s.Length == length)).ToArray();
                double mae = MedianOf(scores.Select(s => s.Mae));
                yield return (head, length, MedianOf(scores.Select(s => s.Accuracy)), MedianOf(scores.Select(s => s.SequenceAccuracy)), mae,
                    mae / length, models.Count(m => m.Diverged), models.Length);
            }
        }
    }

    private static double MedianOf(IEnumerable<double> values)
    {
        var sorted = values.Select(v => double.IsNaN(v) ? double.PositiveInfinity : v).Order().ToArray();
        if (sorted.Length == 0)
            return double.NaN;
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    internal static string Markdown(CountingResult r)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        string what = r.Settings.Target == ImageSequenceTarget.Counting ? "count of each class" : "sum of the labels";
        sb.AppendLine($"| head | length | accuracy | sequences exact | MAE | MAE / image | diverged |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (var row in Rows(r))
        {
            sb.AppendLine(string.Format(inv, "| {0} | {1} | {2:P1} | {3:P1} | {4:G3} | {5:G3} | {6}/{7} |", row.Head, row.Length, row.Accuracy,
                row.SequenceAccuracy, row.Mae, row.MaePerImage, row.Diverged, row.Seeds));
        }

        sb.AppendLine();
        sb.AppendLine($"Target: the {what}, read after the last image; trained on sequences of {r.Settings.TrainLength}. Accuracy: outputs that round " +
            "to the target; sequences exact: sequences whose every output does; MAE: mean |prediction − target| per output; each the median over the seeds.");
        return sb.ToString();
    }

    internal static string Csv(CountingResult r)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder("head,seed,length,accuracy,sequence_accuracy,mae,final_loss,diverged,train_seconds\n");
        foreach (var m in r.Models)
        {
            foreach (var s in m.Scores)
            {
                sb.AppendLine(string.Format(inv, "{0},{1},{2},{3:G6},{4:G6},{5:G6},{6:G6},{7},{8:F1}", m.Head, m.Seed, s.Length, s.Accuracy,
                    s.SequenceAccuracy, s.Mae, m.FinalLoss, m.Diverged ? 1 : 0, m.TrainSeconds));
            }
        }

        return sb.ToString();
    }
}
