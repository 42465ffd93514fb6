// prism as a drop-in for pgvector: a node-postgres application written as the pgvector npm
// package's README shows (registerTypes, toSql, `ORDER BY embedding <-> $1 LIMIT 5`) runs
// unchanged against CREATE EXTENSION prism. Also reads and writes vectors in binary form
// (pgvector's wire layout: int16 dims, int16 unused, dims x float4, all big-endian).
// Connects with the usual PGHOST/PGPORT/PGUSER environment. Run: node --test test.js
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import pgvector from 'pgvector/pg';

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
