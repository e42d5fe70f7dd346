using EfficientAttention;
using EfficientAttention.Notebooks;
using Plotly.NET;

namespace EfficientAttention.Notebooks.Tests;

public class PlotsTests
{
    [Fact]
    public void Rows_copies_a_matrix_row_by_row()
    {
        var rows = Plots.Rows(arange(6, dtype: ScalarType.Float32).view(2, 3));
        Assert.Equal([[0.0, 1, 2], [3.0, 4, 5]], rows);
    }

    [Fact]
    public void Charts_carry_their_titles_axes_and_data()
    {
        var html = GenericChart.toChartHTML(Plots.Heatmap(tensor(new[,] { { 0.25, 0.75 }, { 1.0, 0.0 } }), "P for head 0", "key j", "query i"));
        Assert.Contains("\"type\":\"heatmap\"", html);
        Assert.Contains("P for head 0", html);
        Assert.Contains("key j", html);
        Assert.Contains("[[0.25,0.75],[1.0,0.0]]", html);
        var lines = GenericChart.toChartHTML(Plots.Lines("t", "L", "ms", [new Series("naive", [1.0, 2], [3.0, 4])], logX: true));
        Assert.Contains("\"type\":\"log\"", lines);
        var bars = GenericChart.toChartHTML(Plots.Lines("t", "K", "acc", [new Series("mean ± sd", [0.0, 1], [0.8, 0.7], ErrorY: [0.01, 0.02])]));
        Assert.Contains("\"error_y\":{\"array\":[0.01,0.02]", bars.Replace(" ", ""));
        var dashed = GenericChart.toChartHTML(Plots.Lines("t", "x", "y", [new Series("baseline", [1.0, 2], [3.0, 4], Dashed: true)]));
        Assert.Contains("\"dash\":\"dash\"", dashed.Replace(" ", ""));
        var graph = GenericChart.toChartHTML(Plots.Heatmap(new[] { new[] { 0.0, 1.0 } }, "g", "x", "y", colorScale: ColorScale.Greys));
        Assert.Contains("\"reversescale\":true", graph.Replace(" ", ""));
    }

    [Fact]
    public void Bars_of_samples_show_means_with_standard_errors_in_method_colours_and_a_chance_line()
    {
        var html = GenericChart.toChartHTML(Plots.Bars("t", "attention", "accuracy", [Sample.Of("full", [0.5, 0.7]), Sample.Of("combiner-fixed", [0.4, 0.4, 0.4])], reference: 0.1)).Replace(" ", "");
        Assert.Contains("\"y\":[0.6,0.4]", html);
        Assert.Contains("\"array\":[0.1", html);                                   // SE of {0.5, 0.7} = 0.1
        Assert.Contains($"\"color\":[\"{Plots.ColourOf("full")}\",\"{Plots.ColourOf("combiner-fixed")}\"]", html);
        Assert.Contains("chance(0.1)", html);
    }

    [Fact]
    public void Series_of_one_panel_never_share_colour_and_dash()
    {
        // "distance" and "distance + window" take one hue; "baseline" asks for a dash twice
        GenericChart Family() => Plots.Lines("t", "x", "y", [new Series("distance", [1.0], [1.0]), new Series("distance + window", [1.0], [2.0]),
                                                 new Series("baseline", [1.0], [3.0], Dashed: true), new Series("baseline, again", [1.0], [4.0], Dashed: true)]);
        var family = Family();
        Assert.Equal([], Plots.IndistinctSeries(family));
        var json = GenericChart.toJson(family).Replace(" ", "");
        Assert.Contains("\"dash\":\"solid\"", json);
        Assert.Contains("\"dash\":\"dot\"", json);
        Assert.Equal([], Plots.IndistinctSeries(Plots.Row(Family(), Family())));                      // panels apart may repeat a style
        // the check itself: two traces combined by hand in one colour and dash are caught, by name
        var clash = Plotly.NET.CSharp.Chart.Combine([
            Plotly.NET.CSharp.Chart.Line<double, double, string>(x: [1.0], y: [1.0], Name: "sdpa", LineColor: Color.fromString("#ff7f0e")),
            Plotly.NET.CSharp.Chart.Line<double, double, string>(x: [1.0], y: [2.0], Name: "combiner-fixed", LineColor: Color.fromString("#ff7f0e"))]);
        var problem = Assert.Single(Plots.IndistinctSeries(clash));
        Assert.Contains("'sdpa' and 'combiner-fixed'", problem);
        Assert.Throws<ArgumentException>(() => Plots.RequireDistinctStyles(clash));
    }

