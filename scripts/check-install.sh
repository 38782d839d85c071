#!/bin/sh
# The install a packager gets: make install with DESTDIR and a PREFIX that is
# not the default, then
#   - every file lands under DESTDIR/PREFIX; the .pc files name PREFIX;
#   - the headers installed are the public ones (sluice.h and what it
#     includes, sluice/worker.h), each compiling on its own;
#   - the README's C programs build through pkg-config alone against the
#     installed copy and run (scripts/check-readme.sh);
#   - systemd-analyze verify passes on scripts/systemd/*.service and on the
#     unit as installed, and the unit waits longer than the default grace;
#   - make uninstall leaves DESTDIR as it was before the install: the files,
#     and the directories only sluice uses (the general ones it made, such as
#     PREFIX/share, stay, as automake's uninstall leaves them).
# Prints "N passed, N failed" like the test runner. Run from the top.
set -eu
BUILD=${BUILD:-build}
CC=${CC:-cc}
PREFIX=/opt/sluice
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sluice-install-XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
dest=$tmp/dest
passed=0
failed=0
check() { # check NAME COMMAND...: runs COMMAND, counts it
    name=$1
    shift
    if "$@"; then passed=$((passed + 1)); else echo "check-install: $name failed" >&2; failed=$((failed + 1)); fi
}
make_in() { make --no-print-directory -s BUILD="$BUILD" CC="$CC" SANITIZER="${SANITIZER:-}" PREFIX="$PREFIX" DESTDIR="$dest" "$@"; }

# Another package's files, which neither install nor uninstall may touch.
mkdir -p "$dest$PREFIX/lib/pkgconfig" "$dest$PREFIX/bin"
echo other >"$dest$PREFIX/lib/pkgconfig/other.pc"
echo other >"$dest$PREFIX/bin/other"
# The files, and the directories named after sluice.
tree() { (cd "$dest" && find . \( ! -type d -o -name 'sluice*' \) | sort); }
before=$(tree)

make_in install >/dev/null
root="$dest$PREFIX"
outside() { (cd "$dest" && find . -path "./${PREFIX#/}" -prune -o ! -type d -print | grep -q .); }
check "every file under DESTDIR/PREFIX" eval '! outside'
check "sluice.pc names the prefix" grep -qx "prefix=$PREFIX" "$root/lib/pkgconfig/sluice.pc"
check "sluice-worker.pc names the prefix" grep -qx "prefix=$PREFIX" "$root/lib/pkgconfig/sluice-worker.pc"
check "the programs run" "$root/bin/sluicectl" --help >/dev/null

# The public headers: sluice.h, the ones it includes, sluice/worker.h.
public=$( (echo sluice.h; sed -n 's|^#include "\(sluice/[a-z_]*\.h\)"|\1|p' include/sluice.h; echo sluice/worker.h) | sort)
installed=$(cd "$root/include" && find . -type f | sed 's|^\./||' | sort)
check "the installed headers are the public ones" [ "$public" = "$installed" ]
alone=0
for h in $installed; do
    printf '#include <%s>\nint main(void) { return 0; }\n' "$h" >"$tmp/h.c"
    $CC -std=c11 -Wall -Wextra -Werror -fsyntax-only -I"$root/include" "$tmp/h.c" ||
        { echo "check-install: $h does not compile on its own" >&2; alone=1; }
done
check "each header compiles on its own" [ "$alone" -eq 0 ]

# The README's C programs through pkg-config alone, against the installed copy.
check "the README's C programs build and run from the installed copy" env SLUICE_PKG_CONFIG=1 \
    PKG_CONFIG_PATH="$root/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$dest" LD_LIBRARY_PATH="$root/lib" \
    BUILD="$BUILD" CC="$CC" ./scripts/check-readme.sh

# systemd-analyze verify in a root holding the unit, the commands its Exec
# lines name (sluice-worker from $2) and the system's own units.
verify() { # verify UNIT_FILE SLUICE_WORKER
    r=$(mktemp -d "$tmp/root-XXXXXX")
    mkdir -p "$r/etc/systemd/system" "$r/usr/lib/systemd"
    cp -a /usr/lib/systemd/system "$r/usr/lib/systemd/"
    cp "$1" "$r/etc/systemd/system/"
    for cmd in $(sed -n 's/^Exec[A-Za-z]*=-\{0,1\}\(\/[^ ]*\).*/\1/p' "$1"); do
        mkdir -p "$r$(dirname "$cmd")"
        case $cmd in */sluice-worker) cp "$2" "$r$cmd" ;; *) cp "$cmd" "$r$cmd" ;; esac
    done
    unit=$(basename "$1" | sed 's/@\.service$/@check.service/')
    out=$(systemd-analyze --root="$r" verify "$unit" 2>&1)
    rc=$?
    rm -rf "$r"
    [ -n "$out" ] && echo "$out" >&2
    [ "$rc" -eq 0 ] && [ -z "$out" ]
}
if command -v systemd-analyze >/dev/null 2>&1; then
    for u in scripts/systemd/*.service; do check "systemd-analyze verify $u" verify "$u" "$BUILD/bin/sluice-worker"; done
    check "systemd-analyze verify the installed unit" \
        verify "$root/lib/systemd/system/sluice-worker@.service" "$root/bin/sluice-worker"
else
    echo "check-install: systemd-analyze is missing (Debian's systemd package; make deps installs it)" >&2
    failed=$((failed + 1))
fi
check "the installed unit runs the installed sluice-worker" \
    grep -q "^ExecStart=$PREFIX/bin/sluice-worker " "$root/lib/systemd/system/sluice-worker@.service"
grace=$("$BUILD/bin/sluice-worker" --help | sed -n 's/.*(default \([0-9]*\)s;.*/\1/p')
stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s$/\1/p' scripts/systemd/sluice-worker@.service)
check "TimeoutStopSec ($stop s) is over the default grace ($grace s)" [ "${stop:-0}" -gt "${grace:-999}" ]

make_in uninstall >/dev/null
after=$(tree)
if [ "$before" != "$after" ]; then
    echo "check-install: left behind, or removed:" >&2
    echo "$before" >"$tmp/before"
    echo "$after" | diff "$tmp/before" - >&2 || true
fi
check "make uninstall removes exactly what make install put" [ "$before" = "$after" ]
echo "install: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
