#!/usr/bin/env bash
# Copies what controller-gen generates into the Helm chart, so the chart
# cannot drift from the markers in api/ and internal/:
#   config/crd/bases/*.yaml  -> charts/maas-gateway/crds/ (Helm installs these
#                               before anything else and never deletes them)
#   config/rbac/role.yaml    -> charts/maas-gateway/files/manager-role.yaml
#                               (the manager ClusterRole's rules are read from it)
# `make manifests` runs this after controller-gen; test/chart fails when the
# copies are stale. The webhook configurations are templated by hand (they
# carry chart values) and test/chart compares them with config/webhook.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
chart="$root/charts/maas-gateway"

rm -f "$chart"/crds/*.yaml
cp "$root"/config/crd/bases/*.yaml "$chart/crds/"
cp "$root/config/rbac/role.yaml" "$chart/files/manager-role.yaml"
