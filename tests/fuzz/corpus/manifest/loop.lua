-- The optimization loop, as a diagram drawn by hand (an author's own image).
return {
  kind = "images",
  caption = "The feature-visualization loop. The image is produced from its parameters, randomly transformed, and fed to the network; the gradient of the objective flows back to the parameters, which Adam [@kingma2014] updates.",
  width = "text",
  images = {
    { src = "images/optimization-loop.svg",
      alt = "Diagram: parameters produce an image, which is transformed and fed to the network; the objective's gradient flows back to the parameters." },
  },
}
