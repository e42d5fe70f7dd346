using Plotly.NET;
using Plotly.NET.CSharp;
using TorchSharp;
using EfficientAttention;
using static TorchSharp.torch;
using Chart = Plotly.NET.CSharp.Chart;

namespace EfficientAttention.Notebooks;

/// <summary>One line of a line chart.</summary>
/// <remarks><paramref name="Dashed"/> draws the line dashed, to set one group of series (e.g. baselines) apart.</remarks>
public sealed record Series(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y, IReadOnlyList<double>? ErrorY = null, bool Dashed = false);

/// <summary>How a heatmap maps values to colours.</summary>
public enum ColorScale
{
    /// <summary>Perceptually uniform dark-blue → yellow: magnitudes (attention probabilities, similarities).</summary>
    Viridis,
    /// <summary>White → black: high values dark, so a graph's edges are black on white.</summary>
    Greys,
}

/// <summary>
/// The few chart shapes the notebooks use, with titled axes, built on Plotly.NET. They return Plotly.NET charts,
/// which the notebook displays (the runner's formatter, or Plotly.NET.Interactive in the real kernel).
/// </summary>
public static class Plots
{
    /// <summary>
    /// A heatmap of a matrix (row 0 at the top, as attention maps are read), e.g. P for one head.
    /// </summary>
    public static GenericChart Heatmap(double[][] z, string title, string xTitle, string yTitle, IReadOnlyList<string>? x = null, IReadOnlyList<string>? y = null, ColorScale colorScale = ColorScale.Viridis)
    {
        int rows = z.Length, cols = rows == 0 ? 0 : z[0].Length;
        var xs = x ?? Enumerable.Range(0, cols).Select(i => i.ToString()).ToArray();
        var ys = y ?? Enumerable.Range(0, rows).Select(i => i.ToString()).ToArray();
        var chart = Chart.Heatmap<double, string, string, string>(zData: z, X: xs.ToArray(), Y: ys.ToArray(),
            ColorScale: colorScale == ColorScale.Viridis ? StyleParam.Colorscale.Viridis : StyleParam.Colorscale.Greys,
            ReverseScale: colorScale == ColorScale.Greys, ReverseYAxis: true);
        return Titled(chart, title, xTitle, yTitle);
    }

    /// <summary>
    /// One query's view of the sequence, as in Combiner's Figure 1: the keys laid out in rows of <paramref name="width"/>
    /// (row a holds keys a·width … a·width + width − 1), each cell coloured by where the query finds that key —
    /// <paramref name="map"/>[j] = 0: attended directly (black), r ≥ 1: through region r's summary (a colour per region,
    /// its number written in the cell), −1: out of reach (white). The query's own cell is marked "q".
    /// </summary>
    public static GenericChart Regions(int[] map, int width, int query, string title)
    {
        if (width < 1 || map.Length % width != 0) throw new ArgumentOutOfRangeException(nameof(width), width, $"width = {width}; expected a divisor of map.Length = {map.Length}.");
        int rows = map.Length / width, regions = Math.Max(1, map.Max());
        string[] Colours(int category) => category switch { -1 => ["#ffffff"], 0 => ["#222222"], _ => [RegionPalette[(category - 1) % RegionPalette.Length]] };
        var z = Enumerable.Range(0, rows).Select(a => Enumerable.Range(0, width).Select(b => (double)map[a * width + b]).ToArray()).ToArray();
        var text = Enumerable.Range(0, rows).Select(a => Enumerable.Range(0, width).Select(b =>
        {
            int j = a * width + b;
            return j == query ? "q" : map[j] > 0 ? map[j].ToString() : "";
        }).ToArray()).ToArray();
        int categories = regions + 2;                                                   // −1, 0, 1 … regions
        var scale = Enumerable.Range(-1, categories).SelectMany(c => new object[]
        {
            new object[] { (double)(c + 1) / categories, Colours(c)[0] }, new object[] { (double)(c + 2) / categories, Colours(c)[0] },
        }).ToArray();
        var chart = Heatmap(z, title, "position in row (j mod s)", "row (j div s)");
        return GenericChart.mapTrace(Microsoft.FSharp.Core.FSharpFunc<Trace, Trace>.FromConverter(trace =>
        {
            trace.SetProperty("colorscale", scale);
            trace.SetProperty("reversescale", false);
            trace.SetProperty("zmin", -1.5);
            trace.SetProperty("zmax", regions + 0.5);
            trace.SetProperty("showscale", false);
            trace.SetProperty("text", text);
            trace.SetProperty("texttemplate", "%{text}");
            trace.SetProperty("hovertemplate", "key %{y}·s + %{x}: %{z}<extra></extra>");
            trace.SetProperty("xgap", 1);
            trace.SetProperty("ygap", 1);
            trace.SetProperty("meta", CategoricalMeta);
            return trace;
        }), chart);
    }