    [Fact]
    public void Dots_show_means_with_standard_errors_on_a_fitted_axis()
    {
        var chart = Plots.Dots("t", "attention", "accuracy", [Sample.Of("full", [0.5, 0.7]), Sample.Of("combiner-fixed", [0.4, 0.4, 0.4])], reference: 0.1);
        var json = GenericChart.toJson(chart).Replace(" ", "");
        Assert.Contains("\"y\":[0.6]", json);
        Assert.Contains("\"array\":[0.1", json);                                      // SE of {0.5, 0.7} = 0.1
        Assert.Contains("accuracy(mean±SE)", json);
        using var figure = System.Text.Json.JsonDocument.Parse(GenericChart.toJson(chart));
        Assert.All(figure.RootElement.GetProperty("data").EnumerateArray(), t => Assert.Equal("scatter", t.GetProperty("type").GetString()));
        Assert.Empty(Plots.IndistinctSeries(chart));
    }

    [Fact]
    public void A_row_can_give_each_heatmap_its_own_colour_range()
    {
        var row = GenericChart.toJson(Plots.Row(shareColourScale: false, Plots.Heatmap(new[] { new[] { 0.0, 0.01 } }, "a", "x", "y"),
                                                                          Plots.Heatmap(new[] { new[] { 0.0, 1.0 } }, "b", "x", "y"))).Replace(" ", "");
        Assert.DoesNotContain("\"zmax\"", row);
        Assert.Contains("\"colorbar\"", row);
        Assert.Contains("\"zmax\":1.0", GenericChart.toJson(Plots.Row(Plots.Heatmap(new[] { new[] { 0.0, 0.01 } }, "a", "x", "y"),
                                                                          Plots.Heatmap(new[] { new[] { 0.0, 1.0 } }, "b", "x", "y"))).Replace(" ", ""));
    }

    [Fact]
    public void Region_maps_draw_each_key_where_the_query_finds_it_and_keep_their_colours_in_a_row()
    {
        int[] map = [0, 1, 1, 2, 2, 0, -1, -1];                                  // q = 5: direct, regions 1 and 2, out of reach
        var html = GenericChart.toChartHTML(Plots.Row(Plots.Regions(map, 4, 5, "combiner"), Plots.Regions([0, 0, 0, 0, 0, 0, -1, -1], 4, 5, "full"))).Replace(" ", "");
        Assert.Contains("[[0.0,1.0,1.0,2.0],[2.0,0.0,-1.0,-1.0]]", html);
        Assert.Contains("[[\"\",\"1\",\"1\",\"2\"],[\"2\",\"q\",\"\",\"\"]]", html);
        Assert.Contains("\"zmin\":-1.5,\"zmax\":2.5", html);                  // the map's own range, not the row's shared one
        Assert.Contains("\"zmin\":-1.5,\"zmax\":1.5", html);
        Assert.Contains("[0.25,\"#222222\"]", html);                            // 0 = direct is black in every panel
        Assert.Contains("width = 3", Assert.Throws<ArgumentOutOfRangeException>(() => Plots.Regions(map, 3, 0, "t")).Message);
    }

