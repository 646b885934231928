# Runs in the case's working copy of the built fixture site.
sed -i 's/^  - name: Ada/\t- name: Ada/' content/article.md
