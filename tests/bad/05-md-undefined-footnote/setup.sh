# Runs in the case's working copy of the built fixture site.
sed -i 's/^\[\^one\]:/[^two]:/' content/article.md
