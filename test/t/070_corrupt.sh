#!/bin/bash
# Corrupted index pages give an ERROR that names the index, never a crash. A throwaway cluster
# holds one small hnsw index per case; with the server stopped, bytes of the index files are
# overwritten (pg_relation_filepath), each case hitting a page every scan and insert reads (the
# entry point's):
#   rand   random bytes over the line pointers and items of the entry point's element page
#   link   the entry point's upper links name an element beyond the end of the index
#   trunc  the entry point's line pointer claims a shorter item
#   lpoff  the entry point's line pointer places the item past the end of the page
#   meta   the metapage's magic number
#   span   a record spanning two pages (2,100 dims): its continuation item is truncated
#   page   the whole entry point page, header included, is random (Postgres itself rejects
#          it on read: "invalid page in block N of relation ...")
#   chain  20 copies of one vector (an element and two overflow records of its TIDs): the older
#          overflow record's next pointer is turned back to the newer one, a cycle; a scan that
#          finds the vector, and VACUUM after the copies are deleted, walk that chain (VACUUM
#          used to walk it forever, uninterruptibly)
#   sparse a sparsevec index: the side item (on a sparse data page) holding the entry point's
#          non-zeros claims one more non-zero than its item holds
# After a restart, for each: an index scan, an INSERT and VACUUM fail with SQLSTATE XX002 and
# `index "NAME" contains a corrupted page at block N` (the page case: Postgres' XX001 error,
# with a context line naming the index),
# prism.index_check lists the page as a row instead of failing, the postmaster never restarts
# and the log shows no backend killed by a signal; after REINDEX everything works again and
# index_check is clean. Makes its own cluster (test/lib.sh, PG_BIN); runs in about 5 s.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../lib.sh"
. "$HERE/hnsw_lib.bash"

