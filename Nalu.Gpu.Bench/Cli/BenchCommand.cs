using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using CommandLine;
using Nalu.Gpu.Data;
using Nalu.Gpu.Devices;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Models;
using Nalu.Gpu.Tasks;
using Nalu.Gpu.Training;
using Spectre.Console;

namespace Nalu.Gpu.Bench.Cli;

[Verb("bench", HelpText = "Time training throughput here and in PyTorch, in one run, and print the ratios.")]
public sealed class BenchOptions : CommonOptions
{
    [Option("config", Default = "all", HelpText = "reference (NALU 100→2→1, batch 128, Adam, 1 model), population (the same, 64 models), large-batch (1 model, batch 4096), nau-nmu (Madsen & Johansen's NAU→NMU 100→2→1 with its clamps and sparsity regulariser, 1 model), nau-nmu-population (the same, 64 models), stored (the reference model trained on a stored set of 100,000 rows, shuffled on the device; printed as a ratio to reference), recurrent (a NALU cell over [x_t, h] on sequences of 10 steps of 10 values, then a NALU readout; 1 model), recurrent-population (the same, 64 models), recurrent-nac and recurrent-nac-population (NAC cells), or all; several may be given, comma separated (e.g. reference,stored).")]
    public string Config { get; set; } = "all";

    [Option("devices", HelpText = "Our devices to time, comma separated (cpu, native, cuda, opencl). Default: cuda when present, else cpu and native. Overrides --device.")]
    public string? Devices { get; set; }

    [Option("seconds", Default = 2.0, HelpText = "Target seconds per timed repeat (ours).")]
    public double Seconds { get; set; } = 2.0;

    [Option("repeats", Default = 3, HelpText = "Timed repeats; the median is reported.")]
    public int Repeats { get; set; } = 3;

    [Option("python", Default = "/usr/bin/python3", HelpText = "Python with PyTorch (Debian: apt install python3-torch).")]
    public string Python { get; set; } = "/usr/bin/python3";

    [Option("torch-device", Default = "auto", HelpText = "PyTorch device: auto (cuda when our device is CUDA, else cpu), cpu, cuda.")]
    public string TorchDevice { get; set; } = "auto";

    [Option("torch-script", HelpText = "Path to tools/torch/nalu_bench.py (in the source repository). Default: found by walking up from the program and the working directory; a `dotnet tool install` of nalu has no copy, so pass it here.")]
    public string? TorchScript { get; set; }

    [Option("no-torch", HelpText = "Skip PyTorch.")]
    public bool NoTorch { get; set; }

    [Option("json", HelpText = "Write all results as JSON to this file ('-' for stdout).")]
    public string? Json { get; set; }

    [Option("strategy", Default = "auto", HelpText = "Step layouts to time, comma separated (auto, fused, fused-interleaved, group, batched, native): a row per layout. A layout the device or this build cannot run is reported and skipped.")]
    public string Strategy { get; set; } = "auto";

    [Option("models", HelpText = "Population sizes P to time instead of each configuration's own, comma separated (e.g. 1,64,1024,8192): a row per P.")]
    public string? Models { get; set; }

    [Option("markdown", HelpText = "Also write the table as Markdown to this file.")]
    public string? Markdown { get; set; }
}

/// <summary>One configuration timed on one device.</summary>
public sealed record BenchRow(
    string Config, string Device, string Strategy, int Models, int Batch, double ModelStepsPerSecond, double SamplesPerSecond,
    double FlopsPerSample, double BytesPerSample, double PeakFraction, string PeakBasis,
    double? TorchModelStepsPerSecond, int? TorchThreads, string? TorchDevice, double? Ratio);

internal static class BenchCommand
{
    // Unit: the PyTorch script's --unit, and which of our architectures (nalu or nau-nmu). StoredRows > 0: train on a
    // stored data set of that many rows (the task's samples, made on the host) instead of the generator.
    // Sequence > 0: the recurrent task (sequences of that many steps of RecurrentInputs values) with the unit as a
    // recurrent cell over [x_t, h] (state 2), then a readout of the same unit.
    private sealed record Config(string Name, int Models, int Batch, int TorchSteps, string Unit = "nalu", int StoredRows = 0, int Sequence = 0)
    {
        public const int RecurrentInputs = 10, RecurrentSubset = 3, RecurrentGap = 2;

