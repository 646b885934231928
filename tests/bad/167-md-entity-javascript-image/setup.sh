# Runs in the case's working copy of the built fixture site.
sed -i 's#^Same title, distinct id.#Same title, ![distinct](java\&\#x73;cript:alert(1)) id.#' content/article.md
