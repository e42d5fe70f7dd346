namespace EfficientAttention.Pretrained.Tests;

/// <summary>The pieces of masked-LM fine-tuning on MiniLM: word-piece windows, BERT's masking, the tied head, entmax heads.</summary>
public class MaskedLmTests(MiniLMFixture fixture) : IClassFixture<MiniLMFixture>
{
    [Fact]
    public void Windows_are_CLS_pieces_SEP_in_order_and_the_partial_last_window_is_dropped()
    {
        var model = fixture.Model;
        var pieces = WordPieceCorpus.Encode(model, string.Join(' ', fixture.Sentences));
        using var windows = WordPieceCorpus.Windows(model, pieces, 34);
        Assert.Equal(pieces.Length / 32, windows.shape[0]);
        Assert.All(windows[.., 0].data<long>().ToArray(), id => Assert.Equal(model.Tokenizer.ClassificationTokenId, id));
        Assert.All(windows[.., -1].data<long>().ToArray(), id => Assert.Equal(model.Tokenizer.SeparatorTokenId, id));
        Assert.Equal(pieces.Skip(32).Take(32), windows[1, 1..33].data<long>().ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => WordPieceCorpus.Windows(model, pieces, 513));
    }

    [Fact]
    public void Masking_chooses_15_percent_of_the_word_pieces_never_CLS_or_SEP_and_replaces_them_80_10_10()
    {
        var model = fixture.Model;
        var pieces = WordPieceCorpus.Encode(model, File.ReadAllText(Path.Combine(EfficientAttention.Tests.Shared.DatasetSetup.RepositoryRoot(), "datasets", "moby-dick", "moby-dick.txt"))[..200_000]);
        using var windows = WordPieceCorpus.Windows(model, pieces, 128);
        var data = WordPieceCorpus.Masked(model, windows, seed: 3);
        var (inputs, targets) = data.Get(Enumerable.Range(0, data.Count).Select(i => (long)i).ToArray());
        var t = targets.data<long>().ToArray(); var x = inputs.data<long>().ToArray(); var w = windows.data<long>().ToArray();
        var chosen = Enumerable.Range(0, t.Length).Where(i => t[i] != IDataset.IgnoreIndex).ToList();
        double rate = chosen.Count / (double)(windows.shape[0] * 126);
        Assert.InRange(rate, 0.14, 0.16);
        Assert.All(chosen, i => Assert.Equal(w[i], t[i]));
        Assert.DoesNotContain(chosen, i => i % 128 == 0 || i % 128 == 127);
        double masked = chosen.Count(i => x[i] == model.Tokenizer.MaskingTokenId) / (double)chosen.Count;
        double kept = chosen.Count(i => x[i] == w[i]) / (double)chosen.Count;
        Assert.InRange(masked, 0.78, 0.82);
        Assert.InRange(kept, 0.09, 0.12);                                                        // 10 % kept, plus random picks of itself
        Assert.All(Enumerable.Range(0, t.Length).Where(i => t[i] == IDataset.IgnoreIndex), i => Assert.Equal(w[i], x[i]));
        Assert.Equal(data.Get([5]).Inputs.data<long>().ToArray(), WordPieceCorpus.Masked(model, windows, seed: 3).Get([5]).Inputs.data<long>().ToArray());
    }

    [Fact]
    public void The_head_scores_only_the_counted_positions_and_agrees_with_the_full_logits_there()
    {
        var model = fixture.Model;
        using var mlm = new BertMaskedLm(model.Encoder, seed: 1);
        var pieces = WordPieceCorpus.Encode(model, string.Join(' ', fixture.Sentences));
        using var windows = WordPieceCorpus.Windows(model, pieces, 40);
        var data = WordPieceCorpus.Masked(model, windows[..3], seed: 2);
        var (inputs, targets) = data.Get([0, 1, 2]);
        mlm.eval();
        using var _ = no_grad();
        var (logits, counted) = mlm.AtCounted(inputs, targets);
        var full = mlm.call(inputs);                                                            // (B, L, V)
        var mask = targets.ne(IDataset.IgnoreIndex);
        Assert.Equal(mask.sum().item<long>(), logits.shape[0]);
        Assert.True(logits.allclose(full[mask], rtol: 0, atol: 1e-4));
        Assert.Equal(targets[mask].data<long>().ToArray(), counted.data<long>().ToArray());
        Assert.True(mlm.named_parameters().Any(p => p.name.Contains("transform")), "the fresh transform is trained");
        Assert.Single(mlm.parameters(), p => p.shape.SequenceEqual(new long[] { 30522, 384 }));              // the decoder is the embedding matrix
    }

    [Fact]
    public void With_entmax_the_pretrained_heads_keep_rows_that_sum_to_one_and_drop_pairs_exactly()
    {
        using var entmax = MiniLM.FromBytes(fixture.Onnx, MiniLM.ReadPackage().Vocabulary, "test", Normalizer.Entmax15);
        using var batch = entmax.Tokenize(fixture.Sentences.Take(4).ToList());
        var maps = entmax.Forward(batch, withProbabilities: true).Probabilities!;
        int real = batch.Lengths[0];
        var rows = maps[.., 0, .., ..real, ..real];
        Assert.True(rows.sum(-1).sub(1).abs().max().item<float>() < 1e-4, "rows sum to 1");
        double zeros = rows.eq(0).to(ScalarType.Float64).mean().item<double>();
        Assert.True(zeros > 0.3, $"1.5-entmax on softmax-trained heads leaves {zeros:P0} of the pairs at exactly 0");
        Assert.Equal(Normalizer.Entmax15, entmax.Encoder.Normalizer);
    }
}
