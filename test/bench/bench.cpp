// bench — end-to-end benchmark of hnsw indexes in Postgres (prism, pgvector) against raw hnswlib.
//
// For each database given by a libpq conninfo it loads an fvecs base set into a fresh table,
// times CREATE INDEX ... USING hnsw, reports the index size, sweeps hnsw.ef_search measuring
// recall@k and queries/second (one client, prepared statement, text parameter), optionally runs
// filtered queries at fixed selectivities, and measures the single-row insert rate (autocommit).
// The same build/search numbers for in-process hnswlib are the reference. See README.md.
#include <libpq-fe.h>
#include <sched.h>

#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <cerrno>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double
Seconds(Clock::time_point since)
{
	return std::chrono::duration<double>(Clock::now() - since).count();
}

[[noreturn]] void
Die(const std::string &msg)
{
	fprintf(stderr, "bench: %s\n", msg.c_str());
	exit(1);
}

struct Options {
	std::string data_dir;
	std::vector<std::string> conninfos;
	size_t queries = 0; // 0 = all
	int m = 16;
	int ef_construction = 64;
	std::string metric = "l2";
	int threads = 0; // 0 = leave server defaults; hnswlib then uses the machine's cores
	int inserts = 2000;
	int k = 10;
	std::vector<int> efs = {10, 20, 40, 80, 160, 320};
	bool filtered = false;
	size_t filtered_queries = 100;
	bool hnswlib = true;
	bool reuse = false; // keep a loaded table and built index from an earlier run
	int pin_cpu = -1;   // run the timed single-client phases with client and backend on this CPU
	int rounds = 3;	    // sweep rounds; each round runs every ef on every system in turn
	// vector: a vector(D) column; halfvec: a halfvec(D) column and halfvec_*_ops; bit: a vector
	// column indexed as binary_quantize(embedding)::bit(D) with bit_hamming_ops, queried by
	// Hamming distance for `rerank` rows re-ordered by the exact distance.
	std::string type = "vector";
	int rerank = 100;
};

// Pins process `pid` (0 = this one) to `cpu`, or back to every CPU when cpu < 0. On a VM a
// round trip between processes on different vCPUs pays a cross-CPU wake-up (~120 us here for
// SELECT 1, vs ~22 us on one CPU), which would dominate a single client's query times.
bool
PinProcess(pid_t pid, int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	if (cpu >= 0)
		CPU_SET(cpu, &set);
	else
		for (int i = 0; i < CPU_SETSIZE && i < (int) std::thread::hardware_concurrency(); i++)
			CPU_SET(i, &set);
	return sched_setaffinity(pid, sizeof(set), &set) == 0;
}

struct Dataset {
	size_t dim = 0, nb = 0, nq = 0, gtk = 0;
	std::vector<float> base, query;
	std::vector<int> gt; // nq x gtk
};

// Metric: opclass and operator for SQL, and the matching exact distance for brute force.
struct Metric {
	const char *opclass, *op;
	bool inner_product; // ip and cosine (vectors normalized) rank by -dot
};

Metric
MetricFor(const std::string &name)
{
	if (name == "l2")
		return {"vector_l2_ops", "<->", false};
	if (name == "ip")
		return {"vector_ip_ops", "<#>", true};
	if (name == "cosine")
		return {"vector_cosine_ops", "<=>", true};
	Die("unknown metric " + name + " (l2, ip, cosine)");
}

float
Distance(const Metric &mt, const float *a, const float *b, size_t dim)
{
	float s = 0;
	if (mt.inner_product) {
		for (size_t i = 0; i < dim; i++)
			s += a[i] * b[i];
		return -s;
	}
	for (size_t i = 0; i < dim; i++) {
		float d = a[i] - b[i];
		s += d * d;
	}
	return s;
}

// Reads an fvecs/ivecs file (per record: int32 dim, then dim 4-byte values).
template <typename T>
std::vector<T>
ReadVecs(const std::string &path, size_t &dim, size_t &count)
{
	std::ifstream f(path, std::ios::binary);
	if (!f)
		Die("cannot open " + path);
	std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
	int32_t d = 0;
	if (bytes.size() < 4)
		Die(path + " is empty");
	memcpy(&d, bytes.data(), 4);
	size_t rec = 4 + 4 * size_t(d);
	if (d <= 0 || bytes.size() % rec != 0)
		Die(path + " is not a valid vecs file");
	dim = d;
	count = bytes.size() / rec;
	std::vector<T> out(count * dim);
	for (size_t i = 0; i < count; i++) {
		memcpy(&d, &bytes[i * rec], 4);
		if (size_t(d) != dim)
			Die(path + ": records of different dimensions");
		memcpy(&out[i * dim], &bytes[i * rec + 4], 4 * dim);
	}
	return out;
}

void
Normalize(std::vector<float> &v, size_t dim)
{
	for (size_t i = 0; i + dim <= v.size(); i += dim) {
		double n = 0;
		for (size_t j = 0; j < dim; j++)
			n += double(v[i + j]) * v[i + j];
		if (n > 0)
			for (size_t j = 0; j < dim; j++)
				v[i + j] = float(v[i + j] / std::sqrt(n));
	}
}