    private const string CategoricalMeta = "categories";
    private static readonly string[] RegionPalette =
        ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5"];

    /// <summary>A heatmap of a 2-D tensor.</summary>
    public static GenericChart Heatmap(Tensor matrix, string title, string xTitle, string yTitle, IReadOnlyList<string>? x = null, IReadOnlyList<string>? y = null)
    {
        if (matrix.dim() != 2) throw new ArgumentException($"matrix has shape ({string.Join(", ", matrix.shape)}); expected rank 2.", nameof(matrix));
        return Heatmap(Rows(matrix), title, xTitle, yTitle, x, y);
    }

    /// <summary>
    /// Lines (with markers), optionally on log axes, with symmetric error bars where a series has them. Each series
    /// takes its method's colour (<see cref="ColourOf"/>); where two series of the panel would share colour and dash
    /// (a method family sharing a hue, or a dashed request), the later one takes the next dash, so no two series of
    /// one panel look alike (<see cref="RequireDistinctStyles"/> checks every displayed chart).
    /// </summary>
    public static GenericChart Lines(string title, string xTitle, string yTitle, IEnumerable<Series> series, bool logX = false, bool logY = false)
    {
        var used = new HashSet<(string Colour, int Dash)>();
        var traces = series.Select(s =>
        {
            string hex = ColourOf(s.Name);
            int dash = s.Dashed ? 1 : 0;
            for (int tries = 0; !used.Add((hex, dash)) && tries < Dashes.Length; tries++) dash = (dash + 1) % Dashes.Length;
            var colour = Color.fromString(hex);
            var line = Chart.Line<double, double, string>(x: s.X.ToArray(), y: s.Y.ToArray(), Name: s.Name, ShowMarkers: true,
                                                           LineColor: colour, MarkerColor: colour, LineDash: Dashes[dash],
                                                           MarkerSymbol: Symbols[dash]);
            if (s.ErrorY is null) return line;
            var errors = Microsoft.FSharp.Core.FSharpOption<IEnumerable<double>>.Some(s.ErrorY.ToArray());
            return Plotly.NET.Chart.withYErrorStyle<double, double>(null, null, null, errors, null, null, null, null, null, null, null, null, null).Invoke(line);
        }).ToArray();
        var chart = Chart.Combine(traces);
        chart = chart.WithXAxisStyle<double, double, string>(TitleText: xTitle, AxisType: logX ? StyleParam.AxisType.Log : StyleParam.AxisType.Linear)
                     .WithYAxisStyle<double, double, string>(TitleText: yTitle, AxisType: logY ? StyleParam.AxisType.Log : StyleParam.AxisType.Linear);
        return WithTitle(chart, title);
    }

    private static readonly StyleParam.DrawingStyle[] Dashes =
        [StyleParam.DrawingStyle.Solid, StyleParam.DrawingStyle.Dash, StyleParam.DrawingStyle.Dot, StyleParam.DrawingStyle.DashDot, StyleParam.DrawingStyle.LongDash];
    private static readonly StyleParam.MarkerSymbol[] Symbols =
        [StyleParam.MarkerSymbol.Circle, StyleParam.MarkerSymbol.Square, StyleParam.MarkerSymbol.Diamond, StyleParam.MarkerSymbol.TriangleUp, StyleParam.MarkerSymbol.Cross];

