#!/usr/bin/env bash
# Shared by scripts/test.sh and scripts/demo.sh: finding and installing what tandem needs
# (PostgreSQL binaries, libclang for pg_query, a C compiler) on Debian, as root or with sudo.
# Callers set `dry_run` (0 or 1) before sourcing.

dry_run=${dry_run:-0}

say() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'test.sh: error: %s\n' "$*" >&2; exit 1; }

# Runs a command as root: directly when root, with sudo otherwise (non-
# interactive without a terminal, so CI fails fast instead of hanging).
as_root() {
    if [[ $dry_run -eq 1 ]]; then
        printf '[dry-run] would run as root: %s\n' "$*" >&2
    elif [[ $EUID -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null; then
        if [[ -t 0 ]]; then sudo "$@"; else sudo -n "$@"; fi
    else
        die "not root and sudo is missing: run as root: $*"
    fi
}

apt_updated=0
# apt_install PACKAGE... — installs Debian packages, or explains what to do.
apt_install() {
    say "installing missing packages: $*"
    if ! command -v apt-get >/dev/null; then
        die "apt-get not found: install $* with your package manager, then re-run"
    fi
    if [[ $EUID -ne 0 ]] && ! command -v sudo >/dev/null && [[ $dry_run -eq 0 ]]; then
        die "not root and sudo is missing: as root, run: apt-get update && apt-get install -y $*"
    fi
    if [[ $apt_updated -eq 0 ]]; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update ||
            die "apt-get update failed; install $* yourself, then re-run"
        apt_updated=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" ||
        die "apt-get install $* failed; install it yourself, then re-run"
}

# The highest /usr/lib/postgresql/<major>/bin that has initdb, or nothing.
debian_pg_bin() {
    local initdb
    initdb=$(compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -n 1 || true)
    [[ -n $initdb ]] && dirname "$initdb"
    return 0
}

# What pg_query's build loads: bindgen links libclang at run time through clang-sys, which
# looks for libclang.so, libclang-*.so, libclang.so.* and libclang-*.so.* (never a name with
# "-cpp.": libclang-cpp is another library, on stock images through llvm) in $LIBCLANG_PATH
# alone when it is set, else in `llvm-config --prefix`/{bin,lib,lib64}, $LD_LIBRARY_PATH,
# $LIBRARY_PATH and /usr/local/llvm*/lib*, /usr/local/lib*{,/*,/*/*}, /usr/lib*{,/*,/*/*}; and
# it keeps only 64-bit ELF files. bindgen then needs clang's builtin headers (stddef.h and
# friends, from libclang-common-N-dev), which libclang finds in its resource directory.
# Everything is looked up under ${TANDEM_SYSROOT:-} so that scripts/tests/libclang-detection.sh
# can try real package layouts without installing them.

# is_elf64 FILE — true when FILE (after symlinks) is a 64-bit ELF object.
is_elf64() {
    local magic
    magic=$(head -c 5 "$1" 2>/dev/null | od -An -tx1 | tr -d ' \n') || return 1
    [[ $magic == 7f454c4602 ]]
}

# libclang_candidates — prints every file clang-sys would consider, in its search order.
libclang_candidates() {
    local root=${TANDEM_SYSROOT:-} dirs=() dir pattern file name prefix
    if [[ -n ${LIBCLANG_PATH:-} ]]; then
        if [[ -f $LIBCLANG_PATH ]]; then
            printf '%s\n' "$LIBCLANG_PATH"
            return 0
        fi
        dirs=("$LIBCLANG_PATH")
    else
        if [[ -z $root ]] && command -v llvm-config >/dev/null; then
            prefix=$(llvm-config --prefix 2>/dev/null | head -n 1)
            [[ -n $prefix ]] && dirs+=("$prefix/bin" "$prefix/lib" "$prefix/lib64")
        fi
        local IFS=:
        # shellcheck disable=SC2206 # splitting on ':' is the point
        [[ -z $root && -n ${LD_LIBRARY_PATH:-} ]] && dirs+=($LD_LIBRARY_PATH)
        # shellcheck disable=SC2206
        [[ -z $root && -n ${LIBRARY_PATH:-} ]] && dirs+=($LIBRARY_PATH)
        unset IFS
        for pattern in /usr/local/llvm*/lib* /usr/local/lib*/*/* /usr/local/lib*/* /usr/local/lib* \
            /usr/lib*/*/* /usr/lib*/* /usr/lib*; do
            for dir in $root$pattern; do
                [[ -d $dir ]] && dirs+=("$dir")
            done
        done
    fi
    for dir in "${dirs[@]}"; do
        for pattern in libclang.so 'libclang-*.so' 'libclang.so.*' 'libclang-*.so.*'; do
            for file in "$dir"/$pattern; do
                [[ -e $file ]] || continue
                name=${file##*/}
                [[ $name == *-cpp.* ]] && continue
                printf '%s\n' "$file"
            done
        done
    done
}

# libclang_path — prints the first libclang bindgen would load, or fails.
libclang_path() {
    local file
    while IFS= read -r file; do
        if is_elf64 "$file"; then
            printf '%s\n' "$file"
            return 0
        fi
    done < <(libclang_candidates)
    return 1
}

# have_clang_builtin_headers — clang's resource directory has its builtin headers.
have_clang_builtin_headers() {
    local root=${TANDEM_SYSROOT:-} header
    for header in "$root"/usr/lib/llvm-*/lib/clang/*/include/stddef.h \
        "$root"/usr/lib/clang/*/include/stddef.h "$root"/usr/local/lib/clang/*/include/stddef.h \
        "$root"/usr/local/llvm*/lib/clang/*/include/stddef.h; do
        [[ -f $header ]] && return 0
    done
    # With LIBCLANG_PATH the user points at their own LLVM: look beside that library.
    if [[ -n ${LIBCLANG_PATH:-} ]]; then
        local dir=$LIBCLANG_PATH
        [[ -f $dir ]] && dir=$(dirname "$dir")
        compgen -G "$dir/clang/*/include/stddef.h" >/dev/null && return 0
    fi
    return 1
}

# have_libclang — pg_query's build will find a libclang and the headers it needs.
have_libclang() {
    libclang_path >/dev/null && have_clang_builtin_headers
}

# install_missing — installs what the build, the tests and the demo need when absent, so a fresh
# Debian machine with Rust needs nothing else: PostgreSQL's binaries, libclang-dev and a C
# compiler (pg_query), npm and Node.js (the other PostgreSQL majors come from the npm registry;
# the client tests use node-postgres), python3 with venv (the client tests use psycopg).
install_missing() {
    command -v cargo >/dev/null || die "cargo not found: install Rust (https://rustup.rs), then re-run"
    local missing=()
    if [[ -z ${TANDEM_PG_BIN:-} && -z $(debian_pg_bin) ]]; then
        missing+=(postgresql)
    fi
    have_libclang || missing+=(libclang-dev)
    command -v cc >/dev/null || missing+=(build-essential)
    command -v npm >/dev/null || missing+=(npm)
    command -v node >/dev/null || missing+=(nodejs)
    if ! command -v python3 >/dev/null; then
        missing+=(python3 python3-venv)
    elif ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
        missing+=(python3-venv)
    fi
    # The MySQL backend: a throwaway MariaDB for its tests, pt-online-schema-change for its bench.
    [[ -x /usr/sbin/mariadbd ]] || command -v mariadbd >/dev/null || missing+=(mariadb-server-core)
    # mariadb-install-db runs my_print_defaults, which mariadb-client-core ships.
    command -v my_print_defaults >/dev/null || missing+=(mariadb-client-core)
    command -v pt-online-schema-change >/dev/null || missing+=(percona-toolkit)
    if [[ ${#missing[@]} -gt 0 ]]; then
        apt_install "${missing[@]}"
    fi
    # As root, the throwaway servers run as `postgres` and `mysql`: mariadb-server-core alone
    # does not create its user (the full mariadb-server package does), and with TANDEM_PG_BIN
    # no Debian package created `postgres`.
    local user
    for user in postgres mysql; do
        if [[ $EUID -eq 0 ]] && ! getent passwd "$user" >/dev/null; then
            say "creating the system user $user (throwaway servers run as it when root)"
            as_root useradd --system --user-group --create-home --shell /usr/sbin/nologin "$user" ||
                die "could not create the $user user"
        fi
    done
}
