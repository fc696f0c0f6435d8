using System.Globalization;
using System.Text;

namespace Nalu.Gpu.Experiments;

/// <summary>
/// Where and how often <c>experiment arithmetic</c> checkpoints the population it is training: every <see cref="Every"/>
/// steps the whole training state (<see cref="Training.Trainer.SaveCheckpoint"/>) goes to one file per population in
/// <see cref="Folder"/>, written atomically. A restarted sweep resumes an unfinished population from its file (a file of
/// another population or other settings is ignored with a note), so a kill loses at most <see cref="Every"/> steps; the
/// file is deleted once the population's results are recorded.
/// </summary>
public sealed class PopulationCheckpoints
{
    /// <summary>Checkpoints in <paramref name="folder"/> every <paramref name="every"/> steps (0: none are written, but existing ones are still resumed).</summary>
    public PopulationCheckpoints(string folder, int every)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        ArgumentOutOfRangeException.ThrowIfNegative(every);
        Folder = folder;
        Every = every;
    }

    /// <summary>The folder of the checkpoint files (created on the first save).</summary>
    public string Folder { get; }

    /// <summary>Steps between checkpoints (0: off).</summary>
    public int Every { get; }

    /// <summary>Told, in a sentence, when a population resumes or a checkpoint is ignored.</summary>
    public Action<string>? OnNote { get; init; }

    /// <summary>Told the path and step of every checkpoint written.</summary>
    public Action<string, int>? OnSaved { get; init; }

    /// <summary>
    /// The file of the population (<paramref name="unit"/>, <paramref name="range"/>) of shard <paramref name="shard"/>
    /// of <paramref name="shards"/>, e.g. <c>nac_1_2=2_6.shard0of1.safetensors</c>.
    /// </summary>
    public string PathOf(ArithmeticUnit unit, RangePair range, int shard, int shards) =>
        Path.Combine(Folder, string.Create(CultureInfo.InvariantCulture, $"{Safe(unit.Name)}_{Safe(range.ToString())}.shard{shard}of{shards}.safetensors"));

    /// <summary>Letters, digits, '.', '-' and '=' as they are; anything else (':' and ',' of the ranges) becomes '_'.</summary>
    private static string Safe(string text)
    {
        var b = new StringBuilder(text.Length);
        foreach (char c in text)
            b.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '=' ? c : '_');
        return b.ToString();
    }

    internal void Saved(string path, int step)
    {
        OnSaved?.Invoke(path, step);
    }

    internal void Note(string text) => OnNote?.Invoke(text);

    /// <summary>Deletes a population's file (once its results are recorded); a file that cannot be deleted is only a note.</summary>
    internal void Delete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Note($"Note: could not delete {path} ({e.Message}); delete it by hand.");
        }
    }
}