// pgvector's text form '[1,2.5,...]', shortest round-trip float formatting.
std::string
VectorText(const float *v, size_t dim)
{
	std::string s = "[";
	char buf[32];
	for (size_t i = 0; i < dim; i++) {
		if (i)
			s += ',';
		auto r = std::to_chars(buf, buf + sizeof buf, v[i]);
		s.append(buf, r.ptr);
	}
	return s + "]";
}

double
Recall(const std::vector<int> &got, const int *truth, int k)
{
	int hit = 0;
	for (int id : got)
		hit += std::find(truth, truth + k, id) != truth + k;
	return double(hit) / k;
}

// Result tables, printed together at the end.
struct SweepRow {
	std::string system;
	double build_s, size_mib;
	int ef;
	double recall, qps, qps_min, qps_max; // qps: the median round
};
struct FilterRow {
	std::string system, selectivity, mode, plan;
	int category;
	size_t matches;
	double recall, avg_rows, qps;
};
struct InsertRow {
	std::string system;
	double rows_per_s, noindex_rows_per_s; // the latter 0 for hnswlib
};
std::vector<SweepRow> sweep_rows;
std::vector<std::pair<std::string, double>> floor_qps; // per system: round trip + vector parsing
std::vector<FilterRow> filter_rows;
std::vector<InsertRow> insert_rows;
std::vector<std::string> notes;

// Filtered mode: category c (1..4) holds the given share of rows, category 0 the rest.
const char *kSelectivityName[] = {"rest", "50%", "10%", "1%", "0.1%"};
const double kSelectivity[] = {0, 0.5, 0.1, 0.01, 0.001};

std::vector<int>
AssignCategories(size_t nb)
{
	std::vector<size_t> perm(nb);
	std::iota(perm.begin(), perm.end(), 0);
	std::shuffle(perm.begin(), perm.end(), std::mt19937(42)); // not correlated with row order
	std::vector<int> cat(nb, 0);
	size_t next = 0;
	for (int c = 1; c <= 4; c++) {
		size_t n = size_t(std::llround(kSelectivity[c] * nb));
		for (size_t i = 0; i < n && next < nb; i++)
			cat[perm[next++]] = c;
	}
	return cat;
}

// Exact top-k among the rows of one category, by brute force.
std::vector<int>
FilteredTruth(const Dataset &ds, const Metric &mt, const std::vector<int> &cat, int c, size_t nq, int k)
{
	std::vector<size_t> rows;
	for (size_t i = 0; i < ds.nb; i++)
		if (cat[i] == c)
			rows.push_back(i);
	std::vector<int> truth(nq * k, -1);
	std::vector<std::pair<float, int>> d(rows.size());
	for (size_t q = 0; q < nq; q++) {
		for (size_t j = 0; j < rows.size(); j++)
			d[j] = {Distance(mt, &ds.query[q * ds.dim], &ds.base[rows[j] * ds.dim], ds.dim),
				int(rows[j])};
		size_t kk = std::min(size_t(k), d.size());
		std::partial_sort(d.begin(), d.begin() + kk, d.end());
		for (size_t j = 0; j < kk; j++)
			truth[q * k + j] = d[j].second;
	}
	return truth;
}

// The vectors to insert: midpoints of consecutive base rows, new to the index (re-inserting base
// vectors would time prism's exact-duplicate fast path instead of graph inserts).
std::vector<float>
InsertVectors(const Dataset &ds, int n)
{
	std::vector<float> v(size_t(n) * ds.dim);
	for (size_t i = 0; i < size_t(n); i++) {
		const float *a = &ds.base[((2 * i) % ds.nb) * ds.dim], *b = &ds.base[((2 * i + 1) % ds.nb) * ds.dim];
		for (size_t j = 0; j < ds.dim; j++)
			v[i * ds.dim + j] = (a[j] + b[j]) / 2;
	}
	return v;
}

// ---------------------------------------------------------------- raw hnswlib

std::unique_ptr<hnswlib::SpaceInterface<float>> hnsw_space;
std::unique_ptr<hnswlib::HierarchicalNSW<float>> hnsw_index;

// Builds the in-memory reference; returns its build seconds and size.
void
BuildHnswlib(const Options &o, const Dataset &ds, double &build_s, double &size_mib)
{
	if (o.metric == "l2")
		hnsw_space.reset(new hnswlib::L2Space(ds.dim));
	else
		hnsw_space.reset(new hnswlib::InnerProductSpace(ds.dim));
	hnsw_index.reset(new hnswlib::HierarchicalNSW<float>(hnsw_space.get(), ds.nb + o.inserts, o.m, o.ef_construction));
	hnswlib::HierarchicalNSW<float> &index = *hnsw_index;
	int threads = o.threads > 0 ? o.threads : int(std::max(1u, std::thread::hardware_concurrency()));

	fprintf(stderr, "hnswlib: building with %d threads\n", threads);
	auto t0 = Clock::now();
	index.addPoint(&ds.base[0], 0); // the entry point first, as hnswlib's own bindings do
	std::atomic<size_t> next{1};
	std::vector<std::thread> pool;
	for (int t = 0; t < threads; t++)
		pool.emplace_back([&] {
			for (size_t i; (i = next.fetch_add(1)) < ds.nb;)
				index.addPoint(&ds.base[i * ds.dim], i);
		});
	for (auto &th : pool)
		th.join();
	build_s = Seconds(t0);

	// Memory the graph uses: level-0 records (vector, links, label) plus upper-level link lists.
	double bytes = double(index.cur_element_count) * index.size_data_per_element_;
	for (size_t i = 0; i < index.cur_element_count; i++)
		bytes += double(index.element_levels_[i]) * index.size_links_per_element_;
	size_mib = bytes / (1 << 20);
}