    [Fact]
    public void A_row_of_charts_keeps_each_title_as_a_subplot_title()
    {
        var row = Plots.Row(Plots.Heatmap(new[] { new[] { 1.0 } }, "left title", "x", "y"), Plots.Heatmap(new[] { new[] { 2.0 } }, "right title", "x", "y"));
        var html = GenericChart.toChartHTML(row);
        Assert.Contains("left title", html);
        Assert.Contains("right title", html);
    }

    [Fact]
    public void Heatmaps_in_a_row_share_one_colour_scale_and_one_colour_bar()
    {
        var row = Plots.Row(Plots.Heatmap(new[] { new[] { 0.5, 0.6 } }, "a", "x", "y"), Plots.Heatmap(new[] { new[] { 0.9, 1.0 } }, "b", "x", "y"));
        var html = GenericChart.toChartHTML(row).Replace(" ", "");
        Assert.Equal(2, html.Split("\"zmin\":0.5").Length - 1);
        Assert.Equal(2, html.Split("\"zmax\":1.0").Length - 1);
        Assert.Contains("\"showscale\":false", html);
        Assert.Contains("\"showscale\":true", html);
    }

    [Fact]
    public void Line_charts_in_a_row_keep_one_colour_and_one_legend_entry_per_series()
    {
        var left = Plots.Lines("a", "x", "y", [new Series("sdpa", [1.0, 2], [1.0, 2]), new Series("combiner", [1.0, 2], [2.0, 3])]);
        var right = Plots.Lines("b", "x", "y", [new Series("combiner", [1.0, 2], [5.0, 6]), new Series("sdpa", [1.0, 2], [3.0, 4])]);
        var html = GenericChart.toChartHTML(Plots.Row(left, right)).Replace(" ", "");
        Assert.Equal(2, html.Split("\"showlegend\":true").Length - 1);
        Assert.Equal(2, html.Split("\"showlegend\":false").Length - 1);
        string sdpa = Plots.ColourOf("sdpa");
        Assert.Equal(4, html.Split($"\"color\":\"{sdpa}\"").Length - 1);          // sdpa: line and marker, both panels
    }

    [Fact]
    public void A_method_has_one_colour_in_every_chart()
    {
        Assert.Equal(Plots.ColourOf("1.5-entmax"), Plots.ColourOf("1.5-entmax, α = 1.5"));
        Assert.Equal(Plots.ColourOf("1.5-entmax"), Plots.ColourOf("entmax15 (slope 2.19)"));                   // a suite case as its method
        Assert.NotEqual(Plots.ColourOf("entmax15 (slope 2.19)"), Plots.ColourOf("entmax15-torch-ops (slope 2.53)"));
        Assert.Equal(Plots.MethodColours["reuse"], Plots.ColourOf("reuse K = 2"));
        Assert.Equal(Plots.MethodColours["uniform maps"], Plots.ColourOf("uniform maps K = 2"));
        Assert.NotEqual(Plots.ColourOf("reuse K = 2"), Plots.ColourOf("uniform maps K = 2"));
        Assert.Equal(Plots.ColourOf("some new method"), Plots.ColourOf("some new method"));          // stable for unknown names
        var html = GenericChart.toChartHTML(Plots.Lines("t", "x", "y", [new Series("sparsemax", [1.0, 2], [3.0, 4])]));
        Assert.Contains(Plots.MethodColours["sparsemax"], html);
    }

    [Fact]
    public void Tables_have_one_column_per_property_and_no_type_names()
    {
        var table = Table.Of(new[] { new { Variant = "k2", Accuracy = 0.8812345678 }, new { Variant = "b<a>", Accuracy = 1.0 } });
        Assert.Equal(["Variant", "Accuracy"], table.Columns);
        Assert.Equal("<table><thead><tr><th>Variant</th><th>Accuracy</th></tr></thead><tbody><tr><td>k2</td><td>0.881235</td></tr><tr><td>b&lt;a&gt;</td><td>1</td></tr></tbody></table>", table.ToHtml());
        Assert.Equal("Variant  Accuracy\n-------  --------\nk2       0.881235\nb<a>     1", table.ToString());
    }
}
