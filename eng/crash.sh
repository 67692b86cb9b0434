#!/usr/bin/env bash
# eng/crash.sh [--iterations N] [--seed S] [--scenario journal|data-file|install] [--folder F]
#
# The crash harness (docs/testing.md): builds simulation/RemoteSupport.CrashHarness in Release and runs N workers in
# child processes, the scenarios in turn (journal appends, data file changes, fix installs), each killed with SIGKILL at
# a moment drawn from the seed; after each kill it reopens what the worker left and checks that every acknowledged
# piece of work is there, nothing is torn, and installs are before or after, never between. The same seed draws the
# same kill moments (where the kill lands in the work still depends on the machine's speed).
# Last line: `crash: N iterations, K kills, V violations, seed S`; non-zero on a violation.
set -uo pipefail
cd "$(dirname "$0")/.."
out=artifacts/crash
dotnet build -c Release simulation/RemoteSupport.CrashHarness -o "$out/bin" -nologo -v q >/dev/null || { echo "the crash harness does not build"; exit 1; }
dotnet "$out/bin/RemoteSupport.CrashHarness.dll" run "$@"
