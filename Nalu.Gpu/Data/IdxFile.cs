using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;

namespace Nalu.Gpu.Data;

/// <summary>The element type of an IDX file, as its third magic byte codes it.</summary>
public enum IdxElementType : byte
{
    /// <summary>0x08: unsigned byte, the type of MNIST, Fashion-MNIST, EMNIST and KMNIST images and labels.</summary>
    UnsignedByte = 0x08,

    /// <summary>0x09: signed byte.</summary>
    SignedByte = 0x09,

    /// <summary>0x0B: big-endian 16-bit integer.</summary>
    Int16 = 0x0B,

    /// <summary>0x0C: big-endian 32-bit integer.</summary>
    Int32 = 0x0C,

    /// <summary>0x0D: big-endian IEEE 754 single.</summary>
    Float32 = 0x0D,

    /// <summary>0x0E: big-endian IEEE 754 double.</summary>
    Float64 = 0x0E,
}

/// <summary>
/// An array read from an IDX file by <see cref="IdxFile.Read(string)"/>: its shape, its element type and its values.
/// Unsigned-byte data (every MNIST-family file) is kept as the bytes themselves, so 60,000 images cost 47 MB rather
/// than four times that as floats; <see cref="ToFloats"/> converts any type when floats are wanted.
/// </summary>
public sealed class IdxArray
{
    // The data as the file stores it: row-major, big-endian elements of ElementType.
    private readonly byte[] _data;

    internal IdxArray(int[] shape, IdxElementType elementType, int count, byte[] data)
    {
        Shape = shape;
        ElementType = elementType;
        Count = count;
        _data = data;
    }

    /// <summary>The dimension sizes, outermost first (e.g. [N, rows, columns] for images); each is positive.</summary>
    public int[] Shape { get; }

    /// <summary>The element type the file declares.</summary>
    public IdxElementType ElementType { get; }

    /// <summary>The number of elements: the product of <see cref="Shape"/>.</summary>
    public int Count { get; }

    /// <summary>
    /// The values, row-major, when <see cref="ElementType"/> is <see cref="IdxElementType.UnsignedByte"/>; null for any
    /// other type (use <see cref="ToFloats"/>). The array is the reader's own, not a copy.
    /// </summary>
    public byte[]? Bytes => ElementType == IdxElementType.UnsignedByte ? _data : null;

    /// <summary>
    /// The values as a new row-major float array, unscaled (an unsigned byte 255 is 255f). Integers above 2^24 in
    /// magnitude round to the nearest float; doubles round to float (the reader refused any outside the float range).
    /// </summary>
    public float[] ToFloats()
    {
        var values = new float[Count];
        ReadOnlySpan<byte> data = _data;
        switch (ElementType)
        {
            case IdxElementType.UnsignedByte:
                for (int i = 0; i < values.Length; i++)
                    values[i] = data[i];
                break;
            case IdxElementType.SignedByte:
                for (int i = 0; i < values.Length; i++)
                    values[i] = (sbyte)data[i];
                break;
            case IdxElementType.Int16:
                for (int i = 0; i < values.Length; i++)
                    values[i] = BinaryPrimitives.ReadInt16BigEndian(data[(i * 2)..]);
                break;
            case IdxElementType.Int32:
                for (int i = 0; i < values.Length; i++)
                    values[i] = BinaryPrimitives.ReadInt32BigEndian(data[(i * 4)..]);
                break;
            case IdxElementType.Float32:
                for (int i = 0; i < values.Length; i++)
                    values[i] = BinaryPrimitives.ReadSingleBigEndian(data[(i * 4)..]);
                break;
            default:
                for (int i = 0; i < values.Length; i++)
                    values[i] = (float)BinaryPrimitives.ReadDoubleBigEndian(data[(i * 8)..]);
                break;
        }

        return values;
    }

    /// <inheritdoc/>
    public override string ToString() => $"IDX {IdxFile.TypeName(ElementType)} array [{string.Join(", ", Shape)}]";
}

