namespace EfficientAttention.Pretrained.Tests;

/// <summary>What the loader reads, the errors it gives, and reuse at inference on the real model.</summary>
public class LoaderTests(MiniLMFixture fixture) : IClassFixture<MiniLMFixture>
{
    [Fact]
    public void The_graph_maps_to_six_layers_of_twelve_heads_with_every_weight_named()
    {
        var shape = fixture.Model.Encoder.Shape;
        Assert.Equal(new BertShape(6, 12, 384, 1536, 30522, 512, 2, 1e-12), shape with { LayerNormEpsilon = 1e-12 });
        Assert.InRange(shape.LayerNormEpsilon, 0.99e-12, 1.01e-12);                                   // read from the graph, stored as float32
        var weights = BertWeights.FromOnnx(fixture.Onnx);
        Assert.Equal(new long[] { 384, 384 }, weights["encoder.layer.5.attention.self.key.weight"].Shape);
        Assert.Equal(new long[] { 1536, 384 }, weights["encoder.layer.0.intermediate.dense.weight"].Shape);   // [out, in] as nn.Linear
    }

    [Fact]
    public void A_graph_without_a_weight_it_needs_is_refused_naming_it()
    {
        var model = Onnx.ModelProto.Parser.ParseFrom(fixture.Onnx);
        var bias = model.Graph.Initializer.Single(t => t.Name == "encoder.layer.3.attention.self.value.bias");
        model.Graph.Initializer.Remove(bias);
        var error = Assert.Throws<InvalidDataException>(() => BertWeights.FromOnnx(Google.Protobuf.MessageExtensions.ToByteArray(model)));
        Assert.Contains("encoder.layer.3.attention.self.value", error.Message);
    }

    [Fact]
    public void Another_package_version_and_an_over_long_sentence_are_refused_with_the_limit()
    {
        var version = Assert.Throws<ArgumentException>(() => MiniLM.Load("24.9.52191"));
        Assert.Equal("version", version.ParamName);
        Assert.Contains("24.9.52193", version.Message);
        var words = string.Join(' ', Enumerable.Repeat("whale", 600));
        var tooLong = Assert.Throws<ArgumentException>(() => fixture.Model.Tokenize(["Call me Ishmael.", words]));
        Assert.Contains("sentences[1] has 602 tokens", tooLong.Message);
        Assert.Contains("at most 512", tooLong.Message);
        var missing = Assert.Throws<FileNotFoundException>(() => PackageResources.Find("No.Such.Package", "1.0.0", "lib/x.dll"));
        Assert.Contains("No.Such.Package 1.0.0", missing.Message);
    }

    [Fact]
    public void Padding_changes_nothing_for_the_real_tokens()
    {
        var sentence = fixture.Sentences[0];
        using var alone = fixture.Model.Embed([sentence]);
        using var padded = fixture.Model.Embed([sentence, fixture.Sentences.MaxBy(s => s.Length)!]);
        Assert.True(alone[0].allclose(padded[0], rtol: 0, atol: 1e-5), "the same sentence alone and padded in a batch");
    }

    [Fact]
    public void Reuse_at_inference_puts_the_partners_map_on_the_chosen_heads_and_the_control_a_uniform_one()
    {
        var sentences = fixture.Sentences.Take(6).ToList();
        var similarity = PretrainedAnalysis.HeadSimilarity(fixture.Model, sentences);
        var plan = InferenceReuse.Plan(similarity, k: 2);
        Assert.Equal(10, plan.Count);                                                          // 2 heads in each of layers 1–5
        Assert.All(plan.GroupBy(r => r.Layer), g => Assert.Equal(2, g.Select(r => r.Head).Distinct().Count()));
        var first = plan[0];
        Assert.Equal(similarity[first.Layer][first.Layer - 1][first.Head].Max(), similarity[first.Layer][first.Layer - 1][first.Head][first.Partner]);
        using var batch = fixture.Model.Tokenize(sentences);
        var reused = fixture.Model.Forward(batch, withProbabilities: true, edit: InferenceReuse.Reuse(plan)).Probabilities!;
        foreach (var r in plan)
            Assert.True(reused[r.Layer, .., r.Head].eq(reused[r.Layer - 1, .., r.Partner]).all().item<bool>(), $"layer {r.Layer} head {r.Head} applies layer {r.Layer - 1}'s head {r.Partner}");
        var uniform = fixture.Model.Forward(batch, withProbabilities: true, edit: InferenceReuse.Uniform(plan)).Probabilities!;
        var row = uniform[first.Layer, 0, first.Head, 0];                                    // sentence 0, first query
        int real = batch.Lengths[0];
        Assert.True(row[..real].allclose(full(real, 1.0 / real), rtol: 0, atol: 1e-7) && row[real..].sum().item<float>() == 0);
        var untouched = plan.Where(r => r.Layer == 1).Select(r => r.Head).ToHashSet();
        int other = Enumerable.Range(0, 12).First(h => !untouched.Contains(h));
        var plain = fixture.Model.Forward(batch, withProbabilities: true).Probabilities!;
        Assert.True(uniform[1, .., other].allclose(plain[1, .., other], rtol: 0, atol: 1e-6), "layer 1's other heads are untouched");
    }

    [Fact]
    public void Neighbour_agreement_is_one_for_the_same_embeddings_and_drops_when_neighbours_change()
    {
        using var e = fixture.Model.Embed(fixture.Sentences);
        Assert.All(PretrainedAnalysis.NeighbourAgreement(e, e, k: 5), a => Assert.Equal(1.0, a));
        using var shuffled = e[randperm(e.shape[0], generator: new Generator(3))];
        Assert.True(PretrainedAnalysis.NeighbourAgreement(shuffled, e, k: 5).Average() < 0.6);
        Assert.All(PretrainedAnalysis.Cosines(e, e), c => Assert.Equal(1.0, c, 9));
    }

    [Fact]
    public void Sentences_are_split_at_sentence_ends_and_kept_by_word_count()
    {
        var text = "Call me Ishmael. Some years ago never mind how long precisely having little or no money in my purse, I thought I would sail.\n\nIt is a way I have of driving off the spleen and regulating the circulation! Short one?";
        var sentences = PretrainedAnalysis.Sentences(text, minWords: 8);
        Assert.Equal(["Some years ago never mind how long precisely having little or no money in my purse, I thought I would sail.",
                      "It is a way I have of driving off the spleen and regulating the circulation!"], sentences);
        var shuffled = PretrainedAnalysis.ShuffleWords(sentences[0], new Random(1));
        Assert.Equal(sentences[0].Split(' ').Order(), shuffled.Split(' ').Order());
        Assert.NotEqual(sentences[0], shuffled);
    }
}
