# Runs in the case's working copy of the built fixture site.
sed -i '1d' content/article.md