    /// <summary>
    /// A dot plot: each sample's mean as a dot in its method's colour with ± its standard error as an interval, on an
    /// axis fitted to the data (not from zero), so differences of a few thousandths stay visible; a dashed line marks
    /// <paramref name="reference"/> when given. Samples of one value show the dot alone.
    /// </summary>
    public static GenericChart Dots(string title, string xTitle, string yTitle, IReadOnlyList<Sample> samples, double? reference = null, string referenceName = "chance")
    {
        var names = samples.Select(s => s.Name).ToArray();
        var used = new HashSet<(string, int)>();
        var traces = samples.Select(s =>
        {
            string hex = ColourOf(s.Name);
            int symbol = 0;
            while (!used.Add((hex, symbol)) && symbol < Symbols.Length - 1) symbol++;
            var dot = Chart.Point<string, double, string>(x: [s.Name], y: [Math.Round(s.Mean, 10)], Name: s.Name,
                                                          MarkerColor: Color.fromString(hex), MarkerSymbol: Symbols[symbol]);
            var se = Microsoft.FSharp.Core.FSharpOption<IEnumerable<double>>.Some([double.IsNaN(s.StandardError) ? 0 : Math.Round(s.StandardError, 10)]);
            return Plotly.NET.Chart.withYErrorStyle<double, double>(null, null, null, se, null, null, null, null, null, null, null, null, null).Invoke(dot);
        }).ToList();
        if (reference is { } r)
            traces.Add(Chart.Line<string, double, string>(x: [names[0], names[^1]], y: [r, r], Name: $"{referenceName} ({r.ToString("G3", System.Globalization.CultureInfo.InvariantCulture)})",
                                                          LineColor: Color.fromString("#444444"), LineDash: StyleParam.DrawingStyle.Dash));
        return Titled(Chart.Combine(traces), title, xTitle, $"{yTitle} (mean ± SE)");
    }

    /// <summary>
    /// The series of each panel that share colour, dash and marker with another series of the same panel (as
    /// "panel: a = b"); empty when every series can be told apart. Reads the figure as it is displayed.
    /// </summary>
    public static IReadOnlyList<string> IndistinctSeries(GenericChart chart)
    {
        using var figure = System.Text.Json.JsonDocument.Parse(GenericChart.toJson(chart));
        var clashes = new List<string>();
        var seen = new Dictionary<string, string>();
        foreach (var trace in figure.RootElement.GetProperty("data").EnumerateArray())
        {
            if (Text(trace, "type") is not ("scatter" or null)) continue;
            string panel = $"{Text(trace, "xaxis") ?? "x"}/{Text(trace, "yaxis") ?? "y"}";
            string colour = Nested(trace, "line", "color") ?? Nested(trace, "marker", "color") ?? "(default)";
            string style = $"{panel}|{colour}|{Nested(trace, "line", "dash") ?? "solid"}|{Nested(trace, "marker", "symbol") ?? "circle"}";
            string name = Text(trace, "name") ?? "(unnamed)";
            if (seen.TryGetValue(style, out var other)) clashes.Add($"{panel}: '{other}' and '{name}' are both {colour}, {style.Split('|')[2]}");
            else seen[style] = name;
        }
        return clashes;

        static string? Text(System.Text.Json.JsonElement e, string key) =>
            e.TryGetProperty(key, out var v) && v.ValueKind == System.Text.Json.JsonValueKind.String ? v.GetString() : null;
        static string? Nested(System.Text.Json.JsonElement e, string part, string key) =>
            e.TryGetProperty(part, out var p) && p.ValueKind == System.Text.Json.JsonValueKind.Object ? Text(p, key) : null;
    }

    /// <summary>Throws, naming the series, when two series of one panel share colour and dash (see <see cref="IndistinctSeries"/>).</summary>
    public static GenericChart RequireDistinctStyles(GenericChart chart)
    {
        var clashes = IndistinctSeries(chart);
        if (clashes.Count > 0)
            throw new ArgumentException($"chart: series of one panel cannot be told apart ({string.Join("; ", clashes)}); give them distinct names, colours or dashes.", nameof(chart));
        return chart;
    }

    /// <summary>A bar chart of named values.</summary>
    public static GenericChart Bars(string title, string xTitle, string yTitle, IReadOnlyList<string> names, IReadOnlyList<double> values)
        => Titled(Chart.Column<double, string, string>(values: values.ToArray(), Keys: names.ToArray()), title, xTitle, yTitle);

