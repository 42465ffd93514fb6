// prism under the ORMs and query builders that pgvector's npm package supports: knex, kysely,
// sequelize, pg-promise (through pgvector's helpers) and drizzle-orm, typeorm (built-in vector
// columns). Each one creates its table, inserts vectors, adds an hnsw index and asks for the
// nearest neighbours the way its pgvector integration documents; the answer must be the exact one
// computed here, and EXPLAIN of the SQL the ORM generated must show the hnsw index scan.
// Only the extension's name differs from pgvector's documentation (CREATE EXTENSION prism).
// Connects with the usual PGHOST/PGPORT/PGUSER environment. Run: node --test orms.js
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';

import knexFactory from 'knex';
import pgvectorKnex from 'pgvector/knex';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { l2Distance as kyselyL2, cosineDistance as kyselyCosine } from 'pgvector/kysely';
import { Sequelize, DataTypes } from 'sequelize';
import pgvectorSequelize from 'pgvector/sequelize';
import pgpromise from 'pg-promise';
import pgvectorPgPromise from 'pgvector/pg-promise';
import { drizzle } from 'drizzle-orm/node-postgres';
import { l2Distance as drizzleL2, asc } from 'drizzle-orm';
import { pgTable, serial, vector, index } from 'drizzle-orm/pg-core';
import { DataSource, EntitySchema } from 'typeorm';
import pgvector from 'pgvector';

const DB = 'prism_orm_test';
// The tables are tiny, so the planner would scan them; every connection (the ORMs' included,
// through libpq's PGOPTIONS, which node-postgres reads) leaves it the index scan.
process.env.PGOPTIONS = '-c enable_seqscan=off';

const ITEMS = [[1, 1, 1], [2, 2, 2.5], [1, 1, 2], [0.5, -1.25, 3], [10, 0, -4], [-2, 7.5, 1e-3], [3, 2, 1]];
const Q = [1.1, 2, 3];
const l2 = (a, b) => Math.sqrt(a.reduce((s, x, i) => s + (x - b[i]) ** 2, 0));
const cosine = (a, b) => {
	const dot = a.reduce((s, x, i) => s + x * b[i], 0);
	const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
	return 1 - dot / (norm(a) * norm(b));
};
// ids (1-based insertion order) of the k nearest items under dist; the data has no ties
function nearest(dist, k = 5) {
	const d = ITEMS.map((v, i) => ({ id: i + 1, d: dist(v, Q) })).sort((a, b) => a.d - b.d);
	assert.equal(new Set(d.map((x) => x.d.toFixed(9))).size, d.length, 'test data must have no distance ties');
	return d.slice(0, k).map((x) => x.id);
}

let admin;

before(async () => {
	const root = new pg.Client({ database: 'postgres' });
	await root.connect();
	await root.query(`DROP DATABASE IF EXISTS ${DB}`);
	await root.query(`CREATE DATABASE ${DB}`);
	await root.end();
	admin = new pg.Client({ database: DB });
	await admin.connect();
	// pgvector's documentation: CREATE EXTENSION IF NOT EXISTS vector
	await admin.query('CREATE EXTENSION IF NOT EXISTS prism');
});

after(async () => {
	if (admin)
		await admin.end();
});

// The plan of an ORM's generated statement (with its parameters) uses the named hnsw index.
async function assertIndexScan(text, values, indexName) {
	const { rows } = await admin.query(`EXPLAIN ${text}`, values);
	const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
	assert.match(plan, new RegExp(`Index Scan using ${indexName}\\b`), plan);
	const { rows: am } = await admin.query(
		'SELECT am.amname FROM pg_class c JOIN pg_am am ON am.oid = c.relam WHERE c.relname = $1', [indexName]);
	assert.equal(am[0]?.amname, 'hnsw');
}

