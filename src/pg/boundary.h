// The C++/Postgres boundary. Every extern "C" entry point runs its body through
// prism_guarded(): C++ exceptions are caught and only after the catch block has ended turned
// into ereport(ERROR). Bodies must not keep objects with non-trivial destructors alive across
// calls that can ereport (a longjmp would skip the destructors).
#pragma once

#include <exception>
#include <new>

#include "pg/pg_includes.h"

namespace prism {

enum class CxxFailure { None, OutOfMemory, Exception, Unknown };

// Raises the Postgres ERROR for a caught C++ failure. Never returns.
[[noreturn]] void raise_cxx_failure(CxxFailure kind, const char *what);

template <typename Body>
inline auto prism_guarded(Body body) -> decltype(body())
{
	CxxFailure kind = CxxFailure::None;
	char what[256];
	what[0] = '\0';
	try {
		return body();
	} catch (const std::bad_alloc &) {
		kind = CxxFailure::OutOfMemory;
	} catch (const std::exception &e) {
		kind = CxxFailure::Exception;
		strlcpy(what, e.what(), sizeof(what));
	} catch (...) {
		kind = CxxFailure::Unknown;
	}
	raise_cxx_failure(kind, what);
}

}  // namespace prism

// Defines an fmgr-callable function whose body is guarded. Usage:
//   PRISM_FUNCTION(vector_in) { ... return PointerGetDatum(v); }
#define PRISM_FUNCTION(name)                                                                    \
	static Datum name##_impl(PG_FUNCTION_ARGS);                                                 \
	extern "C" {                                                                                \
	PG_FUNCTION_INFO_V1(name);                                                                  \
	Datum name(PG_FUNCTION_ARGS) { return prism::prism_guarded([&] { return name##_impl(fcinfo); }); } \
	}                                                                                           \
	static Datum name##_impl(PG_FUNCTION_ARGS)
