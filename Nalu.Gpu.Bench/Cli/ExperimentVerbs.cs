namespace Nalu.Gpu.Bench.Cli;

/// <summary>
/// <c>nalu experiment NAME [options]</c>. CommandLineParser 2.9 has no nested verbs, so each experiment is
/// a flat verb <c>experiment-NAME</c>, and <see cref="Program.Main"/> first turns the two words into one.
/// Both spellings work; <c>--help</c> lists the flat name.
/// </summary>
internal static class ExperimentVerbs
{
    /// <summary>The experiments, by sub-command name.</summary>
    public static readonly IReadOnlyList<(string Name, string Description)> All =
    [
        ("failure", "Experiment 1, the NALU paper's Figure 1: MLPs fail to extrapolate the identity; a NAC does not."),
        ("arithmetic", "Experiment 2, the static arithmetic benchmark: units × ops × seeds × range pairs; resumable, --shard K/N."),
        ("recurrent", "Experiment 3, the recurrent arithmetic task: units as recurrent cells, trained on short sequences, tested on long ones."),
        ("counting", "Experiment 4, the NALU paper's Table 2: count or add what a sequence of images shows (IDX files; default Fashion-MNIST)."),
        ("merge", "Combines results.jsonl files of 'experiment arithmetic' (e.g. shards) into one table and plot."),
    ];

    /// <summary>
    /// <c>experiment failure --steps 10</c> becomes <c>experiment-failure --steps 10</c>; any other command line is
    /// returned as it is. Null when <c>experiment</c> is not followed by a known experiment.
    /// </summary>
    public static string[]? Rewrite(string[] args)
    {
        if (args.Length == 0 || !args[0].Equals("experiment", StringComparison.OrdinalIgnoreCase))
            return args;
        if (args.Length < 2 || !All.Any(e => e.Name.Equals(args[1], StringComparison.OrdinalIgnoreCase)))
            return null;
        return [$"experiment-{args[1].ToLowerInvariant()}", .. args[2..]];
    }

    /// <summary>Prints the experiments; exit code 0 for <c>experiment --help</c>, 2 for a missing or unknown name.</summary>
    public static int Usage(string[] args)
    {
        bool help = args.Length > 1 && args[1] is "--help" or "-h" or "help";
        var writer = help ? Console.Out : Console.Error;
        if (args.Length == 1)
            writer.WriteLine("error: name an experiment.");
        else if (!help)
            writer.WriteLine($"error: '{args[1]}' is not an experiment.");
        writer.WriteLine("Usage: nalu experiment <name> [options]   (or: nalu experiment-<name> [options])");
        writer.WriteLine("Experiments:");
        foreach (var (name, description) in All)
            writer.WriteLine($"  {name,-10} {description}");
        writer.WriteLine("Run 'nalu experiment <name> --help' for the options.");
        return help ? 0 : 2;
    }
}
