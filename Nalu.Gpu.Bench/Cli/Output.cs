using System.Text.Json;
using Spectre.Console;
using System.Text.Json.Serialization;

namespace Nalu.Gpu.Bench.Cli;

internal static class Output
{
    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>
    /// A Spectre console writing to <paramref name="writer"/>. When it is not a terminal, tables get 160
    /// columns instead of Spectre's default 80, so logs and CI output stay readable.
    /// </summary>
    public static IAnsiConsole Console(TextWriter writer)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(writer) });
        if (!console.Profile.Capabilities.Interactive || System.Console.IsOutputRedirected)
            console.Profile.Width = 160;
        return console;
    }

    /// <summary>Writes a text file atomically, so an interrupted run never leaves a half-written result.</summary>
    public static void WriteAtomically(string path, string contents) =>
        WriteAtomically(path, temp => File.WriteAllText(temp, contents));

    /// <summary>Writes a binary file (e.g. a PNG) atomically.</summary>
    public static void WriteAtomically(string path, byte[] contents) =>
        WriteAtomically(path, temp => File.WriteAllBytes(temp, contents));

    private static void WriteAtomically(string path, Action<string> write)
    {
        string full = Path.GetFullPath(path);
        string? dir = Path.GetDirectoryName(full);
        if (!string.IsNullOrEmpty(dir))
            Directory.CreateDirectory(dir);
        string temp = full + ".tmp-" + Guid.NewGuid().ToString("N");
        try
        {
            write(temp);
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }
}
