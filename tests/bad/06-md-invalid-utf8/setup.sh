# Runs in the case's working copy of the built fixture site.
sed -i 's/^Raw <abbr/Raw \xff<abbr/' content/article.md
