return {
  kind = "images",
  caption = "Two images, $\\alpha$ and [@olah2017]; raw <b>HTML</b> is shown as text here.",
  width = "wide",
  columns = 2,
  images = {
    { src = "images/gradient.png", alt = "A colour gradient", label = "gradient \"png\"" },
    { src = "images/mark.svg", alt = "A white disc on blue" },
  },
}