// One pass over the first nq queries at `ef` (single thread); returns queries/second.
double
QueryHnswlib(const Options &o, const Dataset &ds, int ef, size_t nq, double &recall)
{
	hnsw_index->setEf(ef);
	recall = 0;
	std::vector<int> got;
	auto t1 = Clock::now();
	for (size_t q = 0; q < nq; q++) {
		auto res = hnsw_index->searchKnn(&ds.query[q * ds.dim], o.k);
		got.clear();
		while (!res.empty()) {
			got.push_back(int(res.top().second));
			res.pop();
		}
		recall += Recall(got, &ds.gt[q * ds.gtk], o.k);
	}
	double qps = nq / Seconds(t1);
	recall /= nq;
	return qps;
}

// Single-thread inserts of the same new vectors as the SQL test.
void
InsertHnswlib(const Options &o, const Dataset &ds)
{
	std::vector<float> vecs = InsertVectors(ds, o.inserts);
	auto t2 = Clock::now();
	for (int i = 0; i < o.inserts; i++)
		hnsw_index->addPoint(&vecs[size_t(i) * ds.dim], ds.nb + i);
	if (o.inserts > 0)
		insert_rows.push_back({"hnswlib", o.inserts / Seconds(t2), 0});
}

// ---------------------------------------------------------------- Postgres

int notices = 0;

void
CountNotice(void *, const char *message)
{
	if (notices++ < 3)
		fprintf(stderr, "  server: %s", message);
}

void
Exec(PGconn *c, const std::string &sql)
{
	PGresult *r = PQexec(c, sql.c_str());
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		Die(sql.substr(0, 200) + ": " + PQerrorMessage(c));
	PQclear(r);
}

// For statements that may be refused (CHECKPOINT needs superuser or pg_checkpoint): warn only.
void
TryExec(PGconn *c, const std::string &sql)
{
	PGresult *r = PQexec(c, sql.c_str());
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		fprintf(stderr, "  warning: %s: %s", sql.c_str(), PQerrorMessage(c));
	PQclear(r);
}

// First column of the first row, or "" (NULL, no row, or an error when missing_ok).
std::string
Value(PGconn *c, const std::string &sql, bool missing_ok = false)
{
	PGresult *r = PQexec(c, sql.c_str());
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		if (!missing_ok)
			Die(sql + ": " + PQerrorMessage(c));
		PQclear(r);
		return "";
	}
	std::string v = PQntuples(r) > 0 && !PQgetisnull(r, 0, 0) ? PQgetvalue(r, 0, 0) : "";
	PQclear(r);
	return v;
}

void
Prepare(PGconn *c, const char *name, const std::string &sql)
{
	PGresult *r = PQprepare(c, name, sql.c_str(), 0, nullptr);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		Die(sql + ": " + PQerrorMessage(c));
	PQclear(r);
}

// Runs a prepared one-parameter query; returns the first column of every row as ints.
void
ExecKnn(PGconn *c, const char *name, const std::string &param, std::vector<int> &ids)
{
	const char *values[1] = {param.c_str()};
	PGresult *r = PQexecPrepared(c, name, 1, values, nullptr, nullptr, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		Die(std::string("execute ") + name + ": " + PQerrorMessage(c));
	ids.clear();
	for (int i = 0, n = PQntuples(r); i < n; i++)
		ids.push_back(atoi(PQgetvalue(r, i, 0)));
	PQclear(r);
}

// A short name for the plan of a prepared statement: which scan feeds the LIMIT.
std::string
PlanOf(PGconn *c, const char *name, const std::string &param)
{
	PGresult *r = PQexec(c, (std::string("EXPLAIN (COSTS OFF) EXECUTE ") + name + "('" + param + "')").c_str());
	std::string plan = "?";
	if (PQresultStatus(r) == PGRES_TUPLES_OK) {
		std::string all;
		for (int i = 0; i < PQntuples(r); i++)
			all += PQgetvalue(r, i, 0), all += '\n';
		if (all.find("items_embedding_idx") != std::string::npos)
			plan = "hnsw";
		else if (all.find("Bitmap Heap Scan") != std::string::npos)
			plan = "bitmap+sort";
		else if (all.find("Index Scan") != std::string::npos)
			plan = "btree+sort";
		else if (all.find("Seq Scan") != std::string::npos)
			plan = "seqscan+sort";
	}
	PQclear(r);
	return plan;
}

void
Load(PGconn *c, const Dataset &ds, const std::vector<int> &cat)
{
	PGresult *r = PQexec(c, "COPY items FROM STDIN");
	if (PQresultStatus(r) != PGRES_COPY_IN)
		Die(std::string("copy: ") + PQerrorMessage(c));
	PQclear(r);
	std::string buf;
	for (size_t i = 0; i < ds.nb; i++) {
		buf += std::to_string(i) + '\t' + VectorText(&ds.base[i * ds.dim], ds.dim);
		if (!cat.empty())
			buf += '\t' + std::to_string(cat[i]);
		buf += '\n';
		if (buf.size() > (1 << 20) || i + 1 == ds.nb) {
			if (PQputCopyData(c, buf.data(), int(buf.size())) != 1)
				Die(std::string("copy: ") + PQerrorMessage(c));
			buf.clear();
		}
	}
	if (PQputCopyEnd(c, nullptr) != 1)
		Die(std::string("copy end: ") + PQerrorMessage(c));
	while ((r = PQgetResult(c)) != nullptr) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			Die(std::string("copy: ") + PQerrorMessage(c));
		PQclear(r);
	}
}

