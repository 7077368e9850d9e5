#!/usr/bin/env bash
# A static check of deploy/Containerfile, which cannot be built here (no container engine, no
# image registry): every path it copies exists, every Debian package it installs exists in
# this machine's Debian, and the runtime stage's packages provide every shared library the
# trpo binary loads (the Swift runtime excepted: the release build links it statically).
#
#   containerfile.sh TRPO_BINARY
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
trpo=$(realpath "$1")
containerfile=$repo/deploy/Containerfile
fail() { echo "FAIL: $*" >&2; exit 1; }

# The build context's paths: COPY lines without --from.
while read -r source; do
    [[ -e $repo/$source ]] || fail "COPY $source: no such path in the repository"
done < <(awk '$1 == "COPY" && $2 !~ /^--from/ { print $2 }' "$containerfile")
echo "ok: the copied paths exist"

# packages STAGE: the packages the apt-get install of stage STAGE (1 = build, 2 = runtime) names.
packages() {
    awk -v stage="$1" '/^FROM /{n++} n == stage' "$containerfile" | tr -d '\\' | tr '\n' ' ' |
        grep -o 'apt-get install [^&]*' | tr ' ' '\n' | grep -v -e '^-' -e '^apt-get$' -e '^install$' -e '^$'
}
build_packages=$(packages 1) runtime_packages=$(packages 2)
for package in $build_packages $runtime_packages; do
    apt-cache show "$package" >/dev/null 2>&1 || fail "no Debian package $package (apt-get update first?)"
done
echo "ok: Debian packages exist: $(echo $build_packages) | $(echo $runtime_packages)"

# The runtime stage's packages and everything they depend on, plus what every Debian image has.
closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
    --no-enhances $runtime_packages 2>/dev/null | grep -v '^ ' | sed 's/:.*//' | sort -u)
closure+=$'\n'"libc6"
for library in $(readelf -d "$trpo" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    case $library in libswift* | libFoundation* | lib_Foundation* | libdispatch* | libBlocksRuntime*) continue ;; esac
    # awk reads to the end (no early exit): under pipefail a closed pipe would fail ldconfig.
    path=$(ldconfig -p | awk -v lib="$library" '!found && $1 == lib && /x86-64|x86_64/ { print $NF; found = 1 }')
    [[ -n $path ]] || fail "$library: not found by ldconfig on this machine"
    # dpkg knows a file by the path its package ships, /lib or /usr/lib (Debian 12 merges the two).
    real=$(realpath "$path")
    package=$( (dpkg -S "$real" || dpkg -S "${real#/usr}" || dpkg -S "$path") 2>/dev/null | sed -n 1p | cut -d: -f1)
    [[ -n $package ]] || fail "$library ($path): no Debian package owns it"
    grep -qxF "$package" <<<"$closure" || fail "$library comes from $package, which the runtime stage does not install"
    echo "ok: $library from $package"
done
echo "PASS: deploy/Containerfile (static check; the image was not built)"
