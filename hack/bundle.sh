#!/usr/bin/env bash
# Regenerates the OLM bundle (bundle/ and bundle.Dockerfile) from the
# kustomize build of config/manifests — the base CSV, config/default and
# config/samples — and validates it with operator-framework/api's bundle,
# OperatorHub and good-practice validators. Deterministic: the same inputs
# give the same bytes, so `git status bundle` shows real changes only.
#
# Environment: VERSION (default: the VERSION file), IMAGE_PREFIX (default
# maas-gateway), REPLACES (the previous release, empty for the first),
# CHANNEL (default candidate).
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=${VERSION:-$(cat VERSION)}
exec go run ./hack/bundlegen -version "$VERSION" \
	-image-prefix "${IMAGE_PREFIX:-maas-gateway}" \
	-replaces "${REPLACES:-}" \
	-channel "${CHANNEL:-candidate}" "$@"