// One database under test.
struct Target {
	PGconn *c;
	std::string system; // prism or pgvector
	Metric mt;
	std::vector<std::string> qtext; // the queries in text form
	double build_s = 0, size_mib = 0;
	const char *knn = "knn"; // the prepared k-NN statement the sweep runs
	size_t dim = 0;
};

// The column type of `items.embedding` under --type.
std::string
ColumnType(const Options &o, size_t dim)
{
	return (o.type == "halfvec" ? "halfvec(" : "vector(") + std::to_string(dim) + ")";
}

// What the index is built on: the column, or its binary quantization under --type bit.
std::string
IndexedExpr(const Options &o, size_t dim)
{
	if (o.type == "bit")
		return "(binary_quantize(embedding)::bit(" + std::to_string(dim) + ")) bit_hamming_ops";
	std::string opclass = MetricFor(o.metric).opclass;
	if (o.type == "halfvec")
		opclass.replace(0, 6, "halfvec");
	return "embedding " + opclass;
}

std::string
KnnSql(const Options &o, const Target &t, const std::string &where)
{
	std::string param = "$1::" + ColumnType(o, t.dim);
	std::string k = std::to_string(o.k);
	if (o.type == "bit") {
		std::string bits = "::bit(" + std::to_string(t.dim) + ")";
		return "SELECT id FROM (SELECT id, embedding FROM items " + where + "ORDER BY binary_quantize(embedding)" +
		       bits + " <~> binary_quantize(" + param + ")" + bits + " LIMIT " + std::to_string(o.rerank) +
		       ") AS near ORDER BY embedding " + t.mt.op + " " + param + " LIMIT " + k;
	}
	return "SELECT id FROM items " + where + "ORDER BY embedding " + t.mt.op + " " + param + " LIMIT " + k;
}

// Runs nq queries through a prepared statement; returns queries/second, adds recall and rows.
double
TimeQueries(const Target &t, const char *name, size_t nq, int k, const int *truth, size_t truth_stride,
	    double &recall, double &rows)
{
	std::vector<int> ids;
	recall = rows = 0;
	auto t0 = Clock::now();
	for (size_t q = 0; q < nq; q++) {
		ExecKnn(t.c, name, t.qtext[q], ids);
		rows += ids.size();
		recall += Recall(ids, truth + q * truth_stride, k);
	}
	double qps = nq / Seconds(t0);
	recall /= nq;
	rows /= nq;
	return qps;
}

// Creates and loads the table, builds the index; returns the build seconds.
double
BuildIndex(const Options &o, const Dataset &ds, const Target &t, const std::vector<int> &cat)
{
	if (o.threads > 0) {
		// pgvector: the leader builds too, so threads-1 workers; prism: its own GUC (if defined).
		Exec(t.c, "SET max_parallel_maintenance_workers = " + std::to_string(o.threads - 1));
		Value(t.c, "SELECT set_config('prism.build_threads', '" + std::to_string(o.threads) + "', false)", true);
	}
	// For quick query-side iterations: an earlier run's rows and index, if they match exactly.
	if (o.reuse &&
	    Value(t.c, "SELECT count(*) FROM items WHERE to_regclass('items_embedding_idx') IS NOT NULL AND "
		       "strpos(pg_get_indexdef('items_embedding_idx'::regclass), '" + IndexedExpr(o, ds.dim) + "') > 0",
		  true) == std::to_string(ds.nb)) {
		fprintf(stderr, "  reusing the loaded table and its index (build time not measured)\n");
		return 0;
	}
	Exec(t.c, "DROP TABLE IF EXISTS items");
	Exec(t.c, "CREATE TABLE items (id int PRIMARY KEY, embedding " + ColumnType(o, ds.dim) +
			  (o.filtered ? ", category int" : "") + ")");
	auto t0 = Clock::now();
	Load(t.c, ds, cat);
	fprintf(stderr, "  loaded %zu rows in %.1f s\n", ds.nb, Seconds(t0));
	Exec(t.c, "VACUUM ANALYZE items");
	TryExec(t.c, "CHECKPOINT"); // the build should not compete with flushing the load

	t0 = Clock::now();
	Exec(t.c, "CREATE INDEX items_embedding_idx ON items USING hnsw (" + IndexedExpr(o, ds.dim) + ") WITH (m = " + std::to_string(o.m) + ", ef_construction = " +
			  std::to_string(o.ef_construction) + ")");
	double build_s = Seconds(t0);
	TryExec(t.c, "CHECKPOINT"); // nor the queries with writing out the new index
	// After the build: prism's GUCs exist once its library is loaded.
	fprintf(stderr, "  index built in %.1f s; shared_buffers %s, maintenance_work_mem %s, "
			"max_parallel_maintenance_workers %s, prism.build_threads %s\n",
		build_s, Value(t.c, "SHOW shared_buffers").c_str(), Value(t.c, "SHOW maintenance_work_mem").c_str(),
		Value(t.c, "SHOW max_parallel_maintenance_workers").c_str(),
		Value(t.c, "SELECT current_setting('prism.build_threads', true)", true).c_str());
	return build_s;
}