    /// <summary>
    /// Mean ± standard error of each sample as a bar with an error bar, each bar in its method's colour; a dashed
    /// horizontal line marks <paramref name="reference"/> (a chance level) when given.
    /// </summary>
    public static GenericChart Bars(string title, string xTitle, string yTitle, IReadOnlyList<Sample> samples, double? reference = null, string referenceName = "chance")
    {
        var names = samples.Select(s => s.Name).ToArray();
        var chart = Chart.Column<double, string, string>(values: samples.Select(s => Math.Round(s.Mean, 10)).ToArray(), Keys: names);   // rounded: no 0.4000000000000001 in hover text
        chart = GenericChart.mapTrace(Microsoft.FSharp.Core.FSharpFunc<Trace, Trace>.FromConverter(trace =>
        {
            var marker = new DynamicObj.DynamicObj();
            marker.SetProperty("color", names.Select(ColourOf).ToArray());
            trace.SetProperty("marker", marker);
            var errors = new DynamicObj.DynamicObj();
            errors.SetProperty("type", "data");
            errors.SetProperty("array", samples.Select(s => double.IsNaN(s.StandardError) ? 0 : Math.Round(s.StandardError, 10)).ToArray());
            errors.SetProperty("visible", true);
            trace.SetProperty("error_y", errors);
            trace.SetProperty("name", yTitle);
            trace.SetProperty("showlegend", false);
            return trace;
        }), chart);
        if (reference is { } r)
            chart = Chart.Combine([chart, Chart.Line<string, double, string>(x: [names[0], names[^1]], y: [r, r], Name: $"{referenceName} ({r.ToString("G3", System.Globalization.CultureInfo.InvariantCulture)})",
                                                                            LineColor: Color.fromString("#444444"), LineDash: StyleParam.DrawingStyle.Dash)]);
        return Titled(chart, title, xTitle, yTitle);
    }

    /// <summary>A histogram of values.</summary>
    public static GenericChart Histogram(string title, string xTitle, IReadOnlyList<double> values, int bins = 30)
        => Titled(Chart.Histogram<double, double, string>(X: values.ToArray(), NBinsX: bins), title, xTitle, "count");

    /// <summary>
    /// Charts side by side (one row), each keeping its title as a subplot title. Heatmaps in one row share one colour
    /// scale (the range of all their values) and one colour bar, so equal colours mean equal values across panels.
    /// </summary>
    public static GenericChart Row(params GenericChart[] charts) => Row(shareColourScale: true, charts);

    /// <summary>
    /// Charts side by side; with <paramref name="shareColourScale"/> false each heatmap keeps its own colour range and
    /// colour bar (for panels whose values differ in range, where one scale would flatten one of them).
    /// </summary>
    public static GenericChart Row(bool shareColourScale, params GenericChart[] charts)
    {
        // Own colour bars sit in the gap right of each panel: widen the gaps so that a bar never covers the next panel's labels.
        bool ownBars = !shareColourScale && charts.Any(c => GenericChart.getTraces(c).Any(IsHeatmap));
        double gap = ownBars ? OwnBarGap : 0.2;
        charts = ShareLegend(shareColourScale ? ShareColourScale(charts) : OwnColourBars(charts, gap));
        var titles = charts.Select(TitleOf).ToArray();
        var grid = Plotly.NET.Chart.Grid<string[], GenericChart[]>(1, charts.Length,
            Microsoft.FSharp.Core.FSharpOption<string[]>.Some(titles), null, null, null, null, null, null, null,
            Microsoft.FSharp.Core.FSharpOption<double>.Some(gap), null, null, null, null).Invoke(charts);
        grid = Plotly.NET.Chart.withTitle("", null).Invoke(grid);
        if (!charts.Any(c => GenericChart.getTraces(c).Any(t => t.type == "scatter")))
            return grid.WithSize(Width: 420 * charts.Length, Height: 440);
        // line charts: the legend goes under the panels, across the whole row, so a static picture never cuts it off
        grid = GenericChart.mapLayout(Microsoft.FSharp.Core.FSharpFunc<Layout, Layout>.FromConverter(layout =>
        {
            var legend = new DynamicObj.DynamicObj();
            legend.SetProperty("orientation", "h");
            legend.SetProperty("x", 0);
            legend.SetProperty("y", -0.2);
            legend.SetProperty("yanchor", "top");
            layout.SetProperty("legend", legend);
            return layout;
        }), grid);
        return grid.WithSize(Width: 420 * charts.Length, Height: 540);
    }

