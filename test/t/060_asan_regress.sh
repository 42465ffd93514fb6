#!/bin/bash
# Sanitizers: the pg_regress suite against prism.so built with -fsanitize=address,undefined and
# loaded into an ordinary (uninstrumented) PostgreSQL server whose processes have the ASan
# runtime in LD_PRELOAD. The sanitized build is made in a copy of the source tree (the repo's
# own build is untouched) and installed into a private relocatable copy of PostgreSQL in a temp
# dir (never into the system one). Fails if a regress test fails, if any sanitizer report
# appears (ASan writes them to files under the temp dir, UBSan to the server log; both searched),
# or if the server log shows a server process killed by a signal: a report aborts the backend
# (abort_on_error), which the postmaster logs as "terminated by signal 6".
# Regress files: all of `make installcheck`'s REGRESS list, in CI too: about 4 min on 2 cores
# (build ~45 s, pg_regress ~3 min), so there is no LONG=1 variant. ASAN_REGRESS="a b" runs some.
# Not checked: leaks (detect_leaks=0: Postgres deliberately leaves memory to process exit), and
# overflows inside palloc'd blocks (ASan sees only malloc boundaries; chunks over 8 kB get their
# own malloc block, so large vectors are covered).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../lib.sh"
. "$HERE/hnsw_lib.bash"

# test/run reads "NAME: N passed, N failed" with a name of letters, _ and - only; it prints the
# counts again as "060_asan_regress: N passed, N failed"
NAME=asan_regress
SAN_FLAGS="-fsanitize=address,undefined"

