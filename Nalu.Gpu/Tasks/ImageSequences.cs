using Nalu.Gpu.Data;

namespace Nalu.Gpu.Tasks;

/// <summary>What a sequence of labelled images asks for (Trask et al. section 4.2).</summary>
public enum ImageSequenceTarget
{
    /// <summary>How many images of each class the sequence holds: 10 outputs.</summary>
    Counting,

    /// <summary>The sum of the labels, each label 0–9 read as a digit's value: 1 output.</summary>
    Addition,
}

/// <summary>
/// Labelled images (an IDX image file and its label file: MNIST, Fashion-MNIST, EMNIST digits, KMNIST), optionally
/// average-pooled, as floats in [0, 1] ready to be drawn into sequences (<see cref="ImageSequences"/>).
/// </summary>
public sealed class ImageSet
{
    /// <summary>The labels a sequence task reads: 0–9 (digits, or Fashion-MNIST's 10 classes).</summary>
    public const int Classes = 10;

    private ImageSet(float[] pixels, byte[] labels, int rows, int columns)
    {
        Pixels = pixels;
        Labels = labels;
        Rows = rows;
        Columns = columns;
    }

    /// <summary>Every image's pixels, image after image, row-major, in [0, 1].</summary>
    public float[] Pixels { get; }

    /// <summary>Each image's label, 0–9.</summary>
    public byte[] Labels { get; }

    /// <summary>Rows of an image after pooling.</summary>
    public int Rows { get; }

    /// <summary>Columns of an image after pooling.</summary>
    public int Columns { get; }

    /// <summary>The number of images.</summary>
    public int Count => Labels.Length;

    /// <summary>Pixels per image after pooling: the values a per-image network reads per step.</summary>
    public int PixelsPerImage => Rows * Columns;

    /// <summary>
    /// Reads <paramref name="imagesPath"/> ([N, rows, columns] unsigned bytes) and <paramref name="labelsPath"/> ([N]
    /// unsigned bytes, each 0–9), pooling each image by averaging <paramref name="pool"/> × <paramref name="pool"/> blocks
    /// (1: none; 2 turns 28×28 into 14×14, a quarter of the work per image).
    /// </summary>
    /// <exception cref="FileNotFoundException">Either file is missing.</exception>
    /// <exception cref="DataFileException">A file that is not IDX images or labels, counts that differ, a label above 9, or a pool that does not divide the image.</exception>
    public static ImageSet Load(string imagesPath, string labelsPath, int pool = 1)
    {
        // Read (not ReadImages): the bytes are pooled straight into floats, without a byte[,,] copy in between.
        var images = IdxFile.Read(imagesPath);
        IdxFile.Require(imagesPath, images, rank: 3, "images, [N, rows, columns] unsigned bytes");

        var labels = IdxFile.ReadLabels(labelsPath);
        return FromBytes(images.Bytes!, images.Shape[1], images.Shape[2], labels, pool, imagesPath, labelsPath);
    }

