#!/usr/bin/env bash
# Checks scripts/lib.sh's libclang detection against real package layouts: the files Debian's
# packages install, unpacked into a scratch root (TANDEM_SYSROOT), with and without the library
# bindgen loads. A stock image has libclang-cpp (through llvm) but not libclang: that must count
# as missing, or the build fails with "Unable to find libclang".
#
#   scripts/tests/libclang-detection.sh    # exits 1 on the first wrong verdict
#
# Part of scripts/test.sh. Uses `apt-get download` (no root needed, nothing installed).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
dry_run=0
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failures=0
checks=0

# expect VERDICT LABEL — runs have_libclang on the current TANDEM_SYSROOT.
expect() {
    local want=$1 label=$2 got=missing
    checks=$((checks + 1))
    if have_libclang; then got=present; fi
    if [[ $got == "$want" ]]; then
        printf 'ok   %-60s %s\n' "$label" "$got"
    else
        printf 'FAIL %-60s %s (expected %s)\n' "$label" "$got" "$want"
        failures=$((failures + 1))
    fi
}

# layout NAME — a fresh empty root.
layout() {
    TANDEM_SYSROOT="$scratch/$1"
    mkdir -p "$TANDEM_SYSROOT"
    export TANDEM_SYSROOT
}

# elf FILE CLASS — a small ELF object (class 2: 64-bit, 1: 32-bit).
elf() {
    mkdir -p "$(dirname "$1")"
    if [[ $2 == 2 ]]; then cp /bin/true "$1"; else printf '\x7fELF\x01\x01\x01\x00' >"$1"; fi
}

unset LIBCLANG_PATH

# --- synthetic layouts with the file names of Debian's LLVM 14 packages ----------------
layout stock
elf "$TANDEM_SYSROOT/usr/lib/llvm-14/lib/libclang-cpp.so.14" 2
ln -s ../llvm-14/lib/libclang-cpp.so.14 "$TANDEM_SYSROOT/usr/lib/x86_64-linux-gnu/libclang-cpp.so.14" 2>/dev/null ||
    { mkdir -p "$TANDEM_SYSROOT/usr/lib/x86_64-linux-gnu" &&
        ln -s ../llvm-14/lib/libclang-cpp.so.14 "$TANDEM_SYSROOT/usr/lib/x86_64-linux-gnu/libclang-cpp.so.14"; }
elf "$TANDEM_SYSROOT/usr/lib/x86_64-linux-gnu/libLLVM-14.so.1" 2
expect missing "stock: libclang-cpp14 and libllvm14 only"

layout runtime-only
elf "$TANDEM_SYSROOT/usr/lib/x86_64-linux-gnu/libclang-14.so.14.0.6" 2
ln -s libclang-14.so.14.0.6 "$TANDEM_SYSROOT/usr/lib/x86_64-linux-gnu/libclang-14.so.1"
expect missing "libclang1-14 without clang's builtin headers"

layout full
elf "$TANDEM_SYSROOT/usr/lib/x86_64-linux-gnu/libclang-14.so.14.0.6" 2
ln -s libclang-14.so.14.0.6 "$TANDEM_SYSROOT/usr/lib/x86_64-linux-gnu/libclang-14.so.1"
mkdir -p "$TANDEM_SYSROOT/usr/lib/llvm-14/lib/clang/14.0.6/include"
touch "$TANDEM_SYSROOT/usr/lib/llvm-14/lib/clang/14.0.6/include/stddef.h"
expect present "libclang1-14 with libclang-common-14-dev"

layout headers-only
mkdir -p "$TANDEM_SYSROOT/usr/lib/llvm-14/lib/clang/14.0.6/include"
touch "$TANDEM_SYSROOT/usr/lib/llvm-14/lib/clang/14.0.6/include/stddef.h"
elf "$TANDEM_SYSROOT/usr/lib/llvm-14/lib/libclang-cpp.so.14" 2
expect missing "builtin headers and libclang-cpp, no libclang"

layout wrong-class
elf "$TANDEM_SYSROOT/usr/lib/i386-linux-gnu/libclang-14.so.1" 1
mkdir -p "$TANDEM_SYSROOT/usr/lib/llvm-14/lib/clang/14.0.6/include"
touch "$TANDEM_SYSROOT/usr/lib/llvm-14/lib/clang/14.0.6/include/stddef.h"
expect missing "only a 32-bit libclang"

layout local-llvm
elf "$TANDEM_SYSROOT/usr/local/llvm18/lib/libclang.so" 2
mkdir -p "$TANDEM_SYSROOT/usr/local/llvm18/lib/clang/18/include"
touch "$TANDEM_SYSROOT/usr/local/llvm18/lib/clang/18/include/stddef.h"
expect present "LLVM built into /usr/local/llvm18"

layout explicit-path
elf "$scratch/own-llvm/lib/libclang.so.18" 2
mkdir -p "$scratch/own-llvm/lib/clang/18/include"
touch "$scratch/own-llvm/lib/clang/18/include/stddef.h"
LIBCLANG_PATH="$scratch/own-llvm/lib" expect present "LIBCLANG_PATH pointing at an LLVM of one's own"
LIBCLANG_PATH="$scratch/nowhere" expect missing "LIBCLANG_PATH pointing at nothing"

# --- the real packages, unpacked ----------------------------------------------------------
if command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null; then
    debs="$scratch/debs"
    mkdir -p "$debs"
    if ! (cd "$debs" && apt-get download libclang-dev >/dev/null 2>&1); then
        # A machine whose package lists were never fetched (or were cleaned) knows no packages.
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update >/dev/null 2>&1 || true
        (cd "$debs" && apt-get download libclang-dev >/dev/null 2>&1) ||
            { echo "FAIL apt-get download libclang-dev (even after apt-get update)"; exit 1; }
    fi
    major=$(dpkg-deb -f "$debs"/libclang-dev_*.deb Depends | grep -o 'libclang-[0-9]*-dev' | head -n 1 | tr -dc 0-9)
    [[ -n $major ]] || { echo "FAIL cannot tell which LLVM libclang-dev depends on"; exit 1; }
    (cd "$debs" && apt-get download "libclang-cpp$major" "libllvm$major" "libclang1-$major" \
        "libclang-common-$major-dev" "libclang-$major-dev" >/dev/null 2>&1) ||
        { echo "FAIL apt-get download of LLVM $major's packages"; exit 1; }
    unpack() { local pkg; for pkg in "$@"; do dpkg-deb -x "$debs/${pkg}"_*.deb "$TANDEM_SYSROOT"; done; }

    layout real-stock
    unpack "libllvm$major" "libclang-cpp$major"
    expect missing "Debian: libllvm$major + libclang-cpp$major (a stock image)"

    layout real-runtime
    unpack "libllvm$major" "libclang-cpp$major" "libclang1-$major"
    expect missing "Debian: + libclang1-$major (no headers)"

    layout real-dev
    unpack "libllvm$major" "libclang-cpp$major" "libclang1-$major" "libclang-common-$major-dev" "libclang-$major-dev"
    expect present "Debian: + libclang-dev's packages"
    found=$(libclang_path)
    [[ ${found##*/} == libclang* && ${found##*/} != *-cpp* ]] ||
        { echo "FAIL picked $found"; failures=$((failures + 1)); }
fi

# --- this machine, as it is ----------------------------------------------------------------
unset TANDEM_SYSROOT
if have_libclang; then
    echo "this machine: libclang present ($(libclang_path))"
else
    echo "this machine: libclang missing (scripts/test.sh would install libclang-dev)"
fi

echo "$((checks - failures)) passed, $failures failed"
[[ $failures -eq 0 ]]
