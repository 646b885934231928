-- Appendix: how every image was made, from the renderer's records.
return {
  kind = "recipes",
  caption = "The recipe of every rendered image, as recorded by the renderer. Open a figure to see its renders.",
  width = "wide",
}
