#!/usr/bin/env bash
# Builds the kind node image of the e2e tests without any registry, from the
# Go module proxy and Debian's packages only, and prints its name.
#
# kind's own `kind build node-image` pulls etcd, CoreDNS, pause and kindnetd
# and needs a newer containerd than Debian's, so the image is made directly
# (see ../../../shared/reference/kind-offline.md for every obstacle):
#   - Kubernetes v$K8S_VERSION binaries from k8s.io/kubernetes (k8s-binaries.sh),
#     etcd, CoreDNS and crictl from their modules, a static pause program;
#   - component images by `docker import` of those static binaries; kube-proxy
#     gets iptables, conntrack and a legacy/nft mode wrapper;
#   - a debootstrap'd Debian rootfs with kind's base files (taken from the
#     sigs.k8s.io/kind module), Debian's containerd, runc and CNI plugins, a
#     static ptp CNI config (kindnetd is not on the proxy) and an entrypoint
#     that makes the node work without --privileged (node/entrypoint.sh);
#   - the component images imported into the node's containerd and pinned.
#
# The image's tag carries a content key (the versions and the hashes of every
# input), and the image is saved zstd-compressed under $KIND_CACHE, so a warm
# run loads it in seconds and a changed input builds anew.
set -euo pipefail
# shellcheck source=hack/kind/lib.sh
. "$(dirname "$0")/lib.sh"

NODE_IMAGE_REPO=${NODE_IMAGE_REPO:-maas-gateway/kind-node}
# Debian packages of the node (kind's base image list, minus what is not
# needed offline, plus Debian's containerd, runc and CNI plugins).
PACKAGES=systemd,systemd-sysv,dbus,containerd,runc,iptables,nftables,iproute2,conntrack,ethtool,socat,util-linux,mount,kmod,ca-certificates,containernetworking-plugins,procps,libseccomp2,jq,e2fsprogs
# kind's base files come from its module, downloaded when the module cache
# does not hold it yet (a build of the project fetches only its go.mod).
KIND_FILES="$(modsrc "sigs.k8s.io/kind@v$KIND_VERSION")/images/base/files"