        public ModelArchitecture Architecture() => Sequence > 0
            ? new ModelArchitecture([
                LayerSpec.Recurrent(new LayerSpec(Unit == "nac" ? UnitKind.Nac : UnitKind.Nalu, RecurrentInputs + 2, 2), Sequence),
                new LayerSpec(Unit == "nac" ? UnitKind.Nac : UnitKind.Nalu, 2, 1)])
            : Unit == "nau-nmu"
            ? ModelPresets.Create("nau-nmu", 100, 2)
            : ModelArchitecture.Uniform(UnitKind.Nalu, 100, 2, 1);

        public ArithmeticTask Task() => Sequence > 0
            ? new ArithmeticTask(ArithmeticOp.Mul, RecurrentInputs, subsetSize: RecurrentSubset, subsetGap: RecurrentGap) { Steps = Sequence }
            : new ArithmeticTask(ArithmeticOp.Mul);
    }

    private static readonly Config[] Configs =
    [
        new("reference", 1, 128, 1000),
        new("population", 64, 128, 60),
        new("large-batch", 1, 4096, 60),
        new("nau-nmu", 1, 128, 1000, "nau-nmu"),
        new("nau-nmu-population", 64, 128, 60, "nau-nmu"),
        new("stored", 1, 128, 1000, StoredRows: 100_000),
        new("recurrent", 1, 128, 300, Sequence: 10),
        new("recurrent-population", 64, 128, 20, Sequence: 10),
        new("recurrent-nac", 1, 128, 300, "nac", Sequence: 10),
        new("recurrent-nac-population", 64, 128, 20, "nac", Sequence: 10),
    ];

