// prism as a drop-in for pgvector: a node-postgres application written as the pgvector npm
// package's README shows (registerTypes, toSql, `ORDER BY embedding <-> $1 LIMIT 5`) runs
// unchanged against CREATE EXTENSION prism. Also reads and writes vectors in binary form
// (pgvector's wire layout: int16 dims, int16 unused, dims x float4, all big-endian).
// The halfvec, bit and sparsevec columns of pgvector-node's README example work the same way,
// in text and in binary form.
// Connects with the usual PGHOST/PGPORT/PGUSER environment. Run: node --test test.js
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import pgvector from 'pgvector/pg';
import { SparseVector } from 'pgvector';

const DB = 'prism_client_test';
let client;

// Binary wire form -> number[] (pgvector's npm package only parses the text form).
function vectorFromBinary(buf) {
	const dims = buf.readInt16BE(0);
	assert.equal(buf.readInt16BE(2), 0, 'unused header field must be 0');
	assert.equal(buf.length, 4 + 4 * dims, 'binary length must match dims');
	const out = new Array(dims);
	for (let i = 0; i < dims; i++)
		out[i] = buf.readFloatBE(4 + 4 * i);
	return out;
}

// number[] -> binary wire form; node-postgres sends a Buffer parameter in binary format.
function vectorToBinary(v) {
	const buf = Buffer.alloc(4 + 4 * v.length);
	buf.writeInt16BE(v.length, 0);
	buf.writeInt16BE(0, 2);
	v.forEach((x, i) => buf.writeFloatBE(x, 4 + 4 * i));
	return buf;
}

const l2 = (a, b) => Math.sqrt(a.reduce((s, x, i) => s + (x - b[i]) ** 2, 0));

const ITEMS = [
	[1, 1, 1],
	[2, 2, 2],
	[1, 1, 2],
	[0.5, -1.25, 3],
	[10, 0, -4],
	[-2, 7.5, 1e-3],
	[3, 2, 1],
];

before(async () => {
	// a fresh database per run so reruns and other tests do not interfere
	const admin = new pg.Client({ database: 'postgres' });
	await admin.connect();
	await admin.query(`DROP DATABASE IF EXISTS ${DB}`);
	await admin.query(`CREATE DATABASE ${DB}`);
	await admin.end();

	client = new pg.Client({ database: DB });
	await client.connect();
	// the pgvector README says CREATE EXTENSION vector; prism's extension is named prism
	await client.query('CREATE EXTENSION IF NOT EXISTS prism');
	await pgvector.registerTypes(client);
	await client.query('CREATE TABLE items (id bigserial PRIMARY KEY, embedding vector(3))');
	for (const v of ITEMS)
		await client.query('INSERT INTO items (embedding) VALUES ($1)', [pgvector.toSql(v)]);
});

after(async () => {
	if (client)
		await client.end();
});

test('text form: insert with toSql, read back parsed by registerTypes', async () => {
	const { rows } = await client.query('SELECT id, embedding FROM items ORDER BY id');
	assert.equal(rows.length, ITEMS.length);
	rows.forEach((r, i) => assert.deepEqual(r.embedding, ITEMS[i]));
	const { rows: [r] } = await client.query("SELECT '[1.5, -2, 3e2]'::vector AS v");
	assert.deepEqual(r.v, [1.5, -2, 300]);
});

test('nearest neighbours: ORDER BY embedding <-> $1 LIMIT 5', async () => {
	const q = [1, 2, 3];
	const { rows } = await client.query(
		'SELECT id, embedding, embedding <-> $1 AS distance FROM items ORDER BY embedding <-> $1 LIMIT 5',
		[pgvector.toSql(q)]);
	const expected = ITEMS.map((v, i) => ({ id: i + 1, d: l2(v, q) }))
		.sort((a, b) => a.d - b.d).slice(0, 5);
	assert.deepEqual(rows.map((r) => Number(r.id)), expected.map((e) => e.id));
	rows.forEach((r, i) => assert.ok(Math.abs(r.distance - expected[i].d) < 1e-5,
		`distance ${r.distance} vs ${expected[i].d}`));
});

