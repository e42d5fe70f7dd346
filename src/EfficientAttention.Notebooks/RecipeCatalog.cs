namespace EfficientAttention.Notebooks;

/// <summary>Every training run the notebooks use, by name (what <c>src/Retrain</c> accepts).</summary>
public static class RecipeCatalog
{
    /// <summary>Seeds every comparison uses (mean ± standard error over these).</summary>
    public static IReadOnlyList<long> Seeds { get; } = [0, 1, 2];

    public static IEnumerable<Recipe> Recipes() =>
        BasicsRecipes.Variants.Select(BasicsRecipes.Copy)
            .Concat(ReuseRecipes.All())
            .Concat(SparsefinderRecipes.Variants.Select(SparsefinderRecipes.Model))
            .Concat(CombinerRecipes.All());

    public static IEnumerable<(Recipe Recipe, long Seed)> Runs() =>
        Recipes().SelectMany(r => r.Seeds.Select(s => (r, s)));

    /// <summary>
    /// The runs <paramref name="name"/> stands for: "all", a recipe ("reuse-vit"), a recipe and variant
    /// ("reuse-vit-k2", seeds 0–2) or one run ("reuse-vit-k2-s1").
    /// </summary>
    public static IReadOnlyList<(Recipe Recipe, long Seed)> Resolve(string name) =>
        Runs().Where(r => name == "all" || name == r.Recipe.Name || name == $"{r.Recipe.Name}-{r.Recipe.Variant}" || name == r.Recipe.RunName(r.Seed)).ToList();
}