    public static int Run(BenchOptions o)
    {
        if (o.Seconds <= 0 || o.Repeats < 1)
            throw new UsageException("--seconds must be positive and --repeats at least 1.");
        var configs = o.Config.ToLowerInvariant() == "all"
            ? Configs
            : o.Config.ToLowerInvariant().Split(',', StringSplitOptions.TrimEntries)
                .Select(n => Configs.FirstOrDefault(c => c.Name == n) ?? throw new UsageException(
                    $"--config '{n}' is not one of {string.Join(", ", Configs.Select(c => c.Name))}, all."))
                .ToArray();
        if (configs.Length == 0)
            throw new UsageException($"--config '{o.Config}' is not one of {string.Join(", ", Configs.Select(c => c.Name))}, all.");
        var kinds = ResolveDevices(o);
        var strategies = o.Strategy.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(ModelOptions.ParseStrategy).Distinct().ToArray();
        if (strategies.Length == 0)
            throw new UsageException("--strategy needs at least one layout.");
        int[]? populations = o.Models?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(m => int.TryParse(m, NumberStyles.None, CultureInfo.InvariantCulture, out int p) && p >= 1 ? p
                : throw new UsageException($"--models '{m}' is not a whole number ≥ 1."))
            .Distinct().ToArray();
        if (populations is { Length: 0 })
            throw new UsageException("--models needs at least one population size.");
        if (populations is not null)
            configs = configs.SelectMany(c => populations.Select(p => c with { Models = p })).ToArray();
        if (o.TorchScript is not null && !File.Exists(o.TorchScript))
            throw new UsageException($"--torch-script '{o.TorchScript}' does not exist; it should be tools/torch/nalu_bench.py of a clone of the Nalu.Gpu repository.");
        string? script = o.NoTorch ? null : o.TorchScript is not null ? Path.GetFullPath(o.TorchScript) : FindTorchScript();
        bool toStdout = o.Json == "-";
        var log = toStdout ? Console.Error : Console.Out;
        if (script is null && !o.NoTorch)
            log.WriteLine(TorchScriptMissing);

        var rows = new List<BenchRow>();
        var torchCache = new Dictionary<(string, string), TorchResult?>();
        var skipped = new List<string>();
        foreach (var (kind, index) in kinds)
        {
            using var device = NaluDevice.Create(kind, index);
            foreach (var config in configs)
            foreach (var requested in strategies)
            {
                log.WriteLine($"[{config.Name}, P = {config.Models}, {ModelOptions.StrategyName(requested)}] {device} …");
                double rate;
                string strategy;
                try
                {
                    (rate, strategy) = TimeOurs(device, config, o, requested);
                }
                catch (Exception e) when (e is NotSupportedException or ArgumentException or InsufficientMemoryException)
                {
                    // A layout this device or build cannot run (native on a GPU, group where it is not built, a
                    // population too large for the device) is a hole in the grid, not the end of the run.
                    string line = $"{config.Name}, P = {config.Models}, {ModelOptions.StrategyName(requested)} on {device.ShortName}: skipped ({e.Message})";
                    log.WriteLine("  " + line);
                    skipped.Add(line);
                    continue;
                }

                string torchDevice = o.TorchDevice == "auto" ? (kind == DeviceKind.Cuda ? "cuda" : "cpu") : o.TorchDevice;
                if (!torchCache.TryGetValue((config.Name + "/" + config.Models, torchDevice), out var torch))
                {
                    // The peer script only generates data; a stored-set row is compared with our generator instead.
                    torch = script is null || config.StoredRows > 0 ? null : TimeTorch(o.Python, script, config, torchDevice, o.Repeats, log);
                    torchCache[(config.Name + "/" + config.Models, torchDevice)] = torch;
                }

                var arch = config.Architecture();
                double flops = Roofline.FlopsPerSample(arch);
                var (peak, basis) = Roofline.Peak(device);
                rows.Add(new BenchRow(config.Name, device.ShortName, strategy, config.Models, config.Batch, rate, rate * config.Batch,
                    flops, Roofline.BytesPerSample(arch, config.Batch), rate * config.Batch * flops / peak, basis,
                    torch?.ModelStepsPerSecond, torch?.Threads, torch is null ? null : torchDevice,
                    torch is null ? null : rate / torch.ModelStepsPerSecond));
                WriteFiles(final: false);
            }
        }

        Print(rows, log, script is null && !o.NoTorch);
        WriteFiles(final: true);
        return 0;

        // The files are rewritten after every row, so a grid stopped by a time limit still leaves what it measured.
        void WriteFiles(bool final)
        {
            if (o.Markdown is not null)
                Output.WriteAtomically(o.Markdown, MarkdownTable(rows, skipped));
            if (o.Json is null)
                return;
            string json = JsonSerializer.Serialize(rows, Output.Json);
            if (!toStdout)
                Output.WriteAtomically(o.Json, json);
            else if (final)
                Console.WriteLine(json);
        }
    }

    private static (DeviceKind Kind, int Index)[] ResolveDevices(BenchOptions o)
    {
        if (o.Devices is null)
        {
            if (o.DeviceKind != DeviceKind.Auto)
                return [(o.DeviceKind, o.DeviceIndex)];
            bool cuda = NaluDevice.List().Any(d => d.Kind == DeviceKind.Cuda);
            return cuda ? [(DeviceKind.Cuda, 0)] : [(DeviceKind.Cpu, 0), (DeviceKind.Native, 0)];
        }

        return o.Devices.Split(',').Select(CommonOptions.ParseDevice).Distinct().ToArray();
    }

    /// <summary>The rows as a Markdown table (model-steps/s, and PyTorch's where it ran), then the skipped layouts.</summary>
    internal static string MarkdownTable(IReadOnlyList<BenchRow> rows, IReadOnlyList<string> skipped)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new System.Text.StringBuilder();
        sb.AppendLine("| Configuration | Device | Strategy | P | Batch | Model-steps/s | Samples/s | PyTorch model-steps/s | Ratio |");
        sb.AppendLine("|---|---|---|---:|---:|---:|---:|---:|---:|");
        foreach (var r in rows)
        {
            sb.AppendLine(inv, $"| {r.Config} | {r.Device} | {r.Strategy} | {r.Models} | {r.Batch} | {r.ModelStepsPerSecond.ToString("N0", inv)} | " +
                $"{r.SamplesPerSecond.ToString("0.0e0", inv)} | {(r.TorchModelStepsPerSecond is { } t ? t.ToString("N0", inv) : "—")} | " +
                $"{(r.Ratio is { } x ? x.ToString("F2", inv) + "×" : "—")} |");
        }

