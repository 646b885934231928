return { kind = "examples", caption = "Examples.", layer = "fc1:preact", units = { 3 }, k = 4 }
