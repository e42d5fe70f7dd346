using EfficientAttention;

namespace EfficientAttention.Tests;

public class CombinerTests
{
    private static readonly CombinerPartition[] Partitions = Enum.GetValues<CombinerPartition>();

    public static IEnumerable<object[]> Cases() =>
        from p in Partitions from causal in new[] { true, false } select new object[] { p, causal };

    /// <summary>Lengths and block sizes every partition accepts in both modes (L/s a power of two for Logsparse).</summary>
    private static (int L, int S) Shape(CombinerPartition p) => p == CombinerPartition.Logsparse ? (16, 2) : (12, 3);

    private static Tensor AttentionMatrix(CombinerPartition p, bool causal, int l, int s, long seed)
    {
        var q = TestTensors.Randn(seed, 1, 1, l, l).mul(1.5);
        var k = TestTensors.Randn(seed + 1, 1, 1, l, l);
        var identity = eye(l, dtype: ScalarType.Float64).view(1, 1, l, l);
        return Combiner.Attend(q, k, identity, new CombinerOptions(p, s, causal))[0, 0];     // V = I: the output is A
    }

    [Theory, MemberData(nameof(Cases))]
    public void Vectorised_path_equals_the_per_query_loop_of_eq_7(CombinerPartition p, bool causal)
    {
        var (l, s) = Shape(p);
        var q = TestTensors.Randn(1, 2, 2, l, 4).mul(1.5);
        var k = TestTensors.Randn(2, 2, 2, l, 4);
        var v = TestTensors.Randn(3, 2, 2, l, 3);
        var options = new CombinerOptions(p, s, causal);
        var output = Combiner.Attend(q, k, v, options);
        for (long b = 0; b < 2; b++)
            for (long h = 0; h < 2; h++)
            {
                var (expected, _) = CombinerReference.Attend(TestTensors.Slice(q, b, h), TestTensors.Slice(k, b, h), TestTensors.Slice(v, b, h), options);
                TestTensors.Close(TestTensors.Flat(expected), TestTensors.ToArray(output[b, h]), 1e-10, $"{p} causal={causal} b={b} h={h}");
            }
        var single = Combiner.Attend(q.to(ScalarType.Float32), k.to(ScalarType.Float32), v.to(ScalarType.Float32), options);
        Assert.Equal(ScalarType.Float32, single.dtype);
        TestTensors.Close(TestTensors.ToArray(output), TestTensors.ToArray(single), 1e-4, "float32 vs float64");
    }

    [Theory, MemberData(nameof(Cases))]
    public void With_V_identity_every_row_sums_to_one_and_every_allowed_key_has_positive_weight(CombinerPartition p, bool causal)
    {
        var (l, s) = Shape(p);
        var a = AttentionMatrix(p, causal, l, s, 11);
        var allowed = causal ? ones(l, l, ScalarType.Bool).tril() : ones(l, l, ScalarType.Bool);
        TestTensors.Close(Enumerable.Repeat(1.0, l).ToArray(), TestTensors.ToArray(a.sum(-1)), 1e-12, "row sums");
        Assert.True(a.masked_select(allowed).gt(0).all().item<bool>(), $"{p}: full support means every allowed pair has weight > 0");
        Assert.True(a.masked_select(allowed.logical_not()).eq(0).all().item<bool>(), $"{p}: nothing outside the allowed pairs");
        var (_, reference) = CombinerReference.Attend(TestTensors.Slice(TestTensors.Randn(11, 1, 1, l, l).mul(1.5), 0, 0), TestTensors.Slice(TestTensors.Randn(12, 1, 1, l, l), 0, 0), new double[l, 1], new CombinerOptions(p, s, causal));
        TestTensors.Close(TestTensors.Flat(reference), TestTensors.ToArray(a), 1e-10, "A from V = I vs the reference's matrix");
    }

