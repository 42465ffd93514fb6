// Reusing the distance an hnsw scan computed, instead of computing it again for every row.
//
// For `ORDER BY embedding <-> q LIMIT k` the ORDER BY expression sits in the index scan's target
// list, so the executor evaluates it for each returned row: it detoasts the row's vector and runs
// the distance again. For a compressible vector (storage `main` keeps it compressed inline) that
// is a pglz decompression per row, ~4 us at 784-d: ~15% of a Fashion-MNIST query. The scan
// already knows that distance. After planning, a planner hook rewrites the ORDER BY expression
// wherever it appears in the target list or quals of an IndexScan on an hnsw index, e.g.
//     embedding <-> q   becomes   prism.scan_l2_distance(tableoid, ctid, embedding, q)
// which returns the value hnswgettuple left in last_returned when (table, ctid, query) are those
// of the row the scan just returned, and otherwise computes the operator itself. Both give the
// same bits: the index stores each row's vector as inserted and runs the same kernel on it.
// Cosine is left alone (the index works on normalized vectors). prism.reuse_scan_distances = off
// turns the rewrite off; so does an installed extension that lacks the functions.
//
// A qual bounding that same distance, `embedding <-> q < r` (also <=, and the commuted r > / >=
// form), becomes prism.scan_l2_distance_within(tableoid, ctid, embedding, q, r, inclusive). It
// compares as the qual did and, when the row the scan just returned fails, tells the scan to
// end: under strict_order the scan returns rows in non-decreasing distance, so no later row could
// pass, and without this a `WHERE distance < r ORDER BY distance LIMIT k` with fewer than k rows
// within r searched on until the graph or hnsw.max_scan_tuples was exhausted.
#include "pg/hnsw.h"
#include "pg/vector_internal.h"

extern "C" {
#include "access/sysattr.h"
#include "catalog/dependency.h"
#include "catalog/pg_class.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "optimizer/planner.h"
#include "parser/parse_func.h"
#include "utils/float.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/syscache.h"
#include "storage/buf_internals.h"	// GetBufferDescriptor: which row a column value lies in
}

