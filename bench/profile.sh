#!/bin/sh
# Regenerates the profile tables of bench/PROFILE.md: perf profiles of `clipkit bench` for each
# tower and batch size, with the GEMM time split by layer (bench/profile.py explains the method).
#
#   bench/profile.sh                                   # all towers, batch 1 and 32 (about 10 min quiet)
#   CLIPKIT=build/h4/clipkit bench/profile.sh --rows ViT-B-32:image --batches 1 --md /tmp/p.md
#
# CLIPKIT names the binary (default build/release/clipkit); the GEMM tracer (bench/gemm_trace.c)
# is built next to it. Arguments go to bench/profile.py; without --md the tables are written into
# bench/PROFILE.md, and every figure into bench/results/tmp/profile/profile.json. Needs perf
# (Debian: linux-perf) with access to kernel samples (root, or kernel.perf_event_paranoid <= 1),
# Debian's Python with torch (for the models' configurations and FLOPs) and a C compiler.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
clipkit=$(realpath "${CLIPKIT:-$root/build/release/clipkit}")
[ -x "$clipkit" ] || { echo "no clipkit binary at $clipkit (build it, or set CLIPKIT)" >&2; exit 2; }
tracer=$(dirname "$clipkit")/gemm_trace.so
if [ ! -f "$tracer" ] || [ "$root/bench/gemm_trace.c" -nt "$tracer" ]; then
  ${CC:-cc} -O2 -Wall -Wextra -shared -fPIC "$root/bench/gemm_trace.c" -o "$tracer" -ldl -lpthread
fi
mkdir -p "$root/bench/results/tmp/profile"
case " $* " in
  *" --md "*) ;;
  *) set -- --md "$root/bench/PROFILE.md" "$@" ;;
esac
case " $* " in
  *" --json "*) ;;
  *) set -- --json "$root/bench/results/tmp/profile/profile.json" "$@" ;;
esac
exec /usr/bin/python3 "$root/bench/profile.py" --clipkit "$clipkit" --tracer "$tracer" "$@"
