# png — libpng behind png_io.h (used by the renderer, the sprite stage and the page tool).
PNG_SRCS := pipeline/png/png_io.c
PNG_OBJS := $(call objs,$(PNG_SRCS))
PNG_LIBS := $(shell pkg-config --libs libpng 2>/dev/null)
