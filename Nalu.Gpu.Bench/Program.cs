using CommandLine;
using Nalu.Gpu.Bench.Cli;
using Nalu.Gpu.Checkpoints;
using Nalu.Gpu.Data;
using Nalu.Gpu.Devices;

namespace Nalu.Gpu.Bench;

/// <summary>Entry point of the <c>nalu</c> command.</summary>
public static class Program
{
    /// <summary>Exit codes: 0 ok, 1 runtime failure, 2 bad command line, 3 a model diverged.</summary>
    public static int Main(string[] args)
    {
        if (ExperimentVerbs.Rewrite(args) is not { } rewritten)
            return ExperimentVerbs.Usage(args);
        args = rewritten;
        var parser = new Parser(s =>
        {
            s.HelpWriter = Console.Error;
            s.CaseInsensitiveEnumValues = true;
            s.AutoVersion = false;
        });
        var result = parser.ParseArguments<TrainOptions, PredictOptions, DevicesOptions, BenchOptions, MicroOptions, ExperimentFailureOptions,
            ExperimentArithmeticOptions, ExperimentRecurrentOptions, ExperimentCountingOptions, ExperimentMergeOptions>(args);
        return result.MapResult(
            (TrainOptions o) => Guard(() => TrainCommand.Run(o)),
            (PredictOptions o) => Guard(() => PredictCommand.Run(o)),
            (DevicesOptions o) => Guard(() => DevicesCommand.Run(o)),
            (BenchOptions o) => Guard(() => BenchCommand.Run(o)),
            (MicroOptions o) => Guard(() => MicroCommand.Run(o)),
            (ExperimentFailureOptions o) => Guard(() => ExperimentFailureCommand.Run(o)),
            (ExperimentRecurrentOptions o) => Guard(() => ExperimentArithmeticCommand.Run(o)),
            (ExperimentArithmeticOptions o) => Guard(() => ExperimentArithmeticCommand.Run(o)),
            (ExperimentCountingOptions o) => Guard(() => ExperimentCountingCommand.Run(o)),
            (ExperimentMergeOptions o) => Guard(() => ExperimentMergeCommand.Run(o)),
            errors => errors.All(e => e.Tag is ErrorType.HelpRequestedError or ErrorType.HelpVerbRequestedError) ? 0 : 2);
    }

    /// <summary>Turns every expected failure into one clear line on stderr and a non-zero exit code.</summary>
    private static int Guard(Func<int> run)
    {
        try
        {
            return run();
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            Console.Error.WriteLine("Run with --help for the options.");
            return 2;
        }
        catch (Exception e) when (e is DeviceUnavailableException or CheckpointFormatException or DataFileException or FileNotFoundException
            or DirectoryNotFoundException or UnauthorizedAccessException or IOException or ArgumentException or InvalidDataException or InsufficientMemoryException or ObjectDisposedException or NotSupportedException)
        {
            Console.Error.WriteLine($"error: {Clean(e)}");
            return 1;
        }
    }

    /// <summary>
    /// One line for the user: .NET's argument exceptions append "(Parameter 'x')" and "Actual value was …", internal
    /// names that mean nothing on a command line.
    /// </summary>
    internal static string Clean(Exception e)
    {
        string message = e.Message.Split('\n')[0].TrimEnd();
        if (e is ArgumentException { ParamName: { } name })
            message = message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal);
        return message;
    }
}
