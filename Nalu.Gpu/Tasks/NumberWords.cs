using System.Globalization;
using Nalu.Gpu.Data;

namespace Nalu.Gpu.Tasks;

/// <summary>
/// The values 0–999 split three ways for <see cref="NumberWords"/> (Trask et al. 2018, section 4.3): each list
/// ascending, the three disjoint, together every value 0–999 once.
/// </summary>
/// <param name="Train">169 values: 0–19 and a seeded sample of 20–999 that holds every word of the vocabulary.</param>
/// <param name="Validation">200 values, none in training.</param>
/// <param name="Test">631 values, none in training or validation.</param>
public sealed record NumberSplit(IReadOnlyList<int> Train, IReadOnlyList<int> Validation, IReadOnlyList<int> Test);

/// <summary>
/// The "language to number translation" task of Trask et al., <i>Neural Arithmetic Logic Units</i> (2018), section
/// 4.3: English number words for 0–999 read one token per step, mapped to the value
/// (<c>three hundred and forty two</c> → 342).
/// <para>
/// How the words are written (the paper gives only examples such as "five hundred and fifteen"; this follows Madsen
/// &amp; Johansen's reimplementation, <c>stable_nalu/dataset/number_translation.py</c>): no hyphens ("forty two", one
/// token per word); British "and" between the hundreds and a non-zero rest ("one hundred and one", "one hundred and
/// twenty"); nothing for a zero rest ("one hundred", "three hundred"); the tens word alone for a zero unit ("forty");
/// and "zero" for 0. That reimplementation has no "zero" because it uses 1–999; the paper's training set holds
/// 0–19 and its three sets hold 1000 values, so 0 is part of the task here and "zero" is a word. The longest sentence
/// has <see cref="MaxTokens"/> = 5 tokens ("three hundred and forty two").
/// </para>
/// <para>
/// Each sequence is read to its last token and the model's output after that token is the prediction; the paper
/// trains and scores (mean absolute error) on that one output and only <i>shows</i> the outputs after earlier tokens
/// (its figure of intermediate predictions, which it notes were learnt without supervision). This class gives those
/// per-step values as targets too (<see cref="Sequences(IReadOnlyList{int}, int, bool)"/> with <c>everyStep</c>), as an
/// option of this project, not the paper's protocol.
/// </para>
/// </summary>
public static class NumberWords
{
    /// <summary>The padding token, id 0: fills a sequence up to a common length; never a word of a sentence.</summary>
    public const string Pad = "<pad>";

    /// <summary>The largest value the words express.</summary>
    public const int MaxValue = 999;

    /// <summary>The most tokens a value 0–999 takes: 5 ("three hundred and forty two").</summary>
    public const int MaxTokens = 5;

    /// <summary>Values in <see cref="NumberSplit.Train"/>: 169, as in the paper.</summary>
    public const int TrainCount = 169;

    /// <summary>Values in <see cref="NumberSplit.Validation"/>: 200, as in the paper.</summary>
    public const int ValidationCount = 200;

    /// <summary>Values in <see cref="NumberSplit.Test"/>: 631, as in the paper (169 + 200 + 631 = 1000 values, 0–999).</summary>
    public const int TestCount = 631;

    private static readonly string[] Tokens =
    [
        Pad,
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
        "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
        "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
        "hundred", "and",
    ];

    // Ids of the words by kind: 0–19 are ids 1–20 (id = value + 1), twenty–ninety ids 21–28, then hundred and and.
    private const int TwentyId = 21;
    private const int HundredId = 29;
    private const int AndId = 30;

    private static readonly Dictionary<string, int> IdOf = BuildIds();
    private static readonly string[][] AllWords = BuildAllWords();

    /// <summary>
    /// Every token, id = index: 0 <c>&lt;pad&gt;</c>; 1–20 <c>zero</c> … <c>nineteen</c> (so a word below twenty has
    /// id = its value + 1); 21–28 <c>twenty</c> … <c>ninety</c>; 29 <c>hundred</c>; 30 <c>and</c>. 31 tokens, so an
    /// embedding over ids needs 31 rows. The order is fixed: ids in saved models and files depend on it.
    /// </summary>
    public static IReadOnlyList<string> Vocabulary { get; } = Array.AsReadOnly(Tokens);

