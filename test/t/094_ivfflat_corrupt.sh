#!/bin/bash
# Corrupted ivfflat pages give an ERROR that names the index, never a crash. A throwaway cluster
# holds one small ivfflat index per case (500 rows, 4 lists: block 0 metapage, block 1 centers,
# block 2 the first page of a list); with the server stopped, bytes of the index files are
# overwritten:
#   meta    the metapage's magic number
#   metric  the metapage says Hamming (bit_hamming_ops) for float4 elements
#   center  the first center's line pointer claims a shorter item
#   next    the list page's next link points past the end of the index
#   cycle   the list page's next link points to itself
#   kind    the list page's kind in its special space
#   tuple   the list page's first line pointer claims a shorter tuple
# After a restart, for each: an index scan reading every list and VACUUM fail with SQLSTATE
# XX002 and `index "NAME" contains a corrupted page at block N` (and INSERT where it reads the
# page), prism.ivfflat_check lists the page as a row instead of failing, the postmaster never restarts and the log shows no backend killed by a signal; after
# REINDEX everything works again. Makes its own cluster (test/lib.sh, PG_BIN).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../lib.sh"
. "$HERE/hnsw_lib.bash"

DB=postgres
CASES="meta metric center next cycle kind tuple"
W=$(mktemp -d "${TMPDIR:-/tmp}/prism-ivfcorrupt.XXXXXX")
cleanup() {
	cluster_destroy_all
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
cluster_new ivfcorrupt || { echo "FAIL ivfflat_corrupt: could not start a cluster"; exit 1; }
D=$CLUSTER_DIR
P=$CLUSTER_PORT

cat >"$W/bin.pl" <<'EOF'
use strict;
my ($cmd, $file, $off, @a) = @ARGV;
open(my $fh, '+<:raw', $file) or die "$file: $!";
sub rd { my ($o, $n) = @_; seek($fh, $o, 0); read($fh, my $b, $n) == $n or die "short read at $o"; return $b; }
sub wr { my ($o, $b) = @_; seek($fh, $o, 0); print $fh $b or die "write at $o: $!"; }
if ($cmd eq 'get32') { print unpack('V', rd($off, 4)), "\n"; }
elsif ($cmd eq 'put16') { wr($off, pack('v', $a[0])); }
elsif ($cmd eq 'put32') { wr($off, pack('V', $a[0])); }
elsif ($cmd eq 'shorten_lp') {	# line pointer at $off: length field minus 8
	my $v = unpack('V', rd($off, 4));
	my $len = $v >> 17;
	wr($off, pack('V', ($v & 0x1ffff) | (($len - 8) << 17)));
}
else { die "unknown command $cmd"; }
close($fh) or die "close: $!";
EOF
bin() { perl "$W/bin.pl" "$@"; }

q "$D" "$P" $DB -c "CREATE EXTENSION prism" >/dev/null || { echo "FAIL ivfflat_corrupt: CREATE EXTENSION"; exit 1; }
for c in $CASES; do
	q "$D" "$P" $DB >/dev/null <<-EOF || { echo "FAIL ivfflat_corrupt: setup $c"; exit 1; }
		CREATE TABLE t_$c (id int, v vector(8));
		INSERT INTO t_$c SELECT i, ARRAY[sin(i), cos(i), sin(2 * i), cos(3 * i), sin(5 * i), cos(7 * i), i % 7, i % 3]::vector
			FROM generate_series(1, 500) i;
		CREATE INDEX i_$c ON t_$c USING ivfflat (v vector_l2_ops) WITH (lists = 4);
		CHECKPOINT;
	EOF
done
declare -A FILE
for c in $CASES; do
	FILE[$c]=$D/data/$(q "$D" "$P" $DB -c "SELECT pg_relation_filepath('i_$c')")
done
PM_BEFORE=$(head -1 "$D/data/postmaster.pid")
cluster_stop "$D" >/dev/null 2>&1
B=8192
LIST=$((2 * B))	# block 2: a list page
bin put32 "${FILE[meta]}" $((24)) 12345	# MetaPageData.magic (page contents start after the header)
bin put16 "${FILE[metric]}" $((24 + 12)) $((4 + 256 * 1))	# MetaPageData.metric 4 (Hamming), element_type 1 (float4)
bin shorten_lp "${FILE[center]}" $((B + 24))
bin put32 "${FILE[next]}" $((LIST + B - 4)) 4000000
bin put32 "${FILE[cycle]}" $((LIST + B - 4)) 2
bin put16 "${FILE[kind]}" $((LIST + B - 8)) 7
bin shorten_lp "${FILE[tuple]}" $((LIST + 24))
cluster_start "$D" "$P"
wait_ready "$D" "$P" || { not_ok "server did not start"; finish ivfflat_corrupt; }
PM_BEFORE=$(head -1 "$D/data/postmaster.pid")

# expect_corrupt LABEL SQL: the statement fails with XX002 naming the index
expect_corrupt() {
	local label=$1 sql=$2 out
	out=$("$PG_BIN/psql" -X -q -h "$D" -p "$P" -U postgres -d $DB -v VERBOSITY=verbose -c "SET enable_seqscan = off" -c "SET ivfflat.probes = 4" -c "$sql" 2>&1)
	if grep -q 'ERROR:  XX002: index "i_[a-z]*" contains a corrupted page at block' <<<"$out"; then
		ok "$label: $(grep -o 'corrupted page at block [0-9]*' <<<"$out" | head -1) ($(grep DETAIL <<<"$out" | sed 's/^DETAIL:  //' | head -1))"
	else
		not_ok "$label" "($out)"
	fi
}

for c in $CASES; do
	expect_corrupt "$c: scan" "SELECT id FROM t_$c ORDER BY v <-> '[1,1,1,1,1,1,1,1]' LIMIT 1000"
	q "$D" "$P" $DB -c "DELETE FROM t_$c WHERE id = 1" >/dev/null
	expect_corrupt "$c: vacuum" "VACUUM t_$c"
	case $c in meta | metric | center) expect_corrupt "$c: insert" "INSERT INTO t_$c VALUES (0, '[1,1,1,1,1,1,1,1]')" ;; esac
	res=$(q "$D" "$P" $DB -c "SELECT problem || ' at block ' || coalesce(block::text, '-') || ': ' || detail FROM prism.ivfflat_check('i_$c') LIMIT 1" 2>&1)
	if [ -n "$res" ] && ! grep -q ERROR <<<"$res"; then
		ok "$c: prism.ivfflat_check reports it ($res)"
	else
		not_ok "$c: prism.ivfflat_check" "($res)"
	fi
done
check "the postmaster never restarted" "$PM_BEFORE" "$(head -1 "$D/data/postmaster.pid")"
bad=$(grep -E 'PANIC|TRAP:|terminated by signal' "$D/server.log" | head -3)
[ -z "$bad" ] && ok "no backend killed by a signal" || not_ok "server log" "$bad"

for c in $CASES; do
	res=$(q "$D" "$P" $DB -c "REINDEX INDEX i_$c" -c "SET enable_seqscan = off" -c "SET ivfflat.probes = 4" \
		-c "SELECT count(*) = (SELECT count(*) FROM t_$c) FROM (SELECT id FROM t_$c ORDER BY v <-> '[1,1,1,1,1,1,1,1]' LIMIT 1000) s" 2>&1)
	check "$c: after REINDEX the index returns every row" t "$res"
	check "$c: after REINDEX prism.ivfflat_check finds no problem" 0 "$(q "$D" "$P" $DB -c "SELECT count(*) FROM prism.ivfflat_check('i_$c')")"
done
finish ivfflat_corrupt