void
PrepareSweep(const Options &o, const Dataset &ds, Target &t)
{
	// The floor for any query: one round trip that only parses the query vector.
	double recall, rows;
	Prepare(t.c, "floor", "SELECT vector_dims($1::vector)");
	floor_qps.push_back({t.system, TimeQueries(t, "floor", ds.nq, o.k, ds.gt.data(), ds.gtk, recall, rows)});

	Prepare(t.c, t.knn, KnnSql(o, t, ""));
	std::string plan = PlanOf(t.c, t.knn, t.qtext[0]);
	if (plan != "hnsw") {
		// The sweep measures the index, so force it, and say so next to the results.
		notes.push_back(t.system + ": the planner chose " + plan + " for the k-NN query; the ef_search " +
				"sweep ran with enable_seqscan = off");
		fprintf(stderr, "  warning: %s\n", notes.back().c_str());
		Exec(t.c, "SET enable_seqscan = off");
		t.knn = "knn_forced"; // prepared after the SET, so planned with it
		Prepare(t.c, t.knn, KnnSql(o, t, ""));
	}
	TimeQueries(t, t.knn, std::min<size_t>(ds.nq, 500), o.k, ds.gt.data(), ds.gtk, recall, rows); // warm-up
}

double
QueryDatabase(const Options &o, const Dataset &ds, const Target &t, int ef, double &recall)
{
	double rows;
	Exec(t.c, "SET hnsw.ef_search = " + std::to_string(ef));
	return TimeQueries(t, t.knn, ds.nq, o.k, ds.gt.data(), ds.gtk, recall, rows);
}

// Three passes per selectivity: the hnsw index forced (seq and bitmap scans off, no other index
// yet: shows what the index returns under a filter), the planner's choice with default settings
// once a btree on the filter column exists, and the exact answer (index scans off).
void
RunFiltered(const Options &o, const Dataset &ds, const Target &t, const std::vector<int> &cat,
	    const std::vector<std::vector<int>> &ftruth)
{
	size_t nq = std::min(o.filtered_queries, ds.nq), first = filter_rows.size();
	const char *modes[] = {"hnsw", "default", "exact"};
	for (int mode = 0; mode < 3; mode++) {
		if (mode == 1) {
			Exec(t.c, "CREATE INDEX items_category_idx ON items (category)");
			Exec(t.c, "ANALYZE items");
		}
		Exec(t.c, mode == 0 ? "SET enable_seqscan = off" : "RESET enable_seqscan");
		Exec(t.c, mode == 0 ? "SET enable_bitmapscan = off" : "RESET enable_bitmapscan");
		Exec(t.c, mode == 2 ? "SET enable_indexscan = off" : "RESET enable_indexscan");
		for (int cidx = 1; cidx <= 4; cidx++) {
			std::string name = "f" + std::to_string(mode) + std::to_string(cidx);
			Prepare(t.c, name.c_str(), KnnSql(o, t, "WHERE category = " + std::to_string(cidx) + " "));
			std::string plan = PlanOf(t.c, name.c_str(), t.qtext[0]);
			double recall, rows;
			double qps = TimeQueries(t, name.c_str(), nq, o.k, ftruth[cidx].data(), o.k, recall, rows);
			filter_rows.push_back({t.system, kSelectivityName[cidx], modes[mode], plan, cidx,
					       size_t(std::count(cat.begin(), cat.end(), cidx)), recall, rows, qps});
		}
	}
	Exec(t.c, "RESET enable_indexscan");
	std::stable_sort(filter_rows.begin() + first, filter_rows.end(),
			 [](const FilterRow &x, const FilterRow &y) { return x.category < y.category; });
	fprintf(stderr, "  filtered queries done\n");
}

// Single-row inserts, one transaction each; first into a copy of the table without the vector
// index (the commit and heap cost alone), then into the indexed table.
void
RunInserts(const Options &o, const Dataset &ds, const Target &t)
{
	std::vector<float> vecs = InsertVectors(ds, o.inserts);
	std::vector<std::string> vals(o.inserts);
	for (int i = 0; i < o.inserts; i++)
		vals[i] = VectorText(&vecs[size_t(i) * ds.dim], ds.dim);
	Exec(t.c, "DROP TABLE IF EXISTS items_noindex");
	TryExec(t.c, "CHECKPOINT"); // commits should not wait behind a checkpoint of the build
	Exec(t.c, "CREATE TABLE items_noindex (id int PRIMARY KEY, embedding " + ColumnType(o, ds.dim) + ")");
	double rate[2];
	for (int indexed = 0; indexed <= 1; indexed++) {
		const char *name = indexed ? "ins" : "ins_noindex";
		Prepare(t.c, name, std::string("INSERT INTO ") + (indexed ? "items" : "items_noindex") +
					  " (id, embedding) VALUES ($1, $2)");
		auto t0 = Clock::now();
		for (int i = 0; i < o.inserts; i++) {
			std::string id = std::to_string(ds.nb + i);
			const char *values[2] = {id.c_str(), vals[i].c_str()};
			PGresult *r = PQexecPrepared(t.c, name, 2, values, nullptr, nullptr, 0);
			if (PQresultStatus(r) != PGRES_COMMAND_OK)
				Die(std::string("insert: ") + PQerrorMessage(t.c));
			PQclear(r);
		}
		rate[indexed] = o.inserts / Seconds(t0);
	}
	Exec(t.c, "DROP TABLE items_noindex");
	insert_rows.push_back({t.system, rate[1], rate[0]});
	fprintf(stderr, "  %d inserts: %.0f rows/s (%.0f rows/s without the vector index), synchronous_commit %s\n",
		o.inserts, rate[1], rate[0], Value(t.c, "SHOW synchronous_commit").c_str());
}