    [Theory]
    [InlineData(CombinerPartition.Fixed)]
    [InlineData(CombinerPartition.Logsparse)]
    [InlineData(CombinerPartition.Axial)]
    public void The_plain_sparse_masks_do_not_have_full_support(CombinerPartition p)
    {
        var mask = SparsePatternAttention.Mask(p, 16, 4, causal: true);
        Assert.True(mask.sum().item<long>() < 16 * 17 / 2, $"{p} mask drops pairs");
        Assert.True(mask.diagonal().all().item<bool>(), "every query sees itself");
    }

    [Theory, MemberData(nameof(Cases))]
    public void Causal_outputs_never_depend_on_later_positions(CombinerPartition p, bool causal)
    {
        if (!causal) return;
        var (l, s) = Shape(p);
        var q = TestTensors.Randn(21, 1, 2, l, 4); var k = TestTensors.Randn(22, 1, 2, l, 4); var v = TestTensors.Randn(23, 1, 2, l, 3);
        var options = new CombinerOptions(p, s);
        var before = Combiner.Attend(q, k, v, options);
        for (int i = 0; i < l - 1; i++)
        {
            var (q2, k2, v2) = (q.clone(), k.clone(), v.clone());
            foreach (var x in new[] { q2, k2, v2 }) x[.., .., (i + 1)..] = randn_like(x[.., .., (i + 1)..]) * 5;
            var after = Combiner.Attend(q2, k2, v2, options);
            TestTensors.Close(TestTensors.ToArray(before[.., .., ..(i + 1)]), TestTensors.ToArray(after[.., .., ..(i + 1)]), 1e-12, $"{p}: outputs ≤ {i} changed");
        }
    }

    [Theory, MemberData(nameof(Cases))]
    public void One_block_over_the_whole_sequence_is_full_softmax_attention(CombinerPartition p, bool causal)
    {
        var q = TestTensors.Randn(31, 2, 2, 8, 4); var k = TestTensors.Randn(32, 2, 2, 8, 4); var v = TestTensors.Randn(33, 2, 2, 8, 5);
        var full = ScaledDotProductAttention.Naive(q, k, v, causal ? AttentionMask.CausalOnly : null, Normalizer.Softmax).Output;
        TestTensors.Close(TestTensors.ToArray(full), TestTensors.ToArray(Combiner.Attend(q, k, v, new CombinerOptions(p, 8, causal))), 1e-12, $"{p} with s = L");
    }

    [Fact]
    public void Blocks_of_one_reduce_fixed_to_attention_over_single_key_summaries()
    {
        // s = 1: every region is one key, its max-pooled key is that key and its weight is 1: full softmax again
        var q = TestTensors.Randn(41, 1, 2, 7, 4); var k = TestTensors.Randn(42, 1, 2, 7, 4); var v = TestTensors.Randn(43, 1, 2, 7, 3);
        foreach (var causal in new[] { true, false })
        {
            var full = ScaledDotProductAttention.Naive(q, k, v, causal ? AttentionMask.CausalOnly : null, Normalizer.Softmax).Output;
            TestTensors.Close(TestTensors.ToArray(full), TestTensors.ToArray(Combiner.Attend(q, k, v, new CombinerOptions(CombinerPartition.Fixed, 1, causal))), 1e-12, $"causal={causal}");
        }
    }

    [Theory, MemberData(nameof(Cases))]
    public void Within_a_region_the_attention_matrix_is_rank_one(CombinerPartition p, bool causal)
    {
        var (l, s) = Shape(p);
        var a = AttentionMatrix(p, causal, l, s, 51);
        var rows = TestTensors.Slice(a.view(1, 1, l, l), 0, 0);
        // queries that reach one region through the same summary: group by (region positions, anchor)
        var groups = new Dictionary<string, List<int>>();
        for (int i = 0; i < l; i++)
            foreach (var r in CombinerReference.Partition(i, l, new CombinerOptions(p, s, causal)).Regions)
            {
                string key = string.Join(",", r.Positions) + "@" + r.Anchor;
                if (!groups.TryGetValue(key, out var list)) groups[key] = list = [];
                list.Add(i);
            }
        int checkedBlocks = 0;
        foreach (var (key, queries) in groups.Where(g => g.Value.Count >= 2 && g.Key.Contains(',')))
        {
            var positions = key.Split('@')[0].Split(',').Select(int.Parse).ToArray();
            var block = tensor(queries.SelectMany(i => positions.Select(j => rows[i, j])).ToArray()).view(queries.Count, positions.Length);
            var singular = linalg.svdvals(block).data<double>().ToArray();
            Assert.True(singular.Skip(1).All(x => x <= 1e-12 * singular[0]), $"{p}: region {key} has singular values [{string.Join(", ", singular.Select(x => x.ToString("E2")))}]");
            checkedBlocks++;
        }
        Assert.True(checkedBlocks > 0, "the test must check at least one shared region");
    }

