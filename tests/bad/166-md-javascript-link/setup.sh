# Runs in the case's working copy of the built fixture site.
sed -i 's#^Same title, distinct id.#Same title, [distinct](JavaScript:alert(document.domain)) id.#' content/article.md