// Connects, loads and builds (or reuses), pins, and prepares the sweep's statement.
void
OpenDatabase(const Options &o, const Dataset &ds, const std::string &conninfo, const std::vector<int> &cat,
	     Target &t)
{
	t.c = PQconnectdb(conninfo.c_str());
	if (PQstatus(t.c) != CONNECTION_OK)
		Die("connect '" + conninfo + "': " + PQerrorMessage(t.c));
	PQsetNoticeProcessor(t.c, CountNotice, nullptr);
	notices = 0;
	std::string ext = Value(t.c, "SELECT extname || ' ' || extversion FROM pg_extension "
				     "WHERE extname IN ('prism', 'vector') ORDER BY extname = 'prism' DESC LIMIT 1");
	if (ext.empty())
		Die("database '" + conninfo + "' has neither prism nor pgvector installed");
	t.system = ext.rfind("vector", 0) == 0 ? "pgvector" : "prism";
	t.mt = MetricFor(o.metric);
	t.dim = ds.dim;
	fprintf(stderr, "%s (%s), %s\n", t.system.c_str(), ext.c_str(), Value(t.c, "SHOW server_version").c_str());
	for (size_t q = 0; q < ds.nq; q++)
		t.qtext.push_back(VectorText(&ds.query[q * ds.dim], ds.dim));

	t.build_s = BuildIndex(o, ds, t, cat);
	t.size_mib = atof(Value(t.c, "SELECT pg_relation_size('items_embedding_idx')").c_str()) / (1 << 20);
	fprintf(stderr, "  index size %.1f MiB\n", t.size_mib);
	if (o.pin_cpu >= 0) {
		// The timed phases run one query at a time: client and backend share one CPU (builds
		// above were not pinned, so prism's and pgvector's build threads had every core).
		if (!PinProcess(0, o.pin_cpu) || !PinProcess(PQbackendPID(t.c), o.pin_cpu))
			fprintf(stderr, "  warning: could not pin the client and backend %d to CPU %d (%s)\n",
				PQbackendPID(t.c), o.pin_cpu, strerror(errno));
	}
	PrepareSweep(o, ds, t);
}

// After the sweep: filtered queries and inserts, then disconnects.
void
FinishDatabase(const Options &o, const Dataset &ds, Target &t, const std::vector<int> &cat,
	       const std::vector<std::vector<int>> &ftruth)
{
	fprintf(stderr, "%s:\n", t.system.c_str());
	notices = 0;
	Exec(t.c, "RESET hnsw.ef_search");
	Exec(t.c, "RESET enable_seqscan");
	if (o.filtered)
		RunFiltered(o, ds, t, cat, ftruth);
	if (o.inserts > 0)
		RunInserts(o, ds, t);
	if (notices > 0)
		fprintf(stderr, "  %d server notices in total\n", notices);
	PQfinish(t.c);
}

// The ef_search sweep: o.rounds rounds, each running every ef on every system in turn, so a
// machine whose speed drifts (a shared VM) slows all systems alike; the median round is kept.
void
RunSweeps(const Options &o, const Dataset &ds, std::vector<Target> &targets, double hnsw_build_s,
	  double hnsw_size_mib)
{
	size_t ns = targets.size() + (o.hnswlib ? 1 : 0);
	std::vector<std::vector<std::vector<double>>> qps(ns, std::vector<std::vector<double>>(o.efs.size()));
	std::vector<std::vector<double>> recall(ns, std::vector<double>(o.efs.size()));
	if (o.hnswlib) {
		double r;
		QueryHnswlib(o, ds, 40, std::min<size_t>(ds.nq, 500), r); // warm-up
	}
	for (int round = 1; round <= o.rounds; round++) {
		fprintf(stderr, "sweep round %d of %d:", round, o.rounds);
		for (size_t e = 0; e < o.efs.size(); e++) {
			int ef = o.efs[e];
			fprintf(stderr, " ef %d", ef);
			for (size_t s = 0; s < ns; s++) {
				bool raw = o.hnswlib && s == 0;
				const Target *t = raw ? nullptr : &targets[s - (o.hnswlib ? 1 : 0)];
				double q = raw ? QueryHnswlib(o, ds, ef, ds.nq, recall[s][e])
					       : QueryDatabase(o, ds, *t, ef, recall[s][e]);
				qps[s][e].push_back(q);
			}
		}
		fprintf(stderr, "\n");
	}
	for (size_t s = 0; s < ns; s++) {
		bool raw = o.hnswlib && s == 0;
		const Target *t = raw ? nullptr : &targets[s - (o.hnswlib ? 1 : 0)];
		for (size_t e = 0; e < o.efs.size(); e++) {
			std::vector<double> v = qps[s][e];
			std::sort(v.begin(), v.end());
			sweep_rows.push_back({raw ? "hnswlib" : t->system, raw ? hnsw_build_s : t->build_s,
					      raw ? hnsw_size_mib : t->size_mib, o.efs[e], recall[s][e], v[v.size() / 2],
					      v.front(), v.back()});
		}
	}
}