    [Theory]
    [InlineData(CombinerPartition.Fixed, 10, 3)]
    [InlineData(CombinerPartition.Logsparse, 12, 2)]
    [InlineData(CombinerPartition.Axial, 11, 4)]
    [InlineData(CombinerPartition.Mixture, 13, 4)]
    public void Causal_lengths_that_do_not_fit_the_partition_are_padded_behind_the_sequence(CombinerPartition p, int l, int s)
    {
        var q = TestTensors.Randn(61, 1, 1, l, 4); var k = TestTensors.Randn(62, 1, 1, l, 4); var v = TestTensors.Randn(63, 1, 1, l, 3);
        var options = new CombinerOptions(p, s);
        var output = Combiner.Attend(q, k, v, options);
        Assert.Equal(new long[] { 1, 1, l, 3 }, output.shape);
        var (expected, attention) = CombinerReference.Attend(TestTensors.Slice(q, 0, 0), TestTensors.Slice(k, 0, 0), TestTensors.Slice(v, 0, 0), options);
        TestTensors.Close(TestTensors.Flat(expected), TestTensors.ToArray(output[0, 0]), 1e-10, $"{p} L={l} s={s}");
        Assert.True(Enumerable.Range(0, l).All(i => Enumerable.Range(0, i + 1).All(j => attention[i, j] > 0)), "full causal support");
    }

    [Fact]
    public void Gradients_pass_a_finite_difference_check()
    {
        var k = TestTensors.Randn(71, 1, 1, 8, 3); var v = TestTensors.Randn(72, 1, 1, 8, 2);
        foreach (var p in Partitions)
        {
            var options = new CombinerOptions(p, 2, Causal: p != CombinerPartition.Axial);
            var check = GradCheck.Check(x => Combiner.Attend(x, k, v, options), TestTensors.Randn(73, 1, 1, 8, 3));
            Assert.True(check.Passed, $"{p} dq: {check}");
            var checkK = GradCheck.Check(x => Combiner.Attend(TestTensors.Randn(73, 1, 1, 8, 3), x, v, options), k);
            Assert.True(checkK.Passed, $"{p} dk: {checkK}");
        }
    }

    [Fact]
    public void Combiner_cores_drive_the_shared_models_and_check_their_masks()
    {
        manual_seed(2);
        var config = new TransformerConfig(2, 2, 16, 32, MaxLength: 16) { Attention = _ => new CombinerAttention(new CombinerOptions(CombinerPartition.Mixture, 4)) };
        var lm = new CausalLanguageModel(config, vocabularySize: 9);
        var tokens = randint(0, 9, new long[] { 2, 16 }, generator: new Generator(1));
        var logits = lm.call(tokens);
        var changed = tokens.clone(); changed[.., 10..] = (changed[.., 10..] + 1).remainder(9);
        TestTensors.Close(TestTensors.ToArray(logits[.., ..10]), TestTensors.ToArray(lm.call(changed)[.., ..10]), 1e-5, "the LM stays causal");

        var core = new CombinerAttention(new CombinerOptions(CombinerPartition.Fixed, 4, Causal: false));
        var x = randn(1, 1, 8, 4);
        Assert.Contains("options.Causal", Assert.Throws<ArgumentException>(() => core.Forward(x, x, x, AttentionMask.CausalOnly).Output).Message);
        var padding = tensor(new[] { true, true, true, true, true, true, false, false }).view(1, 8);
        TestTensors.Close(TestTensors.ToArray(Combiner.Attend(x, x, x, core.Options, padding)), TestTensors.ToArray(core.Forward(x, x, x, new AttentionMask { KeyPadding = padding }).Output), 0, "the core passes the padding on");
        Assert.Equal(x.shape, core.Forward(x, x, x, new AttentionMask { KeyPadding = ones(1, 8, ScalarType.Bool) }).Output.shape);

        var masked = new SparsePatternAttention(CombinerPartition.Axial, 4);
        var (_, probabilities) = masked.Forward(x, x, x, AttentionMask.CausalOnly, withProbabilities: true);
        Assert.True(probabilities![0, 0].gt(0).eq(SparsePatternAttention.Mask(CombinerPartition.Axial, 8, 4, true)).all().item<bool>());
    }

