# Runs in the case's working copy of the built fixture site.
sed -i 's#</svg>#<h:script xmlns:h="http://www.w3.org/1999/xhtml">alert(1)</h:script></svg>#' content/images/mark.svg
