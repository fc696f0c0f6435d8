using Nalu.Gpu.Data;
using Nalu.Gpu.Tasks;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>
/// <see cref="NumberWords"/> (Trask et al. section 4.3): the words of spot values, Parse as the exact inverse of Words,
/// Encode and the vocabulary, the seeded 169/200/631 split, left-padded sequences with final and per-step targets, and
/// the file reader on good and bad files.
/// </summary>
public sealed class NumberWordsTests : IDisposable
{
    private readonly string _dir = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "nalu-words-" + Guid.NewGuid().ToString("N"))).FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string text, string name = "words.tsv")
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Theory]
    [InlineData(0, "zero")]
    [InlineData(7, "seven")]
    [InlineData(13, "thirteen")]
    [InlineData(20, "twenty")]
    [InlineData(42, "forty two")]
    [InlineData(100, "one hundred")]
    [InlineData(101, "one hundred and one")]
    [InlineData(110, "one hundred and ten")]
    [InlineData(120, "one hundred and twenty")]
    [InlineData(342, "three hundred and forty two")]
    [InlineData(999, "nine hundred and ninety nine")]
    public void SpotValuesAreWrittenWordByWord(int value, string expected)
    {
        Assert.Equal(expected.Split(' '), NumberWords.Words(value));
        Assert.Equal(value, NumberWords.Parse(expected.Split(' ')));
    }

    [Fact]
    public void ParseInvertsWordsForEveryValueAndMaxTokensIsTheLongest()
    {
        int longest = 0;
        var sentences = new HashSet<string>();
        for (int v = 0; v <= NumberWords.MaxValue; v++)
        {
            string[] words = NumberWords.Words(v);
            Assert.Equal(v, NumberWords.Parse(words));
            Assert.True(sentences.Add(string.Join(' ', words)), $"{v} shares its words with another value");
            longest = Math.Max(longest, words.Length);
        }

        Assert.Equal(NumberWords.MaxTokens, longest);
        Assert.Equal(5, NumberWords.MaxTokens);
    }

    [Fact]
    public void WordsRefusesValuesOutsideTheRangeAndReturnsAFreshArray()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => NumberWords.Words(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => NumberWords.Words(1000));
        NumberWords.Words(5)[0] = "changed";
        Assert.Equal(["five"], NumberWords.Words(5));
    }

    [Fact]
    public void VocabularyHasPadFirstAndEncodeRoundTripsEveryWord()
    {
        IReadOnlyList<string> vocabulary = NumberWords.Vocabulary;
        Assert.Equal(31, vocabulary.Count);
        Assert.Equal(NumberWords.Pad, vocabulary[0]);
        Assert.Equal("zero", vocabulary[1]);
        Assert.Equal("nineteen", vocabulary[20]);
        Assert.Equal("twenty", vocabulary[21]);
        Assert.Equal("hundred", vocabulary[29]);
        Assert.Equal("and", vocabulary[30]);
        Assert.Equal(vocabulary.Count, vocabulary.Distinct().Count());

        int[] ids = NumberWords.Encode(string.Join(' ', vocabulary.Skip(1)));
        Assert.Equal(Enumerable.Range(1, vocabulary.Count - 1), ids);

        // Case and extra whitespace do not matter; each id maps back to its word.
        int[] mixed = NumberWords.Encode("  Three   HUNDRED and\tforty Two ");
        Assert.Equal(NumberWords.Words(342), mixed.Select(i => vocabulary[i]));

        // Every word that Words writes is in the vocabulary.
        for (int v = 0; v <= NumberWords.MaxValue; v++)
            Assert.All(NumberWords.Words(v), w => Assert.Contains(w, vocabulary.Skip(1)));
    }

    [Fact]
    public void UnknownWordsAreNamedWithTheirPosition()
    {
        var e = Assert.Throws<FormatException>(() => NumberWords.Encode("three hundred and fourty two"));
        Assert.Contains("'fourty'", e.Message);
        Assert.Contains("position 4", e.Message);

        e = Assert.Throws<FormatException>(() => NumberWords.Encode("forty-two"));
        Assert.Contains("'forty-two'", e.Message);
        Assert.Contains("forty two", e.Message);

        e = Assert.Throws<FormatException>(() => NumberWords.Encode("one <pad>"));
        Assert.Contains("'<pad>'", e.Message);
        Assert.Throws<FormatException>(() => NumberWords.Encode("   "));

        e = Assert.Throws<FormatException>(() => NumberWords.Parse(["one", "thousand"]));
        Assert.Contains("'thousand'", e.Message);
        Assert.Contains("position 2", e.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("hundred")]
    [InlineData("and")]
    [InlineData("one hundred twenty")]
    [InlineData("one hundred and")]
    [InlineData("one hundred and zero")]
    [InlineData("zero zero")]
    [InlineData("zero hundred")]
    [InlineData("ten hundred")]
    [InlineData("twenty hundred")]
    [InlineData("twenty ten")]
    [InlineData("twenty zero")]
    [InlineData("one two")]
    [InlineData("one hundred and twenty one two")]
    [InlineData("one hundred hundred")]
    [InlineData("and one")]
    public void ParseRefusesSentencesWordsWouldNotWrite(string text)
    {
        string[] words = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var e = Assert.Throws<FormatException>(() => NumberWords.Parse(words));
        Assert.False(string.IsNullOrWhiteSpace(e.Message));
    }

    [Fact]
    public void ParseNamesTheWordWhereTheSentenceGoesWrong()
    {
        var e = Assert.Throws<FormatException>(() => NumberWords.Parse(["one", "hundred", "twenty"]));
        Assert.Contains("word 3 ('twenty')", e.Message);
        Assert.Equal(342, NumberWords.Parse(["Three", "HUNDRED", "and", "forty", "two"]));
    }

    [Fact]
    public void SplitFollowsThePaperAndIsDeterministic()
    {
        NumberSplit split = NumberWords.Split(0);
        Assert.Equal(NumberWords.TrainCount, split.Train.Count);
        Assert.Equal(NumberWords.ValidationCount, split.Validation.Count);
        Assert.Equal(NumberWords.TestCount, split.Test.Count);
        Assert.Equal((169, 200, 631), (split.Train.Count, split.Validation.Count, split.Test.Count));

        // Disjoint and together exactly 0–999; each list ascending.
        Assert.Equal(Enumerable.Range(0, 1000), split.Train.Concat(split.Validation).Concat(split.Test).Order());
        foreach (IReadOnlyList<int> part in new[] { split.Train, split.Validation, split.Test })
            Assert.Equal(part.Order(), part);

        // Training holds 0–19 and every word of the vocabulary.
        Assert.Equal(Enumerable.Range(0, 20), split.Train.Take(20));
        var trainWords = split.Train.SelectMany(NumberWords.Words).ToHashSet();
        Assert.Equal(NumberWords.Vocabulary.Skip(1).Order(), trainWords.Order());

        // The same seed gives the same split; another seed another one.
        NumberSplit again = NumberWords.Split(0);
        Assert.Equal(split.Train, again.Train);
        Assert.Equal(split.Validation, again.Validation);
        Assert.Equal(split.Test, again.Test);
        NumberSplit other = NumberWords.Split(1);
        Assert.NotEqual(split.Test, other.Test);
        Assert.NotEqual(split.Train, other.Train);
    }

    [Fact]
    public void SplitIsPinnedSoItIsTheSameOnEveryMachine()
    {
        // SplitMix64 + Fisher–Yates in integers only: these values must never change, or results stop being comparable.
        NumberSplit split = NumberWords.Split(0);
        Assert.Equal(PinnedTrainAfter19, split.Train.Skip(20).Take(8));
        Assert.Equal(PinnedValidation, split.Validation.Take(8));
        Assert.Equal(PinnedTest, split.Test.Take(8));
    }

    [Fact]
    public void EverySeedKeepsTheSizesAndCoversEveryWord()
    {
        int words = NumberWords.Vocabulary.Count - 1;
        foreach (int seed in new[] { -7, 1, 2, 3, 42, 12345, int.MaxValue, int.MinValue })
        {
            NumberSplit split = NumberWords.Split(seed);
            Assert.Equal((169, 200, 631), (split.Train.Count, split.Validation.Count, split.Test.Count));
            Assert.Equal(1000, split.Train.Concat(split.Validation).Concat(split.Test).Distinct().Count());
            Assert.Equal(words, split.Train.SelectMany(NumberWords.Words).Distinct().Count());
        }
    }

    [Fact]
    public void SequencesAreLeftPaddedWithFinalTargets()
    {
        var (ids, targets, lengths) = NumberWords.Sequences([7, 342, 100], NumberWords.MaxTokens, everyStep: false);
        Assert.Equal([1, 5, 2], lengths);
        Assert.Equal([7f, 342f, 100f], targets);
        float seven = NumberWords.Encode("seven")[0];
        Assert.Equal([0f, 0f, 0f, 0f, seven], ids[..5]);
        Assert.Equal(NumberWords.Encode("three hundred and forty two").Select(i => (float)i), ids[5..10]);
        Assert.Equal([0f, 0f, 0f, 2f, 29f], ids[10..15]);

        // A longer length only adds pads on the left.
        var (wide, _, _) = NumberWords.Sequences([42], 7, everyStep: false);
        Assert.Equal([0f, 0f, 0f, 0f, 0f, 23f, 3f], wide);
    }

    [Fact]
    public void PerStepTargetsAreTheValueOfTheWordsReadSoFar()
    {
        var (ids, targets, lengths) = NumberWords.Sequences([342, 7, 100, 110, 0, 999], 6, everyStep: true);
        Assert.Equal(ids.Length, targets.Length);
        Assert.Equal([5, 1, 2, 4, 1, 5], lengths);
        Assert.Equal([0f, 3f, 300f, 300f, 340f, 342f], targets[0..6]);
        Assert.Equal([0f, 0f, 0f, 0f, 0f, 7f], targets[6..12]);
        Assert.Equal([0f, 0f, 0f, 0f, 1f, 100f], targets[12..18]);
        Assert.Equal([0f, 0f, 1f, 100f, 100f, 110f], targets[18..24]);
        Assert.Equal([0f, 0f, 0f, 0f, 0f, 0f], targets[24..30]);
        Assert.Equal([0f, 9f, 900f, 900f, 990f, 999f], targets[30..36]);

        // The last step's target is the value for every value.
        int[] all = Enumerable.Range(0, 1000).ToArray();
        var (_, every, _) = NumberWords.Sequences(all, NumberWords.MaxTokens, everyStep: true);
        for (int v = 0; v < all.Length; v++)
            Assert.Equal(v, every[v * NumberWords.MaxTokens + NumberWords.MaxTokens - 1]);
    }

    [Fact]
    public void SequencesRefuseBadValuesAndShortLengths()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => NumberWords.Sequences([1000], 5, false));
        Assert.Throws<ArgumentOutOfRangeException>(() => NumberWords.Sequences([-1], 5, false));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => NumberWords.Sequences([7, 342], 4, true));
        Assert.Contains("342", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => NumberWords.Sequences([7], 0, false));
        var (ids, targets, lengths) = NumberWords.Sequences([], 5, true);
        Assert.Empty(ids);
        Assert.Empty(targets);
        Assert.Empty(lengths);
    }

    [Fact]
    public void ReadsAGoodFileAndTurnsItIntoSequences()
    {
        string path = Write("three hundred and forty two\t342\r\n  Forty   TWO \t 42 \nzero\t0\none hundred twenty\t120\n");
        var (sentences, values) = NumberWords.ReadFile(path);
        Assert.Equal([342, 42, 0, 120], values);
        Assert.Equal(NumberWords.Words(342), sentences[0]);
        Assert.Equal(["forty", "two"], sentences[1]);
        Assert.Equal(["zero"], sentences[2]);
        Assert.Equal(["one", "hundred", "twenty"], sentences[3]); // Not the canonical form, but every word is known.

        var (ids, targets, lengths) = NumberWords.Sequences(sentences, values, 5);
        Assert.Equal([342f, 42f, 0f, 120f], targets);
        Assert.Equal([5, 2, 1, 3], lengths);
        Assert.Equal([0f, 0f, 0f, 23f, 3f], ids[5..10]);
        Assert.Equal([0f, 0f, 2f, 29f, 21f], ids[15..20]);
        Assert.Throws<ArgumentOutOfRangeException>(() => NumberWords.Sequences(sentences, values, 4));
        Assert.Throws<ArgumentException>(() => NumberWords.Sequences(sentences, [1], 5));
    }

    [Theory]
    [InlineData("forty two\t42\nfourty two\t42\n", 2, "unknown word 'fourty' (word 1)")]
    [InlineData("forty two\t42\n\nseven\t7\n", 2, "blank line")]
    [InlineData("forty two,42\n", 1, "no tab")]
    [InlineData("forty two\t42\t43\n", 1, "more than one tab")]
    [InlineData("\t42\n", 1, "no words")]
    [InlineData("forty two\tforty two\n", 1, "'forty two' is not a whole number")]
    [InlineData("seven\t7\nforty two\t4.2\n", 2, "'4.2' is not a whole number")]
    [InlineData("seven\t\n", 1, "'' is not a whole number")]
    [InlineData("seven <pad>\t7\n", 1, "unknown word '<pad>'")]
    public void BadFilesNameTheFileLineAndProblem(string text, int line, string problem)
    {
        string path = Write(text, "bad.tsv");
        var e = Assert.Throws<DataFileException>(() => NumberWords.ReadFile(path));
        Assert.Equal(path, e.FilePath);
        Assert.Equal(line, e.Line);
        Assert.Contains($"bad.tsv:{line}:", e.Message);
        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void EmptyAndMissingFilesAreRefused()
    {
        string path = Write("", "empty.tsv");
        var e = Assert.Throws<DataFileException>(() => NumberWords.ReadFile(path));
        Assert.Contains("empty", e.Message);
        Assert.Null(e.Line);
        Assert.Throws<FileNotFoundException>(() => NumberWords.ReadFile(Path.Combine(_dir, "missing.tsv")));
    }

    // Seed 0, checked against an independent Python transcription of the documented rule (SplitMix64, Fisher–Yates, the walk).
    private static readonly int[] PinnedTrainAfter19 = [21, 28, 29, 42, 58, 64, 66, 81];
    private static readonly int[] PinnedValidation = [30, 33, 35, 36, 43, 54, 65, 68];
    private static readonly int[] PinnedTest = [20, 22, 23, 24, 25, 26, 27, 31];
}
