# png — libpng behind png_io.h. PNG_OBJS and PNG_LIBS are defined in the top Makefile,
# because other modules' fragments (included in name order) need them first.
