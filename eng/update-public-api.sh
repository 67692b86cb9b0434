#!/usr/bin/env bash
# Adds every symbol the PublicApiAnalyzers report as undeclared (RS0016) to the project's
# PublicAPI.Unshipped.txt, and drops entries reported as removed (RS0017). Review the diff after.
# Usage: eng/update-public-api.sh src/RemoteSupport.Core
set -euo pipefail
project=${1:?project folder}
log=$(mktemp)
dotnet build "$project" --no-incremental 2>&1 > "$log" || true
unshipped="$project/PublicAPI.Unshipped.txt"
grep -oP "RS0016: Symbol '\K.*(?=' is not part of the declared public API)" "$log" | sed "s/&apos;/'/g" | sort -u >> "$unshipped" || true
grep -oP "RS0017: Symbol '\K.*(?=' is part of the declared API, but)" "$log" | sort -u | while IFS= read -r gone; do
  grep -vxF -- "$gone" "$unshipped" > "$unshipped.tmp" || true
  mv "$unshipped.tmp" "$unshipped"
done
{ head -n1 "$unshipped"; tail -n +2 "$unshipped" | sort -u; } > "$unshipped.tmp" && mv "$unshipped.tmp" "$unshipped"
rm -f "$log"
