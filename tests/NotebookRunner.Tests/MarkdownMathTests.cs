namespace NotebookRunner.Tests;

public class MarkdownMathTests
{
    [Fact]
    public void Tex_survives_markdown_and_comes_back_for_katex()
    {
        var md = "Softmax: $$\\mathrm{Attention}(Q) = \\mathrm{softmax}\\!\\left(\\frac{QK^\\top}{\\sqrt d}\\right), \\qquad\nP_{ij} = s_{ij} * t_{ij}$$ and $a_{i}$ with *emphasis*.";
        var html = Handout.MarkdownToHtml(md);
        Assert.Contains("<span class=\"math display\">\\[\\mathrm{Attention}(Q) = \\mathrm{softmax}\\!\\left(\\frac{QK^\\top}{\\sqrt d}\\right), \\qquad\nP_{ij} = s_{ij} * t_{ij}\\]</span>", html);
        Assert.Contains("<span class=\"math\">\\(a_{i}\\)</span>", html);
        Assert.Contains("<em>emphasis</em>", html);                                 // the markdown around it still renders
    }

    [Fact]
    public void Code_prices_and_escaped_dollars_are_not_math()
    {
        var html = Handout.MarkdownToHtml("Run `echo $HOME $PATH`, pay $5 and $6, write \\$x\\$.\n\n```\nvar s = $\"{a}\" + $\"{b}\";\n```\n");
        Assert.DoesNotContain("class=\"math", html);
        Assert.Contains("<code>echo $HOME $PATH</code>", html);
        Assert.Contains("var s = $&quot;{a}&quot; + $&quot;{b}&quot;;", html);
    }

    [Fact]
    public void Math_is_html_escaped()
    {
        var html = Handout.MarkdownToHtml("$a < b & c$");
        Assert.Contains("\\(a &lt; b &amp; c\\)", html);
    }
}
