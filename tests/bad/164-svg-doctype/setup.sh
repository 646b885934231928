# Runs in the case's working copy of the built fixture site.
sed -i '1i <!DOCTYPE svg [<!ENTITY lol "lol">]>' content/images/mark.svg
