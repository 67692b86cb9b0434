#!/usr/bin/env bash
# eng/soak.sh [--sessions N] [--seed S] [--fault-rate R] [--folder F]
#
# The soak harness (docs/testing.md): builds simulation/RemoteSupport.Soak in Release and runs N support sessions over
# real TCP against one unit, the console's side of each connection faulted from the seed (drops, delays, truncation,
# bit flips, half-close, stalls, bytes replayed from an earlier connection), with random operations (views, changes,
# approvals granted, refused and timed out, fix pushes, revocations mid-session); then checks the invariants.
# The same seed plans the same sessions and faults. Last line: `soak: N sessions, F faults, V violations, seed S`;
# non-zero on a violation.
set -uo pipefail
cd "$(dirname "$0")/.."
out=artifacts/soak
dotnet build -c Release simulation/RemoteSupport.Soak -o "$out/bin" -nologo -v q >/dev/null || { echo "the soak harness does not build"; exit 1; }
dotnet "$out/bin/RemoteSupport.Soak.dll" "$@"
