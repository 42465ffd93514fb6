#!/bin/bash
# Python clients: Debian's python3-psycopg (psycopg 3, installed here with apt when missing)
# against prism, in a database of its own on the suite's server (PGHOST/PGPORT/PGUSER). The
# vector adapters are the ones a pgvector application registers with psycopg (text form
# "[1,2,3]"; binary form int16 dims, int16 unused, dims x float4, big-endian). Checks: COPY FROM
# in text and binary format, COPY TO in both formats returns the same float4 values,
# parameterised k-NN queries with text and binary parameters (and a server-side prepared
# statement) give the exact answer through the hnsw index.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../lib.sh"

# Debian's python, which sees Debian's python3-* packages (another python3 may come first on PATH)
PY=/usr/bin/python3
if ! "$PY" -c 'import psycopg' 2>/dev/null; then
	log "installing python3-psycopg"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-psycopg >/dev/null 2>&1 ||
		{ as_root apt-get update -q >/dev/null 2>&1 &&
			as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-psycopg >/dev/null; } ||
		die "apt-get install python3-psycopg failed"
fi

DB=prism_psycopg_test
"$PG_BIN/psql" -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null 2>&1 ||
	die "cannot create database $DB"
trap '"$PG_BIN/psql" -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1' EXIT

PRISM_TEST_DB=$DB "$PY" - <<'EOF'
import math
import os
import random
import struct
import sys

import psycopg
from psycopg.adapt import Dumper, Loader
from psycopg.pq import Format
from psycopg.types import TypeInfo

passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok - {name}")
    else:
        failed += 1
        print(f"not ok - {name} {detail}")


def to_text(v):
    return "[" + ",".join(repr(float(x)) for x in v) + "]"


def from_text(s):
    return [float(x) for x in s[1:-1].split(",")] if s != "[]" else []


class VectorTextDumper(Dumper):
    format = Format.TEXT

    def dump(self, obj):
        return to_text(obj).encode()


class VectorBinaryDumper(Dumper):
    format = Format.BINARY

    def dump(self, obj):
        return struct.pack(f">HH{len(obj)}f", len(obj), 0, *obj)


class VectorTextLoader(Loader):
    format = Format.TEXT

    def load(self, data):
        return from_text(bytes(data).decode())


class VectorBinaryLoader(Loader):
    format = Format.BINARY

    def load(self, data):
        dims, unused = struct.unpack_from(">HH", data)
        if unused != 0 or len(data) != 4 + 4 * dims:
            raise ValueError("malformed binary vector")
        return list(struct.unpack_from(f">{dims}f", data, 4))


class Vector(list):
    """A vector parameter: a list the dumpers below are registered for."""


def register(conn):
    info = TypeInfo.fetch(conn, "vector")
    if info is None:
        raise RuntimeError("vector type not found")
    info.register(conn)
    for cls in (VectorTextDumper, VectorBinaryDumper):
        d = type(cls.__name__, (cls,), {"oid": info.oid})
        conn.adapters.register_dumper(Vector, d)
    conn.adapters.register_loader(info.oid, VectorTextLoader)
    conn.adapters.register_loader(info.oid, VectorBinaryLoader)
    return info


f32 = lambda v: list(struct.unpack(f"{len(v)}f", struct.pack(f"{len(v)}f", *v)))
l2 = lambda a, b: math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b)))

DIMS = 24
rng = random.Random(7)
rows = [(i, [rng.uniform(-1, 1) for _ in range(DIMS)]) for i in range(1, 2001)]

