# Runs in the case's working copy of the built fixture site.
sed -i 's/\[@olah2017\] and two/[@nope] and two/' content/article.md
