using CommandLine;
using Nalu.Gpu.Bench.Experiments;
using Nalu.Gpu.Experiments;

namespace Nalu.Gpu.Bench.Cli;

/// <summary><c>nalu experiment merge --out DIR results1.jsonl results2.jsonl …</c> (flat verb <c>experiment-merge</c>).</summary>
[Verb(VerbName, HelpText = "Combine results.jsonl files of 'experiment arithmetic' (e.g. one per --shard) into one results.jsonl, " +
    "table.md, table.csv, table.json and success.png. A model found twice counts once; the same model with different results is an error. " +
    "Also spelled 'nalu experiment merge'.")]
public sealed class ExperimentMergeOptions
{
    public const string VerbName = "experiment-merge";

    [Value(0, MetaName = "FILES", Required = true, HelpText = "results.jsonl files (or folders holding one).")]
    public IEnumerable<string> Files { get; set; } = [];

    [Option("out", Required = true, HelpText = "Output folder for the merged results.jsonl and the tables and plot.")]
    public string Out { get; set; } = "";

    [Option("quiet", HelpText = "Print nothing but errors.")]
    public bool Quiet { get; set; }
}

internal static class ExperimentMergeCommand
{
    public static int Run(ExperimentMergeOptions o) => Run(o, Console.Out);

    public static int Run(ExperimentMergeOptions o, TextWriter log)
    {
        var files = o.Files.ToArray();
        if (files.Length == 0)
            throw new UsageException("Name at least one results.jsonl file.");
        if (string.IsNullOrWhiteSpace(o.Out))
            throw new UsageException("--out must name a folder.");
        if (File.Exists(o.Out))
            throw new UsageException($"--out '{o.Out}' is a file; give a folder.");

        var all = new List<(string, ModelRecord)>();
        foreach (string given in files)
        {
            string path = Directory.Exists(given) ? Path.Combine(given, ExperimentArithmeticCommand.ResultsFileName) : given;
            if (!File.Exists(path))
                throw new FileNotFoundException($"Results file '{path}' does not exist.", path);
            // Never modify an input: a torn last line (a shard still running, or killed) is left out and reported.
            var (records, repaired) = ResultsFile.Load(path, repair: false);
            if (repaired is not null && !o.Quiet)
                log.WriteLine($"Note: {repaired}");
            if (records.Count == 0)
                throw new InvalidDataException($"{path}: no result records; nothing to merge from it.");
            all.AddRange(records.Select(r => (path, r)));
            if (!o.Quiet)
                log.WriteLine($"{path}: {records.Count} model(s)");
        }

        var merged = ResultsFile.Combine(all);
        Directory.CreateDirectory(o.Out);
        string outResults = Path.Combine(o.Out, ExperimentArithmeticCommand.ResultsFileName);
        // Writing over an input is fine: every input was read completely first, and the merged file holds all its records.
        Output.WriteAtomically(outResults, string.Concat(merged.Select(r => ResultsFile.ToLine(r) + "\n")));
        var rows = ArithmeticTable.Rows(merged);
        string source = $"merged from {files.Length} file(s): {string.Join(", ", files)}";
        ExperimentArithmeticCommand.WriteTables(o.Out, rows, merged, source, new { Merged = files, Models = merged.Count, Duplicates = all.Count - merged.Count });
        if (!o.Quiet)
        {
            log.WriteLine($"{merged.Count} model(s) ({all.Count - merged.Count} duplicate(s) counted once).");
            log.WriteLine();
            ExperimentArithmeticCommand.PrintTable(rows, log);
            log.WriteLine($"Wrote {ExperimentArithmeticCommand.ResultsFileName}, {ExperimentArithmeticCommand.MarkdownFile}, {ExperimentArithmeticCommand.CsvFile}, " +
                $"{ExperimentArithmeticCommand.JsonFile} and {ExperimentArithmeticCommand.PngFile} to {Path.GetFullPath(o.Out)}");
        }

        return 0;
    }
}