// The machine may be shared: print the load next to the numbers.
std::string
LoadAverage()
{
	std::ifstream f("/proc/loadavg");
	std::string l;
	std::getline(f, l);
	return l + "\n";
}

void
Usage()
{
	fprintf(stderr,
		"usage: bench DATA_DIR [options] CONNINFO...\n"
		"  DATA_DIR holds base.fvecs, query.fvecs, groundtruth.ivecs; each CONNINFO is a libpq\n"
		"  connection string to a database with prism or pgvector installed (table items is replaced).\n"
		"  --queries N         use the first N queries (default all)\n"
		"  --m N --efc N       index parameters (default 16, 64)\n"
		"  --metric l2|ip|cosine  (default l2; the ground truth must match)\n"
		"  --threads N         build threads: hnswlib; prism.build_threads and\n"
		"                      max_parallel_maintenance_workers = N-1 (default: server settings)\n"
		"  --ef LIST           ef_search values (default 10,20,40,80,160,320)\n"
		"  --k N               neighbours per query (default 10)\n"
		"  --inserts N         single-row inserts to time (default 2000, 0 = skip)\n"
		"  --filtered          also run WHERE category = X at selectivities 50/10/1/0.1%%\n"
		"  --filtered-queries N  queries per selectivity (default 100)\n"
		"  --no-hnswlib        skip the in-process hnswlib reference\n"
		"  --reuse             keep an earlier run's table and index if it has exactly the base rows\n"
		"  --pin-cpu N         timed single-client phases with client and backend on CPU N (same host)\n"
		"  --rounds N          ef_search sweep rounds, systems interleaved; the median is reported (default 3)\n"
		"  --type vector|halfvec|bit  column and index: vector(D) (default), halfvec(D) with halfvec_*_ops,\n"
		"                      or binary_quantize(embedding)::bit(D) with bit_hamming_ops and a re-rank\n"
		"  --rerank N          bit: rows the Hamming scan returns for exact re-ordering (default 100)\n");
	exit(2);
}

Options
ParseArgs(int argc, char **argv)
{
	Options o;
	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];
		auto next = [&]() -> std::string {
			if (i + 1 >= argc)
				Usage();
			return argv[++i];
		};
		if (a == "--queries")
			o.queries = std::stoul(next());
		else if (a == "--m")
			o.m = std::stoi(next());
		else if (a == "--efc")
			o.ef_construction = std::stoi(next());
		else if (a == "--metric")
			o.metric = next();
		else if (a == "--threads")
			o.threads = std::stoi(next());
		else if (a == "--inserts")
			o.inserts = std::stoi(next());
		else if (a == "--k")
			o.k = std::stoi(next());
		else if (a == "--filtered")
			o.filtered = true;
		else if (a == "--filtered-queries")
			o.filtered_queries = std::stoul(next());
		else if (a == "--no-hnswlib")
			o.hnswlib = false;
		else if (a == "--reuse")
			o.reuse = true;
		else if (a == "--pin-cpu")
			o.pin_cpu = std::stoi(next());
		else if (a == "--type")
			o.type = next();
		else if (a == "--rerank")
			o.rerank = std::stoi(next());
		else if (a == "--rounds")
			o.rounds = std::max(1, std::stoi(next()));
		else if (a == "--ef") {
			o.efs.clear();
			std::string l = next();
			for (size_t p = 0; p < l.size();) {
				size_t e = l.find(',', p);
				o.efs.push_back(std::stoi(l.substr(p, e - p)));
				p = e == std::string::npos ? l.size() : e + 1;
			}
		} else if (a.rfind("--", 0) == 0)
			Usage();
		else if (o.data_dir.empty())
			o.data_dir = a;
		else
			o.conninfos.push_back(a);
	}
	if (o.data_dir.empty() || o.k < 1)
		Usage();
	MetricFor(o.metric);
	if (o.type != "vector" && o.type != "halfvec" && o.type != "bit")
		Die("unknown --type " + o.type + " (vector, halfvec, bit)");
	return o;
}

} // namespace

