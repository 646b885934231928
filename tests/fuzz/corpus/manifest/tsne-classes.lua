-- Figure 9a: the test images of our Fashion-MNIST classifier, laid out by t-SNE of its
-- penultimate (fc1) features and snapped to a 50 × 50 grid.
return {
  kind = "tsne",
  caption = "2,500 Fashion-MNIST test images placed by t-SNE [@vandermaaten2008; @linderman2019] "
    .. "of the classifier's 256 penultimate features, then moved to the nearest free cell of a grid by "
    .. "an exact linear assignment. Each thumbnail is tinted by its true class. Garments the classifier "
    .. "confuses — shirts, pullovers and coats — mingle along their borders; trousers, dresses, bags and the three kinds of footwear hold regions of their own.",
  alt = "A grid of small clothing images, grouped into coloured regions by class: trousers, dresses, bags, sandals, sneakers and boots in their own regions, tops, shirts, pullovers and coats side by side.",
  width = "wide",
  rows = 50, cols = 50,
  layer = "fc1", perplexity = 30, seed = 1,
}
