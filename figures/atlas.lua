-- Appendix: the atlas, every channel of every layer (built apart by `make atlas`).
return {
  kind = "atlaslink",
  caption = "The atlas: every channel of every expand layer of the detector's backbone and every unit of the "
    .. "classifier, each with its visualization, its neuron, a diversity set of four (the classifier: its top "
    .. "test images and spectrum), and a t-SNE map per layer.",
}