    /// <summary>The gap between panels (a fraction of one panel's width) when each heatmap has its own colour bar.</summary>
    private const double OwnBarGap = 0.5;

    /// <summary>Each heatmap's colour bar just right of its panel: with n panels and gap g, a panel is c = 1 / (n + (n − 1) g) wide and panel i starts at i·c·(1 + g).</summary>
    private static GenericChart[] OwnColourBars(GenericChart[] charts, double gap) =>
        charts.Select((chart, index) => GenericChart.mapTrace(Microsoft.FSharp.Core.FSharpFunc<Trace, Trace>.FromConverter(trace =>
        {
            if (!IsHeatmap(trace)) return trace;
            double cell = 1 / (charts.Length + (charts.Length - 1) * gap);
            var bar = new DynamicObj.DynamicObj();
            bar.SetProperty("x", index * cell * (1 + gap) + cell + 0.01);
            bar.SetProperty("xanchor", "left");
            bar.SetProperty("len", 0.8);
            bar.SetProperty("thickness", 12);
            trace.SetProperty("colorbar", bar);
            return trace;
        }), chart)).ToArray();

    private static GenericChart[] ShareColourScale(GenericChart[] charts)
    {
        var heatmaps = charts.Select(c => GenericChart.getTraces(c).Where(IsHeatmap).ToArray()).ToArray();
        if (heatmaps.SelectMany(h => h).Any(t => t.TryGetTypedPropertyValue<string>("meta")?.Value == CategoricalMeta)) return charts;   // categories keep their own colours
        if (charts.Length < 2 || heatmaps.Any(h => h.Length == 0)) return charts;
        var values = heatmaps.SelectMany(h => h).SelectMany(ZValues).ToArray();
        if (values.Length == 0) return charts;
        double lo = values.Min(), hi = values.Max();
        return charts.Select((chart, index) => GenericChart.mapTrace(Microsoft.FSharp.Core.FSharpFunc<Trace, Trace>.FromConverter(trace =>
        {
            if (!IsHeatmap(trace)) return trace;
            trace.SetProperty("zmin", lo);
            trace.SetProperty("zmax", hi);
            trace.SetProperty("showscale", index == charts.Length - 1);
            return trace;
        }), chart)).ToArray();
    }

    private static readonly string[] Palette =
        ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

    /// <summary>
    /// The colour of each method in every chart of every notebook. A series whose name is a key, or starts with a key
    /// and a space or comma, takes that key's colour (the longest key wins); any other name gets a fixed colour from a
    /// hash of its text, so it too is the same wherever it appears.
    /// </summary>
    public static IReadOnlyDictionary<string, string> MethodColours { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        // attention and normalisers (00, 01, 05)
        ["naive"] = "#1f77b4", ["softmax"] = "#1f77b4", ["libtorch"] = "#ff7f0e", ["fused"] = "#ff7f0e", ["1.5-entmax"] = "#2ca02c",
        ["sparsemax"] = "#d62728", ["bisection"] = "#9467bd", ["α-entmax"] = "#9467bd",
        // Reuse Transformers (02)
        ["baseline"] = "#1f77b4", ["trained"] = "#1f77b4", ["reuse"] = "#ff7f0e", ["uniform maps"] = "#7f7f7f", ["random init"] = "#7f7f7f",
        ["random data"] = "#8c564b", ["deeper"] = "#2ca02c", ["analytic"] = "#000000", ["oracle"] = "#000000",
        // Sparsefinder (03)
        ["dense entmax"] = "#2ca02c", ["routed entmax"] = "#17becf", ["distance"] = "#1f77b4", ["buckets"] = "#ff7f0e", ["k-means"] = "#d62728",
        ["window"] = "#7f7f7f", ["bigbird"] = "#8c564b", ["routing"] = "#e377c2", ["fixed"] = "#bcbd22", ["strided"] = "#9467bd",
        // Combiner (04)
        ["full"] = "#1f77b4", ["combiner-fixed"] = "#ff7f0e", ["combiner-logsparse"] = "#2ca02c", ["combiner-axial"] = "#d62728",
        ["combiner-mixture"] = "#9467bd", ["logsparse"] = "#8c564b", ["axial"] = "#e377c2", ["sdpa"] = "#393b79",
        // the benchmark suite's case names (05): the same colour as the method in the other notebooks
        ["entmax15"] = "#2ca02c", ["entmax15-torch-ops"] = "#98df8a", ["entmax-bisect-1.5"] = "#9467bd",
        ["sparsefinder-routed-0.9"] = "#17becf", ["sparsefinder-end-to-end-0.9"] = "#ad494a",
    };