    /// <summary>
    /// The tokens of <paramref name="value"/> (0–999), as described on <see cref="NumberWords"/>: 0 "zero", 7 "seven",
    /// 42 "forty two", 100 "one hundred", 110 "one hundred and ten", 342 "three hundred and forty two". A new array each call.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="value"/> is outside 0–999.</exception>
    public static string[] Words(int value)
    {
        CheckValue(value, nameof(value));
        return (string[])AllWords[value].Clone();
    }

    /// <summary>
    /// The ids (<see cref="Vocabulary"/> indices) of the words of <paramref name="text"/>: words separated by any
    /// whitespace (extra spaces are fine), matched without regard to case. Only maps words to ids: the order of the words
    /// is not checked (<see cref="Parse"/> does that). <c>&lt;pad&gt;</c> is not a word and is refused like any unknown one.
    /// </summary>
    /// <exception cref="FormatException">
    /// No words, or a word outside the vocabulary; the message names the word and its 1-based position.
    /// </exception>
    public static int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string[] words = SplitWords(text);
        if (words.Length == 0)
            throw new FormatException($"'{text}' holds no words; expected number words such as 'three hundred and forty two'.");
        var ids = new int[words.Length];
        for (int i = 0; i < words.Length; i++)
        {
            if (!TryId(words[i], out ids[i]))
                throw new FormatException($"Unknown word '{words[i]}' at position {i + 1} in '{text}'. {VocabularyHint(words[i])}");
        }