/// <summary>
/// Reads IDX files (http://yann.lecun.com/exdb/mnist/), the format of MNIST, Fashion-MNIST, EMNIST and KMNIST, plain or
/// gzip-compressed as they are distributed.
/// </summary>
/// <remarks>
/// <para>The format: two zero bytes, a type byte (<see cref="IdxElementType"/>), a dimension count (1 to 255), then
/// each dimension's size as a big-endian int32, then the data, big-endian and row-major. A file is gzip-compressed when
/// it starts with the gzip magic bytes 0x1F 0x8B, whatever its name.</para>
/// <para>Strict, like <see cref="NpyFile"/>: every problem is a <see cref="DataFileException"/> whose message names the
/// file and, for a format error, the byte offset (in the decompressed data for a gzip file, and it says so). Rejected:
/// a file that does not start with two zero bytes, an unknown type, zero dimensions, a dimension of size 0 or above
/// 2^31 − 1 (a negative int32), more elements or bytes than an array can hold, data shorter than the shape needs
/// (truncated), bytes after the data (a header that lies), NaN, ±Infinity or a double outside the float range, and a
/// corrupt gzip stream.</para>
/// <para>A truncated or lying header never allocates what it claims: a plain file's claim is checked against the file's
/// length before anything is allocated, and a gzip file's data is allocated only as it is decompressed.</para>
/// <para>A gzip stream's CRC-32 and length are checked when its trailer is there; .NET's <see cref="GZipStream"/> ends
/// quietly where a stream is cut, so a file cut inside its data fails as truncated, but one cut after the last data
/// byte (losing only the trailer) reads, with its data whole but unchecked.</para>
/// </remarks>
public static class IdxFile
{
    /// <summary>The piece in which gzip data is read: the most allocated beyond what has been decompressed so far.</summary>
    private const int GzipChunk = 1 << 20;