    /// <summary>Per batch row: which positions are real. Row 0 is padded at the end (a classifier's batch), row 1 irregularly, with a whole padded block.</summary>
    private static bool[][] Padding(int l, int s) =>
    [
        Enumerable.Range(0, l).Select(j => j < l - s - 1).ToArray(),
        Enumerable.Range(0, l).Select(j => j % 3 != 1 && (j < s || j >= 2 * s)).ToArray(),
    ];

    [Theory, MemberData(nameof(Cases))]
    public void Key_padding_matches_the_reference_and_padded_positions_never_reach_a_real_output(CombinerPartition p, bool causal)
    {
        var (l, s) = Shape(p);
        var real = Padding(l, s);
        var padding = tensor(real.SelectMany(r => r).ToArray()).view(2, l);
        var q = TestTensors.Randn(81, 2, 2, l, 4).mul(1.5); var k = TestTensors.Randn(82, 2, 2, l, 4); var v = TestTensors.Randn(83, 2, 2, l, 3);
        var options = new CombinerOptions(p, s, causal);
        var output = Combiner.Attend(q, k, v, options, padding);
        for (long b = 0; b < 2; b++)
            for (long h = 0; h < 2; h++)
            {
                var (expected, attention) = CombinerReference.Attend(TestTensors.Slice(q, b, h), TestTensors.Slice(k, b, h), TestTensors.Slice(v, b, h), options, real[b]);
                TestTensors.Close(TestTensors.Flat(expected), TestTensors.ToArray(output[b, h]), 1e-10, $"{p} causal={causal} b={b} h={h}");
                for (int i = 0; i < l; i++)
                    for (int j = 0; j < l; j++)
                        if (!real[b][j]) Assert.Equal(0.0, attention[i, j]);
                        else if (!causal || j <= i) Assert.True(attention[i, j] > 0, $"{p}: real pair ({i}, {j}) keeps full support");
            }
        // scramble q, k and v at the padded positions: every output changes nowhere (padded queries' rows included, as they see only real keys)
        var isPad = padding.logical_not().view(2, 1, l, 1);
        var (q2, k2, v2) = (q.where(isPad.logical_not(), q * 7 + 3), k.where(isPad.logical_not(), -k * 5), v.where(isPad.logical_not(), v + 11));
        var scrambled = Combiner.Attend(q2, k2, v2, options, padding);
        var realQueries = padding.view(2, 1, l, 1);
        TestTensors.Close(TestTensors.ToArray(output.masked_select(realQueries)), TestTensors.ToArray(scrambled.masked_select(realQueries)), 1e-12, $"{p}: padding leaked into a real output");
    }

