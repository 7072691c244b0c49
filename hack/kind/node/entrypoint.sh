#!/bin/bash
# Runs before kind's own entrypoint (/usr/local/bin/entrypoint) in the kind
# node of maas-gateway's e2e tests, and makes the node work where
# `docker run --privileged` is refused and hack/kind/docker/docker runs it
# with --cap-add ALL instead. Every step is a no-op where the node already
# has what it needs, so on a machine where --privileged works this changes
# nothing but the sysctl guard, which protects every machine.
set -euo pipefail

say() { echo "maas-gateway-entrypoint: $*" >&2; }

# Without --privileged, Docker mounts /sys, the cgroup tmpfs and each cgroup
# v1 hierarchy read-only; containerd and kubelet must create cgroups there.
# (kind's entrypoint then remounts /sys itself read-only again, as systemd
# in a container expects; the cgroup mounts stay writable.)
rw_sys() {
	if findmnt -n -o OPTIONS /sys | grep -qE '(^|,)ro(,|$)'; then
		say "remounting /sys read-write"
		mount -o remount,rw /sys
	fi
	[ -f /sys/fs/cgroup/cgroup.controllers ] && return 0 # cgroup v2: nothing more
	if findmnt -n -o OPTIONS /sys/fs/cgroup | grep -qE '(^|,)ro(,|$)'; then
		mount -o remount,rw /sys/fs/cgroup
	fi
	local target vfs fs opts o
	findmnt -lun -t cgroup -o TARGET,VFS-OPTIONS,FS-OPTIONS | while read -r target vfs fs; do
		case ",$vfs," in *,ro,*) ;; *) continue ;; esac
		# The hierarchy's own options (its controllers, name=systemd,
		# xattr) are what a fresh mount needs; rw/ro are not among them.
		opts=rw
		for o in ${fs//,/ }; do
			case $o in rw | ro) ;; *) opts="$opts,$o" ;; esac
		done
		say "re-mounting cgroup $target read-write ($opts)"
		umount "$target"
		mount -t cgroup -o "$opts" cgroup "$target"
	done
}

# kubelet's OOM watcher reads /dev/kmsg, which only --privileged provides.
kmsg() {
	if [ ! -e /dev/kmsg ]; then
		say "creating /dev/kmsg"
		mknod -m 640 /dev/kmsg c 1 11 || say "cannot create /dev/kmsg"
	fi
}

# /proc/sys is the host's for everything not namespaced. kubelet sets these
# (pkg/kubelet/cm: setupKernelTunables) when they differ from what it wants;
# read-only files holding exactly its values, bound over them, make it find
# nothing to change, so the host's values stay as they are.
guard_sysctls() {
	local dir=/kind/sysctl-guard entry value path
	mkdir -p "$dir"
	for entry in vm/overcommit_memory=1 vm/panic_on_oom=0 kernel/panic=10 kernel/panic_on_oops=1 \
		kernel/keys/root_maxkeys=1000000 kernel/keys/root_maxbytes=25000000; do
		path=/proc/sys/${entry%%=*}
		value=${entry#*=}
		[ -e "$path" ] || continue
		findmnt -n "$path" >/dev/null && continue # already guarded
		mkdir -p "$(dirname "$dir/${entry%%=*}")"
		echo "$value" >"$dir/${entry%%=*}"
		mount --bind "$dir/${entry%%=*}" "$path"
		mount -o remount,bind,ro "$path"
	done
}

rw_sys
kmsg
guard_sysctls
# kind picks the fuse-overlayfs snapshotter when the node's root is on
# fuse-overlayfs (Docker's storage driver here); /var is a Docker volume on
# the host's file system, where plain overlayfs works.
if [ -z "${KIND_EXPERIMENTAL_CONTAINERD_SNAPSHOTTER:-}" ] && [ "$(stat -f -c %T /)" = fuseblk ]; then
	export KIND_EXPERIMENTAL_CONTAINERD_SNAPSHOTTER=overlayfs
fi
exec /usr/local/bin/entrypoint "$@"
