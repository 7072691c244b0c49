# shellcheck shell=bash
# Shared settings and helpers of the hack/kind scripts (sourced, not run).
#
# Every artifact is cached under $KIND_CACHE in a directory or file whose name
# carries a content key: the versions and the hashes of the inputs that make
# it. A changed input therefore builds anew instead of reusing something that
# merely exists; a stamp written last marks a complete artifact, so an
# interrupted build is redone rather than trusted.

K8S_VERSION=${K8S_VERSION:-1.34.2}
# etcd and CoreDNS at the versions kubeadm v1.34 deploys (its constants).
ETCD_VERSION=${ETCD_VERSION:-3.6.5}
COREDNS_VERSION=${COREDNS_VERSION:-1.12.1}
CRICTL_VERSION=${CRICTL_VERSION:-1.34.0}
PAUSE_VERSION=${PAUSE_VERSION:-3.10.1}
KIND_VERSION=${KIND_VERSION:-0.33.0}
DEBIAN_SUITE=${DEBIAN_SUITE:-bookworm}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-}

KIND_CACHE=${KIND_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/maas-gateway/kind}
KIND_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$KIND_DIR/../.." && pwd)
LOCALBIN=${LOCALBIN:-$REPO_ROOT/bin}

log() { echo "kind: $*" >&2; }
die() { log "$*"; exit 1; }

# key prints a short content key of its arguments: strings and, for
# arguments naming files, the files' contents.
key() {
	local a
	for a in "$@"; do
		if [ -f "$a" ]; then
			printf 'file %s\n' "${a##*/}"
			sha256sum <"$a"
		else
			printf 'str %s\n' "$a"
		fi
	done | sha256sum | cut -c1-16
}

# locked runs "$@" holding an exclusive lock on $KIND_CACHE/.lock-NAME, so
# concurrent runs build an artifact once while the others wait for it.
locked() {
	local name=$1; shift
	mkdir -p "$KIND_CACHE"
	(
		flock 9
		"$@"
	) 9>"$KIND_CACHE/.lock-$name"
}

# modsrc prints the directory of module $1 in the module cache, downloading
# it through the module proxy when needed.
modsrc() {
	local tmp dir
	tmp=$(mktemp -d)
	dir=$(cd "$tmp" && GOFLAGS=-mod=mod go mod download -json "$1" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
	rm -rf "$tmp"
	[ -d "$dir" ] || die "module $1 not found through the module proxy"
	echo "$dir"
}
