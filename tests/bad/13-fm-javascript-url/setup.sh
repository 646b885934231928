# Runs in the case's working copy of the built fixture site.
sed -i 's#url: https://example.org/ada#url: javascript:alert(1)#' content/article.md
