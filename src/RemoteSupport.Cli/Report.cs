using System.Text.Json.Nodes;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace RemoteSupport.Cli;

/// <summary>
/// A command's result, built once and rendered either as text (labelled fields, tables, blocks) or as the
/// properties of the one JSON object <c>--json</c> prints.
/// </summary>
internal sealed class Report
{
    private readonly List<IRenderable> _text = [];
    private Grid? _fields;

    /// <summary>Gets the JSON properties.</summary>
    public JsonObject Json { get; } = [];

    /// <summary>Gets or sets the sentence printed on stderr when the command's exit code is not 0.</summary>
    public string? Refusal { get; set; }

    /// <summary>Adds a labelled value: a text line <c>label: value</c>, a JSON property <c>name</c>.</summary>
    public Report Field(string name, string label, JsonNode? value)
    {
        Json[name] = value;
        if (_fields is null)
        {
            _fields = new Grid().AddColumn(new GridColumn().NoWrap()).AddColumn();
            _text.Add(_fields);
        }

        _fields.AddRow(new Text(label + ":"), new Text(value switch
        {
            null => "-",
            JsonArray array => string.Join(", ", array.Select(a => a?.ToString() ?? "-")),
            _ => value.ToString(),
        }));
        return this;
    }

    /// <summary>Adds a JSON property that has no text line.</summary>
    public Report Data(string name, JsonNode? value)
    {
        Json[name] = value;
        return this;
    }

    /// <summary>Adds a line of text (not in the JSON).</summary>
    public Report Line(string text)
    {
        _fields = null;
        _text.Add(new Text(text + "\n"));
        return this;
    }

    /// <summary>Adds a table: a Spectre table in text, an array of objects named by <paramref name="columns"/> in JSON.</summary>
    public Report Table(string name, string title, IReadOnlyList<(string Json, string Header)> columns, IEnumerable<IReadOnlyList<string?>> rows)
    {
        _fields = null;
        var table = new Table().Title(title).Border(TableBorder.Rounded);
        foreach ((_, string header) in columns)
        {
            table.AddColumn(header);
        }

        var array = new JsonArray();
        foreach (IReadOnlyList<string?> row in rows)
        {
            table.AddRow(row.Select(cell => new Text(cell ?? "-")).ToArray<IRenderable>());
            var item = new JsonObject();
            for (int i = 0; i < columns.Count; i++)
            {
                item[columns[i].Json] = row[i];
            }

            array.Add(item);
        }

        Json[name] = array;
        _text.Add(table);
        return this;
    }

    public void Render(IAnsiConsole console)
    {
        foreach (IRenderable renderable in _text)
        {
            console.Write(renderable);
        }
    }
}
