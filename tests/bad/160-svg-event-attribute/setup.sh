# Runs in the case's working copy of the built fixture site.
sed -i 's#<circle #<circle onmouseover="alert(document.domain)" #' content/images/mark.svg
