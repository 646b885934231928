# page — fv-page, the article's HTML (cmark inside page.c only; pipetable.c finds pipe tables in the text).
PAGE_SRCS := pipeline/page/page.c pipeline/page/frontmatter.c pipeline/page/bib.c \
             pipeline/page/mdext.c pipeline/page/template.c pipeline/page/katex.c pipeline/page/url.c \
             pipeline/page/pipetable.c
PAGE_OBJS := $(call objs,$(PAGE_SRCS))
PAGE_LIBS := $(shell pkg-config --libs libcmark jansson 2>/dev/null)
$(OBJ)/pipeline/page/%.o $(call objs,tests/unit/check_page.c): CPPFLAGS += -Ipipeline/page

TOOLS += $(BIN)/fv-page
$(BIN)/fv-page: $(call objs,pipeline/page/page_main.c) $(PAGE_OBJS) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PAGE_LIBS)

UNIT_TESTS += $(BIN)/check_page
$(BIN)/check_page: $(call objs,tests/unit/check_page.c) $(PAGE_OBJS) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PAGE_LIBS) $(CHECK_LIBS)
