# Runs in the case's working copy of the built fixture site.
sed -i 's#</svg>#<use href="java\&\#x73;cript:alert(1)"/></svg>#' content/images/mark.svg
