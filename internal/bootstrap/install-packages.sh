#!/bin/sh
# Turns a stock Ubuntu machine into one kubeadm can run on, as the kubeadm
# install guide does, then runs the command given after "--" (kubeadm init or
# the join script).
#
# cloud-init runs each runcmd entry whatever the one before returned, so the
# kubeadm command is chained here rather than listed after this script: a
# failed step stops everything, and a half-installed machine never tries to
# join. The apt source, its key (when the operator was given one), the module
# and sysctl settings and apt's proxy were written by the user data before.
#
# usage: install-packages.sh VERSION CONTAINERD_PACKAGE KEY_URL -- COMMAND...
#   VERSION      the Kubernetes release without its v, e.g. 1.34.2
#   KEY_URL      where to fetch the repository's signing key over HTTPS;
#                empty when the user data wrote the key
set -eu
if [ "$#" -lt 5 ] || [ "$4" != "--" ]; then
    echo "usage: $0 VERSION CONTAINERD_PACKAGE KEY_URL -- COMMAND..." >&2
    exit 2
fi

# cloud-init does not run this in a login environment: take the proxy from
# /etc/environment (where the user data put it), so that curl uses it and
# both curl and apt honour NO_PROXY. Read first, so that it cannot change the
# variables below. INSTALL_PACKAGES_ROOT is unset on a node; the tests run
# the script in a directory of their own.
if [ -r "${INSTALL_PACKAGES_ROOT:-}/etc/environment" ]; then
    set -a
    . "${INSTALL_PACKAGES_ROOT:-}/etc/environment"
    set +a
fi

version=$1 containerd_package=$2 key_url=$3
shift 4
root=${INSTALL_PACKAGES_ROOT:-}
keyring=$root/etc/apt/keyrings/kubernetes-apt-keyring.asc
containerd_config=$root/etc/containerd/config.toml

# The kubelet refuses to start with swap on.
swapoff -a
sed -i '/^[^#].*[[:space:]]swap[[:space:]]/s/^/#/' "$root/etc/fstab"

# Persisted in /etc/modules-load.d and /etc/sysctl.d; applied now.
modprobe overlay
modprobe br_netfilter
sysctl --system >/dev/null

if [ -n "$key_url" ]; then
    mkdir -p "$(dirname "$keyring")"
    curl --fail --silent --show-error --location --retry 5 \
        --proto '=https' --proto-redir '=https' \
        --output "$keyring.tmp" "$key_url"
    if ! grep -q '^-----BEGIN PGP PUBLIC KEY BLOCK-----' "$keyring.tmp"; then
        echo "$key_url is not an armoured OpenPGP public key" >&2
        exit 1
    fi
    mv "$keyring.tmp" "$keyring"
fi

# A first boot often finds apt's daily jobs holding the dpkg lock: wait for
# them rather than fail.
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update
apt-get -o DPkg::Lock::Timeout=600 install -y "$containerd_package" \
    "kubelet=$version-*" "kubeadm=$version-*" "kubectl=$version-*"
apt-mark hold kubelet kubeadm kubectl

# The kubelet kubeadm configures uses the systemd cgroup driver; containerd
# must too. sh has no pipefail: the check below catches a failed
# "containerd config default" as well as a sed that found nothing to change.
mkdir -p "$(dirname "$containerd_config")"
containerd config default | sed 's/SystemdCgroup = false/SystemdCgroup = true/' >"$containerd_config.tmp"
if ! grep -q 'SystemdCgroup = true' "$containerd_config.tmp"; then
    echo "could not set SystemdCgroup = true in containerd's default configuration" >&2
    exit 1
fi
mv "$containerd_config.tmp" "$containerd_config"
# daemon-reload also picks up the proxy drop-ins of containerd and the kubelet.
systemctl daemon-reload
systemctl restart containerd
systemctl enable kubelet

exec "$@"
