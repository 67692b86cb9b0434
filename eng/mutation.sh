#!/usr/bin/env bash
# eng/mutation.sh FOLDER [TESTFILTER]   e.g. eng/mutation.sh src/RemoteSupport.Core/Consent
#                                      eng/mutation.sh src/RemoteSupport.Transport/Framing 'FullyQualifiedName~.Framing.'
#
# Mutation testing (docs/testing.md) of one feature folder of a source project with Stryker.NET (the local tool in
# .config/dotnet-tools.json): every mutant of the folder's code is run against that project's test project
# (tests/<Project>.Tests). The JSON report goes to artifacts/mutation/<Project>-<Folder>/.
# Last line: `mutation score: NN.N% (killed K, survived S, timeout T, no coverage C)`, the score being
# (killed + timeout) / (killed + survived + timeout + no coverage).
# TESTFILTER (a `dotnet test --filter` expression) runs only those tests against each mutant: for a folder that every
# test of its project reaches (Transport's framing), the folder's own tests, so a run fits in an hour.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
folder=${1:?usage: eng/mutation.sh src/PROJECT/FOLDER}
folder=${folder%/}
filter=${2:-}
project=$(cut -d/ -f2 <<<"$folder")
feature=${folder#src/$project/}
[ -d "$folder" ] && [ -f "src/$project/$project.csproj" ] || { echo "$folder is not a folder of a project under src/"; exit 2; }
tests="tests/$project.Tests/$project.Tests.csproj"
[ -f "$tests" ] || { echo "no test project $tests"; exit 2; }
out="$root/artifacts/mutation/$project-${feature//\//-}"
rm -rf "$out"
mkdir -p "$root/artifacts/mutation"
dotnet tool restore >/dev/null || { echo "dotnet tool restore failed"; exit 1; }

# Stryker takes a test filter from its configuration file only.
config=()
if [ -n "$filter" ]; then
  printf '{ "stryker-config": { "test-case-filter": "%s" } }\n' "$filter" > "$out.config.json"
  config=(--config-file "$out.config.json")
fi

# Run from the test project's folder, as Stryker expects; the mutate glob is relative to the source project.
(cd "tests/$project.Tests" && dotnet stryker "${config[@]}" --project "$project.csproj" --test-project "$project.Tests.csproj" \
  --mutate "**/$feature/**/*.cs" --reporter json --reporter progress --concurrency 2 --skip-version-check \
  --output "$out") > "$out.log" 2>&1
rc=$?
report=$(find "$out" -name 'mutation-report.json' 2>/dev/null | head -n 1)
if [ -z "$report" ]; then
  tail -n 30 "$out.log"
  echo "stryker produced no report (exit code $rc; log: $out.log)"
  exit 1
fi

count() { grep -o "\"status\":\"$1\"" "$report" | wc -l; }
killed=$(count Killed) survived=$(count Survived) timeout=$(count Timeout) nocoverage=$(count NoCoverage)
total=$((killed + survived + timeout + nocoverage))
score=$(awk -v k="$killed" -v t="$timeout" -v n="$total" 'BEGIN { if (n == 0) print "0.0"; else printf "%.1f", 100 * (k + t) / n }')
echo "report: $report"
echo "mutation score: $score% (killed $killed, survived $survived, timeout $timeout, no coverage $nocoverage)"
