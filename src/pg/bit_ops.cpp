// Distances on Postgres' own `bit` type (pgvector 0.8's hamming_distance and jaccard_distance,
// behind the <~> and <%> operators), through the popcount kernels of core/bit_distance.h.
#include "core/bit_distance.h"

#include "pg/boundary.h"

extern "C" {
#include "utils/varbit.h"
}

// Both arguments detoasted and checked for equal length (pgvector's wording).
#define GET_TWO_BITS(a, b)                                                                   \
	VarBit *a = PG_GETARG_VARBIT_P(0);                                                       \
	VarBit *b = PG_GETARG_VARBIT_P(1);                                                       \
	if (VARBITLEN(a) != VARBITLEN(b))                                                        \
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),                                     \
						errmsg("different bit lengths %u and %u", VARBITLEN(a), VARBITLEN(b))))

// Number of positions where the bits differ. Postgres keeps the pad bits of the last byte zero,
// so whole bytes can be compared.
PRISM_FUNCTION(hamming_distance)
{
	GET_TWO_BITS(a, b);
	uint64 d = prism::best_bit_kernels().hamming(VARBITS(a), VARBITS(b), (size_t) VARBITBYTES(a));
	PG_RETURN_FLOAT8((double) d);
}

// 1 - |a & b| / |a | b| (1 when no position is set in both).
PRISM_FUNCTION(jaccard_distance)
{
	GET_TWO_BITS(a, b);
	uint64_t both, either;
	prism::best_bit_kernels().jaccard_counts(VARBITS(a), VARBITS(b), (size_t) VARBITBYTES(a), &both, &either);
	PG_RETURN_FLOAT8(prism::jaccard_from_counts(both, either));
}
