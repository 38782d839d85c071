#!/bin/sh
# The console's tests in a real browser (tests/console/console.test.mjs):
# Debian's Chromium, installed here when missing (scripts/bootstrap.sh
# chromium), driven by playwright-core from tests/console/node_modules (make
# test-browser and make test install it, pinned by its package-lock.json).
# Skipped, saying why, only when Chromium cannot be installed. Prints
# "browser: N passed, N failed[, N skipped]" like the test runner.
set -u
BUILD=${BUILD:-build}
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v chromium >/dev/null 2>&1 && ! "$here/bootstrap.sh" chromium >&2; then
    echo "browser: skipped: Chromium cannot be installed (scripts/bootstrap.sh chromium failed)"
    echo "browser: 0 passed, 0 failed, 1 skipped"
    exit 0
fi
if ! command -v chromium >/dev/null 2>&1; then
    echo "browser: skipped: the chromium package installed no chromium command"
    echo "browser: 0 passed, 0 failed, 1 skipped"
    exit 0
fi
cd "$here/.." || exit 1
BUILD=$BUILD CHROMIUM=$(command -v chromium) exec node tests/console/console.test.mjs