test('all four distance operators agree with JavaScript', async () => {
	const a = [1, 2, 3], b = [4, -5, 6];
	const { rows: [r] } = await client.query(
		'SELECT $1::vector <-> $2 AS l2, $1::vector <#> $2 AS nip, $1::vector <=> $2 AS cos, $1::vector <+> $2 AS l1',
		[pgvector.toSql(a), pgvector.toSql(b)]);
	const dot = a.reduce((s, x, i) => s + x * b[i], 0);
	const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
	const close = (x, y) => assert.ok(Math.abs(x - y) < 1e-5, `${x} vs ${y}`);
	close(r.l2, l2(a, b));
	close(r.nip, -dot);
	close(r.cos, 1 - dot / (norm(a) * norm(b)));
	close(r.l1, a.reduce((s, x, i) => s + Math.abs(x - b[i]), 0));
});

test('binary form: send and receive in pgvector\'s wire layout', async () => {
	const { rows: [{ oid }] } = await client.query("SELECT 'vector'::regtype::oid AS oid");
	client.setTypeParser(oid, 'binary', vectorFromBinary);

	// The server's binary output for every stored vector, fetched as bytea so no byte is lost.
	const raw = await client.query('SELECT vector_send(embedding) AS b FROM items ORDER BY id');
	raw.rows.forEach((r, i) => assert.deepEqual(vectorFromBinary(r.b), ITEMS[i].map(Math.fround)));

	// A Buffer parameter goes out in binary format: this exercises the type's receive function.
	const v = [0.25, -8, 1024.5];
	const ins = await client.query('INSERT INTO items (embedding) VALUES ($1) RETURNING id, embedding::text AS t',
		[vectorToBinary(v)]);
	assert.equal(ins.rows[0].t, '[0.25,-8,1024.5]');

	// Binary results (binary: true needs the extended protocol, hence the parameter). node-postgres
	// decodes every result value as UTF-8 text before handing binary ones over as a Buffer, so
	// only vectors whose bytes are all ASCII survive it intact: these are.
	const ascii = [[2, 3, 0.5], [8, 10, 12], [0.125, 32, 2]];
	for (const a of ascii)
		await client.query('INSERT INTO items (embedding) VALUES ($1)', [pgvector.toSql(a)]);
	const res = await client.query({
		text: 'SELECT embedding FROM items WHERE id > $1 ORDER BY id',
		values: [Number(ins.rows[0].id)],
		binary: true,
	});
	assert.equal(res.fields[0].format, 'binary');
	assert.deepEqual(res.rows.map((r) => r.embedding), ascii);
	const back = await client.query({
		text: 'SELECT count(*)::int AS n FROM items WHERE embedding = $1',
		values: [vectorToBinary(v)],
	});
	assert.equal(back.rows[0].n, 1);
	await client.query('DELETE FROM items WHERE id > $1', [ITEMS.length]);
});

test('a vector of the wrong dimension is rejected', async () => {
	await assert.rejects(client.query('INSERT INTO items (embedding) VALUES ($1)', [pgvector.toSql([1, 2])]),
		(err) => err instanceof Error && /dimension/i.test(err.message));
});

test('hnsw index answers the same nearest-neighbour query', async (t) => {
	const { rows: am } = await client.query("SELECT 1 FROM pg_am WHERE amname = 'hnsw'");
	if (am.length === 0) {
		t.skip('no hnsw access method in this build yet');
		return;
	}
	await client.query('CREATE INDEX ON items USING hnsw (embedding vector_l2_ops)');
	await client.query('SET enable_seqscan = off');
	const q = pgvector.toSql([1, 2, 3]);
	const plan = await client.query('EXPLAIN SELECT id FROM items ORDER BY embedding <-> $1 LIMIT 5', [q]);
	assert.match(plan.rows.map((r) => r['QUERY PLAN']).join('\n'), /Index Scan/);
	const { rows } = await client.query('SELECT id FROM items ORDER BY embedding <-> $1 LIMIT 5', [q]);
	const expected = ITEMS.map((v, i) => ({ id: i + 1, d: l2(v, [1, 2, 3]) }))
		.sort((a, b) => a.d - b.d).slice(0, 5);
	// Items 2 and 3 are equally far from the query, so compare distances: ties may come either way.
	const dist = (id) => l2(ITEMS[id - 1], [1, 2, 3]);
	assert.deepEqual(rows.map((r) => dist(Number(r.id))), expected.map((e) => e.d));
	assert.equal(new Set(rows.map((r) => Number(r.id))).size, 5);
	await client.query('RESET enable_seqscan');
});