        if (skipped.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine("Skipped:");
            foreach (string line in skipped)
                sb.AppendLine("- " + line);
        }

        return sb.ToString();
    }

    /// <summary>Median model-steps/s over repeats of about --seconds each, after an untimed warm-up of about a second (kernel compile, tiered JIT).</summary>
    private static (double Rate, string Strategy) TimeOurs(NaluDevice device, Config config, BenchOptions o, TrainingStrategy strategy)
    {
        var seeds = Enumerable.Range(0, config.Models).ToArray();
        using var model = new Model(device, config.Architecture(), seeds);
        var task = config.Task();
        var options = new TrainerOptions { Batch = config.Batch, EvaluateEvery = 0, StepsPerLaunch = 50, Strategy = strategy };
        using var data = config.StoredRows > 0 ? StoredTaskSamples(device, task, config.StoredRows) : null;
        using var trainer = data is null ? new Trainer(model, task, options) : new Trainer(model, data, options);
        // The warm-up trains for about a second (half of --seconds when shorter), not a fixed few steps: .NET recompiles
        // hot methods at tier 1 in the background some 100 ms after they get hot, and on two busy cores that recompile
        // landed inside the first timed repeat, which then read up to a third slow.
        trainer.Train(2);
        double warmup = Math.Min(1.0, o.Seconds / 2);
        var clock = Stopwatch.StartNew();
        int warmSteps = 0;
        for (int chunk = 8; warmSteps == 0 || clock.Elapsed.TotalSeconds < warmup; chunk = Math.Min(2 * chunk, 4096))
        {
            trainer.Train(chunk);
            warmSteps += chunk;
        }

        double perStep = clock.Elapsed.TotalSeconds / warmSteps;
        int steps = (int)Math.Clamp(o.Seconds / Math.Max(perStep, 1e-6), 10, 1_000_000);
        var rates = new List<double>();
        for (int r = 0; r < o.Repeats; r++)
        {
            clock.Restart();
            trainer.Train(steps);
            rates.Add(steps * (double)config.Models / clock.Elapsed.TotalSeconds);
        }

        return (rates.Order().ElementAt(rates.Count / 2), ModelOptions.StrategyName(trainer.Strategy));
    }

    /// <summary>
    /// <paramref name="rows"/> samples of the task (training stream, seed 0) made on the host and uploaded: the same
    /// distribution the generator draws, so the stored and generated rows time the same model on the same kind of data.
    /// </summary>
    private static unsafe Dataset StoredTaskSamples(NaluDevice device, ArithmeticTask task, int rows)
    {
        var x = new float[(long)rows * task.Inputs];
        var y = new float[rows];
        var range = task.Interpolation.ToDevice();
        fixed (float* px = x)
        {
            var memory = new HostMemory(px);
            for (int r = 0; r < rows; r++)
            {
                y[r] = ArithmeticTaskMath.Generate(0, (int)task.Op, task.Inputs, task.SubsetSize, task.SubsetGap, range,
                    CounterRng.TrainStream, 0, r, memory, r * task.Inputs);
            }
        }

        return new Dataset(device, x, task.Inputs, y, 1);
    }

    private sealed record TorchResult(double ModelStepsPerSecond, int Threads, string Version);

    private static TorchResult? TimeTorch(string python, string script, Config config, string device, int repeats, TextWriter log)
    {
        var args = new[]
        {
            script, "--unit", config.Unit, "--op", "mul", "--inputs", (config.Sequence > 0 ? Config.RecurrentInputs : 100).ToString(CultureInfo.InvariantCulture),
            "--sequence", config.Sequence.ToString(CultureInfo.InvariantCulture), "--subset", Config.RecurrentSubset.ToString(CultureInfo.InvariantCulture),
            "--gap", Config.RecurrentGap.ToString(CultureInfo.InvariantCulture), "--hidden", "2", "--batch", config.Batch.ToString(CultureInfo.InvariantCulture),
            "--models", config.Models.ToString(CultureInfo.InvariantCulture), "--steps", config.TorchSteps.ToString(CultureInfo.InvariantCulture),
            "--repeats", repeats.ToString(CultureInfo.InvariantCulture), "--threads", "best", "--device", device,
        };
        var start = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
            start.ArgumentList.Add(a);
        try
        {
            using var process = Process.Start(start)!;
            var stderr = process.StandardError.ReadToEndAsync();
            string stdout = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                string reason = stderr.Result.Contains("No module named 'torch'", StringComparison.Ordinal)
                    ? $"PyTorch is not installed for {python} (Debian: apt install python3-torch)"
                    : stderr.Result.Trim().Split('\n').LastOrDefault() ?? "unknown error";
                log.WriteLine($"  PyTorch run failed: {reason}");
                return null;
            }

            using var doc = JsonDocument.Parse(stdout);
            var root = doc.RootElement;
            var result = new TorchResult(root.GetProperty("model_steps_per_s").GetDouble(), root.GetProperty("threads").GetInt32(),
                root.GetProperty("torch_version").GetString() ?? "?");
            log.WriteLine($"  PyTorch {result.Version} ({device}, {result.Threads} thread(s)): {result.ModelStepsPerSecond:F0} model-steps/s");
            return result;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or JsonException or KeyNotFoundException or InvalidOperationException)
        {
            log.WriteLine($"  PyTorch not available: {python}: {e.Message}");
            return null;
        }
    }

    private const string TorchScriptMissing =
        "PyTorch comparison skipped: tools/torch/nalu_bench.py was not found above the program or the working directory " +
        "(an installed .NET tool has no copy of it). Pass --torch-script PATH/TO/tools/torch/nalu_bench.py from a clone " +
        "of the Nalu.Gpu repository, run nalu from inside such a clone, or pass --no-torch to time only ours.";

    /// <summary>tools/torch/nalu_bench.py, found by walking up from the program and the working directory.</summary>
    private static string? FindTorchScript()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "tools", "torch", "nalu_bench.py");
                if (File.Exists(candidate))
                    return candidate;
            }
        }

        return null;
    }

    private static void Print(IReadOnlyList<BenchRow> rows, TextWriter log, bool scriptMissing)
    {
        var table = new Table().AddColumns("Config", "Device", "Models×Batch", "Model-steps/s", "Samples/s", "PyTorch steps/s", "Ratio", "Flops/sample", "% of fp32 peak");
        foreach (var r in rows)
        {
            table.AddRow(r.Config, Markup.Escape($"{r.Device} ({r.Strategy})"), $"{r.Models}×{r.Batch}", $"{r.ModelStepsPerSecond:F0}",
                $"{r.SamplesPerSecond:G3}", r.TorchModelStepsPerSecond is double t ? $"{t:F0} ({r.TorchDevice}, {r.TorchThreads}T)" : "-",
                r.Ratio is double x ? $"{x:F2}×" : "-", $"{r.FlopsPerSample:F0}", $"{100 * r.PeakFraction:F2}%");
        }

        var console = Output.Console(log);
        console.Write(table);
        foreach (var stored in rows.Where(r => r.Config == "stored"))
        {
            if (rows.FirstOrDefault(r => r.Config == "reference" && r.Device == stored.Device) is { } generated)
            {
                log.WriteLine($"stored / reference on {stored.Device}: {stored.ModelStepsPerSecond / generated.ModelStepsPerSecond:F3} " +
                    $"(the same model and batch; rows read from a stored set of 100,000 through an epoch shuffle instead of generated)");
            }
        }

        if (rows.Count > 0)
            log.WriteLine($"Peak basis: {rows[0].PeakBasis}. Bytes/sample (fused layout): {rows[0].BytesPerSample:G3} at batch {rows[0].Batch}.");
        if (scriptMissing)
            log.WriteLine(TorchScriptMissing);
    }
}