DB=postgres
CASES="rand link trunc lpoff meta span page"
W=$(mktemp -d "${TMPDIR:-/tmp}/prism-corrupt.XXXXXX")
cleanup() {
	cluster_destroy_all
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
start=$SECONDS
cluster_new corrupt || { echo "FAIL corrupt: could not start a cluster"; exit 1; }
D=$CLUSTER_DIR
P=$CLUSTER_PORT

# Binary edits of a relation file: get16/get32 FILE OFFSET, put16/put32 FILE OFFSET VALUE,
# rand FILE OFFSET LENGTH SEED (little-endian, as the x86-64 server writes them).
cat >"$W/bin.pl" <<'EOF'
use strict;
my ($cmd, $file, $off, @a) = @ARGV;
open(my $fh, '+<:raw', $file) or die "$file: $!";
sub rd { my ($o, $n) = @_; seek($fh, $o, 0); read($fh, my $b, $n) == $n or die "short read at $o"; return $b; }
sub wr { my ($o, $b) = @_; seek($fh, $o, 0); print $fh $b or die "write at $o: $!"; }
if ($cmd eq 'get16') { print unpack('v', rd($off, 2)), "\n"; }
elsif ($cmd eq 'get32') { print unpack('V', rd($off, 4)), "\n"; }
elsif ($cmd eq 'put16') { wr($off, pack('v', $a[0])); }
elsif ($cmd eq 'put32') { wr($off, pack('V', $a[0])); }
elsif ($cmd eq 'rand') { srand($a[1]); wr($off, pack('C*', map { int(rand(256)) } 1 .. $a[0])); }
else { die "unknown command $cmd"; }
close($fh) or die "close: $!";
EOF
bin() { perl "$W/bin.pl" "$@"; }

setup="CREATE EXTENSION prism; SELECT setseed(0.3);"
for c in $CASES; do
	dims=8
	rows=2000
	[ "$c" = span ] && dims=2100 && rows=60
	setup="$setup
	CREATE TABLE c_$c (id serial PRIMARY KEY, v vector($dims));
	INSERT INTO c_$c (v) SELECT (SELECT array_agg(random()) FROM generate_series(1, $dims) WHERE g > 0)::vector($dims)
		FROM generate_series(1, $rows) g;
	CREATE INDEX c_${c}_idx ON c_$c USING hnsw (v vector_l2_ops) WITH (m = 8, ef_construction = 32);"
done
setup="$setup
	CREATE TABLE c_chain (id serial PRIMARY KEY, v vector(8));
	INSERT INTO c_chain (v) SELECT (SELECT array_agg(random()) FROM generate_series(1, 8) WHERE g > 0)::vector(8)
		FROM generate_series(1, 500) g;
	INSERT INTO c_chain (v) SELECT '[0.25,0.25,0.25,0.25,0.25,0.25,0.25,0.25]' FROM generate_series(1, 20);
	CREATE INDEX c_chain_idx ON c_chain USING hnsw (v vector_l2_ops) WITH (m = 8, ef_construction = 32);
	CREATE TABLE c_sparse (id serial PRIMARY KEY, v sparsevec(1000));
	INSERT INTO c_sparse (v) SELECT ('{' || string_agg(DISTINCT (1 + (g * 37 + k * 101) % 1000)::text || ':' || k, ',') || '}/1000')::sparsevec
		FROM generate_series(1, 500) g, generate_series(1, 20) k GROUP BY g;
	CREATE INDEX c_sparse_idx ON c_sparse USING hnsw (v sparsevec_l2_ops) WITH (m = 8, ef_construction = 32);"
q "$D" "$P" $DB >/dev/null <<<"$setup" || { echo "FAIL corrupt: setup"; exit 1; }
CHAIN_FILE=$D/data/$(q "$D" "$P" $DB -c "SELECT pg_relation_filepath('c_chain_idx')")
SPARSE_FILE=$D/data/$(q "$D" "$P" $DB -c "SELECT pg_relation_filepath('c_sparse_idx')")
declare -A FILE DIMS
for c in $CASES; do
	FILE[$c]=$D/data/$(q "$D" "$P" $DB -c "SELECT pg_relation_filepath('c_${c}_idx')")
	DIMS[$c]=$(q "$D" "$P" $DB -c "SELECT vector_dims(v) FROM c_$c LIMIT 1")
done
cluster_stop "$D" || { echo "FAIL corrupt: stop"; exit 1; }

# Metapage (block 0, contents at byte 24): per_page @ +18, entry_point @ +28, m @ +14.
# Element header: level @ +1, upper_block @ +8, upper_offset @ +12. Line pointer k of block b:
# word at b*8192 + 24 + 4*(k-1): offset = bits 0-14, flags 15-16, length 17-31.
declare -A BLOCK
entry() { # FILE -> "block slot per_page m level item_offset item_len"
	local f=$1 pp ep m b s w
	pp=$(bin get16 "$f" $((24 + 18)))
	ep=$(bin get32 "$f" $((24 + 28)))
	m=$(bin get16 "$f" $((24 + 14)))
	b=$((ep / pp))
	s=$((ep % pp))
	w=$(bin get32 "$f" $((b * 8192 + 24 + 4 * s)))
	echo "$b $s $pp $m $(bin get16 "$f" $((b * 8192 + (w & 0x7fff))) | awk '{print int($1 / 256)}') $((w & 0x7fff)) $((w >> 17))"
}
for c in $CASES; do
	f=${FILE[$c]}
	read -r b s pp m level ioff ilen <<<"$(entry "$f")"
	case $c in
	rand) # line pointers, free space and records; the page header and special space stay valid
		bin rand "$f" $((b * 8192 + 24)) $((8184 - 24)) 7
		BLOCK[$c]=$b ;;
	link) # every level's first upper link of the entry point -> an id far past the end
		rec=$((b * 8192 + ioff))
		ub=$(bin get32 "$f" $((rec + 8)))
		uo=$(bin get16 "$f" $((rec + 12)))
		w=$(bin get32 "$f" $((ub * 8192 + 24 + 4 * (uo - 1))))
		up=$((ub * 8192 + (w & 0x7fff)))
		links=$((up + ((2 * level + 3) & ~3)))
		for l in $(seq 1 "$level"); do
			bin put16 "$f" $((up + 2 * (l - 1))) 1
			bin put32 "$f" $((links + 4 * (l - 1) * m)) 11259375
		done
		BLOCK[$c]=$ub
		echo "# link: entry point at block $b level $level, upper item $ub/$uo" ;;
	trunc)
		w=$(bin get32 "$f" $((b * 8192 + 24 + 4 * s)))
		bin put32 "$f" $((b * 8192 + 24 + 4 * s)) $(((w & 0x1ffff) | ((ilen - 16) << 17)))
		BLOCK[$c]=$b ;;
	lpoff) # aligned, right length, but running past the special space into the next block
		w=$(bin get32 "$f" $((b * 8192 + 24 + 4 * s)))
		bin put32 "$f" $((b * 8192 + 24 + 4 * s)) $(((w & ~0x7fff) | 8176))
		BLOCK[$c]=$b ;;
	meta)
		bin put32 "$f" 24 3735928559
		BLOCK[$c]=0 ;;
	span) # the entry record's second (last) chunk
		w=$(bin get32 "$f" $(((b + 1) * 8192 + 24)))
		bin put32 "$f" $(((b + 1) * 8192 + 24)) $(((w & 0x1ffff) | (((w >> 17) - 8) << 17)))
		BLOCK[$c]=$((b + 1)) ;;
	page)
		bin rand "$f" $((b * 8192)) 8192 11
		BLOCK[$c]=$b ;;
	esac
