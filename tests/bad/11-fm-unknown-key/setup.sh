# Runs in the case's working copy of the built fixture site.
sed -i 's/^description:/summary:/' content/article.md