    [Theory]
    [InlineData(CombinerPartition.Fixed)]
    [InlineData(CombinerPartition.Logsparse)]
    [InlineData(CombinerPartition.Axial)]
    [InlineData(CombinerPartition.Mixture)]
    public void A_query_with_every_key_padded_gets_zeros_and_all_real_padding_changes_nothing(CombinerPartition p)
    {
        var (l, s) = Shape(p);
        var q = TestTensors.Randn(91, 1, 1, l, 4); var k = TestTensors.Randn(92, 1, 1, l, 4); var v = TestTensors.Randn(93, 1, 1, l, 3);
        var options = new CombinerOptions(p, s, Causal: false);
        var none = Combiner.Attend(q, k, v, options, zeros(1, l, ScalarType.Bool));
        Assert.True(none.eq(0).all().item<bool>(), $"{p}: fully padded rows must be zeros (not NaN)");
        TestTensors.Close(TestTensors.ToArray(Combiner.Attend(q, k, v, options)), TestTensors.ToArray(Combiner.Attend(q, k, v, options, ones(1, l, ScalarType.Bool))), 1e-12, $"{p}: nothing padded");
        var grad = q.detach().requires_grad_(true);
        Combiner.Attend(grad, k, v, options, tensor(Padding(l, s)[0]).view(1, l)).sum().backward();
        Assert.True(grad.grad!.isfinite().all().item<bool>(), $"{p}: gradients stay finite with padding");
        Assert.Contains("expected Bool (1, " + l + ")", Assert.Throws<ArgumentException>(() => Combiner.Attend(q, k, v, options, ones(1, l + 1, ScalarType.Bool))).Message);
    }

    [Fact]
    public void Padded_gradients_pass_a_finite_difference_check()
    {
        var k = TestTensors.Randn(74, 1, 1, 8, 3); var v = TestTensors.Randn(75, 1, 1, 8, 2);
        var padding = tensor(new[] { true, true, false, true, true, true, false, false }).view(1, 8);
        foreach (var p in Partitions)
        {
            var options = new CombinerOptions(p, 2, Causal: false);
            var check = GradCheck.Check(x => Combiner.Attend(x, k, v, options, padding), TestTensors.Randn(76, 1, 1, 8, 3));
            Assert.True(check.Passed, $"{p} dq: {check}");
            var checkK = GradCheck.Check(x => Combiner.Attend(TestTensors.Randn(76, 1, 1, 8, 3), x, v, options, padding), k);
            Assert.True(checkK.Passed, $"{p} dk: {checkK}");
        }
    }

    [Fact]
    public void Bad_block_sizes_are_named()
    {
        var x = randn(1, 1, 12, 4);
        Assert.Contains("BlockSize = 0", Assert.Throws<ArgumentOutOfRangeException>(() => Combiner.Attend(x, x, x, new CombinerOptions(CombinerPartition.Fixed, 0))).Message);
        Assert.Contains("not a multiple of options.BlockSize = 5", Assert.Throws<ArgumentException>(() => Combiner.Attend(x, x, x, new CombinerOptions(CombinerPartition.Axial, 5, Causal: false))).Message);
        Assert.Contains("power of two", Assert.Throws<ArgumentException>(() => Combiner.Attend(x, x, x, new CombinerOptions(CombinerPartition.Logsparse, 4, Causal: false))).Message);
        Assert.Contains("equal lengths", Assert.Throws<ArgumentException>(() => Combiner.Attend(x, randn(1, 1, 6, 4), randn(1, 1, 6, 4), new CombinerOptions(CombinerPartition.Fixed, 3))).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new SparsePatternAttention(CombinerPartition.Mixture, 4));
    }

    [Theory]
    [InlineData(CombinerPartition.Fixed, 1024, true, 32)]
    [InlineData(CombinerPartition.Axial, 2048, true, 48)]       // √2048 = 45.3: the nearest multiple of 8
    [InlineData(CombinerPartition.Mixture, 8192, true, 88)]     // √8192 = 90.5
    [InlineData(CombinerPartition.Axial, 4096, true, 64)]
    [InlineData(CombinerPartition.Fixed, 2048, false, 32)]      // bidirectional: the divisor of L nearest √L
    [InlineData(CombinerPartition.Fixed, 48, false, 6)]
    [InlineData(CombinerPartition.Fixed, 30, true, 5)]
    [InlineData(CombinerPartition.Logsparse, 8192, true, 32)]
    [InlineData(CombinerPartition.Logsparse, 16, false, 16)]
    public void Block_size_for_a_length_follows_each_partitions_asymptotics(CombinerPartition p, int length, bool causal, int expected)
    {
        var options = CombinerOptions.ForLength(p, length, causal);
        Assert.Equal((p, expected, causal), (options.Partition, options.BlockSize, options.Causal));
        Assert.Contains("length = 0", Assert.Throws<ArgumentOutOfRangeException>(() => CombinerOptions.ForLength(p, 0)).Message);
    }

