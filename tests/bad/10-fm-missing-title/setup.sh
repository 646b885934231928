# Runs in the case's working copy of the built fixture site.
sed -i '/^title:/d' content/article.md