int
main(int argc, char **argv)
{
	Options o = ParseArgs(argc, argv);
	Dataset ds;
	size_t qdim, gtn;
	ds.base = ReadVecs<float>(o.data_dir + "/base.fvecs", ds.dim, ds.nb);
	ds.query = ReadVecs<float>(o.data_dir + "/query.fvecs", qdim, ds.nq);
	ds.gt = ReadVecs<int>(o.data_dir + "/groundtruth.ivecs", ds.gtk, gtn);
	if (qdim != ds.dim || gtn != ds.nq || ds.gtk < size_t(o.k))
		Die("query/ground truth files do not match the base set (or hold fewer than k neighbours)");
	if (o.metric == "cosine") {
		Normalize(ds.base, ds.dim);
		Normalize(ds.query, ds.dim);
	}
	if (o.queries > 0 && o.queries < ds.nq)
		ds.nq = o.queries;
	fprintf(stderr, "load average: %s", LoadAverage().c_str());
	fprintf(stderr, "data: %zu base x %zu dims, %zu queries, metric %s, m %d, ef_construction %d\n", ds.nb,
		ds.dim, ds.nq, o.metric.c_str(), o.m, o.ef_construction);

	std::vector<int> cat;
	std::vector<std::vector<int>> ftruth(5);
	if (o.filtered && !o.conninfos.empty()) {
		cat = AssignCategories(ds.nb);
		auto t0 = Clock::now();
		for (int c = 1; c <= 4; c++)
			ftruth[c] = FilteredTruth(ds, MetricFor(o.metric), cat, c,
						  std::min(o.filtered_queries, ds.nq), o.k);
		fprintf(stderr, "filtered ground truth in %.1f s\n", Seconds(t0));
	}

	double hnsw_build_s = 0, hnsw_size_mib = 0;
	if (o.hnswlib)
		BuildHnswlib(o, ds, hnsw_build_s, hnsw_size_mib);
	std::vector<Target> targets(o.conninfos.size());
	for (size_t i = 0; i < o.conninfos.size(); i++)
		OpenDatabase(o, ds, o.conninfos[i], cat, targets[i]);
	// Every timed phase from here on runs on one CPU (the backends were pinned when opened).
	if (o.pin_cpu >= 0)
		PinProcess(0, o.pin_cpu);
	RunSweeps(o, ds, targets, hnsw_build_s, hnsw_size_mib);
	for (auto &t : targets)
		FinishDatabase(o, ds, t, cat, ftruth);
	if (o.hnswlib)
		InsertHnswlib(o, ds);
	PinProcess(0, -1);

	printf("\nload average at the end: %s", LoadAverage().c_str());
	// The SQL limit of a database at an ef: a query that costs that database's own no-search round
	// trip plus raw hnswlib's search at the same ef, 1 / (1/hnswlib + 1/floor).
	auto floor_of = [](const std::string &system) {
		for (const auto &f : floor_qps)
			if (f.first == system)
				return f.second;
		return 0.0;
	};
	auto hnswlib_at = [](int ef) {
		for (const auto &r : sweep_rows)
			if (r.system == "hnswlib" && r.ef == ef)
				return r.qps;
		return 0.0;
	};
	auto sql_limit = [&](const SweepRow &r) {
		double h = hnswlib_at(r.ef), f = floor_of(r.system);
		return r.system != "hnswlib" && h > 0 && f > 0 ? 1.0 / (1.0 / h + 1.0 / f) : 0.0;
	};
	printf("\n%-10s %8s %9s %4s %9s %8s %8s %8s %9s %7s   (qps: median of %d interleaved rounds)\n", "system",
	       "build_s", "size_MiB", "ef", ("recall@" + std::to_string(o.k)).c_str(), "qps", "min", "max", "sql_limit",
	       "x_limit", o.rounds);
	for (const auto &r : sweep_rows) {
		double lim = sql_limit(r);
		printf("%-10s %8.1f %9.1f %4d %9.4f %8.0f %8.0f %8.0f", r.system.c_str(), r.build_s, r.size_mib, r.ef,
		       r.recall, r.qps, r.qps_min, r.qps_max);
		if (lim > 0)
			printf(" %9.0f %7.2f\n", lim, r.qps / lim);
		else
			printf(" %9s %7s\n", "-", "-");
	}
	for (const auto &f : floor_qps)
		printf("%-10s round trip floor (SELECT vector_dims($1::vector)): %.0f q/s\n", f.first.c_str(), f.second);
	// Each system's fastest ef at recall >= 0.95, against the others' and its SQL limit.
	std::vector<const SweepRow *> best;
	for (const auto &r : sweep_rows) {
		if (r.recall < 0.95)
			continue;
		auto it = std::find_if(best.begin(), best.end(), [&](const SweepRow *b) { return b->system == r.system; });
		if (it == best.end())
			best.push_back(&r);
		else if (r.qps > (*it)->qps)
			*it = &r;
	}
	if (!best.empty()) {
		printf("\nat recall@%d >= 0.95 (fastest ef of each system):\n", o.k);
		for (const auto *b : best) {
			printf("%-10s ef %4d recall %.4f %8.0f q/s", b->system.c_str(), b->ef, b->recall, b->qps);
			double lim = sql_limit(*b);
			if (lim > 0)
				printf("  %.2fx its SQL limit (%.0f q/s)", b->qps / lim, lim);
			for (const auto *other : best)
				if (other != b)
					printf("  %.2fx %s", b->qps / other->qps, other->system.c_str());
			printf("\n");
		}
	}
	if (!insert_rows.empty()) {
		printf("\n%-10s %13s %15s\n", "system", "insert_rows/s", "no_index_rows/s");
		for (const auto &r : insert_rows)
			printf("%-10s %13.0f %15s\n", r.system.c_str(), r.rows_per_s,
			       r.noindex_rows_per_s > 0 ? std::to_string(int(r.noindex_rows_per_s)).c_str() : "-");
	}
	if (!filter_rows.empty()) {
		printf("\n%-10s %6s %7s %-8s %-12s %9s %8s %8s\n", "system", "select", "matches", "mode", "plan",
		       ("recall@" + std::to_string(o.k)).c_str(), "avg_rows", "qps");
		for (const auto &r : filter_rows)
			printf("%-10s %6s %7zu %-8s %-12s %9.4f %8.2f %8.0f\n", r.system.c_str(),
			       r.selectivity.c_str(), r.matches, r.mode.c_str(), r.plan.c_str(), r.recall,
			       r.avg_rows, r.qps);
	}
	for (const auto &n : notes)
		printf("\nnote: %s\n", n.c_str());
	return 0;
}
