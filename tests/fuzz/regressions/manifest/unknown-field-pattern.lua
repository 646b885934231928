local a = 1
return {
  kind = "recipes",
  caption = "x",
  ["a("] = a,
}