test('knex (pgvector/knex)', async () => {
	const knex = knexFactory({ client: 'pg', connection: { database: DB } });
	try {
		await knex.schema.createExtensionIfNotExists('prism');
		await knex.schema.createTable('knex_items', (table) => {
			table.increments('id');
			table.vector('embedding', 3);
		});
		await knex('knex_items').insert(ITEMS.map((v) => ({ embedding: pgvectorKnex.toSql(v) })));
		await knex.schema.alterTable('knex_items', (table) => {
			table.index([knex.raw('embedding vector_l2_ops')], 'knex_items_embedding_idx', 'hnsw');
		});
		const query = knex('knex_items').orderBy(knex.l2Distance('embedding', Q)).limit(5);
		const rows = await query;
		assert.deepEqual(rows.map((r) => r.id), nearest(l2));
		assert.deepEqual(pgvectorKnex.fromSql(rows[0].embedding), ITEMS[nearest(l2)[0] - 1]);
		const { sql: text, bindings } = query.toSQL().toNative();
		await assertIndexScan(text, bindings, 'knex_items_embedding_idx');
	} finally {
		await knex.destroy();
	}
});

test('kysely (pgvector/kysely)', async () => {
	const db = new Kysely({ dialect: new PostgresDialect({ pool: new pg.Pool({ database: DB }) }) });
	try {
		await sql`CREATE EXTENSION IF NOT EXISTS prism`.execute(db);
		await db.schema.createTable('kysely_items')
			.addColumn('id', 'serial', (cb) => cb.primaryKey())
			.addColumn('embedding', sql`vector(3)`)
			.execute();
		await db.insertInto('kysely_items').values(ITEMS.map((v) => ({ embedding: pgvector.toSql(v) }))).execute();
		await db.schema.createIndex('kysely_items_embedding_idx').on('kysely_items').using('hnsw')
			.expression(sql`embedding vector_cosine_ops`).execute();
		const query = db.selectFrom('kysely_items').selectAll()
			.orderBy(kyselyCosine('embedding', Q)).limit(5);
		const rows = await query.execute();
		assert.deepEqual(rows.map((r) => r.id), nearest(cosine));
		const compiled = query.compile();
		await assertIndexScan(compiled.sql, compiled.parameters, 'kysely_items_embedding_idx');
		// the documented distance filter
		const within = await db.selectFrom('kysely_items').select('id')
			.where(kyselyL2('embedding', Q), '<', 2).orderBy('id').execute();
		assert.deepEqual(within.map((r) => r.id), ITEMS.map((v, i) => (l2(v, Q) < 2 ? i + 1 : null)).filter((x) => x));
	} finally {
		await db.destroy();
	}
});

test('sequelize (pgvector/sequelize)', async () => {
	pgvectorSequelize.registerTypes(Sequelize);
	const statements = [];
	const sequelize = new Sequelize(DB, process.env.PGUSER, process.env.PGPASSWORD ?? null, {
		dialect: 'postgres',
		host: process.env.PGHOST,
		port: process.env.PGPORT,
		logging: (s) => statements.push(s),
	});
	try {
		await sequelize.query('CREATE EXTENSION IF NOT EXISTS prism');
		const Item = sequelize.define('Item', {
			embedding: { type: DataTypes.VECTOR(3) },
		}, {
			tableName: 'sequelize_items',
			timestamps: false,
			indexes: [{ name: 'sequelize_items_embedding_idx', fields: ['embedding'], using: 'hnsw', operator: 'vector_l2_ops' }],
		});
		await Item.sync({ force: true });
		for (const v of ITEMS)
			await Item.create({ embedding: v });
		statements.length = 0;
		const items = await Item.findAll({ order: pgvectorSequelize.l2Distance('embedding', Q, sequelize), limit: 5 });
		assert.deepEqual(items.map((i) => i.id), nearest(l2));
		assert.deepEqual(items[0].embedding, ITEMS[nearest(l2)[0] - 1]);
		const select = statements.find((s) => /SELECT/.test(s)).replace(/^Executing \([^)]*\): /, '');
		await assertIndexScan(select.replace(/;\s*$/, ''), [], 'sequelize_items_embedding_idx');
	} finally {
		await sequelize.close();
	}
});

