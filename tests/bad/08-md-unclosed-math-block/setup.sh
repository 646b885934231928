# Runs in the case's working copy of the built fixture site.
sed -i '/^G_{ij}/{n;d}' content/article.md
