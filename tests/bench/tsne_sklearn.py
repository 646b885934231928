"""Peer of BENCH tsne-10k: scikit-learn's Barnes-Hut t-SNE on an FVF1 feature file.

usage: tsne_sklearn.py FEATURES.fvf ITERATIONS THREADS [OUT.fvf]
Prints "seconds <s> kl <kl>" (seconds of fit_transform only). Same settings as fv-tsne's
defaults where scikit-learn has them: perplexity 30, PCA initialisation, early exaggeration 12 for
250 iterations, learning rate 'auto' (N/12 in the usual gradient scale), Barnes-Hut angle 0.5.
"""
import sys
import time

import numpy as np
from sklearn.manifold import TSNE


def read_fvf(path):
    raw = open(path, "rb").read()
    if raw[:4] != b"FVF1":
        raise SystemExit(f"{path}: not an FVF1 file")
    n, d = np.frombuffer(raw[4:12], dtype="<u4")
    return np.frombuffer(raw[12:], dtype="<f4").reshape(int(n), int(d))


def main():
    path, iters, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    x = read_fvf(path).astype(np.float32)
    t = TSNE(n_components=2, perplexity=30.0, early_exaggeration=12.0, learning_rate="auto",
             n_iter=iters, init="pca", method="barnes_hut", angle=0.5, n_jobs=threads, random_state=0)
    t0 = time.perf_counter()
    y = t.fit_transform(x)
    sec = time.perf_counter() - t0
    if len(sys.argv) > 4:
        with open(sys.argv[4], "wb") as f:
            f.write(b"FVF1" + np.array([y.shape[0], 2], dtype="<u4").tobytes() + y.astype("<f4").tobytes())
    print(f"seconds {sec:.3f} kl {t.kl_divergence_:.6f}")


main()
