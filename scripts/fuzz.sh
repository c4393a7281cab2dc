#!/usr/bin/env bash
# Fuzz the parsers of untrusted input with cargo-fuzz (libFuzzer) on the stable toolchain.
#
#   scripts/fuzz.sh [seconds-per-target] [target...]
#
# Runs every target (or the ones named) for the given time (default 180 s) and fails if any
# of them finds a crash (panic, overflow, abort), a hang (-timeout) or runs out of memory.
#
# - cargo-fuzz is installed with `cargo install --locked` when missing or another version.
# - fuzz/ is its own workspace. Its Cargo.lock is the root Cargo.lock, copied in before every
#   build, so the crates under test are fuzzed with the workspace's own dependency versions
#   (libfuzzer-sys and arbitrary, the only fuzz-only crates, are pinned in fuzz/Cargo.toml).
# - `-s none`: no sanitizer, hence no -Z flag and no nightly. The code under test is safe Rust
#   (unsafe_code = "forbid"), so a sanitizer would add little; debug assertions and overflow
#   checks are on (cargo-fuzz's default), so an overflow is a crash too.
# - Seeds: fuzz/corpus/<target> (committed, only read). What libFuzzer finds goes to
#   fuzz/work/<target> (kept between local runs, ignored by git), crashes to
#   fuzz/artifacts/<target>/; reproduce one with
#   `cargo fuzz run -s none <target> fuzz/artifacts/<target>/crash-...`.
# - FUZZ_JOBS (default: the number of cores) targets run at once; each one's output goes to
#   fuzz/work/<target>.log and is printed when it fails.
# - FUZZ_PROFILE=release (default) builds optimised targets, as cargo-fuzz does by default;
#   FUZZ_PROFILE=dev builds unoptimised ones: about half the build time, but each target
#   then runs 5-10 times fewer inputs per second.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
ALL_TARGETS=(panos_xml airs_response proxmox_response jwt jwks validators)

secs=${1:-180}
if ! [[ $secs =~ ^[0-9]+$ ]] || ((secs < 1)); then
  echo "usage: $0 [seconds-per-target] [target...]" >&2
  exit 2
fi
shift || true
targets=("$@")
((${#targets[@]})) || targets=("${ALL_TARGETS[@]}")
jobs=${FUZZ_JOBS:-$(nproc)}
profile=${FUZZ_PROFILE:-release}
# No flag is cargo-fuzz's default: optimised *with* debug assertions and overflow checks
# (an explicit --release would turn them off).
build_flags=()
case $profile in
  release) ;;
  dev) build_flags=(--dev) ;;
  *) echo "FUZZ_PROFILE must be release or dev" >&2; exit 2 ;;
esac

if [[ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]]; then
  echo "== installing cargo-fuzz $CARGO_FUZZ_VERSION"
  t=$(date +%s)
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
  echo "== cargo-fuzz installed in $(($(date +%s) - t)) s"
fi

cp Cargo.lock fuzz/Cargo.lock
echo "== building the fuzz targets ($profile)"
t=$(date +%s)
cargo fuzz build -s none "${build_flags[@]}"
echo "== fuzz targets built in $(($(date +%s) - t)) s"

root=$PWD/fuzz
bin=$root/target/$(rustc -vV | sed -n 's/^host: //p')/$([[ $profile == dev ]] && echo debug || echo release)
mkdir -p "$root/work"
run_one() {
  local t=$1 rc=0
  mkdir -p "$root/work/$t" "$root/artifacts/$t"
  # What `cargo fuzz run` does, without asking cargo again (which would rebuild, one target
  # at a time, if a source changed after the build). The first corpus directory is where
  # libFuzzer writes; the seeds are only read.
  "$bin/$t" -artifact_prefix="$root/artifacts/$t/" \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    "$root/work/$t" "$root/corpus/$t" >"$root/work/$t.log" 2>&1 || rc=$?
  echo "$rc" >"$root/work/$t.rc"
}

echo "== fuzzing ${targets[*]}: ${secs} s each, ${jobs} at a time"
t0=$(date +%s)
for t in "${targets[@]}"; do
  [[ -d fuzz/corpus/$t ]] || { echo "unknown target $t" >&2; exit 2; }
done
for t in "${targets[@]}"; do
  rm -f "$root/work/$t.rc"
  while (($(jobs -rp | wc -l) >= jobs)); do
    wait -n || true
  done
  run_one "$t" &
done
wait

failed=()
for t in "${targets[@]}"; do
  if [[ "$(cat "$root/work/$t.rc" 2>/dev/null)" == 0 ]]; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$root/work/$t.log" | grep -o '[0-9]*$' || true)
    echo "   ok     $t (${runs:-?} runs)"
  else
    failed+=("$t")
    echo "   FAILED $t"
  fi
done
echo "== fuzzing took $(($(date +%s) - t0)) s"

for t in "${failed[@]}"; do
  echo "---- $t (fuzz/work/$t.log, last 60 lines)"
  tail -n 60 "$root/work/$t.log"
  ls "$root/artifacts/$t" 2>/dev/null | sed "s|^|   artifact: fuzz/artifacts/$t/|"
done
echo "fuzz: $((${#targets[@]} - ${#failed[@]})) passed, ${#failed[@]} failed"
if ((${#failed[@]})); then
  echo "== fuzzing found problems in: ${failed[*]}" >&2
  exit 1
fi