    /// <summary>
    /// Labelled images from memory: <paramref name="pixels"/> holds <c>labels.Length</c> images of
    /// <paramref name="rows"/> × <paramref name="columns"/> bytes, row-major.
    /// </summary>
    /// <exception cref="DataFileException">As <see cref="Load"/>, naming <paramref name="imagesName"/> and <paramref name="labelsName"/>.</exception>
    public static ImageSet FromBytes(byte[] pixels, int rows, int columns, byte[] labels, int pool = 1,
        string imagesName = "images", string labelsName = "labels")
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(labels);
        if (pool < 1 || rows % pool != 0 || columns % pool != 0)
            throw new DataFileException($"{imagesName}: a pool of {pool} does not divide its {rows}×{columns} images; use 1 or a divisor of both sides.", imagesName);
        if ((long)labels.Length * rows * columns != pixels.Length)
        {
            throw new DataFileException(
                $"{imagesName} holds {pixels.Length / Math.Max(1L, (long)rows * columns)} images but {labelsName} holds {labels.Length} labels; they must be the same images.", labelsName);
        }

        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] >= Classes)
                throw new DataFileException($"{labelsName}: label {i} is {labels[i]}; the sequence tasks read labels 0–9.", labelsName);
        }

        int r = rows / pool, c = columns / pool, per = r * c;
        var values = new float[(long)labels.Length * per];
        float scale = 1f / (255f * pool * pool);
        for (int n = 0; n < labels.Length; n++)
        {
            long image = (long)n * rows * columns;
            for (int y = 0; y < r; y++)
            {
                for (int x = 0; x < c; x++)
                {
                    int sum = 0;
                    for (int dy = 0; dy < pool; dy++)
                    {
                        for (int dx = 0; dx < pool; dx++)
                            sum += pixels[image + ((y * pool) + dy) * columns + (x * pool) + dx];
                    }

                    values[(long)n * per + y * c + x] = sum * scale;
                }
            }
        }

        return new ImageSet(values, labels, r, c);
    }
}

/// <summary>
/// Sequences of images drawn from an <see cref="ImageSet"/> and their targets, for a recurrent model that reads one
/// image per step: inputs step-major (<c>T · pixels</c> values per sequence), targets the counts per class or the
/// sum of the labels (<see cref="ImageSequenceTarget"/>).
/// </summary>
public static class ImageSequences
{
    /// <summary>The targets per sequence: 10 counts, or 1 sum.</summary>
    public static int Outputs(ImageSequenceTarget target) => target == ImageSequenceTarget.Counting ? ImageSet.Classes : 1;

    /// <summary>
    /// <paramref name="sequences"/> sequences of <paramref name="length"/> images each, drawn uniformly with replacement
    /// by a generator seeded with <paramref name="seed"/>: the same seed gives the same sequences on every machine.
    /// Returns the inputs (<c>sequences × length × pixels</c>, step-major), the targets (<c>sequences × outputs</c>, or with
    /// <paramref name="cumulative"/> <c>sequences × length × outputs</c>: the counts or sum after each image) and the
    /// drawn image indices.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">No sequences, a length below 1, or more values than an array holds.</exception>
    public static (float[] Inputs, float[] Targets, int[] Images) Draw(ImageSet set, ImageSequenceTarget target, int sequences, int length, int seed,
        bool cumulative = false)
    {
        ArgumentNullException.ThrowIfNull(set);
        ArgumentOutOfRangeException.ThrowIfLessThan(sequences, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        if (!Enum.IsDefined(target))
            throw new ArgumentOutOfRangeException(nameof(target), target, "Unknown image-sequence target.");
        int per = set.PixelsPerImage, outputs = Outputs(target);
        long values = (long)sequences * length * per;
        if (values > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(sequences), $"{sequences} sequences × {length} images × {per} pixels is {values:N0} values, more than an array holds; draw fewer at a time.");
        var rng = new Random(seed);
        var inputs = new float[values];
        int reads = cumulative ? length : 1;
        if ((long)sequences * reads * outputs > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(sequences), "Too many cumulative targets for one array; draw fewer at a time.");
        var targets = new float[sequences * reads * outputs];
        var running = new float[outputs];
        var images = new int[sequences * length];
        for (int s = 0; s < sequences; s++)
        {
            Array.Clear(running);
            for (int t = 0; t < length; t++)
            {
                int image = rng.Next(set.Count);
                images[s * length + t] = image;
                Array.Copy(set.Pixels, (long)image * per, inputs, ((long)s * length + t) * per, per);
                int label = set.Labels[image];
                if (target == ImageSequenceTarget.Counting)
                    running[label] += 1f;
                else
                    running[0] += label;
                if (cumulative || t == length - 1)
                    running.CopyTo(targets, (s * reads + (cumulative ? t : 0)) * outputs);
            }
        }

        return (inputs, targets, images);
    }
}