    /// <summary>The colour <paramref name="name"/> is drawn in (see <see cref="MethodColours"/>).</summary>
    public static string ColourOf(string name)
    {
        var key = MethodColours.Keys.Where(k => name.Equals(k, StringComparison.OrdinalIgnoreCase)
                                                || name.StartsWith(k + " ", StringComparison.OrdinalIgnoreCase)
                                                || name.StartsWith(k + ",", StringComparison.OrdinalIgnoreCase))
                                    .MaxBy(k => k.Length);
        if (key is not null) return MethodColours[key];
        uint hash = 2166136261;                                                        // FNV-1a: the same on every machine
        foreach (char c in name) hash = (hash ^ c) * 16777619;
        return Palette[hash % (uint)Palette.Length];
    }

    /// <summary>
    /// Line charts in one row: a series name keeps one colour in every panel and appears once in the legend (clicking
    /// it toggles that series everywhere).
    /// </summary>
    private static GenericChart[] ShareLegend(GenericChart[] charts)
    {
        var names = charts.SelectMany(c => GenericChart.getTraces(c)).Where(t => t.type == "scatter")
                          .Select(t => t.TryGetTypedPropertyValue<string>("name")?.Value).OfType<string>().Distinct().ToList();
        if (charts.Length < 2 || names.Count == 0) return charts;
        var shown = new HashSet<string>();
        return charts.Select(chart => GenericChart.mapTrace(Microsoft.FSharp.Core.FSharpFunc<Trace, Trace>.FromConverter(trace =>
        {
            var name = trace.TryGetTypedPropertyValue<string>("name")?.Value;
            if (trace.type != "scatter" || name is null) return trace;
            var colour = ColourOf(name);
            trace.SetProperty("legendgroup", name);
            trace.SetProperty("showlegend", shown.Add(name));
            foreach (var part in new[] { "line", "marker" })
            {
                var style = trace.TryGetPropertyValue(part)?.Value as DynamicObj.DynamicObj ?? new DynamicObj.DynamicObj();
                style.SetProperty("color", colour);
                trace.SetProperty(part, style);
            }
            return trace;
        }), chart)).ToArray();
    }

    private static bool IsHeatmap(Trace trace) => trace.type == "heatmap";

    private static IEnumerable<double> ZValues(Trace trace)
    {
        var z = trace.TryGetPropertyValue("z");
        if (z is null || z.Value is not System.Collections.IEnumerable rows) yield break;
        foreach (var row in rows)
            if (row is System.Collections.IEnumerable cells)
                foreach (var cell in cells)
                    if (cell is IConvertible number) yield return number.ToDouble(System.Globalization.CultureInfo.InvariantCulture);
    }

    private static string TitleOf(GenericChart chart)
    {
        var layout = GenericChart.getLayout(chart);
        var title = layout.TryGetTypedPropertyValue<Title>("title");
        var text = title is null ? null : title.Value.TryGetTypedPropertyValue<string>("text");
        return text?.Value ?? "";
    }

    /// <summary>A 2-D tensor as rows of doubles.</summary>
    public static double[][] Rows(Tensor matrix)
    {
        var m = matrix.detach().to(ScalarType.Float64).cpu().contiguous();
        long rows = m.shape[0], cols = m.shape[1];
        var data = m.data<double>().ToArray();
        return Enumerable.Range(0, (int)rows).Select(r => data.AsSpan(r * (int)cols, (int)cols).ToArray()).ToArray();
    }

    private static GenericChart Titled(GenericChart chart, string title, string xTitle, string yTitle) =>
        WithTitle(chart.WithXAxisStyle<double, double, string>(TitleText: xTitle).WithYAxisStyle<double, double, string>(TitleText: yTitle), title);

    private static GenericChart WithTitle(GenericChart chart, string title) => Plotly.NET.Chart.withTitle(title, null).Invoke(chart);
}