    [Fact]
    public void The_block_size_grows_with_the_square_root_of_the_length_over_the_suites_range()
    {
        var sizes = new[] { 1024, 2048, 4096, 8192 }.Select(l => (double)CombinerOptions.ForLength(CombinerPartition.Fixed, l).BlockSize / Math.Sqrt(l)).ToArray();
        Assert.All(sizes, ratio => Assert.InRange(ratio, 0.9, 1.1));
    }
}

public class CombinerVariantTests
{
    [Fact]
    public void Every_named_variant_builds_and_pictures_show_full_support_only_for_combiner()
    {
        foreach (var variant in CombinerVariant.All)
        {
            var core = variant.Create(4, causal: true);
            var x = randn(1, 2, 16, 4);
            Assert.Equal(x.shape, core.Forward(x, x, x, AttentionMask.CausalOnly).Output.shape);
            var picture = variant.SupportPicture(16, 4, causal: true);
            bool full = Enumerable.Range(0, 16).All(i => Enumerable.Range(0, i + 1).All(j => picture[i][j] > 0));
            Assert.Equal(variant == CombinerVariant.Full || variant.Summarised, full);
            Assert.Equal(variant.Name.StartsWith("combiner-"), variant.Summarised);
            Assert.Equal(variant, CombinerVariant.Parse(variant.Name));
            Assert.True(Enumerable.Range(0, 16).All(i => Enumerable.Range(i + 1, 15 - i).All(j => picture[i][j] == 0)), $"{variant}: causal picture");
        }
        Assert.Equal(8, CombinerVariant.All.Distinct().Count());
        // Figure 1: query 13 of L = 16, s = 4, causal. Fixed: own block 12…13 direct, blocks 0, 1, 2 as regions 1, 2, 3
        Assert.Equal([1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 0, 0, -1, -1], CombinerVariant.CombinerFixed.Regions(13, 16, 4, causal: true));
        // Logsparse: own block direct, then the sibling block 8…11 (level 0) and the sibling pair 0…7 (level 1)
        Assert.Equal([2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, -1, -1], CombinerVariant.CombinerLogsparse.Regions(13, 16, 4, causal: true));
        // Mixture, bidirectional: own row and own column direct; every other row split at column 1 into left and right regions
        Assert.Equal([1, 0, 2, 2, 3, 0, 4, 4, 5, 0, 6, 6, 0, 0, 0, 0], CombinerVariant.CombinerMixture.Regions(13, 16, 4, causal: false));
        Assert.Equal([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -1, -1], CombinerVariant.Full.Regions(13, 16, 4, causal: true));
        Assert.Equal(CombinerVariant.Fixed.Regions(13, 16, 4, true).Select(r => r == 0), SparsePatternAttention.Mask(CombinerPartition.Fixed, 16, 4, true)[13].data<bool>().ToArray());
        Assert.Contains("query = 16", Assert.Throws<ArgumentOutOfRangeException>(() => CombinerVariant.Full.Regions(16, 16, 4, true)).Message);
        Assert.Contains("unknown variant 'dense'", Assert.Throws<ArgumentOutOfRangeException>(() => CombinerVariant.Parse("dense")).Message);
        Assert.Throws<NotSupportedException>(() => CombinerVariant.CombinerFixed.Create(4, true).Forward(randn(1, 1, 8, 4), randn(1, 1, 8, 4), randn(1, 1, 8, 4), AttentionMask.CausalOnly, withProbabilities: true));
    }
}
