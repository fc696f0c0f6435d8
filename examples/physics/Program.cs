// Writes train.csv, valid.csv and test.csv of Newton's law of gravitation, F = G·m1·m2 / r², in units where G = 1:
// a product and a ratio, which a NALU-style model can represent exactly and an MLP only interpolates.
//
//   dotnet run -c Release --project examples/physics -- [--out DIR] [--rows N] [--seed S]
//
// train.csv and valid.csv draw m1, m2 and r from U[1, 2]; test.csv draws the masses from U[10, 20], ten times larger,
// and r from U[1, 2] as before, so F is about a hundred times larger than anything seen in training (scaling r by ten
// as well would cancel out, 10·10/10² = 1, and leave F in the training range).
// Columns: m1, m2, r, F; read them with Nalu.Gpu.Data.CsvMatrix, e.g. inputs ["m1", "m2", "r"], target ["F"].
using System.Globalization;
using Nalu.Gpu.Data;

string outDir = ".";
int rows = 1000;
int seed = 1;
for (int i = 0; i < args.Length; i++)
{
    string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
    switch (args[i])
    {
        case "--out": outDir = Value(); break;
        case "--rows": rows = int.Parse(Value(), CultureInfo.InvariantCulture); break;
        case "--seed": seed = int.Parse(Value(), CultureInfo.InvariantCulture); break;
        case "--help" or "-h":
            Console.WriteLine("physics-data [--out DIR] [--rows N (default 1000)] [--seed S (default 1)]: writes train.csv, valid.csv (m1, m2, r in U[1,2]) and test.csv (masses in U[10,20]).");
            return 0;
        default:
            Console.Error.WriteLine($"error: unknown option '{args[i]}' (see --help).");
            return 2;
    }
}

if (rows < 1)
{
    Console.Error.WriteLine("error: --rows must be at least 1.");
    return 2;
}

Directory.CreateDirectory(outDir);
var random = new Random(seed);
Write("train.csv", 1f, 2f);
Write("valid.csv", 1f, 2f);
Write("test.csv", 10f, 20f);   // the masses only; r stays in U[1, 2]
return 0;

void Write(string name, float low, float high)
{
    var values = new float[rows * 4];
    for (int r = 0; r < rows; r++)
    {
        float m1 = Draw(), m2 = Draw(), distance = 1f + random.NextSingle();
        values[(r * 4) + 0] = m1;
        values[(r * 4) + 1] = m2;
        values[(r * 4) + 2] = distance;
        values[(r * 4) + 3] = m1 * m2 / (distance * distance);
    }

    string path = Path.Combine(outDir, name);
    CsvMatrix.Write(path, new FloatMatrix(values, rows, 4, ["m1", "m2", "r", "F"]));

    // Read it back the way a user would: inputs and target by name.
    FloatMatrix[] check = CsvMatrix.ReadGroups(path, [["m1", "m2", "r"], ["F"]]);
    Console.WriteLine($"{path}: {check[0].Rows} rows, inputs {string.Join(",", check[0].ColumnNames)} (masses in U[{low}, {high}], r in U[1, 2]), target F in [{check[1].Values.Min():G3}, {check[1].Values.Max():G3}]");

    float Draw() => low + ((high - low) * random.NextSingle());
}
