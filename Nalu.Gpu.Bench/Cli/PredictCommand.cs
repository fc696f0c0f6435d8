using System.Globalization;
using System.Text;
using CommandLine;
using Nalu.Gpu.Checkpoints;
using Nalu.Gpu.Data;
using Nalu.Gpu.Devices;
using Nalu.Gpu.IO;

namespace Nalu.Gpu.Bench.Cli;

[Verb("predict", HelpText = "Run a checkpoint on a CSV or .npy file of inputs and write a CSV of outputs.")]
public sealed class PredictOptions : CommonOptions
{
    [Option("checkpoint", Required = true, HelpText = "A safetensors checkpoint written by 'train --save'.")]
    public string Checkpoint { get; set; } = "";

    [Option("input", Required = true, HelpText = "CSV with one row of I numbers per sample (the first line is a header when none of its cells is a number and each has a letter, e.g. x0,x1; blank and #-comment lines are skipped), or a .npy file of shape (N, I), or (N,) when I = 1.")]
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
        var (x, rows) = ReadInputs(o.Input, inputs);

        using var device = NaluDevice.Create(o.DeviceKind, o.DeviceIndex);
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
    /// Reads the inputs: a <c>.npy</c> file (1-D or 2-D, see <see cref="NpyFile"/>) or a CSV of rows of exactly
    /// <paramref name="inputs"/> finite numbers with an optional header (<see cref="CsvMatrix.IsHeader"/>); errors name
    /// the file, and for a CSV the line and column.
    /// </summary>
    internal static (float[] Values, int Rows) ReadInputs(string path, int inputs)
    {
        if (path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase))
        {
            FloatMatrix m = NpyFile.Read(path);
            if (m.Columns != inputs)
                throw new DataFileException($"{path}: {m.Columns} columns (shape ({m.Rows}, {m.Columns})), but the model takes {inputs} inputs.", path);
            return (m.Values, m.Rows);
        }

        FloatMatrix csv = CsvMatrix.Read(path, options: new CsvReadOptions
        {
            ExpectedColumns = inputs,
            ExpectedColumnsReason = $"the model takes {inputs} input{(inputs == 1 ? "" : "s")}",
        });
        return (csv.Values, csv.Rows);
    }
}
