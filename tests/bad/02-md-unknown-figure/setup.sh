# Runs in the case's working copy of the built fixture site.
sed -i 's/{{figure pair}}/{{figure nope}}/' content/article.md
