#!/usr/bin/env bash
# Black-box tests of fv-tsne and fv-gridsnap: usage and exit codes, bad input (one line naming the
# file, exit 1, nothing written), a small run's outputs (FVF1, TSV, JSON), separation of clusters,
# byte-identical reruns, and grid snapping.
. "$ROOT/tests/cli/lib.sh"
TS=$BIN/fv-tsne
GS=$BIN/fv-gridsnap
F=$ROOT/tests/fixtures/tsne
T=$TMPDIR_T
export FV_THREADS=${FV_THREADS:-2}

expect_ok "help" "$TS" --help
run_cmd "$TS"
expect_eq "no arguments: usage, exit 2" 2 "$T_RC"
run_cmd "$TS" --bogus "$F/clusters.tsv" -o "$T/x.fvf"
expect_eq "unknown option: exit 2" 2 "$T_RC"
run_cmd "$TS" "$F/clusters.tsv"
expect_eq "no output: exit 2" 2 "$T_RC"
run_cmd "$TS" "$F/clusters.tsv" --perplexity -3 -o "$T/x.fvf"
expect_eq "negative perplexity: exit 2" 2 "$T_RC"
run_cmd env FV_THREADS=zero "$TS" "$F/clusters.tsv" -o "$T/x.fvf"
expect_eq "bad FV_THREADS: exit 2" 2 "$T_RC"

expect_fail "size does not match header" "$F/short.fvf: size 120 bytes does not match the header (n=10, d=3: expected 132 bytes)" \
  "$TS" "$F/short.fvf" -o "$T/bad.fvf"
expect_fail "NaN in features" "$F/nan.csv:2: field 2: 'nan' is not finite" "$TS" "$F/nan.csv" -o "$T/bad.fvf"
expect_fail "ragged rows" "$F/ragged.csv:2: 2 values (expected 3, like line 1)" "$TS" "$F/ragged.csv" -o "$T/bad.fvf"
expect_fail "perplexity too large" "$F/clusters.tsv: perplexity 40 is too large for 120 points (need N - 1 >= 3 * perplexity" \
  "$TS" "$F/clusters.tsv" --perplexity 40 -o "$T/bad.fvf" --json "$T/bad.json"
expect_fail "one point" "$F/one.tsv: 1 points (expected at least 2)" "$TS" "$F/one.tsv" -o "$T/bad.fvf"
expect_fail "missing file" "$T/nope.tsv" "$TS" "$T/nope.tsv" -o "$T/bad.fvf"
printf 'not gzip' >"$T/bad.gz"
expect_fail "corrupt IDX" "$T/bad.gz: bad magic" "$TS" --idx "$T/bad.gz" -o "$T/bad.fvf"
run_cmd "$TS" "$F/nan.csv" -o "$T/bad.fvf"
expect_eq "bad input: exit 1" 1 "$T_RC"
expect_eq "bad input: one stderr line" 1 "$(printf '%s\n' "$T_ERR" | wc -l)"
expect_eq "bad input: nothing written" "" "$(ls "$T" | grep -E '^bad\.(fvf|json)' || true)"

expect_ok "small run" "$TS" "$F/clusters.tsv" --perplexity 10 --iters 300 --exag-iters 100 \
  --labels "$F/clusters.labels" -o "$T/a.fvf" --tsv "$T/a.tsv" --json "$T/a.json"
expect_eq "FVF1 size" $((12 + 120 * 2 * 4)) "$(stat -c %s "$T/a.fvf")"
expect_eq "TSV rows" 120 "$(wc -l <"$T/a.tsv")"
expect_eq "TSV columns" 2 "$(awk -F'\t' '{print NF}' "$T/a.tsv" | sort -u)"
expect_eq "JSON: method exact for 120 points" '"exact"' "$(grep -o '"method": "[a-z]*"' "$T/a.json" | sed 's/.*: //')"
kl=$(sed -nE 's/.*"kl_divergence": ([0-9.e-]+).*/\1/p' "$T/a.json")
expect_eq "JSON: KL positive and finite" yes "$(awk -v k="$kl" 'BEGIN { print (k > 0 && k < 10) ? "yes" : "no" }')"
agree=$(sed -nE 's/.*"knn10_label_agreement": ([0-9.e-]+).*/\1/p' "$T/a.json")
expect_eq "clusters separate (10-NN label agreement >= 0.95)" yes "$(awk -v a="$agree" 'BEGIN { print (a >= 0.95) ? "yes" : "no" }')"
expect_ok "rerun" "$TS" "$F/clusters.tsv" --perplexity 10 --iters 300 --exag-iters 100 -o "$T/b.fvf"
expect_eq "reruns are byte-identical" "$(sha256sum <"$T/a.fvf")" "$(sha256sum <"$T/b.fvf")"
expect_ok "fft method" "$TS" "$F/clusters.tsv" --perplexity 10 --iters 300 --method fft -o "$T/c.fvf" --json "$T/c.json"
expect_eq "JSON: method fft" '"fft"' "$(grep -o '"method": "[a-z]*"' "$T/c.json" | sed 's/.*: //')"
expect_eq "JSON: phase seconds" 4 "$(grep -cE '"(calibrate|symmetrize|attractive|interpolate)": [0-9.e-]+' "$T/c.json")"
run_cmd "$TS" "$F/clusters.tsv" --perplexity 10 --iters 100 --exag-iters 50 --method fft --verbose -o "$T/v.fvf"
expect_eq "--verbose: one line of phase seconds on stderr" 1 \
  "$(printf '%s\n' "$T_ERR" | grep -cE '^fv-tsne: 120 x 5, fft, 100 iterations, .*knn [0-9.]+, .*attractive [0-9.]+, repulsive [0-9.]+ = interpolate [0-9.]+ \+ fft [0-9.]+; .*KL [0-9.]+$')"
expect_ok "pca-only" "$TS" "$F/clusters.tsv" --pca 3 --pca-only --features-out "$T/p.fvf"
expect_eq "pca features size" $((12 + 120 * 3 * 4)) "$(stat -c %s "$T/p.fvf")"

# fv-gridsnap
expect_ok "gridsnap help" "$GS" --help
run_cmd "$GS" "$T/a.fvf"
expect_eq "gridsnap without grid: exit 2" 2 "$T_RC"
expect_ok "gridsnap 11x11" "$GS" "$T/a.fvf" --rows 11 --cols 11 -o "$T/cells.tsv" --json "$T/cells.json"
expect_eq "one line per point" 120 "$(wc -l <"$T/cells.tsv")"
expect_eq "distinct cells" 120 "$(sort -u "$T/cells.tsv" | wc -l)"
expect_eq "cells in range" 0 "$(awk -F'\t' '$1 < 0 || $1 > 10 || $2 < 0 || $2 > 10' "$T/cells.tsv" | wc -l)"
expect_fail "grid too small" "$T/a.fvf: grid: 10 x 10 = 100 cells for 120 points" "$GS" "$T/a.fvf" --rows 10 --cols 10 -o "$T/bad.tsv"
expect_fail "not an embedding" "$F/clusters.tsv: 5 values per point (expected 2" "$GS" "$F/clusters.tsv" --rows 11 --cols 11 -o "$T/bad.tsv"
expect_eq "gridsnap bad input: nothing written" "" "$(ls "$T" | grep -E '^bad\.tsv' || true)"
expect_ok "gridsnap reads TSV" "$GS" "$F/small.tsv" --rows 4 --cols 5 -o "$T/s.tsv"
finish
