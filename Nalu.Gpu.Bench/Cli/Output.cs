using System.Text.Json;
using Nalu.Gpu.IO;
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

    /// <summary>Writes a text file safely (<see cref="SafeFile"/>): atomically, through symlinks and devices, never leaving half a result.</summary>
    public static void WriteAtomically(string path, string contents) => SafeFile.WriteAllText(path, contents);

    /// <summary>Writes a binary file (e.g. a PNG) safely.</summary>
    public static void WriteAtomically(string path, byte[] contents) => SafeFile.WriteAllBytes(path, contents);
}
