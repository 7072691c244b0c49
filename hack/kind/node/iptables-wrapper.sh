#!/bin/sh
# iptables mode wrapper of the kube-proxy image (after
# kubernetes-sigs/iptables-wrappers): on first use, counts the rules each
# backend holds in this network namespace, points every iptables name at the
# backend that has more (nft on ties only when legacy has none), and runs the
# command it was called as. kind's node makes the same choice for itself.
set -eu
count() {
	n=0
	while read -r line; do
		case $line in -*) n=$((n + 1)) ;; esac
	done
	echo "$n"
}
legacy=$({ xtables-legacy-multi iptables-save || true; xtables-legacy-multi ip6tables-save || true; } 2>/dev/null | count)
nft=$({ xtables-nft-multi iptables-save || true; xtables-nft-multi ip6tables-save || true; } 2>/dev/null | count)
if [ "$legacy" -gt "$nft" ]; then mode=legacy; else mode=nft; fi
for name in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
	ln -sf "xtables-$mode-multi" "/usr/sbin/$name"
done
exec "/usr/sbin/${0##*/}" "$@"
