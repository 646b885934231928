# Runs in the case's empty working directory: the hostile model is generated (tests/bad/make_nn_model.py).
/usr/bin/python3 "$ROOT/tests/bad/make_nn_model.py" inf-weight-f16 m
