#!/usr/bin/env bash
# Fetch Debian's cloud kernel (it has sctp.ko and boots under qemu without
# KVM in about 3 s) and unpack it for the kernel-SCTP tests:
#   test/kernel/fetch-kernel.sh [DIR]      (default: test/kernel/.kernel)
# DIR then holds boot/vmlinuz-VERSION and lib/modules/VERSION. Safe to run
# again: it does nothing once DIR has a kernel. Needs apt-get and dpkg-deb
# (Debian); the package comes through apt like any other.
set -euo pipefail
dir=${1:-$(cd "$(dirname "$0")" && pwd)/.kernel}
if compgen -G "$dir/boot/vmlinuz-*" >/dev/null && compgen -G "$dir/lib/modules/*/kernel/net/sctp/sctp.ko" >/dev/null; then
	echo "fetch-kernel: $(basename "$dir"/boot/vmlinuz-*) already in $dir"
	exit 0
fi
# apt lists may be missing on a fresh machine
ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1 || apt-get update -qq
meta=${SCTPGW_KERNEL_PACKAGE:-linux-image-cloud-amd64}
pkg=$(apt-cache depends "$meta" | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
[ -n "$pkg" ] || { echo "fetch-kernel: cannot resolve $meta (apt-get update?)" >&2; exit 1; }
# apt's download user (_apt) cannot write into root-owned directories.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 777 "$tmp"
(cd "$tmp" && apt-get download -qq "$pkg")
rm -rf "$dir.new"
mkdir -p "$dir.new"
dpkg-deb -x "$tmp"/*.deb "$dir.new"
rm -rf "$dir"
mv "$dir.new" "$dir"
echo "$pkg" >"$dir/package"
echo "fetch-kernel: $pkg unpacked in $dir"