W=$(mktemp -d "${TMPDIR:-/tmp}/prism-asanreg.XXXXXX") || die "mktemp failed"
chmod 755 "$W"
cleanup() {
	cluster_destroy_all
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
start=$SECONDS

# --- a private relocatable PostgreSQL: the system one's dirs copied under $W/pg, same layout, so
# its pg_config and postgres find share/ and lib/ relative to their own bin dir.
SYS_PG_CONFIG=$PG_CONFIG
PGC=$W/pg
for d in "$(dirname "$("$SYS_PG_CONFIG" --bindir)")" "$("$SYS_PG_CONFIG" --sharedir)" \
	"$("$SYS_PG_CONFIG" --includedir)"; do
	mkdir -p "$PGC$(dirname "$d")" && cp -a "$d" "$PGC$d" || die "copying $d failed"
done
chmod -R a+rX "$PGC"
PG_BIN=$PGC$("$SYS_PG_CONFIG" --bindir)
PG_CONFIG=$PG_BIN/pg_config
[ "$("$PG_CONFIG" --pkglibdir)" = "$PGC$("$SYS_PG_CONFIG" --pkglibdir)" ] ||
	die "the PostgreSQL copy is not relocatable: pkglibdir $("$PG_CONFIG" --pkglibdir)"

# --- the sanitized build, in a copy of the sources without any build products -----------------
SRC=$W/src
mkdir -p "$SRC"
tar -C "$PRISM_ROOT" --exclude='*.o' --exclude='*.d' --exclude='*.so' --exclude='*.bc' \
	-cf - Makefile prism.control src sql expected | tar -C "$SRC" -xf - || die "copying the sources failed"
# Appended after the Makefile, so these flags come last (-O1 wins over the Makefile's -O2).
cat >"$W/asan.mk" <<-EOF
	override CXXFLAGS += -O1 -g -fno-omit-frame-pointer $SAN_FLAGS
	SHLIB_LINK += $SAN_FLAGS
	# hnswlib 0.6.2's SSE prefetch loads the link after the last one of a list, past the end of an
	# upper-level malloc (harmless, but ASan aborts): its plain code here, as CMakeLists.txt does.
	src/core/hnsw_builder.o: override CXXFLAGS += -DNO_MANUAL_VECTORIZATION
EOF
smake() {
	nice -n 10 make -C "$SRC" -f Makefile -f "$W/asan.mk" PG_CONFIG="$PG_CONFIG" "$@"
}
smake -j2 >"$W/build.log" 2>&1 || { tail -n 40 "$W/build.log"; die "sanitized build failed"; }
smake install >>"$W/build.log" 2>&1 || { tail -n 20 "$W/build.log"; die "install into the copy failed"; }
SO=$("$PG_CONFIG" --pkglibdir)/prism.so
if readelf -d "$SO" | grep -q 'NEEDED.*libasan' && readelf -d "$SO" | grep -q 'NEEDED.*libubsan'; then
	ok "prism.so in the private PostgreSQL is linked with ASan and UBSan"
else
	not_ok "prism.so is not sanitized" "($(readelf -d "$SO" | grep NEEDED | tr -s ' ' | tr '\n' ';'))"
fi
log "sanitized build and install took $((SECONDS - start)) s"

# --- a throwaway cluster of the private copy, ASan preloaded into every server process ---------
SAN_LOGS=$W/san
mkdir -p "$SAN_LOGS"
[ "$(id -u)" = 0 ] && chown postgres: "$SAN_LOGS"
libasan=$(gcc -print-file-name=libasan.so)
libubsan=$(gcc -print-file-name=libubsan.so)
[ -f "$libasan" ] && [ -f "$libubsan" ] || die "no sanitizer runtime: $libasan $libubsan"
# abort_on_error: a backend that exits 1 looks like an ordinary FATAL to the postmaster; one
# killed by SIGABRT is logged as a crash (and all sessions are reset), so nothing goes unseen.
# ASan writes its reports to $SAN_LOGS/asan.PID; UBSan (gcc 12) ignores log_path and writes to
# stderr, that is the server log.
ASAN_OPTS="detect_leaks=0:halt_on_error=1:abort_on_error=1:disable_coredump=1:log_path=$SAN_LOGS/asan"
UBSAN_OPTS="print_stacktrace=1:halt_on_error=1:abort_on_error=1"
# A small preloaded shim works around two clashes of the sanitizer runtimes with postgres:
# - ASan initializes on the first malloc, which comes from libgpg-error's constructor inside
#   bindtextdomain() holding gettext's lock; ASan's init looks up swift_demangle and clears the
#   failure with dlerror(), whose gettext call releases that lock, so postgres then hangs in its
#   own bindtextdomain() (glibc 2.36, gcc 12). The stub makes the lookup succeed; ASan calls it
#   only to demangle Swift names, and NULL means "not Swift".
# - UBSan reads UBSAN_OPTIONS at its first report, from /proc/self/environ, which a backend has
#   overwritten with its ps title; __ubsan_default_options gives it the options anyway.
cat >"$W/san_shim.c" <<-EOF
	#include <stddef.h>
	char *swift_demangle(const char *name, size_t len, char *out, size_t *outlen, unsigned flags);
	const char *__ubsan_default_options(void);

	char *swift_demangle(const char *name, size_t len, char *out, size_t *outlen, unsigned flags)
	{
		return NULL;
	}

	const char *__ubsan_default_options(void)
	{
		return "$UBSAN_OPTS";
	}
EOF
gcc -shared -fPIC -o "$W/san_shim.so" "$W/san_shim.c" || die "building the sanitizer shim failed"
PRISM_SERVER_ENV=(
	"LD_PRELOAD=$libasan:$W/san_shim.so:$libubsan"
	"ASAN_OPTIONS=$ASAN_OPTS"
	"UBSAN_OPTIONS=$UBSAN_OPTS"
)
cluster_new asanreg || { not_ok "start a sanitized cluster"; finish "$NAME"; }
D=$CLUSTER_DIR
P=$CLUSTER_PORT
pm=$(head -n 1 "$D/data/postmaster.pid")
if grep -q libasan "/proc/$pm/maps" 2>/dev/null; then
	ok "the postmaster runs with the ASan runtime preloaded"
else
	not_ok "the postmaster does not have libasan mapped"
fi

# --- pg_regress: the same REGRESS list as `make installcheck` ----------------------------------
regress_args=()
[ -n "${ASAN_REGRESS:-}" ] && regress_args=("REGRESS=$ASAN_REGRESS")
rstart=$SECONDS
smake installcheck PGHOST="$D" PGPORT="$P" PGUSER=postgres "${regress_args[@]}" >"$W/regress.log" 2>&1
rc=$?
log "sanitized pg_regress took $((SECONDS - rstart)) s"
nok=0
while read -r t; do
	ok "regress $t"
	nok=$((nok + 1))
done < <(sed -nE 's/^(test| ) *([A-Za-z0-9_]+) +\.\.\. ok( .*)?$/\2/p' "$W/regress.log")
nbad=0
while read -r t; do
	not_ok "regress $t"
	nbad=$((nbad + 1))
done < <(sed -nE 's/^(test| ) *([A-Za-z0-9_]+) +\.\.\. FAILED.*/\2/p' "$W/regress.log")
echo "# $((nok + nbad)) regress files run"
if [ "$rc" != 0 ] || [ "$nbad" != 0 ] || [ "$nok" = 0 ]; then
	[ "$nbad" = 0 ] && not_ok "pg_regress" "(exit $rc, $nok tests passed)"
	cat "$W/regress.log"
	[ -f "$SRC/regression.diffs" ] && { echo "--- regression.diffs (head):"; head -n 150 "$SRC/regression.diffs"; }
fi

# stop first so a report at backend or server exit is in the files too
cluster_stop "$D"

# --- sanitizer reports and crashed server processes ---------------------------------------------
pattern='ERROR: [A-Za-z]*Sanitizer|SUMMARY: [A-Za-z]*Sanitizer|runtime error:|LeakSanitizer'
reports=$(cat "$SAN_LOGS"/* "$D/server.log" 2>/dev/null | grep -cE "$pattern")
files=$(find "$SAN_LOGS" -type f | wc -l)
if [ "$reports" = 0 ] && [ "$files" = 0 ]; then
	ok "no sanitizer report"
else
	not_ok "sanitizer reports" "($reports report lines in $files files)"
	for f in "$SAN_LOGS"/*; do
		[ -f "$f" ] || continue
		echo "--- $f:"
		head -n 60 "$f"
	done
	grep -E -A 30 "$pattern" "$D/server.log" | head -n 60
fi
crash='terminated by signal|exited with exit code ([2-9]|[1-9][0-9]+)'
if grep -qE "$crash" "$D/server.log"; then
	not_ok "a server process was killed" "($(grep -E "$crash" "$D/server.log" | head -n 5))"
	tail -n 40 "$D/server.log"
else
	ok "no server process terminated by a signal"
fi

log "$NAME took $((SECONDS - start)) s"
finish "$NAME"
