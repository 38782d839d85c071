#!/bin/sh
# make install and make uninstall: one table of what goes where, read both
# ways, so that uninstall removes exactly what install put there (and the
# directories only sluice uses, once empty).
# usage: install.sh install|uninstall, with DESTDIR, BINDIR, LIBDIR,
# INCLUDEDIR, DATADIR, SYSTEMD_DIR, BUILD, VERSION and HEADERS (the public
# headers under include/sluice/) in the environment. Run from the top.
set -eu
mode=$1
D=${DESTDIR:-}

# file SRC DIR MODE [NAME]: SRC installed as DIR/NAME (default: its name)
file() {
    dest="$D$2/${4:-$(basename "$1")}"
    if [ "$mode" = install ]; then
        install -d "$D$2"
        install -m "$3" "$1" "$dest"
    else
        rm -f "$dest"
    fi
}

# link TARGET DIR NAME: the symbolic link DIR/NAME -> TARGET
link() {
    if [ "$mode" = install ]; then ln -sf "$1" "$D$2/$3"; else rm -f "$D$2/$3"; fi
}

# own DIR: a directory only sluice uses, removed by uninstall once empty
# (after its files: it comes after them in the table)
own() {
    if [ "$mode" = uninstall ] && [ -d "$D$1" ]; then rmdir "$D$1" 2>/dev/null || true; fi
}

file "$BUILD/bin/sluicectl" "$BINDIR" 755
file "$BUILD/bin/sluice-worker" "$BINDIR" 755
file "$BUILD/lib/libsluice.a" "$LIBDIR" 644
file "$BUILD/lib/libsluice-worker.a" "$LIBDIR" 644
file "$BUILD/lib/libsluice.so" "$LIBDIR" 755 "libsluice.so.$VERSION"
link "libsluice.so.$VERSION" "$LIBDIR" libsluice.so.0
link libsluice.so.0 "$LIBDIR" libsluice.so
file "$BUILD/lib/pkgconfig/sluice.pc" "$LIBDIR/pkgconfig" 644
file "$BUILD/lib/pkgconfig/sluice-worker.pc" "$LIBDIR/pkgconfig" 644
file include/sluice.h "$INCLUDEDIR" 644
for h in $HEADERS; do file "$h" "$INCLUDEDIR/sluice" 644; done
own "$INCLUDEDIR/sluice"
file "$BUILD/systemd/sluice-worker@.service" "$SYSTEMD_DIR" 644
file scripts/grafana/sluice.json "$DATADIR/sluice/grafana" 644
own "$DATADIR/sluice/grafana"
file scripts/prometheus/sluice-alerts.yml "$DATADIR/sluice/prometheus" 644
own "$DATADIR/sluice/prometheus"
file scripts/acl/sluice.acl "$DATADIR/sluice/acl" 644
own "$DATADIR/sluice/acl"
for s in scripts/samplers/*.sh; do file "$s" "$DATADIR/sluice/samplers" 755; done
own "$DATADIR/sluice/samplers"
file queue/clients/python/sluice.py "$DATADIR/sluice/clients/python" 644
own "$DATADIR/sluice/clients/python"
file queue/clients/ruby/sluice.rb "$DATADIR/sluice/clients/ruby" 644
own "$DATADIR/sluice/clients/ruby"
for f in sluice.js package.json package-lock.json; do file "queue/clients/node/$f" "$DATADIR/sluice/clients/node" 644; done
own "$DATADIR/sluice/clients/node"
own "$DATADIR/sluice/clients"
own "$DATADIR/sluice"