// --- halfvec, bit and sparsevec (pgvector-node's README example table) ---------------------------

// IEEE half bits -> number: the definition, independent of the server's conversion.
function halfFromBits(h) {
	const sign = h & 0x8000 ? -1 : 1, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
	if (exp === 0)
		return sign * mant * 2 ** -24;
	if (exp === 31)
		return mant ? NaN : sign * Infinity;
	return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

const TYPED = [
	{ e: [1, 1, 1], h: [1, 1, 1], b: '000', s: [1, 1, 1] },
	{ e: [2, 2, 2], h: [2, 2, 2], b: '101', s: [2, 0, 2] },
	{ e: [1, 1, 2], h: [0.5, -1.25, 3], b: '111', s: [0, 0, 2] },
];

test('halfvec, bit and sparsevec columns: pgvector-node README usage', async () => {
	await client.query(`CREATE TABLE typed (id bigserial PRIMARY KEY, embedding vector(3),
		half_embedding halfvec(3), binary_embedding bit(3), sparse_embedding sparsevec(3))`);
	for (const r of TYPED)
		await client.query(
			'INSERT INTO typed (embedding, half_embedding, binary_embedding, sparse_embedding) VALUES ($1, $2, $3, $4)',
			[pgvector.toSql(r.e), pgvector.toSql(r.h), r.b, pgvector.toSql(new SparseVector(r.s))]);

	const { rows } = await client.query('SELECT * FROM typed ORDER BY id');
	rows.forEach((row, i) => {
		assert.deepEqual(row.embedding, TYPED[i].e);
		assert.deepEqual(row.half_embedding, TYPED[i].h);  // registerTypes parses halfvec
		assert.equal(row.binary_embedding, TYPED[i].b);
		assert.ok(row.sparse_embedding instanceof SparseVector);
		assert.deepEqual(row.sparse_embedding.toArray(), TYPED[i].s);
	});

	// values round to the nearest half, as in pgvector
	const { rows: [r] } = await client.query('SELECT $1::halfvec AS h', [pgvector.toSql([0.1, 65504, 1e-8])]);
	assert.deepEqual(r.h, [0.099975586, 65504, 0]);
	await assert.rejects(client.query('SELECT $1::halfvec', [pgvector.toSql([70000])]),
		(err) => /out of range for type halfvec/.test(err.message));
});

test('halfvec, bit and sparsevec nearest neighbours agree with JavaScript', async () => {
	const q = [1, 1, 1];
	const order = (dist) => TYPED.map((r, i) => ({ id: i + 1, d: dist(r) }))
		.sort((a, b) => a.d - b.d || a.id - b.id).map((x) => x.id);

	const half = await client.query('SELECT id FROM typed ORDER BY half_embedding <-> $1, id LIMIT 5',
		[pgvector.toSql(q)]);
	assert.deepEqual(half.rows.map((x) => Number(x.id)), order((r) => l2(r.h, q)));

	const sparse = await client.query('SELECT id, sparse_embedding <-> $1 AS d FROM typed ORDER BY d, id LIMIT 5',
		[pgvector.toSql(new SparseVector(q))]);
	assert.deepEqual(sparse.rows.map((x) => Number(x.id)), order((r) => l2(r.s, q)));
	sparse.rows.forEach((x) => assert.ok(Math.abs(x.d - l2(TYPED[x.id - 1].s, q)) < 1e-6));

	const hamming = (a, b) => [...a].filter((c, i) => c !== b[i]).length;
	const bits = await client.query("SELECT id, binary_embedding <~> '101' AS d FROM typed ORDER BY d, id LIMIT 5");
	assert.deepEqual(bits.rows.map((x) => Number(x.id)), order((r) => hamming(r.b, '101')));
	bits.rows.forEach((x) => assert.equal(x.d, hamming(TYPED[x.id - 1].b, '101')));

});

test('hnsw indexes on vector, halfvec, bit and sparsevec answer as the exact order', async () => {
	// pgvector-node's README indexes: one per type, each used by its ORDER BY ... LIMIT
	await client.query('INSERT INTO typed (embedding, half_embedding, binary_embedding, sparse_embedding) '
		+ "SELECT ARRAY[i % 7, i % 5, i % 3]::vector(3), ARRAY[i % 5, i % 3, i % 7]::halfvec(3), "
		+ "(i % 8)::bit(3), ARRAY[i % 3, 0, i % 4]::vector(3)::sparsevec(3) FROM generate_series(1, 300) i");
	const cases = [
		['embedding', 'vector_l2_ops', '<->', pgvector.toSql([1, 2, 3])],
		['half_embedding', 'halfvec_l2_ops', '<->', pgvector.toSql([1, 2, 3])],
		['binary_embedding', 'bit_hamming_ops', '<~>', '101'],
		['sparse_embedding', 'sparsevec_l2_ops', '<->', pgvector.toSql(new SparseVector([1, 0, 2]))],
		['sparse_embedding', 'sparsevec_ip_ops', '<#>', pgvector.toSql(new SparseVector([1, 0, 2]))],
		['sparse_embedding', 'sparsevec_cosine_ops', '<=>', pgvector.toSql(new SparseVector([1, 0, 2]))],
		['sparse_embedding', 'sparsevec_l1_ops', '<+>', pgvector.toSql(new SparseVector([1, 0, 2]))],
	];
	for (const [col, opclass, op, q] of cases) {
		const name = `typed_${opclass}`;
		await client.query(`CREATE INDEX ${name} ON typed USING hnsw (${col} ${opclass})`);
		await client.query('SET enable_seqscan = off');
		const sql = `SELECT id, ${col} ${op} $1 AS d FROM typed ORDER BY ${col} ${op} $1 LIMIT 10`;
		const plan = await client.query(`EXPLAIN ${sql}`, [q]);
		assert.ok(plan.rows.some((r) => r['QUERY PLAN'].includes(name)), `${opclass}: index not used`);
		const { rows } = await client.query(sql, [q]);
		await client.query('RESET enable_seqscan');
		const exact = await client.query(`SELECT ${col} ${op} $1 AS d FROM typed ORDER BY 1 LIMIT 10`, [q]);
		// distances equal the exact 10 nearest (ties may come in either order)
		assert.deepEqual(rows.map((r) => Number(r.d)), exact.rows.map((r) => Number(r.d)), opclass);
		await client.query(`DROP INDEX ${name}`);
	}
	await client.query('DELETE FROM typed WHERE id > 3');
});

test('halfvec and sparsevec binary forms: pgvector\'s wire layouts', async () => {
	// halfvec: int16 dim, int16 unused, dim half bit patterns, big-endian
	const { rows: [h] } = await client.query("SELECT halfvec_send('[1,-2,0.1]') AS b");
	assert.equal(h.b.readInt16BE(0), 3);
	assert.equal(h.b.readInt16BE(2), 0);
	assert.equal(h.b.length, 4 + 2 * 3);
	assert.deepEqual([0, 1, 2].map((i) => halfFromBits(h.b.readUInt16BE(4 + 2 * i))), [1, -2, 0.0999755859375]);
	const hb = Buffer.from([0, 2, 0, 0, 0x3c, 0x00, 0xc0, 0x00]);  // [1, -2]
	const { rows: [hr] } = await client.query('SELECT $1::halfvec::text AS t', [hb]);
	assert.equal(hr.t, '[1,-2]');

	// sparsevec: int32 dim, int32 nnz, int32 unused, 0-based int32 indices, float4 values
	const { rows: [s] } = await client.query("SELECT sparsevec_send('{1:1.5,3:-2}/5') AS b");
	assert.deepEqual([0, 1, 2, 3, 4].map((i) => s.b.readInt32BE(4 * i)), [5, 2, 0, 0, 2]);
	assert.deepEqual([s.b.readFloatBE(20), s.b.readFloatBE(24)], [1.5, -2]);
	const sb = Buffer.alloc(28);
	[5, 2, 0, 1, 4].forEach((x, i) => sb.writeInt32BE(x, 4 * i));
	sb.writeFloatBE(0.25, 20);
	sb.writeFloatBE(-8, 24);
	const { rows: [sr] } = await client.query('SELECT $1::sparsevec::text AS t', [sb]);
	assert.equal(sr.t, '{2:0.25,5:-8}/5');
	await client.query('DROP TABLE typed');
});
