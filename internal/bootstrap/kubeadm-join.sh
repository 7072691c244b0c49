#!/bin/sh
# Joins this machine to its cluster, retrying a bounded number of times.
#
# The operator deploys every machine of a cluster at once, so a joining node
# usually boots before the first control plane answers at the VIP. kubeadm's
# discovery waits for it (timeouts.discovery); a join that fails all the same
# is reset and tried again after a pause. kubeadm reset empties
# /etc/kubernetes, so the files named after the pause (a control-plane node's
# kube-vip manifest) are kept aside, in a private directory beside the
# configuration, and put back before each new attempt. A control plane's
# shared keys are not among them: each attempt downloads them again from the
# cluster's kubeadm-certs Secret.
#
# usage: kubeadm-join.sh CONFIG ATTEMPTS PAUSE_SECONDS [FILE...]
set -u
config=$1 attempts=$2 pause=$3
shift 3

keep=$(mktemp -d "$(dirname "$config")/preserve.XXXXXX") || exit 1
trap 'rm -rf "$keep"' EXIT
for f in "$@"; do
    mkdir -p "$keep$(dirname "$f")" && cp -p "$f" "$keep$f" || exit 1
done

attempt=1
until kubeadm join --config "$config"; do
    if [ "$attempt" -ge "$attempts" ]; then
        echo "kubeadm join failed $attempt times; giving up" >&2
        exit 1
    fi
    echo "kubeadm join failed (attempt $attempt of $attempts); resetting and retrying in ${pause}s" >&2
    kubeadm reset --force
    for f in "$@"; do
        mkdir -p "$(dirname "$f")" && cp -p "$keep$f" "$f" || exit 1
    done
    attempt=$((attempt + 1))
    sleep "$pause"
done
