// The hnsw access method handler: IndexAmRoutine, reloptions, GUCs, cost estimate, validate.
#include <cfloat>
#include <cmath>
#include <unistd.h>

#include "pg/boundary.h"
#include "pg/hnsw.h"
#include "pg/hnsw_stats.h"

extern "C" {
#include "access/amvalidate.h"
#include "commands/progress.h"
#include "commands/vacuum.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "utils/lsyscache.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/selfuncs.h"
#include "utils/spccache.h"
}

namespace prism {
namespace hnsw {

int guc_ef_search = 40;
int guc_iterative_scan = kIterativeStrict;
int guc_max_scan_tuples = 100000;
double guc_scan_mem_multiplier = 1.0;
int guc_build_threads = 2;

static relopt_kind hnsw_relopt_kind;

static const struct config_enum_entry iterative_scan_options[] = {
	{"off", kIterativeOff, false},
	{"relaxed_order", kIterativeRelaxed, false},
	{"strict_order", kIterativeStrict, false},
	{NULL, 0, false}};

void define_gucs()
{
	hnsw_relopt_kind = add_reloption_kind();
	add_int_reloption(hnsw_relopt_kind, "m", "Max number of connections per element", kDefaultM, kMinM, kMaxM,
					  AccessExclusiveLock);
	add_int_reloption(hnsw_relopt_kind, "ef_construction", "Size of the dynamic candidate list for construction",
					  kDefaultEfConstruction, kMinEfConstruction, kMaxEfConstruction, AccessExclusiveLock);

	DefineCustomIntVariable("hnsw.ef_search", "Sets the size of the dynamic candidate list for search",
							"Valid range is 1..1000.", &guc_ef_search, 40, 1, 1000, PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("hnsw.iterative_scan", "Sets how a scan continues past ef_search results",
							 "strict_order (prism's default) keeps results in distance order; relaxed_order may "
							 "return late-found closer rows after farther ones; off stops after ef_search results "
							 "as pgvector does by default.",
							 &guc_iterative_scan, kIterativeStrict, iterative_scan_options, PGC_USERSET, 0, NULL, NULL,
							 NULL);
	DefineCustomIntVariable("hnsw.max_scan_tuples", "Sets the max number of elements a scan discovers",
							"Bounds filtered scans that keep searching; a NOTICE says when it stops a scan.",
							&guc_max_scan_tuples, 100000, 1, INT_MAX, PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("hnsw.scan_mem_multiplier", "Accepted for pgvector compatibility",
							 "prism's scans are bounded by hnsw.max_scan_tuples.", &guc_scan_mem_multiplier, 1, 1,
							 1000, PGC_USERSET, 0, NULL, NULL, NULL);
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	guc_build_threads = cores > 0 ? (int) Min(cores, 64L) : 1;
	DefineCustomIntVariable("prism.build_threads", "Sets the number of threads building an hnsw graph",
							"Defaults to the number of CPU cores.", &guc_build_threads, guc_build_threads, 1, 64,
							PGC_USERSET, 0, NULL, NULL, NULL);
	define_planner_hook();
	MarkGUCPrefixReserved("hnsw");
	MarkGUCPrefixReserved("prism");
}

void note_bound_reached(Relation index)
{
	ereport(NOTICE, (errmsg("hnsw scan of index \"%s\" stopped after hnsw.max_scan_tuples (%d) elements",
							RelationGetRelationName(index), guc_max_scan_tuples),
					 errhint("Rows may be missing; raise hnsw.max_scan_tuples to search further.")));
}

static bytea *hnswoptions(Datum reloptions, bool validate)
{
	static const relopt_parse_elt tab[] = {
		{"m", RELOPT_TYPE_INT, offsetof(HnswOptions, m)},
		{"ef_construction", RELOPT_TYPE_INT, offsetof(HnswOptions, ef_construction)},
	};
	return (bytea *) build_reloptions(reloptions, validate, hnsw_relopt_kind, sizeof(HnswOptions), tab, lengthof(tab));
}

// Where the rows a restriction clause keeps lie in the index's order: a bound on the ORDER BY
// distance itself (`v <-> q < r`) keeps a prefix of it, `v <-> q > r` a suffix.
enum class DistanceBound { None, Prefix, Suffix };

static DistanceBound distance_bound(Node *clause, Node *order_by)
{
	if (clause == NULL || !IsA(clause, OpExpr) || list_length(((OpExpr *) clause)->args) != 2)
		return DistanceBound::None;
	OpExpr *op = (OpExpr *) clause;
	bool left = equal(linitial(op->args), order_by);
	bool right = equal(lsecond(op->args), order_by);
	if (left == right)
		return DistanceBound::None;
	char *name = get_opname(op->opno);
	if (name == NULL)
		return DistanceBound::None;
	bool less = strcmp(name, "<") == 0 || strcmp(name, "<=") == 0;
	bool greater = strcmp(name, ">") == 0 || strcmp(name, ">=") == 0;
	if (!less && !greater)
		return DistanceBound::None;
	return less == left ? DistanceBound::Prefix : DistanceBound::Suffix;
}

// The planner may only use the index for ORDER BY <distance> (no index quals). The initial beam
// search is all startup cost: about ef_search * m * (levels + 1) / 4 elements scored, each a
// few distance-sized CPU steps plus a share of a page read (graph pages are assumed cached in
// shared_buffers). Rows are then charged continued_cost each, the continued search past the
// beam (a WHERE clause dropped the first ones), so LIMIT k under a filter of selectivity s pays
// for about k / s rows: selective filters make the exact plan (scan or btree + sort) win, broad
// ones the graph. A bound on the ORDER BY distance is no random filter: the rows of
// `distance < r` are the first ones the scan returns (charged as if they were all the rows),
// those of `distance > r` come only after every row it rejects (charged to startup).
// test/bench/README.md ("Plan choice") has the measurements these constants follow.
static void hnswcostestimate(PlannerInfo *root, IndexPath *path, double loop_count, Cost *startup, Cost *total,
							 Selectivity *selectivity, double *correlation, double *pages)
{
	IndexOptInfo *info = path->indexinfo;
	*correlation = 0;
	*pages = info->pages;
	if (path->indexorderbys == NIL) {
		*startup = *total = get_float8_infinity();
		*selectivity = 0;
		return;
	}
	double tuples = Max(info->tuples, 1.0);
	int m = kDefaultM;
	double levels = Max(1.0, log(tuples) / log((double) m));
	double visits = Min(tuples, guc_ef_search * (double) m * (levels + 1) / 4);
	Cost visit_cost = 4 * cpu_operator_cost + cpu_index_tuple_cost + 0.01 * random_page_cost;
	// A row of the continued search costs more in a larger graph: the frontier must pass each
	// row by the delivery margin, and more elements lie within it. Against an exact plan's cost
	// per row fetched and sorted this puts the switch to the exact plan at a few percent
	// selectivity (lower on large tables), where it is faster.
	Cost continued_cost = Max(0.5, Min(6.0, 3.0 * tuples / 20000.0));
	Node *order_by = (Node *) linitial(path->indexorderbys);
	Selectivity prefix = 1.0, suffix = 1.0;
	ListCell *lc;
	foreach (lc, info->indrestrictinfo) {
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		DistanceBound b = distance_bound((Node *) rinfo->clause, order_by);
		if (b == DistanceBound::None)
			continue;
		Selectivity s = clause_selectivity(root, (Node *) rinfo, 0, JOIN_INNER, NULL);
		if (b == DistanceBound::Prefix)
			prefix *= s;
		else
			suffix *= s;
	}
	*startup = visits * visit_cost + (1.0 - suffix) * tuples * continued_cost;
	*total = *startup + prefix * suffix * tuples * continued_cost;
	*selectivity = prefix;
}

static bool hnswvalidate(Oid opclassoid) { return true; }

static char *hnswbuildphasename(int64 phase)
{
	switch (phase) {
	case PROGRESS_CREATEIDX_SUBPHASE_INITIALIZE:
		return (char *) "initializing";
	case 2:
		return (char *) "loading tuples";
	case 3:
		return (char *) "building graph";
	case 4:
		return (char *) "writing pages";
	default:
		return NULL;
	}
}

}  // namespace hnsw
}  // namespace prism

void prism_hnsw_define_gucs(void) { prism::hnsw::define_gucs(); }

using namespace prism::hnsw;

PRISM_FUNCTION(hnsw_handler)
{
	IndexAmRoutine *am = makeNode(IndexAmRoutine);
	am->amstrategies = 0;
	am->amsupport = 0;
	am->amoptsprocnum = 0;
	am->amcanorder = false;
	am->amcanorderbyop = true;
	am->amcanbackward = false;
	am->amcanunique = false;
	am->amcanmulticol = false;
	am->amoptionalkey = true;
	am->amsearcharray = false;
	am->amsearchnulls = false;
	am->amstorage = false;
	am->amclusterable = false;
	am->ampredlocks = false;
	am->amcanparallel = false;
	am->amcaninclude = false;
	am->amusemaintenanceworkmem = false;
	am->amparallelvacuumoptions = VACUUM_OPTION_PARALLEL_BULKDEL;
	am->amkeytype = InvalidOid;
	am->ambuild = hnswbuild;
	am->ambuildempty = hnswbuildempty;
	am->aminsert = hnswinsert;
	am->ambulkdelete = hnswbulkdelete;
	am->amvacuumcleanup = hnswvacuumcleanup;
	am->amcanreturn = NULL;
	am->amcostestimate = hnswcostestimate;
	am->amoptions = hnswoptions;
	am->amproperty = NULL;
	am->ambuildphasename = hnswbuildphasename;
	am->amvalidate = hnswvalidate;
	am->amadjustmembers = NULL;
	am->ambeginscan = hnswbeginscan;
	am->amrescan = hnswrescan;
	am->amgettuple = hnswgettuple;
	am->amgetbitmap = NULL;
	am->amendscan = hnswendscan;
	am->ammarkpos = NULL;
	am->amrestrpos = NULL;
	am->amestimateparallelscan = NULL;
	am->aminitparallelscan = NULL;
	am->amparallelrescan = NULL;
	PG_RETURN_POINTER(am);
}

PRISM_FUNCTION(prism_last_scan_stats)
{
	TupleDesc tupdesc;
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	const ScanStats &s = last_scan_stats;
	Datum values[7] = {Int64GetDatum(s.distances), Int64GetDatum(s.nodes_visited), Int64GetDatum(s.pages_read),
					   Int64GetDatum(s.tuples_returned), Int64GetDatum(s.dropped_out_of_order),
					   BoolGetDatum(s.bound_reached), Int64GetDatum(s.distances_reused)};
	bool nulls[7] = {false, false, false, false, false, false, false};
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
