# Runs in the case's working copy of the built fixture site.
sed -i 's/\$a_1 + b^\*_2\$/$\\frac{a$/' content/article.md
