# Runs in the case's working copy of the built fixture site.
sed -i 's/^date: 2024-02-29/date: 2024-13-01/' content/article.md