        return ids;
    }

    /// <summary>
    /// The value of a sentence in exactly the form <see cref="Words"/> writes (case ignored), so that
    /// <c>Parse(Words(v)) == v</c> for every v and only those sentences parse: "one hundred twenty" (no "and"),
    /// "one hundred and zero", "twenty ten", "ten hundred" or "forty-two" are refused rather than guessed at, which
    /// makes it safe for scoring and tests.
    /// </summary>
    /// <exception cref="FormatException">No words, an unknown word, or words out of order; the message names the word and its 1-based position.</exception>
    public static int Parse(IReadOnlyList<string> words)
    {
        ArgumentNullException.ThrowIfNull(words);
        if (words.Count == 0)
            throw new FormatException("No words; expected number words such as 'three hundred and forty two'.");
        var ids = new int[words.Count];
        for (int i = 0; i < ids.Length; i++)
        {
            string w = words[i] ?? throw new FormatException($"Word {i + 1} is null.");
            if (!TryId(w, out ids[i]))
                throw new FormatException($"Unknown word '{w}' at position {i + 1} in '{string.Join(' ', words)}'. {VocabularyHint(w)}");
        }

        // Grammar: "zero" | below-hundred | unit "hundred" [ "and" below-hundred ], where
        // below-hundred = 1–19 | tens [ unit ] and unit = one … nine.
        int at = 0, value;
        if (ids[0] == 1)
        {
            value = 0;
            at = 1;
        }
        else if (ids.Length > 1 && ids[1] == HundredId)
        {
            if (!IsUnit(ids[0]))
                throw Malformed(words, 1, "a hundreds count is one of 'one' … 'nine'");
            value = (ids[0] - 1) * 100;
            at = 2;
            if (at < ids.Length)
            {
                if (ids[at] != AndId)
                    throw Malformed(words, at + 1, "after 'hundred' comes 'and' and the rest, or nothing");
                at++;
                if (at == ids.Length)
                    throw Malformed(words, at, "'and' must be followed by a value 1–99");
                value += BelowHundred(ids, words, ref at);
            }
        }
        else
        {
            value = BelowHundred(ids, words, ref at);
        }

        if (at < ids.Length)
            throw Malformed(words, at + 1, $"the words up to here already make {value}, a complete number");
        return value;
    }

    /// <summary>
    /// The paper's split of 0–999, drawn with <paramref name="seed"/>: <see cref="TrainCount"/> (169) training values,
    /// <see cref="ValidationCount"/> (200) validation and <see cref="TestCount"/> (631) test, disjoint, each list ascending.
    /// <para>
    /// Rule (the paper, in substance: training is 0–19 plus a random sample of the rest, adjusted so that every token
    /// appears in training at least once; 169/200/631 values): training holds 0–19; the values
    /// 20–999 are shuffled (Fisher–Yates driven by SplitMix64 seeded with <paramref name="seed"/>, integer arithmetic
    /// only, so every machine and .NET version gives the same split); walking that order, a value goes to training when
    /// it holds a word training still lacks (only twenty … ninety, hundred and and can be missing after 0–19), or while
    /// training has room beyond one place per still-missing word; the rest fill test (631), then validation (200).
    /// The sizes are therefore always exactly 169/200/631 and training always holds every word.
    /// </para>
    /// <para>
    /// Madsen &amp; Johansen's reimplementation uses 1–999 (test 630) and fills test, then validation, then training;
    /// this split differs in drawing but not in rule or sizes from the paper's, and no seed reproduces theirs (their
    /// shuffle is NumPy's). Validation and test both hold values never trained on; neither is an extrapolation range.
    /// </para>
    /// </summary>
    public static NumberSplit Split(int seed)
    {
        var order = new int[MaxValue + 1 - 20];
        for (int i = 0; i < order.Length; i++)
            order[i] = 20 + i;
        var rng = new SplitMix64(unchecked((ulong)seed));
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = rng.Below(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }

        var train = new List<int>(TrainCount);
        var validation = new List<int>(ValidationCount);
        var test = new List<int>(TestCount);
        var seen = new bool[Tokens.Length];
        for (int v = 0; v < 20; v++)
            Add(train, v, seen);
        int missing = seen.Skip(1).Count(s => !s); // <pad> (id 0) is no word; 0–19 leave the ten others.

        foreach (int v in order)
        {
            bool needed = false;
            foreach (string w in AllWords[v])
                needed |= !seen[IdOf[w]];
            if (needed || train.Count < TrainCount - missing)
            {
                missing -= Add(train, v, seen);
            }
            else if (test.Count < TestCount)
            {
                test.Add(v);
            }
            else if (validation.Count < ValidationCount)
            {
                validation.Add(v);
            }
            else
            {
                // Unreachable: training + missing words never exceeds 169, so test and validation cannot both be full
                // while values remain. Kept so that a change to the rule fails loudly rather than dropping values.
                throw new InvalidOperationException($"Split({seed}): no room for {v}.");
            }
        }

        if (missing != 0 || train.Count != TrainCount || validation.Count != ValidationCount || test.Count != TestCount)
            throw new InvalidOperationException($"Split({seed}) made {train.Count}/{validation.Count}/{test.Count} with {missing} words missing from training.");
        train.Sort();
        validation.Sort();
        test.Sort();
        return new NumberSplit(train.AsReadOnly(), validation.AsReadOnly(), test.AsReadOnly());

        static int Add(List<int> train, int v, bool[] seen)
        {
            train.Add(v);
            int newly = 0;
            foreach (string w in AllWords[v])
            {
                int id = IdOf[w];
                if (!seen[id])
                {
                    seen[id] = true;
                    newly++;
                }
            }

            return newly;
        }
    }

    /// <summary>
    /// The values as model input: each value's words as <paramref name="length"/> ids (stored as floats, the models read
    /// floats), sequence after sequence (<c>Ids[n · length + t]</c>), with its real token count in <c>Lengths[n]</c>.
    /// <para>
    /// Padding is on the left: <c>length − Lengths[n]</c> <c>&lt;pad&gt;</c> ids (0) and then the words, so every
    /// sequence's last word is at the last step, where the paper reads the prediction; a plain recurrent model needs no
    /// mask to find it (the state may drift over the leading pads, which it can learn to ignore, since the pad embedding
    /// is the same every time). Madsen &amp; Johansen pad on the right and have the network hold its output over pads
    /// instead.
    /// </para>
    /// <para>
    /// Targets: without <paramref name="everyStep"/> one per sequence, the value (<c>Targets[n]</c>). With it, one per
    /// step (<c>Targets[n · length + t]</c>): the value of the words read so far, where a number word adds its value,
    /// "hundred" multiplies what has been read by 100 and "and" adds nothing: "three" 3, "three hundred" 300,
    /// "… and" 300, "… forty" 340, "… two" 342; pad steps 0 (nothing read yet). The last step's target is the value.
    /// </para>
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A value outside 0–999, <paramref name="length"/> below 1 or shorter than a value's words.</exception>
    public static (float[] Ids, float[] Targets, int[] Lengths) Sequences(IReadOnlyList<int> values, int length, bool everyStep)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        int count = values.Count;
        var ids = new float[checked((long)count * length)];
        var targets = new float[everyStep ? ids.Length : count];
        var lengths = new int[count];
        for (int n = 0; n < count; n++)
        {
            int value = values[n];
            CheckValue(value, $"{nameof(values)}[{n}]");
            string[] words = AllWords[value];
            if (words.Length > length)
                throw new ArgumentOutOfRangeException(nameof(length), length, $"{value} ('{string.Join(' ', words)}') takes {words.Length} tokens, more than length {length}; use at least {MaxTokens}.");
            lengths[n] = words.Length;
            int start = n * length + (length - words.Length);
            int prefix = 0;
            for (int k = 0; k < words.Length; k++)
            {
                int id = IdOf[words[k]];
                ids[start + k] = id;
                prefix = Step(prefix, id);
                if (everyStep)
                    targets[start + k] = prefix;
            }

            if (!everyStep)
                targets[n] = value;
        }

        return (ids, targets, lengths);
    }

    /// <summary>
    /// Sentences read from a file (<see cref="ReadFile"/>) as model input, laid out and left-padded as
    /// <see cref="Sequences(IReadOnlyList{int}, int, bool)"/>, with one target per sentence: its value from the file.
    /// The words need not be in the form <see cref="Words"/> writes (a file may pose its own phrasings), so there are no
    /// per-step targets here.
    /// </summary>
    /// <exception cref="ArgumentException">The lists differ in length, or a sentence is empty.</exception>
    /// <exception cref="FormatException">A word outside the vocabulary.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> below 1 or shorter than a sentence.</exception>
    public static (float[] Ids, float[] Targets, int[] Lengths) Sequences(IReadOnlyList<IReadOnlyList<string>> sentences, IReadOnlyList<int> values, int length)
    {
        ArgumentNullException.ThrowIfNull(sentences);
        ArgumentNullException.ThrowIfNull(values);
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        if (sentences.Count != values.Count)
            throw new ArgumentException($"{sentences.Count} sentences but {values.Count} values; they must pair up.", nameof(values));
        int count = sentences.Count;
        var ids = new float[checked((long)count * length)];
        var targets = new float[count];
        var lengths = new int[count];
        for (int n = 0; n < count; n++)
        {
            IReadOnlyList<string> words = sentences[n] ?? throw new ArgumentException($"Sentence {n} is null.", nameof(sentences));
            if (words.Count == 0)
                throw new ArgumentException($"Sentence {n} has no words.", nameof(sentences));
            if (words.Count > length)
                throw new ArgumentOutOfRangeException(nameof(length), length, $"Sentence {n} ('{string.Join(' ', words)}') takes {words.Count} tokens, more than length {length}.");
            lengths[n] = words.Count;
            int start = n * length + (length - words.Count);
            for (int k = 0; k < words.Count; k++)
            {
                if (!TryId(words[k] ?? "", out int id))
                    throw new FormatException($"Unknown word '{words[k]}' at position {k + 1} of sentence {n}. {VocabularyHint(words[k] ?? "")}");
                ids[start + k] = id;
            }

            targets[n] = values[n];
        }

        return (ids, targets, lengths);
    }

    /// <summary>
    /// Reads a user's sentences: UTF-8 text, one sentence per line as <c>words&lt;TAB&gt;value</c>, for example
    /// <c>three hundred and forty two	342</c>. The words are separated by spaces (extra spaces are fine), matched
    /// without regard to case and returned in lower case; the value is a whole number (invariant culture, spaces around
    /// it allowed). A tab, not a comma, separates the two, since the words themselves never hold one. Every line is a
    /// sentence: there are no comments and no header, and a blank line is an error (it is usually a mistake).
    /// The value is not checked against the words: a file may use its own phrasings ("one hundred twenty") or pose
    /// another target; compare with <see cref="Parse"/> to hold a file to this task's form.
    /// </summary>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    /// <exception cref="DataFileException">
    /// An empty file, a blank line, a line without exactly one tab, no words, an unknown word, or a value that is not a
    /// whole number; the message is <c>file:line: problem</c> and names the word or value (column 1 is the words, 2 the value).
    /// </exception>
    public static (string[][] Sentences, int[] Values) ReadFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Number-words file '{path}' does not exist.", path);
        var sentences = new List<string[]>();
        var values = new List<int>();
        int line = 0;
        foreach (string raw in File.ReadLines(path))
        {
            line++;
            string text = raw.TrimEnd('\r');
            if (string.IsNullOrWhiteSpace(text))
                throw new DataFileException($"{path}:{line}: blank line; every line must be 'words<TAB>value'.", path, line);
            int tab = text.IndexOf('\t');
            if (tab < 0)
                throw new DataFileException($"{path}:{line}: no tab; every line must be 'words<TAB>value', e.g. 'forty two\t42' (got '{text}').", path, line);
            if (text.IndexOf('\t', tab + 1) >= 0)
                throw new DataFileException($"{path}:{line}: more than one tab; every line must be 'words<TAB>value' (got '{text}').", path, line);

            string[] words = SplitWords(text[..tab]);
            if (words.Length == 0)
                throw new DataFileException($"{path}:{line}: column 1 ('words'): no words before the tab.", path, line, 1, "words");
            for (int i = 0; i < words.Length; i++)
            {
                if (!TryId(words[i], out int id))
                    throw new DataFileException($"{path}:{line}: column 1 ('words'): unknown word '{words[i]}' (word {i + 1}). {VocabularyHint(words[i])}", path, line, 1, "words");
                words[i] = Tokens[id];
            }

            string valueText = text[(tab + 1)..].Trim();
            if (!int.TryParse(valueText, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int value))
                throw new DataFileException($"{path}:{line}: column 2 ('value'): '{valueText}' is not a whole number.", path, line, 2, "value");
            sentences.Add(words);
            values.Add(value);
        }

        if (line == 0)
            throw new DataFileException($"{path}: the file is empty; expected lines of 'words<TAB>value'.", path);
        return (sentences.ToArray(), values.ToArray());
    }

    private static int BelowHundred(int[] ids, IReadOnlyList<string> words, ref int at)
    {
        int id = ids[at];
        if (id >= 2 && id <= 20)
        {
            at++;
            return id - 1;
        }

        if (id >= TwentyId && id < HundredId)
        {
            int value = (id - TwentyId + 2) * 10;
            at++;
            if (at < ids.Length && IsUnit(ids[at]))
            {
                value += ids[at] - 1;
                at++;
            }

            return value;
        }

        throw Malformed(words, at + 1, "expected a value 1–99 here ('one' … 'nineteen', or a tens word)");
    }

    private static int Step(int prefix, int id) => id switch
    {
        HundredId => prefix * 100,
        AndId => prefix,
        < TwentyId => prefix + id - 1,
        _ => prefix + (id - TwentyId + 2) * 10,
    };

    private static bool IsUnit(int id) => id >= 2 && id <= 10;

    private static FormatException Malformed(IReadOnlyList<string> words, int position, string why) =>
        new($"'{string.Join(' ', words)}' is not a number in words: word {position} ('{words[position - 1]}'): {why}.");

    private static string[] SplitWords(string text) => text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);

    private static bool TryId(string word, out int id) => IdOf.TryGetValue(word, out id);

    private static string VocabularyHint(string word) =>
        word.Contains('-')
            ? "Write compound numbers as separate words ('forty two', not 'forty-two')."
            : $"The words are: {string.Join(' ', Tokens.Skip(1))}.";

    private static void CheckValue(int value, string name)
    {
        if (value < 0 || value > MaxValue)
            throw new ArgumentOutOfRangeException(name, value, $"Number words cover 0–{MaxValue}.");
    }

    private static Dictionary<string, int> BuildIds()
    {
        var ids = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        for (int i = 1; i < Tokens.Length; i++)
            ids.Add(Tokens[i], i);
        return ids;
    }

    private static string[][] BuildAllWords()
    {
        var all = new string[MaxValue + 1][];
        for (int v = 0; v <= MaxValue; v++)
        {
            var words = new List<string>(MaxTokens);
            int hundreds = v / 100, rest = v % 100;
            if (hundreds > 0)
            {
                words.Add(Tokens[hundreds + 1]);
                words.Add(Tokens[HundredId]);
                if (rest > 0)
                    words.Add(Tokens[AndId]);
            }

            if (rest > 0 || v == 0)
            {
                if (rest < 20)
                {
                    words.Add(Tokens[rest + 1]);
                }
                else
                {
                    words.Add(Tokens[TwentyId + rest / 10 - 2]);
                    if (rest % 10 > 0)
                        words.Add(Tokens[rest % 10 + 1]);
                }
            }

            all[v] = [.. words];
        }

        return all;
    }

    /// <summary>SplitMix64 (Steele, Lea &amp; Flood 2014): a fixed, portable generator, unlike <see cref="Random"/>'s unspecified one.</summary>
    private struct SplitMix64(ulong seed)
    {
        private ulong _state = seed;

        private ulong Next()
        {
            ulong z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        /// <summary>Uniform in [0, n) without modulo bias (rejection of the short top range).</summary>
        public int Below(int n)
        {
            ulong bound = (ulong)n;
            ulong threshold = (0UL - bound) % bound;
            while (true)
            {
                ulong r = Next();
                if (r >= threshold)
                    return (int)(r % bound);
            }
        }
    }
}