done
# chain: find the two overflow records (flags 3; next pointer @ +16) on the element pages (kind
# 0x5002 in the special space at +8184)
chain_pp=$(bin get16 "$CHAIN_FILE" $((24 + 18)))
chain_blocks=$(($(stat -c %s "$CHAIN_FILE") / 8192))
declare -a DUP_ID DUP_OFF
for b in $(seq 1 $((chain_blocks - 1))); do
	[ "$(bin get16 "$CHAIN_FILE" $((b * 8192 + 8184)))" = 20482 ] || continue
	n=$(( ($(bin get16 "$CHAIN_FILE" $((b * 8192 + 12))) - 24) / 4 ))  # pd_lower -> line pointers
	[ "$n" -gt "$chain_pp" ] && n=$chain_pp  # past the element slots: upper-level link items
	for k in $(seq 1 "$n"); do
		w=$(bin get32 "$CHAIN_FILE" $((b * 8192 + 24 + 4 * (k - 1))))
		off=$((b * 8192 + (w & 0x7fff)))
		[ $((w & 0x7fff)) -gt 0 ] && [ $(( $(bin get16 "$CHAIN_FILE" "$off") & 255 )) = 3 ] || continue
		DUP_ID+=($((b * chain_pp + k - 1)))
		DUP_OFF+=("$off")
	done
done
if [ "${#DUP_ID[@]}" = 2 ]; then
	# the older record ends the chain (next = 0xffffffff): point it back at the newer one
	for i in 0 1; do
		if [ "$(bin get32 "$CHAIN_FILE" $((DUP_OFF[i] + 16)))" = 4294967295 ]; then
			bin put32 "$CHAIN_FILE" $((DUP_OFF[i] + 16)) "${DUP_ID[1 - i]}"
			echo "# chain: overflow records ${DUP_ID[*]}; ${DUP_ID[i]} now points back at ${DUP_ID[1 - i]}"
		fi
	done
else
	not_ok "chain: expected 2 overflow records for 20 copies, found ${#DUP_ID[@]}"
fi

# sparse: the entry point's record holds its side item's handle after the header (68 bytes) and
# 2m level-0 links: tag, nnz, block, line pointer; the chunk's count is at +8
read -r b s pp m level ioff ilen <<<"$(entry "$SPARSE_FILE")"
hnd=$((b * 8192 + ioff + 68 + 8 * m))
SPARSE_BLOCK=$(bin get32 "$SPARSE_FILE" $((hnd + 8)))
soff=$(bin get32 "$SPARSE_FILE" $((hnd + 12)))
w=$(bin get32 "$SPARSE_FILE" $((SPARSE_BLOCK * 8192 + 24 + 4 * (soff - 1))))
cnt=$((SPARSE_BLOCK * 8192 + (w & 0x7fff) + 8))
bin put32 "$SPARSE_FILE" "$cnt" $(( $(bin get32 "$SPARSE_FILE" "$cnt") + 1 ))
echo "# sparse: entry point $((b * pp + s)), its chunk at block $SPARSE_BLOCK item $soff (page kind $(bin get16 "$SPARSE_FILE" $((SPARSE_BLOCK * 8192 + 8184))))"

