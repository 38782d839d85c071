#!/bin/sh
# make mutants: deliberate bugs, one at a time, each against the tests that
# guard what it breaks. A mutant is killed when one of its tests fails (or
# hangs past its timeout); a mutant that survives is a guarantee no test
# holds. Not part of make test.
#
# Each tests/mutants/*.mutant file names the guarantee, the file it breaks,
# the tests to run (BINARY, or BINARY:PATTERN for cmocka's filter), and the
# exact text to find (once) and its replacement:
#
#   guarantee: fencing: an ack needs the current lease's token
#   file: queue/lua/lease.lua
#   tests: test_lifecycle:*fencing*
#   @@ find
#   ...lines...
#   @@ replace
#   ...lines...
#
# The tree is copied once to $BUILD/mutants/src and built there; each
# mutant is applied to the copy, the tests are rebuilt and run, and the file
# is restored. usage: mutants.sh [NAME...] (default: every mutant)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) out=$BUILD/mutants ;; *) out=$top/$BUILD/mutants ;; esac
CC=${CC:-cc}
TIMEOUT=${MUTANT_TIMEOUT:-600}
src=$out/src
mkdir -p "$out"

if [ $# -gt 0 ]; then
    list=""
    for n in "$@"; do
        if [ ! -f "$top/tests/mutants/$n.mutant" ]; then
            echo "mutants: no tests/mutants/$n.mutant (give the file's name without .mutant)" >&2
            exit 2
        fi
        list="$list $top/tests/mutants/$n.mutant"
    done
else
    list=$(ls "$top"/tests/mutants/*.mutant)
fi

# Only the project's own files (tracked or new), not its build or .git.
rm -rf "$src"
mkdir -p "$src"
(cd "$top" && git ls-files -co --exclude-standard | tar -cf - -T -) | (cd "$src" && tar -xf -)
echo "mutants: building a pristine copy in $src" >&2
if ! make -C "$src" --no-print-directory -s CC="$CC" all >"$out/build.log" 2>&1; then
    echo "mutants: the pristine copy does not build (see $out/build.log)" >&2
    exit 1
fi

# field NAME FILE: the value of "NAME: value" in a mutant's header.
field() { sed -n "s/^$1: *//p" "$2" | head -n 1; }

# section MARK FILE: the lines after "@@ MARK" up to the next "@@".
section() {
    awk -v m="@@ $1" '$0 == m {on = 1; next} /^@@ / {on = 0} on' "$2"
}

# replace FILE FIND REPLACE: exact text, which must occur exactly once.
replace() {
    perl -0777 -i -e '
        my ($find, $repl) = (shift, shift);
        local $/; open my $f, "<", $find or die; my $a = <$f>; close $f;
        open my $r, "<", $repl or die; my $b = <$r>; close $r;
        my $s = <>; my $n = () = $s =~ /\Q$a\E/g;
        if ($n != 1) { print STDERR "found $n times\n"; print $s; exit 3 }
        $s =~ s/\Q$a\E/$b/; print $s;' "$2" "$3" "$1"
}


killed=0
survived=0
broken=0
table=$out/table.txt
printf '%-4s %-34s %-26s %-9s %s\n' "#" "mutant" "file" "result" "killed by" > "$table"
i=0
for m in $list; do
    i=$((i + 1))
    name=$(basename "$m" .mutant)
    file=$(field file "$m")
    tests=$(field tests "$m")
    section find "$m" > "$out/find"
    section replace "$m" > "$out/replace"
    cp "$src/$file" "$out/original"
    result=survived
    by=""
    if ! replace "$src/$file" "$out/find" "$out/replace" 2>"$out/replace.err"; then
        result=stale
        by="the text to find is not in $file exactly once: $(cat "$out/replace.err")"
    else
        if ! make -C "$src" --no-print-directory -s CC="$CC" all $(for t in $tests; do echo "build/tests/${t%%:*}"; done) \
                >"$out/$name.build.log" 2>&1; then
            result=unbuilt
            by="it does not compile: fix the mutant (see $out/$name.build.log)"
        else
            for t in $tests; do
                bin=${t%%:*}
                pat=""
                case $t in *:*) pat=${t#*:} ;; esac
                if ! (cd "$src" && SLUICE_TEST_ONLY="$pat" timeout "$TIMEOUT" "build/tests/$bin") \
                        >"$out/$name.$bin.log" 2>&1; then
                    result=killed
                    by="$t"
                    break
                fi
            done
        fi
    fi
    cp "$out/original" "$src/$file"
    case $result in
    killed) killed=$((killed + 1)) ;;
    survived) survived=$((survived + 1)) ;;
    *) broken=$((broken + 1)) ;;
    esac
    printf '%-4s %-34s %-26s %-9s %s\n' "$i" "$name" "$file" "$result" "$by" | tee -a "$table" >&2
done
make -C "$src" --no-print-directory -s CC="$CC" all >/dev/null 2>&1
echo >&2
cat "$table"
echo "mutants: $killed killed, $survived survived, $broken stale or unbuilt (of $i)"
[ "$survived" -eq 0 ] && [ "$broken" -eq 0 ]
