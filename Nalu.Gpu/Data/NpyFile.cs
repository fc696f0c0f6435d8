using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace Nalu.Gpu.Data;

/// <summary>
/// Reads and writes NumPy <c>.npy</c> files (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html) as
/// float matrices.
/// </summary>
/// <remarks>
/// <para>Reading accepts format versions 1.0, 2.0 and 3.0; little-endian dtypes <c>&lt;f4</c>, <c>&lt;f8</c>,
/// <c>&lt;i4</c> and <c>&lt;i8</c> (and <c>|</c>/<c>=</c> spellings are refused: only <c>&lt;</c>); C order, and Fortran
/// order (<c>fortran_order: True</c>), which is transposed into row-major; shapes <c>(N,)</c> (read as N × 1) and
/// <c>(R, C)</c>. Values are converted to float: a <c>&lt;f8</c> value must be finite and within the float range, integers
/// above 2^24 in magnitude round to the nearest float.</para>
/// <para>Rejected with a <see cref="DataFileException"/> naming the file and the problem: a bad magic string, an
/// unsupported version, a truncated header or data, a header that is not the dictionary NumPy writes (keys
/// <c>descr</c>, <c>fortran_order</c>, <c>shape</c>, each once), another dtype or byte order, a shape of other than 1 or 2
/// dimensions or with a zero, data shorter or longer than the shape needs, and NaN/Infinity (with its [row, column]).</para>
/// <para>Writing produces version 1.0, <c>&lt;f4</c>, C order, shape (R, C), with the header padded so the data starts
/// at a multiple of 64 bytes, as NumPy does; <c>numpy.load</c> reads it.</para>
/// </remarks>
public static class NpyFile
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Reads the .npy file at <paramref name="path"/> (see the class remarks). Column names are "0", "1", ….</summary>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    /// <exception cref="DataFileException">The file is malformed or unsupported; the message names the file and the problem.</exception>
    public static FloatMatrix Read(string path) => Read(ReadBytes(path), path);

    /// <summary>
    /// Reads a 3-D (N, T, F) C-order .npy file of sequences: the matrix has N rows of <c>T·F</c> values, step-major
    /// (<c>[n, t·F + f]</c>), what a model with a recurrent first layer of T steps reads
    /// (<see cref="Dataset(Devices.NaluDevice, float[,,], float[,])"/> takes the same layout from code). Returns T too.
    /// </summary>
    /// <exception cref="DataFileException">Not a 3-D C-order array, or any of <see cref="Read(string)"/>'s problems; errors name [n, t, f].</exception>
    public static (FloatMatrix Inputs, int Steps) ReadSequences(string path)
    {
        var bytes = ReadBytes(path);
        return (Read(bytes, path, sequences: true, out int steps), steps);
    }

    private static byte[] ReadBytes(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Data file '{path}' does not exist.", path);
        long length = new FileInfo(path).Length;
        if (length > Array.MaxLength)
            throw Error(path, $"the file is {length} bytes, more than this reader can hold in memory");
        return File.ReadAllBytes(path);
    }

    /// <summary>Reads .npy <paramref name="bytes"/> as if they were the file <paramref name="path"/>.</summary>
    internal static FloatMatrix Read(ReadOnlySpan<byte> bytes, string path) => Read(bytes, path, sequences: false, out _);

    private static FloatMatrix Read(ReadOnlySpan<byte> bytes, string path, bool sequences, out int steps)
    {
        steps = 1;
        if (bytes.Length < Magic.Length || !bytes[..Magic.Length].SequenceEqual(Magic))
            throw Error(path, "not a NumPy .npy file (it does not start with the magic string \\x93NUMPY)");
        if (bytes.Length < 8)
            throw Error(path, "truncated: the file ends inside the version bytes");
        int major = bytes[6], minor = bytes[7];
        if (major is < 1 or > 3 || minor != 0)
            throw Error(path, $"format version {major}.{minor} is not supported (1.0, 2.0 and 3.0 are)");
        int prefix = major == 1 ? 10 : 12;
        if (bytes.Length < prefix)
            throw Error(path, $"truncated: the file is {bytes.Length} bytes and ends inside the header length");
        long headerLength = major == 1 ? BinaryPrimitives.ReadUInt16LittleEndian(bytes[8..]) : BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]);
        if (headerLength > bytes.Length - prefix)
            throw Error(path, $"truncated header: it should be {headerLength} bytes, but only {bytes.Length - prefix} follow the header length");
        string header;
        try
        {
            header = major == 3
                ? new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes.Slice(prefix, (int)headerLength))
                : Encoding.Latin1.GetString(bytes.Slice(prefix, (int)headerLength));
        }
        catch (DecoderFallbackException e)
        {
            throw Error(path, "the version 3.0 header is not valid UTF-8", e);
        }

        (string descr, bool fortran, long[] shape) = ParseHeader(path, header);
        int itemSize = descr switch
        {
            "<f4" or "<i4" => 4,
            "<f8" or "<i8" => 8,
            _ when descr.Length > 1 && descr[0] == '>' => throw Error(path, $"dtype '{descr}' is big-endian; only little-endian ('<') data is supported (numpy: a.astype('<f4'))"),
            _ => throw Error(path, $"dtype '{descr}' is not supported (<f4, <f8, <i4 and <i8 are)"),
        };
        if (sequences && shape.Length != 3)
            throw Error(path, $"shape {FormatShape(shape)} has {shape.Length} dimension(s); a sequence file is a 3-D (N, T, F) array");
        if (sequences && fortran)
            throw Error(path, "a Fortran-order sequence array is not supported; save it in C order (numpy: np.ascontiguousarray(a))");
        if (!sequences && shape.Length == 3)
        {
            throw Error(path, $"shape {FormatShape(shape)} has 3 dimensions, a 3-D file of sequences: read it with NpyFile.ReadSequences, or for " +
                "'nalu train --data' store each sequence and its targets as one 2-D row (T·F values, step-major, then the targets) and pass --sequence T");
        }

        if (shape.Length is 0 or > 3)
            throw Error(path, $"shape ({string.Join(", ", shape)}) has {shape.Length} dimensions; a 1-D (N,) or 2-D (rows, columns) array is needed");
        if (sequences && (long)shape[1] * shape[2] > int.MaxValue)
            throw Error(path, $"shape {FormatShape(shape)}: {shape[1]} steps × {shape[2]} features are too many values per sequence");
        if (sequences)
            steps = (int)shape[1];
        long rows = shape[0], columns = shape.Length == 3 ? shape[1] * shape[2] : shape.Length == 2 ? shape[1] : 1;
        if (rows == 0 || columns == 0)
            throw Error(path, $"shape {FormatShape(shape)} holds no values");
        long count = rows * columns;   // each ≤ int.MaxValue (ParseHeader), so no overflow
        long dataLength = bytes.Length - prefix - headerLength;
        if (count > Array.MaxLength || count * itemSize != dataLength)
        {
            string need = count > Array.MaxLength ? "more than an array can hold" : $"{count * itemSize} bytes";
            string what = count <= Array.MaxLength && count * itemSize > dataLength ? "truncated data" : "data length mismatch";
            throw Error(path, $"{what}: shape {FormatShape(shape)} of {descr} needs {need}, but the file has {dataLength} bytes of data");
        }

        ReadOnlySpan<byte> data = bytes[(int)(prefix + headerLength)..];
        var values = new float[count];
        int r = (int)rows, c = (int)columns;
        for (int i = 0; i < values.Length; i++)
        {
            ReadOnlySpan<byte> item = data.Slice(i * itemSize, itemSize);
            double v = descr switch
            {
                "<f4" => BinaryPrimitives.ReadSingleLittleEndian(item),
                "<f8" => BinaryPrimitives.ReadDoubleLittleEndian(item),
                "<i4" => BinaryPrimitives.ReadInt32LittleEndian(item),
                _ => BinaryPrimitives.ReadInt64LittleEndian(item),
            };

            // File element i is (i / c, i % c) in C order, (i % r, i / r) in Fortran order.
            int row = fortran ? i % r : i / c, column = fortran ? i / r : i % c;
            if (!double.IsFinite(v))
                throw Error(path, $"value at {At(row, column)} is {v.ToString(CultureInfo.InvariantCulture)}; only finite values are accepted");
            if (Math.Abs(v) > float.MaxValue)
                throw Error(path, $"value at {At(row, column)} is {v.ToString("R", CultureInfo.InvariantCulture)}, outside the float range (±3.4e38)");
            values[(row * c) + column] = (float)v;
        }

        return new FloatMatrix(values, r, c);

        // An element's name in an error, as the user's array indexes it: [n, t, f] for a sequence, else [row, column].
        string At(int row, int column) => sequences ? $"[{row}, {column / shape[2]}, {column % shape[2]}]" : $"[{row}, {column}]";
    }

    /// <summary>
    /// Writes <paramref name="matrix"/> as a version 1.0, <c>&lt;f4</c>, C-order, 2-D .npy file, through
    /// <see cref="IO.SafeFile"/> (atomic for a regular file). Column names are not stored.
    /// </summary>
    public static void Write(string path, FloatMatrix matrix)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(matrix);
        IO.SafeFile.WriteAllBytes(path, ToBytes(matrix.Values, matrix.Rows, matrix.Columns));
    }

    /// <summary>Writes <paramref name="rows"/> × <paramref name="columns"/> row-major <paramref name="values"/> (see <see cref="Write(string, FloatMatrix)"/>).</summary>
    /// <exception cref="ArgumentException">The lengths disagree, a dimension is not positive, or a value is not finite.</exception>
    public static void Write(string path, float[] values, int rows, int columns) => Write(path, new FloatMatrix(values, rows, columns));

    internal static byte[] ToBytes(float[] values, int rows, int columns)
    {
        string dict = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {columns}), }}";
        int unpadded = 10 + dict.Length + 1;
        int padded = (unpadded + 63) / 64 * 64;
        string header = dict + new string(' ', padded - unpadded) + "\n";
        var bytes = new byte[padded + ((long)values.Length * 4)];
        Magic.CopyTo(bytes, 0);
        bytes[6] = 1;
        bytes[7] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)header.Length);
        Encoding.ASCII.GetBytes(header, bytes.AsSpan(10));
        for (int i = 0; i < values.Length; i++)
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(padded + (i * 4)), values[i]);
        return bytes;
    }

    private static string FormatShape(long[] shape) => shape.Length == 1 ? $"({shape[0]},)" : $"({string.Join(", ", shape)})";

    /// <summary>Parses the Python dict literal NumPy writes: <c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (3, 2), }</c>.</summary>
    private static (string Descr, bool Fortran, long[] Shape) ParseHeader(string path, string header)
    {
        int at = 0;
        string? descr = null;
        bool? fortran = null;
        long[]? shape = null;
        SkipSpace();
        Expect('{');
        while (true)
        {
            SkipSpace();
            if (Peek() == '}')
            {
                at++;
                break;
            }

            string key = ReadString();
            SkipSpace();
            Expect(':');
            SkipSpace();
            switch (key)
            {
                case "descr" when descr is null:
                    if (Peek() is not ('\'' or '"'))
                        throw Bad("'descr' must be a dtype string such as '<f4' (structured dtypes are not supported)");
                    descr = ReadString();
                    break;
                case "fortran_order" when fortran is null:
                    fortran = ReadBool();
                    break;
                case "shape" when shape is null:
                    shape = ReadShape();
                    break;
                case "descr" or "fortran_order" or "shape":
                    throw Bad($"key '{key}' appears twice");
                default:
                    throw Bad($"unexpected key '{key}' (NumPy writes only 'descr', 'fortran_order' and 'shape')");
            }

            SkipSpace();
            if (Peek() == ',')
                at++;
            else if (Peek() != '}')
                throw Bad($"expected ',' or '}}' at header character {at}");
        }

        if (header.AsSpan(at).Trim().Length != 0)
            throw Bad($"unexpected text after the dictionary at header character {at}");
        if (descr is null || fortran is null || shape is null)
            throw Bad($"key '{(descr is null ? "descr" : fortran is null ? "fortran_order" : "shape")}' is missing");
        return (descr, fortran.Value, shape);

        char Peek() => at < header.Length ? header[at] : throw Bad("the header ends inside the dictionary (truncated?)");

        void SkipSpace()
        {
            while (at < header.Length && header[at] is ' ' or '\t' or '\n' or '\r')
                at++;
        }

        void Expect(char c)
        {
            if (Peek() != c)
                throw Bad($"expected '{c}' at header character {at} but found '{header[at]}'");
            at++;
        }

        string ReadString()
        {
            char quote = Peek();
            if (quote is not ('\'' or '"'))
                throw Bad($"expected a quoted key or string at header character {at} but found '{quote}'");
            int end = header.IndexOf(quote, at + 1);
            if (end < 0)
                throw Bad("a string in the header is not terminated");
            string s = header[(at + 1)..end];
            at = end + 1;
            return s;
        }

        bool ReadBool()
        {
            if (string.CompareOrdinal(header, at, "True", 0, 4) == 0)
            {
                at += 4;
                return true;
            }

            if (string.CompareOrdinal(header, at, "False", 0, 5) == 0)
            {
                at += 5;
                return false;
            }

            throw Bad($"'fortran_order' must be True or False (header character {at})");
        }

        long[] ReadShape()
        {
            Expect('(');
            var dims = new List<long>();
            while (true)
            {
                SkipSpace();
                if (Peek() == ')')
                {
                    at++;
                    break;
                }

                int start = at;
                while (at < header.Length && char.IsAsciiDigit(header[at]))
                    at++;
                if (at == start)
                    throw Bad($"'shape' must be a tuple of non-negative integers (header character {at})");
                if (!int.TryParse(header.AsSpan(start, at - start), NumberStyles.None, CultureInfo.InvariantCulture, out int dim))
                    throw Bad($"shape dimension {header[start..at]} is too large");
                dims.Add(dim);
                SkipSpace();
                if (Peek() == ',')
                    at++;
                else if (Peek() != ')')
                    throw Bad($"expected ',' or ')' in 'shape' at header character {at}");
            }

            return dims.ToArray();
        }

        DataFileException Bad(string problem) => Error(path, "invalid header: " + problem);
    }

    private static DataFileException Error(string path, string problem, Exception? inner = null) =>
        new($"{path}: {problem}.", path, inner: inner);
}
