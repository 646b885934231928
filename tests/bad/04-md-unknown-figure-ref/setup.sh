# Runs in the case's working copy of the built fixture site.
sed -i 's/{{ref pair}}/{{ref nope}}/' content/article.md
