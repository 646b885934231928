# Black-box tests of fv-match: on made-up activations whose answer is known (B is A's units
# shuffled, some with noise, one dead), the assignment recovers the shuffle, the pairs are in
# order with the groups and their recipes; bad input is one line naming the file or field, exit 1
# (exit 2 for usage), and nothing written.
. "$ROOT/tests/cli/lib.sh"
M=$BIN/fv-match
D=$TMPDIR_T/match
mkdir -p "$D"
/usr/bin/python3 - "$D" <<'PY'
import random, struct, sys
d = sys.argv[1]
def fvf(path, rows):
    with open(path, "wb") as f:
        f.write(b"FVF1" + struct.pack("<II", len(rows), len(rows[0])))
        for r in rows: f.write(struct.pack("<%df" % len(r), *r))
rng = random.Random(5)
n, d_ = 400, 12
A = [[rng.gauss(0, 1) for _ in range(d_)] for _ in range(n)]
for r in A: r[11] = 0.25  # a dead unit
perm = list(range(d_)); rng.shuffle(perm)
# B's unit perm[i] is A's unit i, scaled, plus noise growing with i (unit 11 stays dead)
B = [[0.0] * d_ for _ in range(n)]
for k in range(n):
    for i in range(d_):
        B[k][perm[i]] = 2 * A[k][i] + (0.15 * i * rng.gauss(0, 1) if i < 11 else 0) + 1
fvf(d + "/a.fvf", A); fvf(d + "/b.fvf", B)
fvf(d + "/short.fvf", B[:399]); fvf(d + "/narrow.fvf", [r[:11] for r in B])
open(d + "/perm.txt", "w").write(" ".join(map(str, perm)))
open(d + "/bad.fvf", "wb").write(b"FVF1" + struct.pack("<II", 10, 3) + b"\0" * 12)
PY
cat >"$D/template.json" <<'JSON'
{"model": {"json": "fmnist-cnn.json", "bin": "fmnist-cnn.bin"}, "layer": "fc1:preact", "size": 28,
 "objectives": [{"kind": "channel", "channel": 0}, {"kind": "tv", "weight": 5}]}
JSON

expect_ok "fv-match --help" "$M" --help
case $T_OUT in *"usage: fv-match"*) t_ok "match help text" ;; *) t_fail "match help text" ;; esac
expect_ok "fv-match on known activations" "$M" --show 2 --recipe "$D/template.json" "$D/a.fvf" "$D/b.fvf" "$D/out"
case $T_ERR in "fv-match: 12 units, mean matched correlation "*) t_ok "match summary line" ;; *) t_fail "match summary line" "$T_ERR" ;; esac
/usr/bin/python3 - "$D" <<'PY' && t_ok "match recovers the shuffle, best first, groups and recipes" \
  || t_fail "match recovers the shuffle, best first, groups and recipes"
import json, sys
d = sys.argv[1]
j = json.load(open(d + "/out/match.json"))
perm = list(map(int, open(d + "/perm.txt").read().split()))
pairs = j["pairs"]
assert j["images"] == 400 and j["units_a"] == 12 and j["constant_a"] == 1 and j["constant_b"] == 1, j
live = [p for p in pairs if p["a"] != 11]
assert all(p["b"] == perm[p["a"]] for p in live), pairs
rs = [p["r"] for p in pairs]
assert rs == sorted(rs, reverse=True) and rs[0] > 0.999 and rs[-1] == 0 and pairs[-1]["a"] == 11
assert pairs[0]["a"] == 0 and pairs[0]["best_b"] == pairs[0]["b"]  # no noise, r = 1
assert abs(j["total"] - sum(rs)) < 1e-9 and abs(j["mean"] - sum(rs) / 12) < 1e-9
s = j["shown"]
assert [(x["group"], x["rank"]) for x in s] == [("best", 1), ("best", 2), ("middle", 6), ("middle", 7), ("worst", 11), ("worst", 12)], s
for x in s:
    for side, unit in (("a", x["a"]), ("b", x["b"])):
        r = json.load(open(d + "/out/" + x["recipe_" + side]))
        assert r["objectives"][0]["channel"] == unit and r["objectives"][1]["kind"] == "tv" and r["size"] == 28
PY

expect_fail "match: other images" "$D/short.fvf: 399 images (expected 400, as $D/a.fvf: the same images)" "$M" "$D/a.fvf" "$D/short.fvf" "$D/o1"
expect_eq "match: other images: exit code" 1 "$T_RC"
expect_eq "match: other images: one line" 1 "$(printf '%s\n' "$T_ERR" | grep -c .)"
expect_fail "match: fewer units" "$D/narrow.fvf: 11 units (expected at least 12, as $D/a.fvf)" "$M" "$D/a.fvf" "$D/narrow.fvf" "$D/o1"
expect_fail "match: too many shown" "--show 5: 15 pairs shown (expected at most $D/a.fvf's 12 units)" "$M" --show 5 "$D/a.fvf" "$D/b.fvf" "$D/o1"
expect_fail "match: truncated matrix" "$D/bad.fvf" "$M" "$D/bad.fvf" "$D/b.fvf" "$D/o1"
expect_eq "match: truncated matrix: exit code" 1 "$T_RC"
printf '{"objectives": [{"kind": "tv"}]}' >"$D/t2.json"
expect_fail "match: template without a channel" "$D/t2.json: objectives[0].channel: missing (expected the unit's channel objective first)" \
  "$M" --recipe "$D/t2.json" "$D/a.fvf" "$D/b.fvf" "$D/o1"
printf '{"objectives": [' >"$D/t3.json"
expect_fail "match: template not JSON" "$D/t3.json:1: " "$M" --recipe "$D/t3.json" "$D/a.fvf" "$D/b.fvf" "$D/o1"
expect_eq "match: bad template: exit code" 1 "$T_RC"
[ ! -e "$D/o1" ] && ! ls "$D" | grep -q 'o1.tmp' && t_ok "match: bad input writes nothing" || t_fail "match: bad input writes nothing"
expect_fail "match: --show out of range" "fv-match: --show" "$M" --show 0 "$D/a.fvf" "$D/b.fvf" "$D/o1"
expect_eq "match: usage exit code" 2 "$T_RC"
expect_fail "match: too few arguments" "usage: fv-match" "$M" "$D/a.fvf" "$D/b.fvf"
expect_eq "match: too few arguments: exit code" 2 "$T_RC"
finish