NODE_KEY=$(key "k8s=$K8S_VERSION" "etcd=$ETCD_VERSION" "coredns=$COREDNS_VERSION" "crictl=$CRICTL_VERSION" \
	"pause=$PAUSE_VERSION" "kind=$KIND_VERSION" "debian=$DEBIAN_SUITE" "$PACKAGES" "$(go env GOARCH)" \
	"$0" "$KIND_DIR/lib.sh" "$KIND_DIR/k8s-binaries.sh" "$KIND_DIR"/node/*)
IMAGE="$NODE_IMAGE_REPO:v$K8S_VERSION-$NODE_KEY"
ARCHIVE="$KIND_CACHE/node-v$K8S_VERSION-$NODE_KEY.tar.zst"

have_image() { docker image inspect "$IMAGE" >/dev/null 2>&1; }

# ---- static binaries from the module proxy ---------------------------------

# gobin NAME VERSION prints the directory of a cached tool build, building it
# first with the function build_NAME when the cache lacks it.
gobin() {
	local name=$1 version=$2 dir
	# The key names what the build depends on (bump recipe when a build_*
	# function changes), not this whole script.
	dir="$KIND_CACHE/bin/$name-$version-$(key "recipe=1" "$name" "$version" "$(go env GOOS GOARCH)" "$KIND_DIR/node/pause.go")"
	if [ ! -f "$dir/.complete" ]; then
		log "building $name $version from the module proxy"
		rm -rf "$dir"; mkdir -p "$dir"
		"build_$name" "$version" "$dir"
		touch "$dir/.complete"
	fi
	echo "$dir"
}

# gomain MODULE@VERSION DEST MAIN builds a program whose main.go is MAIN in a
# throwaway module requiring MODULE, so that replace directives or a missing
# main package in MODULE do not matter.
gomain() {
	local mod=$1 dest=$2 main=$3 tmp
	tmp=$(mktemp -d)
	(
		cd "$tmp"
		printf '%s\n' "$main" >main.go
		go mod init kindtool >/dev/null 2>&1
		GOFLAGS=-mod=mod go get "$mod" >/dev/null 2>&1
		GOFLAGS=-mod=mod go mod tidy >/dev/null 2>&1
		CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$dest" .
	)
	rm -rf "$tmp"
}

build_etcd() {
	gomain "go.etcd.io/etcd/server/v3@v$1" "$2/etcd" 'package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }'
}

build_coredns() {
	gomain "github.com/coredns/coredns@v$1" "$2/coredns" 'package main

import (
	"github.com/coredns/coredns/coremain"
	_ "github.com/coredns/coredns/core/plugin"
)

func main() { coremain.Run() }'
}

build_crictl() {
	local tmp
	tmp=$(mktemp -d)
	( cd "$tmp" && CGO_ENABLED=0 GOBIN="$2" GOFLAGS=-mod=mod go install -trimpath -ldflags "-s -w" "sigs.k8s.io/cri-tools/cmd/crictl@v$1" ) ||
		gomain "sigs.k8s.io/cri-tools@v$1" "$2/crictl" "$(sed -n '/^package main/,$p' "$(modsrc "sigs.k8s.io/cri-tools@v$1")/cmd/crictl/main.go")"
	rm -rf "$tmp"
}

build_pause() {
	local tmp
	tmp=$(mktemp -d)
	cp "$KIND_DIR/node/pause.go" "$tmp/main.go"
	( cd "$tmp" && go mod init pause >/dev/null 2>&1 && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$2/pause" . )
	rm -rf "$tmp"
}

# ---- the Debian rootfs ------------------------------------------------------

rootfs() {
	local dir tmp
	dir="$KIND_CACHE/rootfs/$DEBIAN_SUITE-$(key "$DEBIAN_SUITE" "$PACKAGES" "$(go env GOARCH)")"
	if [ ! -f "$dir/.complete" ]; then
		command -v debootstrap >/dev/null || {
			log "installing debootstrap"
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
		}
		log "debootstrapping $DEBIAN_SUITE into $dir"
		rm -rf "$dir" "$dir.tmp"; mkdir -p "$(dirname "$dir")"
		debootstrap --variant=minbase --include="$PACKAGES" "$DEBIAN_SUITE" "$dir.tmp" ${DEBIAN_MIRROR:+"$DEBIAN_MIRROR"} >&2
		rm -rf "$dir.tmp"/var/cache/apt/archives/*.deb "$dir.tmp"/var/lib/apt/lists/*
		mv "$dir.tmp" "$dir"
		touch "$dir/.complete"
	fi
	echo "$dir"
}

# ---- images -----------------------------------------------------------------

# import_image NAME DIR [CHANGE...] makes image NAME from the files in DIR.
import_image() {
	local name=$1 dir=$2; shift 2
	local changes=() c
	for c in "$@"; do changes+=(-c "$c"); done
	tar -C "$dir" --numeric-owner -cf - . | docker import "${changes[@]}" - "$name" >/dev/null
}

# copy_with_libs ROOTFS DEST FILE... copies FILEs (absolute paths inside
# ROOTFS) and every shared library they load into DEST.
copy_with_libs() {
	local root=$1 dest=$2; shift 2
	local f lib
	for f in "$@"; do
		mkdir -p "$dest$(dirname "$f")"
		cp -a "$root$f" "$dest$f"
		chroot "$root" ldd "$f" 2>/dev/null | grep -oE '/[^ ]+' | while read -r lib; do
			mkdir -p "$dest$(dirname "$lib")"
			[ -e "$dest$lib" ] || cp -L "$root$lib" "$dest$lib"
		done
	done
}

component_images() {
	local k8s=$1 root=$2 work=$3 b d
	local path='ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin'
	for b in kube-apiserver kube-controller-manager kube-scheduler; do
		d="$work/img-$b"; mkdir -p "$d/usr/local/bin" "$d/tmp"
		cp "$k8s/$b" "$d/usr/local/bin/"
		import_image "registry.k8s.io/$b:v$K8S_VERSION" "$d" "$path"
	done
	d="$work/img-etcd"; mkdir -p "$d/usr/local/bin" "$d/tmp" "$d/var/lib/etcd"
	cp "$(gobin etcd "$ETCD_VERSION")/etcd" "$d/usr/local/bin/"
	import_image "registry.k8s.io/etcd:$ETCD_VERSION-0" "$d" "$path"
	d="$work/img-coredns"; mkdir -p "$d/etc/ssl/certs" "$d/tmp"
	cp "$(gobin coredns "$COREDNS_VERSION")/coredns" "$d/coredns"
	cp "$root/etc/ssl/certs/ca-certificates.crt" "$d/etc/ssl/certs/"
	import_image "registry.k8s.io/coredns/coredns:v$COREDNS_VERSION" "$d" "$path" 'ENTRYPOINT ["/coredns"]' 'EXPOSE 53 53/udp'
	d="$work/img-pause"; mkdir -p "$d"
	cp "$(gobin pause "$PAUSE_VERSION")/pause" "$d/pause"
	import_image "registry.k8s.io/pause:$PAUSE_VERSION" "$d" 'ENTRYPOINT ["/pause"]' 'USER 65535:65535'

	# kube-proxy: iptables in both modes, conntrack, a shell for the mode
	# wrapper, and the extensions iptables loads at run time.
	d="$work/img-kube-proxy"
	mkdir -p "$d/usr/local/bin" "$d/usr/sbin" "$d/usr/bin" "$d/usr/lib" "$d/usr/lib64" "$d/tmp" "$d/run" "$d/etc"
	# Debian's /lib, /bin, /sbin are links into /usr.
	for b in lib lib64 bin sbin; do
		if [ -L "$root/$b" ]; then cp -a "$root/$b" "$d/"; fi
	done
	local files=(/bin/sh /usr/bin/dash /usr/bin/ln /usr/sbin/xtables-legacy-multi /usr/sbin/xtables-nft-multi /usr/sbin/conntrack)
	local ext
	for ext in "$root"/usr/lib/*-linux-gnu/xtables/*.so; do files+=("${ext#"$root"}"); done
	copy_with_libs "$root" "$d" "${files[@]}"
	mkdir -p "$d/lib/modules"
	cp "$KIND_DIR/node/iptables-wrapper.sh" "$d/usr/sbin/iptables-wrapper"
	chmod 0755 "$d/usr/sbin/iptables-wrapper"
	for b in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
		ln -sf iptables-wrapper "$d/usr/sbin/$b"
	done
	for b in legacy nft; do
		for n in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
			ln -sf "xtables-$b-multi" "$d/usr/sbin/${n%%-*}-$b${n#"${n%%-*}"}"
		done
	done
	cp "$root/etc/ethertypes" "$d/etc/" 2>/dev/null || true
	cp "$root/etc/protocols" "$root/etc/services" "$d/etc/" 2>/dev/null || true
	cp "$k8s/kube-proxy" "$d/usr/local/bin/"
	import_image "registry.k8s.io/kube-proxy:v$K8S_VERSION" "$d" "$path"
}

COMPONENT_IMAGES="registry.k8s.io/kube-apiserver:v$K8S_VERSION registry.k8s.io/kube-controller-manager:v$K8S_VERSION registry.k8s.io/kube-scheduler:v$K8S_VERSION registry.k8s.io/kube-proxy:v$K8S_VERSION registry.k8s.io/etcd:$ETCD_VERSION-0 registry.k8s.io/coredns/coredns:v$COREDNS_VERSION registry.k8s.io/pause:$PAUSE_VERSION"

# node_rootfs ROOT K8S DEST makes the node's file system in DEST.
node_rootfs() {
	local root=$1 k8s=$2 n=$3 f
	cp -a "$root/." "$n/"
	rm -f "$n/.complete"
	# kind's base image files, with the modes its Dockerfile gives them.
	install -m 0755 "$KIND_FILES"/usr/local/bin/* "$n/usr/local/bin/"
	mkdir -p "$n/kind/bin" "$n/etc/containerd" "$n/etc/default" "$n/etc/sysctl.d" "$n/etc/systemd/system/kubelet.service.d"
	install -m 0644 "$KIND_FILES/kind/README.txt" "$n/kind/"
	install -m 0755 "$KIND_FILES"/kind/bin/* "$n/kind/bin/"
	install -m 0644 "$KIND_FILES/etc/crictl.yaml" "$n/etc/"
	install -m 0644 "$KIND_FILES"/etc/containerd/* "$n/etc/containerd/"
	install -m 0644 "$KIND_FILES"/etc/default/* "$n/etc/default/"
	install -m 0644 "$KIND_FILES"/etc/sysctl.d/* "$n/etc/sysctl.d/"
	for f in "$KIND_FILES"/etc/systemd/system/*; do
		if [ -f "$f" ]; then install -m 0644 "$f" "$n/etc/systemd/system/"; fi
	done
	install -m 0644 "$KIND_FILES"/etc/systemd/system/kubelet.service.d/* "$n/etc/systemd/system/kubelet.service.d/"
	# kind's systemd trimming (images/base/Dockerfile).
	find "$n/lib/systemd/system/sysinit.target.wants/" -name systemd-tmpfiles-setup.service -delete
	rm -f "$n"/lib/systemd/system/multi-user.target.wants/* "$n"/etc/systemd/system/*.wants/* \
		"$n"/lib/systemd/system/local-fs.target.wants/* "$n"/lib/systemd/system/sockets.target.wants/*udev* \
		"$n"/lib/systemd/system/sockets.target.wants/*initctl* "$n"/lib/systemd/system/basic.target.wants/*
	echo "ReadKMsg=no" >>"$n/etc/systemd/journald.conf"
	ln -sf /usr/lib/systemd/systemd "$n/sbin/init"
	chroot "$n" systemctl enable kubelet.service containerd.service undo-mount-hacks.service >/dev/null 2>&1
	chroot "$n" systemctl mask systemd-binfmt.service >/dev/null 2>&1
	# Debian's sysctl defaults would be written to the host's /proc/sys by
	# systemd-sysctl (kernel.sysrq, fs.protected_*, kernel.pid_max ...);
	# kind's own files only touch the node's network namespace.
	rm -f "$n"/usr/lib/sysctl.d/*.conf "$n"/etc/sysctl.d/99-sysctl.conf
	mkdir -p "$n/etc/kubernetes/manifests"
	# Debian's containerd, runc and CNI plugins where kind's files expect them.
	for f in containerd ctr containerd-shim-runc-v2; do ln -sf "/usr/bin/$f" "$n/usr/local/bin/$f"; done
	mkdir -p "$n/opt/cni/bin" "$n/etc/cni/net.d"
	for f in "$n"/usr/lib/cni/*; do ln -sf "/usr/lib/cni/${f##*/}" "$n/opt/cni/bin/${f##*/}"; done
	chroot "$n" ctr oci spec |
		jq '.hooks.createContainer[.hooks.createContainer| length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' |
		jq 'del(.process.rlimits)' >"$n/etc/containerd/cri-base.json"
	# runc cannot set oom_score_adj below containerd's own without
	# CAP_SYS_RESOURCE (kind's setting for rootless nodes); the sandbox
	# image is the pause kubeadm v1.34 names.
	sed -i -e 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' \
		-e "s#sandbox_image = \"registry.k8s.io/pause:[^\"]*\"#sandbox_image = \"registry.k8s.io/pause:$PAUSE_VERSION\"#" \
		"$n/etc/containerd/config.toml"
	grep -q 'restrict_oom_score_adj = true' "$n/etc/containerd/config.toml" || die "containerd config: restrict_oom_score_adj not set"
	install -m 0644 "$KIND_DIR/node/10-ptp.conflist" "$n/etc/cni/net.d/"
	install -m 0755 "$KIND_DIR/node/entrypoint.sh" "$n/usr/local/bin/maas-gateway-entrypoint"
	install -m 0755 "$(gobin crictl "$CRICTL_VERSION")/crictl" "$n/usr/local/bin/"
	for f in kubeadm kubelet kubectl; do install -m 0755 "$k8s/$f" "$n/usr/bin/"; done
	printf 'v%s' "$K8S_VERSION" >"$n/kind/version"
	: >"$n/etc/machine-id"
}