namespace prism {
namespace hnsw {

bool guc_reuse_scan_distances = true;

static planner_hook_type prev_planner_hook;

// One ORDER BY expression of an index scan and the function that replaces it.
struct Rewrite {
	Index scanrelid;
	Node *order_by;
	Oid replacement;
};

static Node *replace_order_by(Node *node, Rewrite *rw)
{
	if (node == NULL)
		return NULL;
	if (equal(node, rw->order_by)) {
		OpExpr *op = (OpExpr *) node;
		Var *tableoid = makeVar(rw->scanrelid, TableOidAttributeNumber, OIDOID, -1, InvalidOid, 0);
		Var *ctid = makeVar(rw->scanrelid, SelfItemPointerAttributeNumber, TIDOID, -1, InvalidOid, 0);
		List *args = list_make4(tableoid, ctid, copyObjectImpl(linitial(op->args)), copyObjectImpl(lsecond(op->args)));
		FuncExpr *f = makeFuncExpr(rw->replacement, FLOAT8OID, args, InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
		f->location = op->location;
		return (Node *) f;
	}
	// The mutator type is an unprototyped C function pointer; cast through void (*)(void).
	return expression_tree_mutator(node, (Node * (*) ()) (void (*)(void)) replace_order_by, rw);
}

static bool is_hnsw_index(Oid indexoid)
{
	HeapTuple tp = SearchSysCache1(RELOID, ObjectIdGetDatum(indexoid));
	if (!HeapTupleIsValid(tp))
		return false;
	Oid am = ((Form_pg_class) GETSTRUCT(tp))->relam;
	ReleaseSysCache(tp);
	IndexAmRoutine *routine = GetIndexAmRoutineByAmId(am, true);
	bool ours = routine != NULL && routine->amgettuple == hnswgettuple;
	if (routine)
		pfree(routine);
	return ours;
}

// The replacement for an ORDER BY operator whose function is prism's own l2 or negative inner
// product, else InvalidOid (another opclass, or an installed prism without the functions).
// prism's extension is named prism, or vector when installed by `make install-vector-alias`:
// the replacement must belong to the extension that owns the operator's function.
static Oid lookup_replacement(OpExpr *op, bool within)
{
	Oid ext = getExtensionOfObject(ProcedureRelationId, op->opfuncid);
	if (!OidIsValid(ext))
		return InvalidOid;
	const char *function = get_func_name(op->opfuncid);
	const char *replacement = NULL;
	if (function == NULL)
		return InvalidOid;
	if (strcmp(function, "l2_distance") == 0)
		replacement = "scan_l2_distance";
	else if (strcmp(function, "vector_negative_inner_product") == 0)
		replacement = "scan_negative_inner_product";
	else
		return InvalidOid;
	if (within)
		replacement = psprintf("%s_within", replacement);
	Oid args[6] = {OIDOID, TIDOID, exprType((Node *) linitial(op->args)), exprType((Node *) lsecond(op->args)),
				   FLOAT8OID, BOOLOID};
	Oid f = LookupFuncName(list_make2(makeString(pstrdup("prism")), makeString(pstrdup(replacement))),
						   within ? 6 : 4, args, true);
	return OidIsValid(f) && getExtensionOfObject(ProcedureRelationId, f) == ext ? f : InvalidOid;
}

// lookup_replacement reads pg_depend; its answers are kept until pg_proc changes.
struct KnownReplacement {
	Oid op_function, arg_type, query_type;
	bool within;
	Oid replacement;
};
static KnownReplacement known[16];
static int n_known;

static void forget_replacements(Datum, int, uint32)
{
	n_known = 0;
}

static Oid replacement_for(OpExpr *op, bool within)
{
	Oid arg = exprType((Node *) linitial(op->args)), query = exprType((Node *) llast(op->args));
	for (int i = 0; i < n_known; i++)
		if (known[i].op_function == op->opfuncid && known[i].arg_type == arg && known[i].query_type == query &&
			known[i].within == within)
			return known[i].replacement;
	Oid r = lookup_replacement(op, within);
	if (n_known < (int) lengthof(known))
		known[n_known++] = KnownReplacement{op->opfuncid, arg, query, within, r};
	return r;
}

struct PlanRewrite {
	List *inval_items;
};

// The plan now depends on the function: dropping it invalidates cached plans.
static void depend_on_function(PlanRewrite *cx, Oid f)
{
	PlanInvalItem *item = makeNode(PlanInvalItem);
	item->cacheId = PROCOID;
	item->hashValue = GetSysCacheHashValue1(PROCOID, ObjectIdGetDatum(f));
	cx->inval_items = lappend(cx->inval_items, item);
}

// If `qual` is `<order_by> < | <= bound` or `bound > | >= <order_by>`, with a bound that stays the
// same for the whole scan (no column of the row, nothing volatile, no subquery), the call of
// `within` that replaces it; else NULL. float8 comparisons only: the distance operators return
// float8, and other bound types would compare through a cast.
static Node *bound_qual(Node *qual, const Rewrite &rw, Oid within)
{
	if (!IsA(qual, OpExpr))
		return NULL;
	OpExpr *cmp = (OpExpr *) qual;
	set_opfuncid(cmp);
	if (list_length(cmp->args) != 2)
		return NULL;
	Node *left = (Node *) linitial(cmp->args), *right = (Node *) lsecond(cmp->args);
	Node *bound;
	bool inclusive;
	switch (cmp->opfuncid) {
	case F_FLOAT8LT:
	case F_FLOAT8LE:
		if (!equal(left, rw.order_by))
			return NULL;
		bound = right;
		inclusive = cmp->opfuncid == F_FLOAT8LE;
		break;
	case F_FLOAT8GT:
	case F_FLOAT8GE:
		if (!equal(right, rw.order_by))
			return NULL;
		bound = left;
		inclusive = cmp->opfuncid == F_FLOAT8GE;
		break;
	default:
		return NULL;
	}
	if (contain_var_clause(bound) || contain_volatile_functions(bound) || contain_subplans(bound))
		return NULL;
	OpExpr *op = (OpExpr *) rw.order_by;
	Var *tableoid = makeVar(rw.scanrelid, TableOidAttributeNumber, OIDOID, -1, InvalidOid, 0);
	Var *ctid = makeVar(rw.scanrelid, SelfItemPointerAttributeNumber, TIDOID, -1, InvalidOid, 0);
	List *args = list_make4(tableoid, ctid, copyObjectImpl(linitial(op->args)), copyObjectImpl(lsecond(op->args)));
	args = lappend(args, copyObjectImpl(bound));
	args = lappend(args, makeBoolConst(inclusive, false));
	FuncExpr *f = makeFuncExpr(within, BOOLOID, args, InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
	f->location = cmp->location;
	return (Node *) f;
}

static void rewrite_index_scan(IndexScan *scan, PlanRewrite *cx)
{
	if (list_length(scan->indexorderbyorig) != 1 || !IsA(linitial(scan->indexorderbyorig), OpExpr) ||
		!is_hnsw_index(scan->indexid))
		return;
	OpExpr *op = (OpExpr *) linitial(scan->indexorderbyorig);
	set_opfuncid(op);
	if (list_length(op->args) != 2)
		return;
	Rewrite rw{scan->scan.scanrelid, (Node *) op, replacement_for(op, false)};
	if (!OidIsValid(rw.replacement))
		return;
	depend_on_function(cx, rw.replacement);
	// Distance bounds among the quals' top-level conjuncts (a row failing one fails them all;
	// inside an OR it would not). They go first: a qual is evaluated only for rows that passed
	// the ones before it, and the first returned row beyond the bound should end the scan. An
	// installed extension without the function keeps the qual as it is.
	Oid within = replacement_for(op, true);
	if (OidIsValid(within)) {
		List *bounds = NIL, *others = NIL;
		ListCell *lc;
		foreach (lc, scan->scan.plan.qual) {
			Node *f = bound_qual((Node *) lfirst(lc), rw, within);
			if (f != NULL)
				bounds = lappend(bounds, f);
			else
				others = lappend(others, lfirst(lc));
		}
		if (bounds != NIL) {
			depend_on_function(cx, within);
			scan->scan.plan.qual = list_concat(bounds, others);
		}
	}
	scan->scan.plan.targetlist = (List *) replace_order_by((Node *) scan->scan.plan.targetlist, &rw);
	scan->scan.plan.qual = (List *) replace_order_by((Node *) scan->scan.plan.qual, &rw);
}

static void rewrite_plan(Plan *plan, PlanRewrite *cx)
{
	if (plan == NULL)
		return;
	check_stack_depth();
	ListCell *lc;
	switch (nodeTag(plan)) {
	case T_IndexScan:
		rewrite_index_scan((IndexScan *) plan, cx);
		break;
	case T_Append:
		foreach (lc, ((Append *) plan)->appendplans)
			rewrite_plan((Plan *) lfirst(lc), cx);
		break;
	case T_MergeAppend:
		foreach (lc, ((MergeAppend *) plan)->mergeplans)
			rewrite_plan((Plan *) lfirst(lc), cx);
		break;
	case T_SubqueryScan:
		rewrite_plan(((SubqueryScan *) plan)->subplan, cx);
		break;
	case T_CustomScan:
		foreach (lc, ((CustomScan *) plan)->custom_plans)
			rewrite_plan((Plan *) lfirst(lc), cx);
		break;
	default:
		break;
	}
	rewrite_plan(plan->lefttree, cx);
	rewrite_plan(plan->righttree, cx);
}

static PlannedStmt *prism_planner(Query *parse, const char *query_string, int cursor_options, ParamListInfo params)
{
	PlannedStmt *stmt = prev_planner_hook ? prev_planner_hook(parse, query_string, cursor_options, params)
										  : standard_planner(parse, query_string, cursor_options, params);
	if (guc_reuse_scan_distances) {
		PlanRewrite cx{stmt->invalItems};
		rewrite_plan(stmt->planTree, &cx);
		ListCell *lc;
		foreach (lc, stmt->subplans)
			rewrite_plan((Plan *) lfirst(lc), &cx);
		stmt->invalItems = cx.inval_items;
	}
	return stmt;
}

void define_planner_hook()
{
	DefineCustomBoolVariable("prism.reuse_scan_distances",
							 "Lets queries reuse the distances hnsw scans computed for their rows",
							 "When on, an ORDER BY distance expression evaluated for a row an hnsw index scan "
							 "returned takes the scan's value (identical) instead of detoasting the row's vector "
							 "again. Takes effect for queries planned afterwards.",
							 &guc_reuse_scan_distances, true, PGC_USERSET, 0, NULL, NULL, NULL);
	CacheRegisterSyscacheCallback(PROCOID, forget_replacements, (Datum) 0);
	prev_planner_hook = planner_hook;
	planner_hook = prism_planner;
}

// Whether `p` is the indexed column's value of the row the scan returned, as it lies in a shared
// buffer: the executor hands a row's column values as pointers into the pinned page (inline,
// compressed or a TOAST pointer alike). Values a query computes or passes in never are, nor are
// other rows' or other columns', so a direct call cannot pick up the scan's value for them.
static bool is_returned_column(const char *p, const ReturnedDistance &r)
{
	if (p < BufferBlocks || p >= BufferBlocks + (Size) NBuffers * BLCKSZ)
		return false;
	int buf_id = (int) ((Size) (p - BufferBlocks) / BLCKSZ);
	// The row's buffer is pinned by the executor's slot, so its tag cannot change meanwhile.
	const BufferTag tag = GetBufferDescriptor(buf_id)->tag;
	if (!RelFileNodeEquals(tag.rnode, r.heap_node) || tag.forkNum != MAIN_FORKNUM ||
		tag.blockNum != ItemPointerGetBlockNumberNoCheck(&r.tid))
		return false;
	Page page = (Page) (BufferBlocks + (Size) buf_id * BLCKSZ);
	OffsetNumber off = ItemPointerGetOffsetNumberNoCheck(&r.tid);
	if (off < FirstOffsetNumber || off > PageGetMaxOffsetNumber(page))
		return false;
	ItemId lp = PageGetItemId(page, off);
	if (!ItemIdIsNormal(lp))
		return false;
	HeapTupleData tuple;
	tuple.t_data = (HeapTupleHeader) ((char *) page + ItemIdGetOffset(lp));
	tuple.t_len = ItemIdGetLength(lp);
	tuple.t_self = r.tid;
	tuple.t_tableOid = r.heap;
	bool isnull;
	Datum value = heap_getattr(&tuple, r.column, r.heap_desc, &isnull);
	return !isnull && DatumGetPointer(value) == p;
}

// The value the scan left for this row, if (table, ctid, metric, query) are the scan's and the
// vector argument is that row's indexed column.
static bool scanned_value(FunctionCallInfo fcinfo, Metric metric, double *value)
{
	const ReturnedDistance &r = last_returned;
	if (r.scan == NULL || r.metric != metric || r.heap != PG_GETARG_OID(0) ||
		!ItemPointerEquals(const_cast<ItemPointer>(&r.tid), (ItemPointer) PG_GETARG_POINTER(1)) ||
		!is_returned_column((const char *) PG_GETARG_POINTER(2), r))
		return false;
	Vector *q = PG_GETARG_VECTOR_P(3);
	if ((uint32) q->dim != r.dims || memcmp(q->x, r.query, sizeof(float) * r.dims) != 0)
		return false;
	*value = r.value;
	(*r.reused)++;
	return true;
}

}  // namespace hnsw
}  // namespace prism

using prism::hnsw::scanned_value;

extern "C" {
Datum l2_distance(PG_FUNCTION_ARGS);
Datum vector_negative_inner_product(PG_FUNCTION_ARGS);
}

// prism.scan_l2_distance(tableoid, ctid, a, b) = a <-> b
PRISM_FUNCTION(prism_scan_l2_distance)
{
	double value;
	if (scanned_value(fcinfo, prism::hnsw::Metric::L2, &value))
		PG_RETURN_FLOAT8(value);
	return DirectFunctionCall2(l2_distance, PG_GETARG_DATUM(2), PG_GETARG_DATUM(3));
}

// prism.scan_negative_inner_product(tableoid, ctid, a, b) = a <#> b
PRISM_FUNCTION(prism_scan_negative_inner_product)
{
	double value;
	if (scanned_value(fcinfo, prism::hnsw::Metric::InnerProduct, &value))
		PG_RETURN_FLOAT8(value);
	return DirectFunctionCall2(vector_negative_inner_product, PG_GETARG_DATUM(2), PG_GETARG_DATUM(3));
}

// The qual `a <op> b < bound` (inclusive: <=) for the row (tableoid, ctid). When that row is the
// one the scan just returned and fails, no later row of a strict_order scan can pass: the scan
// is told to end. float8_lt / float8_le compare as the float8 operators do (NaN included).
static Datum distance_within(FunctionCallInfo fcinfo, prism::hnsw::Metric metric, PGFunction op)
{
	double value;
	bool from_scan = scanned_value(fcinfo, metric, &value);
	if (!from_scan)
		value = DatumGetFloat8(DirectFunctionCall2(op, PG_GETARG_DATUM(2), PG_GETARG_DATUM(3)));
	double bound = PG_GETARG_FLOAT8(4);
	bool within = PG_GETARG_BOOL(5) ? float8_le(value, bound) : float8_lt(value, bound);
	if (!within && from_scan && prism::hnsw::last_returned.bound_passed != NULL)
		*prism::hnsw::last_returned.bound_passed = true;
	PG_RETURN_BOOL(within);
}

// prism.scan_l2_distance_within(tableoid, ctid, a, b, bound, inclusive)
PRISM_FUNCTION(prism_scan_l2_distance_within)
{
	return distance_within(fcinfo, prism::hnsw::Metric::L2, l2_distance);
}

// prism.scan_negative_inner_product_within(tableoid, ctid, a, b, bound, inclusive)
PRISM_FUNCTION(prism_scan_negative_inner_product_within)
{
	return distance_within(fcinfo, prism::hnsw::Metric::InnerProduct, vector_negative_inner_product);
}
