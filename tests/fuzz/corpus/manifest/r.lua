return { kind = "recipes", caption = "Recipes." }
