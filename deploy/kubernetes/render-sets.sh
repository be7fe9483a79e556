#!/usr/bin/env bash
# Writes deploy/kubernetes/programs.d/ (the ConfigMap's files, see kustomization.yaml) from config/programs.d/ with
# the image's object paths. Run it (`make kubernetes`) after changing a shipped set; a test fails while they differ.
# OUT=dir writes elsewhere.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-deploy/kubernetes/programs.d}
mkdir -p "$out"
rm -f "$out"/*.json
for f in config/programs.d/*.json; do
    bash deploy/image/render-set.sh "$f" >"$out/$(basename "$f")"
done
echo "kubernetes: $(ls "$out" | wc -l) program sets in $out"