build() {
	have_image && return 0
	if [ -f "$ARCHIVE" ]; then
		log "loading $IMAGE from $ARCHIVE"
		zstd -dc "$ARCHIVE" | docker load >/dev/null
		have_image && return 0
		log "$ARCHIVE did not hold $IMAGE; building"
	fi
	local k8s root work base ctr
	root=$(rootfs)
	gobin etcd "$ETCD_VERSION" >/dev/null
	gobin coredns "$COREDNS_VERSION" >/dev/null
	gobin crictl "$CRICTL_VERSION" >/dev/null
	gobin pause "$PAUSE_VERSION" >/dev/null
	k8s=$("$KIND_DIR/k8s-binaries.sh")
	work=$(mktemp -d)
	base="maas-gateway/kind-node-build:$NODE_KEY"
	ctr="maas-gateway-kind-build-$NODE_KEY"
	# shellcheck disable=SC2064,SC2086
	trap "rm -rf '$work'; docker rm -f '$ctr' >/dev/null 2>&1 || true; docker rmi -f '$base' '$base-containerd' $COMPONENT_IMAGES >/dev/null 2>&1 || true" EXIT

	log "component images"
	component_images "$k8s" "$root" "$work"
	log "node file system"
	mkdir -p "$work/node"
	node_rootfs "$root" "$k8s" "$work/node"
	import_image "$base" "$work/node" 'ENV container=docker'
	rm -rf "$work/node"

	# Import the component images into the node's containerd: containerd
	# runs in a plain container of the new image just long enough for it.
	log "importing the component images into the node's containerd"
	docker rm -f "$ctr" >/dev/null 2>&1 || true
	docker run -d --name "$ctr" --tmpfs /run --entrypoint sleep "$base" infinity >/dev/null
	docker exec -d "$ctr" sh -c 'exec containerd >/run/containerd.log 2>&1'
	local i
	for i in $(seq 1 100); do docker exec "$ctr" ctr version >/dev/null 2>&1 && break; sleep 0.2; done
	# shellcheck disable=SC2086
	docker save $COMPONENT_IMAGES | docker exec -i "$ctr" ctr -n k8s.io images import --no-unpack - >/dev/null
	for i in $COMPONENT_IMAGES; do
		docker exec "$ctr" ctr -n k8s.io images label "$i" io.cri-containerd.pinned=pinned >/dev/null
	done
	docker exec "$ctr" ctr -n k8s.io images ls -q | sort >"$work/imported"
	for i in $COMPONENT_IMAGES; do grep -qxF "$i" "$work/imported" || die "$i missing from the node's containerd"; done
	docker exec "$ctr" sh -c 'kill $(pidof containerd); while pidof containerd >/dev/null; do sleep 0.1; done; rm -f /run/containerd.log'
	docker stop -t 1 "$ctr" >/dev/null
	docker commit \
		-c 'ENTRYPOINT ["/usr/local/bin/maas-gateway-entrypoint", "/sbin/init"]' \
		-c 'CMD []' -c 'ENV container=docker' \
		"$ctr" "$base-containerd" >/dev/null
	docker rm -f "$ctr" >/dev/null
	# docker import and commit cannot set STOPSIGNAL; systemd stops on
	# SIGRTMIN+3 (SIGTERM makes it re-execute itself).
	printf 'FROM %s\nSTOPSIGNAL SIGRTMIN+3\n' "$base-containerd" >"$work/Dockerfile"
	DOCKER_BUILDKIT=0 docker build -q -t "$IMAGE" "$work" >/dev/null 2>"$work/build.err" ||
		{ cat "$work/build.err" >&2; die "docker build of the STOPSIGNAL layer failed"; }
	docker rmi "$base-containerd" >/dev/null
	log "saving $IMAGE to $ARCHIVE"
	docker save "$IMAGE" | zstd -q -T0 -3 >"$ARCHIVE.tmp"
	mv "$ARCHIVE.tmp" "$ARCHIVE"
	# older archives of this Kubernetes version are stale by definition
	find "$KIND_CACHE" -maxdepth 1 -name "node-v$K8S_VERSION-*.tar.zst" ! -name "${ARCHIVE##*/}" -delete
}

if ! have_image; then
	locked node build
fi
have_image || die "no $IMAGE after the build"
echo "$IMAGE"
