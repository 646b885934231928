# Runs in the case's working copy of the built fixture site.
sed -i 's/^Same title, distinct id./{{figure pair}}/' content/article.md