cluster_start "$D" "$P" || { echo "FAIL corrupt: restart"; exit 1; }
started=$(q "$D" "$P" $DB -c "SELECT pg_postmaster_start_time()")

# expect_error LABEL PATTERN SQL...: the statements (one -c each) fail with an error containing
# PATTERN (and $ALSO if set, e.g. in a CONTEXT line); psql is killed after $LIMIT s if set.
expect_error() {
	local label=$1 pattern=$2 out s
	shift 2
	local -a cmds=()
	for s in "$@"; do
		cmds+=(-c "$s")
	done
	if out=$(${LIMIT:+timeout "$LIMIT"} "$PG_BIN/psql" -X -v ON_ERROR_STOP=1 -Atq -h "$D" -p "$P" -U postgres -d $DB \
		-v VERBOSITY=verbose "${cmds[@]}" 2>&1); then
		not_ok "$label" "(no error; output: ${out:0:200})"
	elif grep -qF -- "$pattern" <<<"$out" && { [ -z "$ALSO" ] || grep -qF -- "$ALSO" <<<"$out"; }; then
		ok "$label: $(grep -m1 -E 'ERROR' <<<"$out" | sed 's/^psql:[^:]*: //')${ALSO:+ (+ $(grep -m1 -F -- "$ALSO" <<<"$out"))}"
	else
		not_ok "$label" "(expected '$pattern'${ALSO:+ and '$ALSO'}, got: ${out:0:400})"
	fi
}

for c in $CASES; do
	idx=c_${c}_idx
	dims=${DIMS[$c]}
	vec="(SELECT array_agg(0.5::real) FROM generate_series(1, $dims))::vector($dims)"
	ALSO=""
	if [ "$c" = page ]; then
		# Postgres' error names the file; the context line (prism's, or VACUUM's) the index
		want="XX001: invalid page in block ${BLOCK[$c]} of relation"
		ALSO="index \"$idx\""
	else
		want="XX002: index \"$idx\" contains a corrupted page at block ${BLOCK[$c]}"
	fi
	expect_error "$c: index scan" "$want" \
		"SET enable_seqscan = off; SELECT id FROM c_$c ORDER BY v <-> $vec LIMIT 5"
	expect_error "$c: insert" "$want" "INSERT INTO c_$c (v) SELECT $vec"
	expect_error "$c: vacuum" "$want" "DELETE FROM c_$c WHERE id % 7 = 0" "VACUUM (INDEX_CLEANUP ON) c_$c"
	# index_check lists problems as rows, never an ERROR
	if out=$(q "$D" "$P" $DB -c "SELECT problem || ': ' || coalesce(detail, '') FROM prism.index_check('$idx')" 2>&1); then
		if [ -n "$out" ]; then
			ok "$c: index_check lists $(wc -l <<<"$out") problem(s), first: $(head -n 1 <<<"$out")"
		else
			not_ok "$c: index_check finds no problem in the corrupted index"
		fi
	else
		not_ok "$c: index_check failed" "(${out:0:300})"
	fi
	# the corruption does not leak into other indexes, and the server is still up
	check "$c: server answers after the errors" 1 "$(q "$D" "$P" $DB -c "SELECT 1" 2>&1)"
done

# chain: the scan that reaches the copies and VACUUM once they are deleted end with an ERROR
# (the client gives up after 60 s: before the bound, VACUUM looped forever without checking for
# interrupts, so not even statement_timeout could stop it)
chain_vec="'[0.25,0.25,0.25,0.25,0.25,0.25,0.25,0.25]'"
ALSO=""
expect_error "chain: index scan" "XX002: hnsw index \"c_chain_idx\" is corrupted: broken duplicate chain (a cycle)" \
	"SET enable_seqscan = off; SELECT count(*) FROM (SELECT id FROM c_chain ORDER BY v <-> $chain_vec LIMIT 30) s"
t0=$SECONDS
LIMIT=60 expect_error "chain: vacuum after deleting the copies" \
	"XX002: hnsw index \"c_chain_idx\" is corrupted: broken duplicate chain (a cycle)" \
	"DELETE FROM c_chain WHERE v = $chain_vec" "VACUUM (INDEX_CLEANUP ON) c_chain"
