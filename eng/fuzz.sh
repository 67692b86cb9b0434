#!/usr/bin/env bash
# eng/fuzz.sh TARGET|all SECONDS
#
# Coverage-guided fuzzing of the parsers of untrusted bytes (docs/testing.md): builds fuzz/RemoteSupport.Fuzz in
# Release, instruments RemoteSupport.Core and RemoteSupport.Transport in its output with SharpFuzz, and runs each
# target under AFL++ for SECONDS from its seed corpus (fuzz/corpus/TARGET). Installs AFL++ (Debian's afl++) when
# missing and the SharpFuzz tool from .config/dotnet-tools.json. Findings go to artifacts/fuzz/findings/TARGET.
# Last line: `fuzz: N targets, M executions, K crashes, H hangs`; non-zero on a crash or a hang.
set -uo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: eng/fuzz.sh TARGET|all SECONDS}
seconds=${2:?usage: eng/fuzz.sh TARGET|all SECONDS}
out=artifacts/fuzz

if ! command -v afl-fuzz >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  echo "installing AFL++ (Debian package afl++)"
  $sudo apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq afl++ >/dev/null \
    || { echo "could not install afl++"; exit 1; }
fi
dotnet tool restore >/dev/null || { echo "dotnet tool restore failed"; exit 1; }

rm -rf "$out/bin"
dotnet build -c Release fuzz/RemoteSupport.Fuzz -o "$out/bin" -nologo -v q >/dev/null || { echo "the fuzz project does not build"; exit 1; }
for assembly in RemoteSupport.Core.dll RemoteSupport.Transport.dll; do
  dotnet sharpfuzz "$out/bin/$assembly" >/dev/null || { echo "sharpfuzz could not instrument $assembly"; exit 1; }
done

if [ "$target" = all ]; then
  mapfile -t targets < <(dotnet "$out/bin/RemoteSupport.Fuzz.dll" --list)
else
  targets=("$target")
fi

executions=0 crashes=0 hangs=0
for t in "${targets[@]}"; do
  [ -d "fuzz/corpus/$t" ] || { echo "no seed corpus fuzz/corpus/$t"; exit 1; }
  findings="$out/findings/$t"
  rm -rf "$findings"
  mkdir -p "$findings"
  # -t: a hang is an input that runs 5 s; -m none: the .NET runtime reserves far more address space than AFL's default.
  AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1 \
    afl-fuzz -i "fuzz/corpus/$t" -o "$findings" -V "$seconds" -t 5000 -m none -- dotnet "$out/bin/RemoteSupport.Fuzz.dll" "$t" \
    > "$findings/afl.log" 2>&1
  stats="$findings/default/fuzzer_stats"
  if [ ! -f "$stats" ]; then
    echo "$t: afl-fuzz did not start (see $findings/afl.log):"
    tail -n 15 "$findings/afl.log"
    crashes=$((crashes + 1))
    continue
  fi
  e=$(sed -n 's/^execs_done *: *//p' "$stats")
  c=$(sed -n 's/^saved_crashes *: *//p' "$stats")
  h=$(sed -n 's/^saved_hangs *: *//p' "$stats")
  cov=$(sed -n 's/^bitmap_cvg *: *//p' "$stats")
  paths=$(sed -n 's/^corpus_count *: *//p' "$stats")
  echo "$t: ${e:-0} executions, ${c:-0} crashes, ${h:-0} hangs, corpus ${paths:-?}, map coverage ${cov:-?}"
  executions=$((executions + ${e:-0}))
  crashes=$((crashes + ${c:-0}))
  hangs=$((hangs + ${h:-0}))
  shown=0
  for crash in "$findings"/default/crashes/id:* "$findings"/default/hangs/id:*; do
    [ -e "$crash" ] || continue
    [ $shown -lt 3 ] && echo "  $crash (reproduce: dotnet run --project fuzz/RemoteSupport.Fuzz -- --run $t '$crash')"
    shown=$((shown + 1))
  done
done

echo "fuzz: ${#targets[@]} targets, $executions executions, $crashes crashes, $hangs hangs"
[ "$crashes" -eq 0 ] && [ "$hangs" -eq 0 ]
