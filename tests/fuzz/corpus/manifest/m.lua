return { kind = "tsne", caption = "Map.", alt = "A small t-SNE map.", rows = 8, cols = 8, perplexity = 10 }
