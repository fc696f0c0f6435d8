using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using Nalu.Gpu.Data;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary><see cref="IdxFile"/>: the types and shapes it reads, plain and gzip, and every malformed or lying file.</summary>
public sealed class IdxFileTests(ITestOutputHelper output) : IDisposable
{
    private const string FashionMnist = "/usr/share/datasets/fashion-mnist";

    private readonly string _dir = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "nalu-idx-" + Guid.NewGuid().ToString("N"))).FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Builds an IDX file: two zero bytes, the type, the rank, big-endian sizes, then <paramref name="data"/>.</summary>
    internal static byte[] Idx(byte type, int[] shape, byte[] data)
    {
        var bytes = new byte[4 + (4 * shape.Length) + data.Length];
        bytes[2] = type;
        bytes[3] = (byte)shape.Length;
        for (int d = 0; d < shape.Length; d++)
            BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + (4 * d)), shape[d]);
        data.CopyTo(bytes, 4 + (4 * shape.Length));
        return bytes;
    }

    internal static byte[] Gzip(byte[] bytes)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest))
            gzip.Write(bytes);
        return output.ToArray();
    }

    private static byte[] BigEndian<T>(int size, Action<Span<byte>, T> write, params T[] values)
    {
        var bytes = new byte[values.Length * size];
        for (int i = 0; i < values.Length; i++)
            write(bytes.AsSpan(i * size), values[i]);
        return bytes;
    }

    private static byte[] I16(params short[] v) => BigEndian<short>(2, BinaryPrimitives.WriteInt16BigEndian, v);

    private static byte[] I32(params int[] v) => BigEndian<int>(4, BinaryPrimitives.WriteInt32BigEndian, v);

    private static byte[] F32(params float[] v) => BigEndian<float>(4, BinaryPrimitives.WriteSingleBigEndian, v);

    private static byte[] F64(params double[] v) => BigEndian<double>(8, BinaryPrimitives.WriteDoubleBigEndian, v);

    /// <summary>Three 2×2 images whose pixel [i, r, c] is 10·i + 2·r + c, and 255 in the last pixel.</summary>
    private static readonly byte[] Pixels = [0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 255];

    private string Save(byte[] bytes, string name = "data-idx-ubyte")
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ImagesRoundTripPlainAndGzip(bool gzip)
    {
        byte[] file = Idx(0x08, [3, 2, 2], Pixels);
        string path = Save(gzip ? Gzip(file) : file, gzip ? "images-idx3-ubyte.gz" : "images-idx3-ubyte");

        IdxArray array = IdxFile.Read(path);
        Assert.Equal([3, 2, 2], array.Shape);
        Assert.Equal(IdxElementType.UnsignedByte, array.ElementType);
        Assert.Equal(12, array.Count);
        Assert.Equal(Pixels, array.Bytes);
        Assert.Equal(Pixels.Select(b => (float)b), array.ToFloats());

        byte[,,] images = IdxFile.ReadImages(path);
        Assert.Equal((3, 2, 2), (images.GetLength(0), images.GetLength(1), images.GetLength(2)));
        for (int i = 0; i < 3; i++)
        {
            for (int r = 0; r < 2; r++)
            {
                for (int c = 0; c < 2; c++)
                    Assert.Equal(Pixels[(i * 4) + (r * 2) + c], images[i, r, c]);
            }
        }

        float[,] floats = IdxFile.ReadImagesAsFloats(path);
        Assert.Equal((3, 4), (floats.GetLength(0), floats.GetLength(1)));
        Assert.Equal(13 / 255f, floats[1, 3]);
        Assert.Equal(1f, floats[2, 3]);
        Assert.Equal(0f, floats[0, 0]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LabelsRoundTripPlainAndGzip(bool gzip)
    {
        byte[] file = Idx(0x08, [5], [7, 0, 9, 3, 255]);
        Assert.Equal([7, 0, 9, 3, 255], IdxFile.ReadLabels(Save(gzip ? Gzip(file) : file)));
    }

    [Fact]
    public void GzipIsDetectedByItsMagicBytesNotByTheName()
    {
        byte[] file = Idx(0x08, [2], [4, 5]);
        Assert.Equal([4, 5], IdxFile.ReadLabels(Save(Gzip(file), "compressed-without-gz")));
        Assert.Equal([4, 5], IdxFile.ReadLabels(Save(file, "plain-despite.gz")));
    }

    [Fact]
    public void OtherTypesConvertToFloatsFromBigEndian()
    {
        IdxArray sbytes = IdxFile.Read(Save(Idx(0x09, [4], [0x80, 0xFF, 0x00, 0x7F]), "s8"));
        Assert.Equal(IdxElementType.SignedByte, sbytes.ElementType);
        Assert.Null(sbytes.Bytes);
        Assert.Equal([-128f, -1f, 0f, 127f], sbytes.ToFloats());

        IdxArray int16 = IdxFile.Read(Save(Idx(0x0B, [2, 2], I16(-32768, -2, 258, 32767)), "i16"));
        Assert.Equal(IdxElementType.Int16, int16.ElementType);
        Assert.Equal([-32768f, -2f, 258f, 32767f], int16.ToFloats());

        IdxArray int32 = IdxFile.Read(Save(Idx(0x0C, [1, 4], I32(-7, 0x01020304, int.MinValue, 16_777_217)), "i32"));
        Assert.Equal([1, 4], int32.Shape);
        Assert.Equal([-7f, 16_909_060f, -2147483648f, 16_777_216f], int32.ToFloats());   // 2^24 + 1 rounds to 2^24

        IdxArray float32 = IdxFile.Read(Save(Gzip(Idx(0x0D, [3], F32(1.5f, -0f, 3.4e38f))), "f32.gz"));
        Assert.Equal(IdxElementType.Float32, float32.ElementType);
        Assert.Equal([1.5f, -0f, 3.4e38f], float32.ToFloats());

        IdxArray float64 = IdxFile.Read(Save(Idx(0x0E, [1, 1, 2], F64(1.0 / 3.0, -2.5e-10)), "f64"));
        Assert.Equal([1, 1, 2], float64.Shape);
        Assert.Equal([(float)(1.0 / 3.0), -2.5e-10f], float64.ToFloats());
    }

    public static TheoryData<byte[], string> Malformed => new()
    {
        { [], "the file is empty" },
        { Encoding.ASCII.GetBytes("PK\x03\x04 a zip"), "not an IDX file: it does not start with two zero bytes (it starts with 0x50 0x4B 0x03 0x04: it looks like a ZIP archive" },
        { [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0], "it looks like a NumPy .npy file; read it with NpyFile" },
        { Encoding.ASCII.GetBytes("1,2,3\n4,5,6\n"), "not an IDX file: it does not start with two zero bytes (it starts with 0x31 0x2C 0x32 0x2C ('1,2,'))" },
        { Encoding.ASCII.GetBytes("<!DOCTYPE html>"), "HTML or XML" },
        { [0x00, 0x08, 0x08, 0x01], "not an IDX file" },
        { [0x00], "truncated: the file ends at offset 1, inside the 4-byte magic number" },
        { [0x00, 0x00, 0x08], "truncated: the file ends at offset 3" },
        { Idx(0x0A, [1], [0]), "the type byte at offset 2 is 0x0A, not an IDX type" },
        { Idx(0x08, [], []), "the dimension count at offset 3 is 0" },
        { Idx(0x08, [3, 2, 2], Pixels)[..10], "truncated header: 3 dimension sizes need 12 bytes from offset 4, but the file ends at offset 10" },
        { Idx(0x08, [3, 0, 2], []), "dimension 1 (offset 8) is 0, so the file holds no data" },
        { Idx(0x08, [0], []), "dimension 0 (offset 4) is 0" },
        { Idx(0x08, [2, -1], []), "dimension 1 (offset 8) is 4294967295 (0xFFFFFFFF), above the int32 maximum" },
        { Idx(0x08, [3, 2, 2], Pixels[..11]), "truncated data: shape [3, 2, 2] of unsigned byte elements needs 12 bytes of data from offset 16, but the file is 27 bytes, 11 after the header" },
        { Idx(0x0C, [2], I32(1)), "truncated data: shape [2] of int32 elements needs 8 bytes" },
        { Idx(0x08, [3, 2, 2], [.. Pixels, 0, 0]), "2 trailing bytes after the data, from offset 28: shape [3, 2, 2] of unsigned byte elements needs 12 bytes" },
        { Idx(0x08, [65536, 32768], [1, 2, 3]), "too large: the header's shape [65536, 32768] of unsigned byte elements is more than the 2147483591 elements an array can hold" },
        { Idx(0x08, [65536, 65536, 65536, 65536, 65536], []), "too large" },
        { Idx(0x0E, [300_000_000], F64(1)), "too large: the header's shape [300000000] of float64 elements is 2400000000 bytes" },
        { Idx(0x0D, [2, 2], F32(1, 2, float.NaN, 4)), "value at [1, 0] (offset 20) is NaN; only finite values are accepted" },
        { Idx(0x0D, [3], F32(1, float.NegativeInfinity, 2)), "value at [1] (offset 12) is -Infinity; only finite" },
        { Idx(0x0E, [2], F64(1, 1e300)), "value at [1] (offset 16) is 1E+300, outside the float range" },
        { Gzip(Gzip(Idx(0x08, [1], [1]))), "the decompressed data starts with 0x1F 0x8B" },
        { [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0], "the gzip stream decompresses to nothing" },   // an empty member
        { Gzip(Idx(0x08, [3, 2, 2], Pixels[..5])), "truncated data: shape [3, 2, 2] of unsigned byte elements needs 12 bytes of data from offset 16 of the decompressed data, but the decompressed data ends at offset 21" },
        { Gzip(Idx(0x08, [3, 2, 2], [.. Pixels, 9])), "trailing bytes after the data, from offset 28 of the decompressed data" },
        { Gzip(Idx(0x08, [0, 5], [])), "dimension 0 (offset 4 of the decompressed data) is 0" },
        { Gzip(Idx(0x0D, [2], F32(1, float.NaN))), "value at [1] (offset 12 of the decompressed data) is NaN" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void MalformedFileNamesTheFileAndTheProblem(byte[] bytes, string fragment)
    {
        string path = Save(bytes, "bad-idx");
        var e = Assert.Throws<DataFileException>(() => IdxFile.Read(path));
        Assert.StartsWith(path + ": ", e.Message);
        Assert.Contains(fragment, e.Message);
        Assert.EndsWith(".", e.Message);
        Assert.Equal(path, e.FilePath);
    }

    [Theory]
    [InlineData(false, 0x08, new[] { int.MaxValue })]             // more elements than an array holds
    [InlineData(false, 0x08, new[] { 1 << 15, 1 << 16 })]         // 2^31 elements
    [InlineData(false, 0x08, new[] { 2_000_000_000 })]            // fits an array, not the 20-byte file
    [InlineData(false, 0x0E, new[] { 250_000_000 })]              // 2 GB of doubles
    [InlineData(true, 0x08, new[] { 2_000_000_000 })]             // gzip: read in chunks, so only one is allocated
    [InlineData(true, 0x0C, new[] { 1000, 1000, 500 })]
    public void LyingHeaderIsRefusedQuicklyWithoutAllocatingItsClaim(bool gzip, byte type, int[] shape)
    {
        byte[] file = Idx(type, shape, [1, 2, 3, 4, 5, 6, 7, 8]);
        string path = Save(gzip ? Gzip(file) : file);
        var stopwatch = Stopwatch.StartNew();
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<DataFileException>(() => IdxFile.Read(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        output.WriteLine($"{e.Message} ({allocated} bytes allocated, {stopwatch.Elapsed.TotalMilliseconds:F1} ms)");
        Assert.True(allocated < 4 << 20, $"allocated {allocated} bytes");
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(1), $"took {stopwatch.Elapsed}");
        Assert.Matches("too large|truncated data", e.Message);
    }

    [Fact]
    public void CorruptOrTruncatedGzipIsADataFileException()
    {
        byte[] gzip = Gzip(Idx(0x08, [3, 2, 2], Pixels));
        byte[] corrupt = (byte[])gzip.Clone();
        corrupt[10] = 0xFF;   // the first byte of the deflate data: a reserved block type
        var e = Assert.Throws<DataFileException>(() => IdxFile.Read(Save(corrupt, "corrupt.gz")));
        Assert.Contains("corrupt.gz: the gzip stream is corrupt", e.Message);
        Assert.IsType<InvalidDataException>(e.InnerException);

        byte[] badChecksum = (byte[])gzip.Clone();
        badChecksum[^8] ^= 0xFF;   // CRC-32 of the trailer
        Assert.Contains("gzip stream is corrupt", Assert.Throws<DataFileException>(() => IdxFile.Read(Save(badChecksum, "crc.gz"))).Message);

        // .NET's GZipStream ends quietly at a cut, so a truncated stream fails the length check; a cut that loses only
        // the end of the stream after the last data byte (the trailer's CRC) goes unnoticed, but the data is then whole.
        int refused = 0;
        for (int length = 2; length < gzip.Length; length++)
        {
            string path = Save(gzip[..length], "truncated.gz");
            try
            {
                Assert.Equal(Pixels, IdxFile.Read(path).Bytes);
            }
            catch (DataFileException cut) when (cut.Message.StartsWith(path + ": ", StringComparison.Ordinal))
            {
                refused++;
            }
        }

        output.WriteLine($"{refused} of {gzip.Length - 2} truncations refused");
        Assert.True(refused >= gzip.Length - 18, $"only {refused} of {gzip.Length - 2} truncations refused");
    }

    [Fact]
    public void ReadImagesAndReadLabelsNameTheShapeTheyFound()
    {
        string labels = Save(Idx(0x08, [5], [1, 2, 3, 4, 5]), "labels");
        var e = Assert.Throws<DataFileException>(() => IdxFile.ReadImages(labels));
        Assert.Equal($"{labels}: expected images, [N, rows, columns] unsigned bytes, but the file holds a 1-D array of unsigned byte elements, shape [5].", e.Message);
        Assert.Contains("1-D array", Assert.Throws<DataFileException>(() => IdxFile.ReadImagesAsFloats(labels)).Message);

        string images = Save(Idx(0x08, [3, 2, 2], Pixels), "images");
        Assert.Contains("expected labels, [N] unsigned bytes, but the file holds a 3-D array of unsigned byte elements, shape [3, 2, 2]",
            Assert.Throws<DataFileException>(() => IdxFile.ReadLabels(images)).Message);

        string floats = Save(Idx(0x0D, [1, 1, 2], F32(0.5f, 1f)), "float-images");
        Assert.Contains("3-D array of float32 elements, shape [1, 1, 2]", Assert.Throws<DataFileException>(() => IdxFile.ReadImages(floats)).Message);
        Assert.Contains("1-D array of int32 elements", Assert.Throws<DataFileException>(() => IdxFile.ReadLabels(Save(Idx(0x0C, [1], I32(3)), "int-labels"))).Message);
    }

    [Fact]
    public void MissingFile() =>
        Assert.Contains("absent-idx1-ubyte' does not exist", Assert.Throws<FileNotFoundException>(() => IdxFile.Read(Path.Combine(_dir, "absent-idx1-ubyte"))).Message);

    [Fact]
    public void DirectoryIsNotAFile()
    {
        var e = Assert.Throws<FileNotFoundException>(() => IdxFile.ReadLabels(_dir));
        Assert.Contains("is a directory, not a file", e.Message);
        Assert.Equal(_dir, e.FileName);
    }

    /// <summary>
    /// Seeded fuzzing: valid files of each type, plain and gzip, mutated (bit flips, byte values, truncation, in the IDX
    /// bytes before compressing and in the compressed bytes) must read or fail with a <see cref="DataFileException"/>
    /// naming the file, never anything else, and whatever reads must be self-consistent.
    /// </summary>
    [Fact]
    public void FuzzedFilesOnlyEverReadOrThrowDataFileException()
    {
        byte[][] idx =
        [
            Idx(0x08, [3, 2, 2], Pixels),
            Idx(0x08, [4], [0, 1, 2, 9]),
            Idx(0x09, [2, 2], [0x80, 1, 2, 0x7F]),
            Idx(0x0B, [3], I16(-1, 2, 300)),
            Idx(0x0C, [2, 1], I32(-5, 1 << 30)),
            Idx(0x0D, [1, 3], F32(0.5f, -2f, 1e30f)),
            Idx(0x0E, [2], F64(1e-3, -7)),
        ];
        var random = new Random(20240607);
        int read = 0, refused = 0;
        var stopwatch = Stopwatch.StartNew();
        for (int iteration = 0; iteration < 3000; iteration++)
        {
            byte[] bytes = idx[random.Next(idx.Length)];
            bool gzip = random.Next(2) == 1, compressedMutation = gzip && random.Next(2) == 1;
            if (!compressedMutation)
                bytes = Mutate(bytes, random);
            if (gzip)
                bytes = Gzip(bytes);
            if (compressedMutation)
                bytes = Mutate(bytes, random);
            try
            {
                IdxArray array = IdxFile.Read(bytes, "fuzz.idx");
                Assert.Equal(array.Shape.Aggregate(1L, (n, d) => n * d), array.Count);
                Assert.All(array.Shape, d => Assert.True(d > 0));
                Assert.Equal(array.Count, array.ToFloats().Length);
                Assert.All(array.ToFloats(), v => Assert.True(float.IsFinite(v)));
                Assert.Equal(array.ElementType == IdxElementType.UnsignedByte, array.Bytes is not null);
                read++;
            }
            catch (DataFileException e) when (e.Message.StartsWith("fuzz.idx: ", StringComparison.Ordinal))
            {
                refused++;
            }
        }

        output.WriteLine($"{read} read, {refused} refused in {stopwatch.Elapsed.TotalMilliseconds:F0} ms");
        Assert.True(read > 0 && refused > 0, $"{read} read, {refused} refused");
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(2), $"took {stopwatch.Elapsed}");
    }

    private static byte[] Mutate(byte[] original, Random random)
    {
        byte[] bytes = (byte[])original.Clone();
        for (int m = random.Next(1, 4); m > 0 && bytes.Length > 0; m--)
        {
            int at = random.Next(bytes.Length);
            switch (random.Next(4))
            {
                case 0:
                    bytes[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 1:
                    bytes[at] = (byte)random.Next(256);
                    break;
                case 2:
                    bytes = bytes[..at];
                    break;
                default:
                    bytes = [.. bytes, .. new byte[random.Next(1, 5)]];
                    break;
            }
        }

        return bytes;
    }

    [Fact]
    public void ReadsTheRealFashionMnistTestSet()
    {
        string images = Path.Combine(FashionMnist, "t10k-images-idx3-ubyte.gz"), labels = Path.Combine(FashionMnist, "t10k-labels-idx1-ubyte.gz");
        if (!File.Exists(images) || !File.Exists(labels))
            Assert.Skip($"Fashion-MNIST is not installed on this machine ({images} and {labels} are needed).");

        byte[,,] pixels = IdxFile.ReadImages(images);
        Assert.Equal((10_000, 28, 28), (pixels.GetLength(0), pixels.GetLength(1), pixels.GetLength(2)));
        long sum = 0, first = 0;
        foreach (byte p in pixels)
            sum += p;
        for (int r = 0; r < 28; r++)
        {
            for (int c = 0; c < 28; c++)
                first += pixels[0, r, c];
        }

        // Sums computed independently, with Python's gzip module, from the same files.
        Assert.Equal(573_469_082, sum);
        Assert.Equal(33_456, first);

        byte[] classes = IdxFile.ReadLabels(labels);
        Assert.Equal(10_000, classes.Length);
        Assert.Equal([9, 2, 1, 1, 6, 1, 4, 6, 5, 7], classes[..10]);
        Assert.All(classes.CountBy(c => c), g => Assert.Equal(1000, g.Value));
        Assert.Equal(10, classes.Distinct().Count());
        Assert.All(classes, c => Assert.InRange(c, (byte)0, (byte)9));
    }
}
