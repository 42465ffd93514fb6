// The ivfflat access method handler: IndexAmRoutine, reloptions, GUCs, cost estimate, phases.
#include <cfloat>
#include <cmath>

#include "pg/ivf.h"

extern "C" {
#include "access/relation.h"
#include "commands/progress.h"
#include "commands/vacuum.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/selfuncs.h"
}

namespace prism {
namespace ivf {

int guc_probes = kDefaultProbes;
int guc_iterative_scan = kIterativeOff;
int guc_max_probes = kMaxLists;

static relopt_kind ivf_relopt_kind;

static const struct config_enum_entry iterative_scan_options[] = {
	{"off", kIterativeOff, false}, {"relaxed_order", kIterativeRelaxed, false}, {NULL, 0, false}};

static void define_gucs()
{
	ivf_relopt_kind = add_reloption_kind();
	add_int_reloption(ivf_relopt_kind, "lists", "Number of inverted lists", kDefaultLists, kMinLists, kMaxLists,
					  AccessExclusiveLock);
	DefineCustomIntVariable("ivfflat.probes", "Sets the number of lists an ivfflat scan reads",
							"Valid range is 1..lists; more lists give better recall and slower queries.", &guc_probes,
							kDefaultProbes, 1, kMaxLists, PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("ivfflat.iterative_scan", "Sets whether an ivfflat scan reads more lists when needed",
							 "relaxed_order reads ivfflat.probes more lists at a time while the query needs rows "
							 "(rows of a later batch may be nearer than ones already returned); off stops after "
							 "the first ivfflat.probes lists.",
							 &guc_iterative_scan, kIterativeOff, iterative_scan_options, PGC_USERSET, 0, NULL, NULL,
							 NULL);
	DefineCustomIntVariable("ivfflat.max_probes", "Sets the max number of lists an iterative ivfflat scan reads",
							"Below ivfflat.probes, ivfflat.probes is used.", &guc_max_probes, kMaxLists, 1, kMaxLists,
							PGC_USERSET, 0, NULL, NULL, NULL);
	MarkGUCPrefixReserved("ivfflat");
}

static bytea *ivfflatoptions(Datum reloptions, bool validate)
{
	static const relopt_parse_elt tab[] = {{"lists", RELOPT_TYPE_INT, offsetof(IvfOptions, lists)}};
	return (bytea *) build_reloptions(reloptions, validate, ivf_relopt_kind, sizeof(IvfOptions), tab, lengthof(tab));
}

// The planner may only use the index for ORDER BY <distance> (no WHERE quals). The scan ranks
// every center, then reads probes / lists of the index and sorts those tuples before returning
// the first row: all of that is startup cost. With iterative scans the total adds what reading
// up to ivfflat.max_probes lists would cost, so LIMIT k under a selective filter is charged the
// part of it the planner expects to need.
static void ivfflatcostestimate(PlannerInfo *root, IndexPath *path, double loop_count, Cost *startup, Cost *total,
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
	Relation index = relation_open(info->indexoid, NoLock);
	IvfOptions *opts = (IvfOptions *) index->rd_options;
	int lists = opts ? opts->lists : kDefaultLists;
	int32 dims = TupleDescAttr(index->rd_att, 0)->atttypmod;
	relation_close(index, NoLock);
	double tuples = Max(info->tuples, 1.0);
	double probes = Min((double) guc_probes, (double) lists);
	double ratio = probes / lists;
	// a distance over d dimensions costs about d / 64 operator evaluations
	double dist_cost = cpu_operator_cost * Max(1.0, (dims > 0 ? dims : 64) / 64.0);
	Cost tuple_cost = cpu_index_tuple_cost + dist_cost + cpu_operator_cost * log2(Max(2.0, ratio * tuples));
	double list_pages = Max(1.0, (double) info->pages * ratio);
	*startup = lists * dist_cost + ratio * tuples * tuple_cost + list_pages * seq_page_cost;
	*total = *startup;
	if (guc_iterative_scan != kIterativeOff) {
		double more = Min((double) Max(guc_max_probes, guc_probes), (double) lists) / lists - ratio;
		if (more > 0)
			*total += more * (tuples * tuple_cost + info->pages * seq_page_cost);
	}
	*selectivity = 1.0;
}

static bool ivfflatvalidate(Oid opclassoid) { return true; }

static char *ivfflatbuildphasename(int64 phase)
{
	switch (phase) {
	case PROGRESS_CREATEIDX_SUBPHASE_INITIALIZE:
		return (char *) "initializing";
	case 2:
		return (char *) "loading tuples";
	case 3:
		return (char *) "performing k-means";
	case 4:
		return (char *) "assigning tuples";
	case 5:
		return (char *) "writing pages";
	default:
		return NULL;
	}
}

}  // namespace ivf
}  // namespace prism

void prism_ivf_define_gucs(void) { prism::ivf::define_gucs(); }

using namespace prism::ivf;

PRISM_FUNCTION(ivfflat_handler)
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
	am->ambuild = ivfflatbuild;
	am->ambuildempty = ivfflatbuildempty;
	am->aminsert = ivfflatinsert;
	am->ambulkdelete = ivfflatbulkdelete;
	am->amvacuumcleanup = ivfflatvacuumcleanup;
	am->amcanreturn = NULL;
	am->amcostestimate = ivfflatcostestimate;
	am->amoptions = ivfflatoptions;
	am->amproperty = NULL;
	am->ambuildphasename = ivfflatbuildphasename;
	am->amvalidate = ivfflatvalidate;
	am->amadjustmembers = NULL;
	am->ambeginscan = ivfflatbeginscan;
	am->amrescan = ivfflatrescan;
	am->amgettuple = ivfflatgettuple;
	am->amgetbitmap = NULL;
	am->amendscan = ivfflatendscan;
	am->ammarkpos = NULL;
	am->amrestrpos = NULL;
	am->amestimateparallelscan = NULL;
	am->aminitparallelscan = NULL;
	am->amparallelrescan = NULL;
	PG_RETURN_POINTER(am);
}