test('pg-promise (pgvector/pg-promise)', async () => {
	const pgp = pgpromise({
		async connect(e) {
			await pgvectorPgPromise.registerTypes(e.client);
		},
	});
	const db = pgp({ database: DB });
	try {
		await db.none('CREATE EXTENSION IF NOT EXISTS prism');
		await db.none('CREATE TABLE pgp_items (id bigserial PRIMARY KEY, embedding vector(3))');
		for (const v of ITEMS)
			await db.none('INSERT INTO pgp_items (embedding) VALUES ($1)', [pgvectorPgPromise.toSql(v)]);
		await db.none('CREATE INDEX pgp_items_embedding_idx ON pgp_items USING hnsw (embedding vector_l2_ops)');
		const text = 'SELECT * FROM pgp_items ORDER BY embedding <-> $1 LIMIT 5';
		const rows = await db.any(text, [pgvectorPgPromise.toSql(Q)]);
		assert.deepEqual(rows.map((r) => Number(r.id)), nearest(l2));
		assert.deepEqual(rows[0].embedding, ITEMS[nearest(l2)[0] - 1]);
		await assertIndexScan(text, [pgvector.toSql(Q)], 'pgp_items_embedding_idx');
	} finally {
		pgp.end();
	}
});

test('drizzle-orm (built-in vector column, node-postgres driver)', async () => {
	const pool = new pg.Pool({ database: DB });
	const db = drizzle(pool);
	try {
		await db.execute('CREATE EXTENSION IF NOT EXISTS prism');
		await db.execute('CREATE TABLE drizzle_items (id serial PRIMARY KEY, embedding vector(3))');
		const items = pgTable('drizzle_items', {
			id: serial('id').primaryKey(),
			embedding: vector('embedding', { dimensions: 3 }),
		}, (table) => [index('drizzle_items_embedding_idx').using('hnsw', table.embedding.op('vector_l2_ops'))]);
		await db.insert(items).values(ITEMS.map((v) => ({ embedding: v })));
		// drizzle-kit would emit this from the table's index definition
		await db.execute('CREATE INDEX drizzle_items_embedding_idx ON drizzle_items USING hnsw (embedding vector_l2_ops)');
		const query = db.select().from(items).orderBy(drizzleL2(items.embedding, Q)).limit(5);
		const rows = await query;
		assert.deepEqual(rows.map((r) => r.id), nearest(l2));
		assert.deepEqual(rows[0].embedding, ITEMS[nearest(l2)[0] - 1]);
		const { sql: text, params } = query.toSQL();
		await assertIndexScan(text, params, 'drizzle_items_embedding_idx');
	} finally {
		await pool.end();
	}
});

test('typeorm (built-in vector column)', async () => {
	const Item = new EntitySchema({
		name: 'Item',
		tableName: 'typeorm_items',
		columns: {
			id: { type: Number, primary: true, generated: true },
			embedding: { type: 'vector', length: 3 },
		},
	});
	const ds = new DataSource({
		type: 'postgres',
		host: process.env.PGHOST,
		port: Number(process.env.PGPORT),
		username: process.env.PGUSER,
		database: DB,
		logging: false,
		entities: [Item],
	});
	await ds.initialize();
	try {
		await ds.query('CREATE EXTENSION IF NOT EXISTS prism');
		await ds.query('CREATE TABLE typeorm_items (id bigserial PRIMARY KEY, embedding vector(3))');
		await ds.query('CREATE INDEX typeorm_items_embedding_idx ON typeorm_items USING hnsw (embedding vector_l2_ops)');
		const repo = ds.getRepository(Item);
		for (const v of ITEMS)
			await repo.save({ embedding: v });
		const qb = repo.createQueryBuilder('item')
			.orderBy('embedding <-> :embedding')
			.setParameters({ embedding: pgvector.toSql(Q) })
			.limit(5);
		const rows = await qb.getMany();
		assert.deepEqual(rows.map((r) => Number(r.id)), nearest(l2));
		assert.deepEqual(rows[0].embedding, ITEMS[nearest(l2)[0] - 1]);
		const [text, params] = qb.getQueryAndParameters();
		await assertIndexScan(text, params, 'typeorm_items_embedding_idx');
	} finally {
		await ds.destroy();
	}
});