    /// <summary>Reads the IDX file at <paramref name="path"/>, plain or gzip-compressed (see the class remarks).</summary>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/> (or it is a directory).</exception>
    /// <exception cref="DataFileException">The file is malformed or unsupported; the message names the file, the offset and the problem.</exception>
    public static IdxArray Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (Directory.Exists(path))
            throw new FileNotFoundException($"Data file '{path}' is a directory, not a file.", path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Data file '{path}' does not exist.", path);
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16, FileOptions.SequentialScan);
        return Read(file, path);
    }

    /// <summary>
    /// Reads an IDX file of images, [N, rows, columns] unsigned bytes (MNIST's <c>*-images-idx3-ubyte</c>), as
    /// <c>[image, row, column]</c>.
    /// </summary>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    /// <exception cref="DataFileException">Not 3 dimensions of unsigned bytes (the message gives what was found), or any of <see cref="Read(string)"/>'s problems.</exception>
    public static byte[,,] ReadImages(string path)
    {
        IdxArray array = Read(path);
        Require(path, array, rank: 3, "images, [N, rows, columns] unsigned bytes");
        var images = new byte[array.Shape[0], array.Shape[1], array.Shape[2]];
        Buffer.BlockCopy(array.Bytes!, 0, images, 0, array.Count);
        return images;
    }

    /// <summary>
    /// Reads an IDX file of images as <c>[image, row · columns + column]</c> floats scaled from 0..255 to [0, 1]: one
    /// row per image, what <see cref="Dataset(Devices.NaluDevice, float[,], float[,])"/> takes as inputs.
    /// </summary>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    /// <exception cref="DataFileException">As <see cref="ReadImages"/>.</exception>
    public static float[,] ReadImagesAsFloats(string path)
    {
        IdxArray array = Read(path);
        Require(path, array, rank: 3, "images, [N, rows, columns] unsigned bytes");
        int n = array.Shape[0], pixels = array.Shape[1] * array.Shape[2];   // ≤ Count, so no overflow
        var images = new float[n, pixels];
        byte[] bytes = array.Bytes!;
        for (int i = 0; i < n; i++)
        {
            for (int p = 0; p < pixels; p++)
                images[i, p] = bytes[(i * pixels) + p] / 255f;
        }

        return images;
    }

    /// <summary>Reads an IDX file of labels, [N] unsigned bytes (MNIST's <c>*-labels-idx1-ubyte</c>).</summary>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    /// <exception cref="DataFileException">Not 1 dimension of unsigned bytes (the message gives what was found), or any of <see cref="Read(string)"/>'s problems.</exception>
    public static byte[] ReadLabels(string path)
    {
        IdxArray array = Read(path);
        Require(path, array, rank: 1, "labels, [N] unsigned bytes");
        return array.Bytes!;
    }

    /// <summary>Reads IDX <paramref name="bytes"/> (plain or gzip) as if they were the file <paramref name="path"/>.</summary>
    internal static IdxArray Read(byte[] bytes, string path)
    {
        using var stream = new MemoryStream(bytes, writable: false);
        return Read(stream, path);
    }

    internal static string TypeName(IdxElementType type) => type switch
    {
        IdxElementType.UnsignedByte => "unsigned byte",
        IdxElementType.SignedByte => "signed byte",
        IdxElementType.Int16 => "int16",
        IdxElementType.Int32 => "int32",
        IdxElementType.Float32 => "float32",
        _ => "float64",
    };

    /// <summary>Refuses an array that is not <paramref name="rank"/>-D unsigned bytes, naming what was expected and what was found.</summary>
    internal static void Require(string path, IdxArray array, int rank, string what)
    {
        if (array.Shape.Length != rank || array.ElementType != IdxElementType.UnsignedByte)
        {
            throw Error(path, $"expected {what}, but the file holds a {array.Shape.Length}-D array of {TypeName(array.ElementType)} " +
                $"elements, shape [{string.Join(", ", array.Shape)}]");
        }
    }

    /// <summary>Reads from a seekable <paramref name="raw"/> stream positioned at its start: gzip when it starts 0x1F 0x8B.</summary>
    private static IdxArray Read(Stream raw, string path)
    {
        long rawLength = raw.Length;
        Span<byte> signature = stackalloc byte[2];
        bool gzip = raw.ReadAtLeast(signature, 2, throwOnEndOfStream: false) == 2 && signature[0] == 0x1F && signature[1] == 0x8B;
        raw.Position = 0;
        if (!gzip)
            return Parse(raw, path, rawLength, gzip: false);
        try
        {
            using var unzipped = new GZipStream(raw, CompressionMode.Decompress, leaveOpen: true);
            return Parse(unzipped, path, length: null, gzip: true);
        }
        catch (InvalidDataException e)
        {
            throw Error(path, $"the gzip stream is corrupt ({e.Message.Trim().TrimEnd('.')})", e);
        }
    }

    /// <param name="stream">The IDX bytes (decompressed when <paramref name="gzip"/>).</param>
    /// <param name="path">The file, for messages.</param>
    /// <param name="length">The stream's length when known (a plain file), to check the header's claim before allocating.</param>
    /// <param name="gzip">Whether <paramref name="stream"/> is decompressed gzip, for messages.</param>
    private static IdxArray Parse(Stream stream, string path, long? length, bool gzip)
    {
        string where = gzip ? " of the decompressed data" : "", ends = gzip ? "the decompressed data ends" : "the file ends";
        Span<byte> magic = stackalloc byte[4];
        int got = stream.ReadAtLeast(magic, 4, throwOnEndOfStream: false);
        if (got == 0)
            throw Error(path, gzip ? "the gzip stream decompresses to nothing" : "the file is empty");
        if (magic[0] != 0 || (got > 1 && magic[1] != 0))
            throw Error(path, $"not an IDX file: it does not start with two zero bytes ({Looks(magic[..got], gzip)})");
        if (got < 4)
            throw Error(path, $"truncated: {ends} at offset {got}, inside the 4-byte magic number");
        if (!Enum.IsDefined((IdxElementType)magic[2]))
        {
            throw Error(path, $"the type byte at offset 2{where} is 0x{magic[2]:X2}, not an IDX type (0x08 unsigned byte, 0x09 signed byte, " +
                "0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64)");
        }

        var type = (IdxElementType)magic[2];
        int rank = magic[3];
        if (rank == 0)
            throw Error(path, $"the dimension count at offset 3{where} is 0; an IDX array has at least one dimension");

        int headerLength = 4 + (4 * rank);
        var sizes = new byte[4 * rank];   // at most 1,020 bytes
        got = stream.ReadAtLeast(sizes, sizes.Length, throwOnEndOfStream: false);
        if (got < sizes.Length)
            throw Error(path, $"truncated header: {rank} dimension sizes need {sizes.Length} bytes from offset 4{where}, but {ends} at offset {4 + got}");

        var shape = new int[rank];
        for (int d = 0; d < rank; d++)
        {
            int size = BinaryPrimitives.ReadInt32BigEndian(sizes.AsSpan(4 * d));
            if (size <= 0)
            {
                string value = size == 0 ? "0, so the file holds no data" :
                    $"{(uint)size} (0x{(uint)size:X8}), above the int32 maximum (a negative int32)";
                throw Error(path, $"dimension {d} (offset {4 + (4 * d)}{where}) is {value}");
            }

            shape[d] = size;
        }

        long count = 1;
        foreach (int size in shape)
        {
            count = checked(count * size);   // count ≤ Array.MaxLength before each product, so it cannot overflow
            if (count > Array.MaxLength)
                throw TooLarge(path, shape, type, $"more than the {Array.MaxLength} elements an array can hold");
        }

        int itemSize = type switch
        {
            IdxElementType.UnsignedByte or IdxElementType.SignedByte => 1,
            IdxElementType.Int16 => 2,
            IdxElementType.Int32 or IdxElementType.Float32 => 4,
            _ => 8,
        };
        long dataLength = count * itemSize;
        string described = $"shape {FormatShape(shape)} of {TypeName(type)} elements needs {dataLength} bytes of data from offset {headerLength}{where}";
        if (dataLength > Array.MaxLength)
            throw TooLarge(path, shape, type, $"{dataLength} bytes, more than the {Array.MaxLength} an array can hold");

        byte[] data;
        if (length is long fileLength)
        {
            // A plain file: its length settles the claim before anything is allocated.
            long available = fileLength - headerLength;
            if (dataLength > available)
                throw Error(path, $"truncated data: {described}, but the file is {fileLength} bytes, {available} after the header");
            if (dataLength < available)
            {
                throw Error(path, $"{available - dataLength} trailing bytes after the data, from offset {headerLength + dataLength}: {described}, " +
                    $"but the file is {fileLength} bytes, {available} after the header");
            }

            data = new byte[dataLength];
            got = stream.ReadAtLeast(data, data.Length, throwOnEndOfStream: false);
            if (got < data.Length)   // the file shrank while being read
                throw Error(path, $"truncated data: {described}, but {ends} at offset {headerLength + got}");
        }
        else
        {
            // gzip: the decompressed length is unknown until the end, so the data is read in chunks and only allocated
            // whole once it has all arrived: a lying header costs at most one chunk beyond what the stream really holds.
            var chunks = new List<byte[]>();
            long filled = 0;
            while (filled < dataLength)
            {
                var chunk = new byte[Math.Min(dataLength - filled, GzipChunk)];
                got = stream.ReadAtLeast(chunk, chunk.Length, throwOnEndOfStream: false);
                filled += got;
                if (got < chunk.Length)
                    throw Error(path, $"truncated data: {described}, but {ends} at offset {headerLength + filled}");
                chunks.Add(chunk);
            }

            if (chunks.Count == 1)
            {
                data = chunks[0];
            }
            else
            {
                data = new byte[dataLength];
                for (int c = 0; c < chunks.Count; c++)
                    chunks[c].CopyTo(data, (long)c * GzipChunk);
            }

            Span<byte> extra = stackalloc byte[1];
            if (stream.ReadAtLeast(extra, 1, throwOnEndOfStream: false) > 0)
                throw Error(path, $"trailing bytes after the data, from offset {headerLength + dataLength}{where}: {described}, but more follows");
        }

        CheckFloats(path, data, type, shape, headerLength, where);
        return new IdxArray(shape, type, (int)count, data);
    }

    /// <summary>Refuses NaN, ±Infinity and doubles beyond the float range, as the other readers do.</summary>
    private static void CheckFloats(string path, byte[] data, IdxElementType type, int[] shape, int headerLength, string where)
    {
        if (type is not (IdxElementType.Float32 or IdxElementType.Float64))
            return;
        int itemSize = type == IdxElementType.Float32 ? 4 : 8;
        for (int i = 0; i < data.Length / itemSize; i++)
        {
            double v = type == IdxElementType.Float32
                ? BinaryPrimitives.ReadSingleBigEndian(data.AsSpan(i * itemSize))
                : BinaryPrimitives.ReadDoubleBigEndian(data.AsSpan(i * itemSize));
            string? problem = !double.IsFinite(v) ? "; only finite values are accepted"
                : Math.Abs(v) > float.MaxValue ? ", outside the float range (±3.4e38)"
                : null;
            if (problem is not null)
            {
                throw Error(path, $"value at {Index(shape, i)} (offset {headerLength + ((long)i * itemSize)}{where}) is " +
                    $"{v.ToString("R", CultureInfo.InvariantCulture)}{problem}");
            }
        }
    }

    /// <summary>Element <paramref name="flat"/>'s row-major index, e.g. [1, 0, 2].</summary>
    private static string Index(int[] shape, int flat)
    {
        var index = new int[shape.Length];
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            index[d] = flat % shape[d];
            flat /= shape[d];
        }

        return $"[{string.Join(", ", index)}]";
    }

    /// <summary>What a file that is not IDX seems to be, from its first bytes, for the message.</summary>
    private static string Looks(ReadOnlySpan<byte> start, bool gzip)
    {
        string hex = string.Join(" ", start.ToArray().Select(b => $"0x{b:X2}"));
        if (start.ToArray().All(b => b is >= 0x20 and < 0x7F))
            hex += $" ('{System.Text.Encoding.ASCII.GetString(start)}')";
        string? guess = start switch
        {
            [0x93, (byte)'N', (byte)'U', (byte)'M', ..] => "a NumPy .npy file; read it with NpyFile",
            [(byte)'P', (byte)'K', ..] => "a ZIP archive (such as .npz); extract it first",
            [0x1F, 0x8B, ..] => "gzip-compressed twice; decompress it once",
            [(byte)'B', (byte)'Z', (byte)'h', ..] => "bzip2-compressed; decompress it first",
            [0xFD, (byte)'7', (byte)'z', (byte)'X', ..] => "xz-compressed; decompress it first",
            [(byte)'<', ..] => "HTML or XML, perhaps an error page saved by a download",
            _ => null,
        };
        string first = gzip ? "the decompressed data starts with" : "it starts with";
        return guess is null ? $"{first} {hex}" : $"{first} {hex}: it looks like {guess}";
    }

    private static string FormatShape(int[] shape) => $"[{string.Join(", ", shape)}]";

    private static DataFileException TooLarge(string path, int[] shape, IdxElementType type, string amount) =>
        Error(path, $"too large: the header's shape {FormatShape(shape)} of {TypeName(type)} elements is {amount}");

    private static DataFileException Error(string path, string problem, Exception? inner = null) =>
        new($"{path}: {problem}.", path, inner: inner);
}