check "chain: vacuum stopped within 10 s" 1 "$(( SECONDS - t0 < 10 ))"
check "chain: server answers after the errors" 1 "$(q "$D" "$P" $DB -c "SELECT 1" 2>&1)"
res=$(q "$D" "$P" $DB 2>&1 <<-EOF
	REINDEX INDEX c_chain_idx;
	INSERT INTO c_chain (v) SELECT $chain_vec FROM generate_series(1, 20);
	DELETE FROM c_chain WHERE id % 2 = 0;
	VACUUM (INDEX_CLEANUP ON) c_chain;
	SET enable_seqscan = off;
	SELECT count(*) FROM (SELECT id FROM c_chain ORDER BY v <-> $chain_vec LIMIT 10) s;
	SELECT count(*) FROM prism.index_check('c_chain_idx');
EOF
)
check "chain: after REINDEX duplicates, vacuum, scan and index_check work (rows, problems)" "10 0" "$(echo $res)"

# sparse: scans, inserts and VACUUM reading the entry point's non-zeros fail naming the index and
# the sparse data page; index_check reports the chunk; REINDEX repairs
svec="'{1:1,38:2,139:3}/1000'"
want="XX002: index \"c_sparse_idx\" contains a corrupted page at block $SPARSE_BLOCK"
expect_error "sparse: index scan" "$want" "SET enable_seqscan = off; SELECT id FROM c_sparse ORDER BY v <-> $svec LIMIT 5"
expect_error "sparse: insert" "$want" "INSERT INTO c_sparse (v) SELECT $svec"
expect_error "sparse: vacuum" "$want" "DELETE FROM c_sparse WHERE id % 7 = 0" "VACUUM (INDEX_CLEANUP ON) c_sparse"
out=$(q "$D" "$P" $DB -c "SELECT problem || ': ' || coalesce(detail, '') FROM prism.index_check('c_sparse_idx')" 2>&1)
if grep -q "block $SPARSE_BLOCK" <<<"$out"; then
	ok "sparse: index_check lists $(wc -l <<<"$out") problem(s), first: $(head -n 1 <<<"$out")"
else
	not_ok "sparse: index_check does not report the chunk" "(${out:0:300})"
fi
res=$(q "$D" "$P" $DB 2>&1 <<-EOF
	REINDEX INDEX c_sparse_idx;
	SET enable_seqscan = off;
	SELECT count(*) FROM (SELECT id FROM c_sparse ORDER BY v <-> $svec LIMIT 10) s;
	SELECT count(*) FROM prism.index_check('c_sparse_idx');
EOF
)
check "sparse: after REINDEX scan and index_check work (rows, problems)" "10 0" "$(echo $res)"

check "postmaster did not restart (no backend crashed)" "$started" \
	"$(q "$D" "$P" $DB -c "SELECT pg_postmaster_start_time()" 2>&1)"
crashes=$(grep -cE 'terminated by signal|was terminated by|server process .* exited with exit code [^0]|all server processes terminated' "$D/server.log")
check "server log shows no crashed backend" 0 "$crashes"
[ "$crashes" = 0 ] || grep -E -B2 -A5 'terminated by signal' "$D/server.log" | head -n 30

for c in $CASES; do
	idx=c_${c}_idx
	dims=${DIMS[$c]}
	vec="(SELECT array_agg(0.5::real) FROM generate_series(1, $dims))::vector($dims)"
	res=$(q "$D" "$P" $DB 2>&1 <<-EOF
		REINDEX INDEX $idx;
		INSERT INTO c_$c (v) SELECT $vec;
		VACUUM (INDEX_CLEANUP ON) c_$c;
		SET enable_seqscan = off;
		SELECT count(*) FROM (SELECT id FROM c_$c ORDER BY v <-> $vec LIMIT 5) s;
		SELECT count(*) FROM prism.index_check('$idx');
	EOF
	)
	check "$c: after REINDEX insert, vacuum, scan and index_check work (rows, problems)" "5 0" "$(echo $res)"
done
echo "# took $((SECONDS - start)) s"
finish corrupt