with psycopg.connect(dbname=os.environ["PRISM_TEST_DB"], autocommit=True) as conn:
    conn.execute("CREATE EXTENSION IF NOT EXISTS prism")
    info = register(conn)
    conn.execute(f"CREATE TABLE items (id int PRIMARY KEY, v vector({DIMS}))")

    # text COPY: rows 1..1000, vectors written as their text form
    with conn.cursor() as cur:
        with cur.copy("COPY items (id, v) FROM STDIN") as copy:
            for i, v in rows[:1000]:
                copy.write_row((i, to_text(v)))
    # binary COPY: rows 1001..2000 through the binary dumper
    with conn.cursor() as cur:
        with cur.copy("COPY items (id, v) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "vector"])
            for i, v in rows[1000:]:
                copy.write_row((i, Vector(v)))
    n = conn.execute("SELECT count(*) FROM items").fetchone()[0]
    check("text and binary COPY FROM load all rows", n == len(rows), f"({n})")

    expect = {i: f32(v) for i, v in rows}
    with conn.cursor() as cur:
        with cur.copy("COPY (SELECT id, v FROM items ORDER BY id) TO STDOUT (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "vector"])
            got = {i: v for i, v in copy.rows()}
    check("binary COPY TO returns every vector's float4 values", got == expect,
          f"({sum(got.get(i) != v for i, v in expect.items())} differ)")
    with conn.cursor() as cur:
        with cur.copy("COPY (SELECT id, v FROM items ORDER BY id) TO STDOUT") as copy:
            lines = b"".join(bytes(b) for b in copy).decode().splitlines()
    # the text form is the shortest decimal that reads back as the same float4
    got = {int(l.split("\t")[0]): f32(from_text(l.split("\t")[1])) for l in lines}
    check("text COPY TO returns every vector's float4 values", got == expect,
          f"({sum(got.get(i) != v for i, v in expect.items())} differ)")

    conn.execute("CREATE INDEX items_v_idx ON items USING hnsw (v vector_l2_ops)")
    conn.execute("SET enable_seqscan = off")
    conn.execute("SET hnsw.ef_search = 100")
    sql = "SELECT id, v, v <-> %s AS d FROM items ORDER BY v <-> %s LIMIT 5"
    plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + sql, (Vector(rows[0][1]),) * 2))
    check("the k-NN query uses the hnsw index", "Index Scan using items_v_idx" in plan, plan)

    def exact(q):
        qf = f32(q)
        return [i for i, _ in sorted(expect.items(), key=lambda kv: (l2(kv[1], qf), kv[0]))[:5]]

    queries = [[rng.uniform(-1, 1) for _ in range(DIMS)] for _ in range(5)]
    text_ok = binary_ok = prepared_ok = values_ok = True
    for q in queries:
        want = exact(q)
        with conn.cursor() as cur:
            res = cur.execute(sql.replace("%s", "%t"), (Vector(q), Vector(q))).fetchall()
            text_ok &= [r[0] for r in res] == want
            values_ok &= all(f32(r[1]) == expect[r[0]] for r in res)
            values_ok &= all(abs(r[2] - l2(expect[r[0]], f32(q))) < 1e-4 for r in res)
        with conn.cursor(binary=True) as cur:
            res = cur.execute(sql.replace("%s", "%b"), (Vector(q), Vector(q)), binary=True).fetchall()
            binary_ok &= [r[0] for r in res] == want
            values_ok &= all(r[1] == expect[r[0]] for r in res)
        with conn.cursor() as cur:
            res = cur.execute(sql, (Vector(q), Vector(q)), prepare=True).fetchall()
            prepared_ok &= [r[0] for r in res] == want
    check("parameterised k-NN with text parameters gives the exact top 5", text_ok)
    check("parameterised k-NN with binary parameters and results gives the exact top 5", binary_ok)
    check("server-side prepared k-NN gives the exact top 5", prepared_ok)
    check("returned vectors and distances match the loaded values", values_ok)

    # pgvector applications also pass plain lists as real[] and cast: the cast exists
    r = conn.execute("SELECT (%s::real[])::vector::text", ([1.5, -2.0, 3.0],)).fetchone()[0]
    check("a list passed as real[] casts to vector", r == "[1.5,-2,3]", f"({r})")
    try:
        conn.execute("INSERT INTO items VALUES (99999, %s)", (Vector([1.0, 2.0]),))
        check("a vector of the wrong dimension is rejected", False)
    except psycopg.errors.DataException as e:
        check("a vector of the wrong dimension is rejected", "dimension" in str(e), str(e))

print(f"psycopg: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
EOF
