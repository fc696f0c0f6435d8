using System.Globalization;
using System.Text;
using CommandLine;
using Nalu.Gpu.Checkpoints;
using Nalu.Gpu.Devices;
using Nalu.Gpu.IO;

namespace Nalu.Gpu.Bench.Cli;

[Verb("predict", HelpText = "Run a checkpoint on a CSV of inputs and write a CSV of outputs.")]
public sealed class PredictOptions : CommonOptions
{
    [Option("checkpoint", Required = true, HelpText = "A safetensors checkpoint written by 'train --save'.")]
    public string Checkpoint { get; set; } = "";

    [Option("input", Required = true, HelpText = "CSV with one row of I numbers per sample. The first line is a header when none of its cells is a number and each has a letter (e.g. x0,x1).")]
    public string Input { get; set; } = "";

    [Option("output", Default = "-", HelpText = "Output CSV ('-' for stdout). One column per output; populations get one column per model and output.")]
    public string Output { get; set; } = "-";
}

internal static class PredictCommand
{
    public static int Run(PredictOptions o)
    {
        if (string.IsNullOrWhiteSpace(o.Output))
            throw new UsageException("--output is empty; give a file path, or '-' for standard output.");
        if (o.Output != "-")
            TrainCommand.CheckWritable(o.Output, "--output");
        try
        {
            SafeFile.EnsureDistinct([("--checkpoint", o.Checkpoint), ("--input", o.Input)], [("--output", o.Output)]);
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }

        var contents = Checkpoints.Checkpoint.Read(o.Checkpoint);
        int inputs = contents.Architecture.Inputs;
        var (x, rows) = ReadCsv(o.Input, inputs);

        using var device = NaluDevice.Create(o.DeviceKind);
        using var model = new Models.Model(device, contents.Architecture, contents.Seeds);
        model.SetParameters(contents.Parameters);
        var outputs = model.Predict(x, rows);

        int width = contents.Architecture.Outputs;
        var csv = new StringBuilder();
        var header = new List<string>();
        for (int p = 0; p < model.Count; p++)
        {
            for (int k = 0; k < width; k++)
                header.Add(model.Count == 1 ? $"y{k}" : $"model{p}_y{k}");
        }

        csv.AppendLine(string.Join(',', header));
        for (int r = 0; r < rows; r++)
        {
            var cells = new List<string>();
            for (int p = 0; p < model.Count; p++)
            {
                for (int k = 0; k < width; k++)
                    cells.Add(outputs[p][r * width + k].ToString("R", CultureInfo.InvariantCulture));
            }

            csv.AppendLine(string.Join(',', cells));
        }

        if (o.Output == "-")
            Console.Write(csv);
        else
            Cli.Output.WriteAtomically(o.Output, csv.ToString());
        return 0;
    }

    /// <summary>
    /// A first line is a header only when it cannot be data: no cell parses as a number and every cell has a letter
    /// (so <c>x0,x1</c> is a header, while <c>inf,2</c>, <c>0x10,2</c> or <c>"1","2"</c> are data rows that then fail
    /// with their line and column, instead of being dropped).
    /// </summary>
    internal static bool IsHeader(string[] cells) =>
        cells.All(c => !float.TryParse(c, NumberStyles.Float, CultureInfo.InvariantCulture, out _) && c.Any(char.IsLetter));

    /// <summary>Reads rows of exactly <paramref name="inputs"/> finite numbers; errors name the line and column.</summary>
    internal static (float[] Values, int Rows) ReadCsv(string path, int inputs)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"Input CSV '{path}' does not exist.", path);
        var values = new List<float>();
        int rows = 0, lineNumber = 0;
        foreach (var raw in File.ReadLines(path))
        {
            lineNumber++;
            string line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
                continue;
            var cells = line.Split(',');
            if (rows == 0 && values.Count == 0 && IsHeader(cells))
                continue;
            if (cells.Length != inputs)
                throw new InvalidDataException($"{path}:{lineNumber}: {cells.Length} values, but the model takes {inputs} inputs.");
            for (int c = 0; c < cells.Length; c++)
            {
                if (!float.TryParse(cells[c], NumberStyles.Float, CultureInfo.InvariantCulture, out float v))
                    throw new InvalidDataException($"{path}:{lineNumber}: column {c + 1} '{cells[c].Trim()}' is not a number.");
                if (!float.IsFinite(v))
                    throw new InvalidDataException($"{path}:{lineNumber}: column {c + 1} is {cells[c].Trim()}; only finite inputs are accepted.");
                values.Add(v);
            }

            rows++;
        }

        if (rows == 0)
            throw new InvalidDataException($"{path}: no data rows.");
        return (values.ToArray(), rows);
    }
}
