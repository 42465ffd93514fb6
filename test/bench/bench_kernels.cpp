// Micro-benchmark: ns per distance call for each ISA variant the CPU supports, at 128 and 1536
// dims. Vectors are cache-resident (one pair), so this measures the kernel, not memory.
//   build/core/bench_kernels [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "core/distance.h"

namespace {

using prism::Isa;

void
run_kernel(benchmark::State &state, Isa isa, bool dot, size_t dim)
{
	prism::Kernels k = prism::kernels_for(isa, dim);
	prism::DistFunc f = dot ? k.dot : k.l2sq;
	std::mt19937 rng(1);
	std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
	std::vector<float> a(dim), b(dim);
	for (size_t i = 0; i < dim; i++) {
		a[i] = dist(rng);
		b[i] = dist(rng);
	}
	for (auto _ : state) {
		benchmark::DoNotOptimize(a.data());
		benchmark::DoNotOptimize(b.data());
		float r = f(a.data(), b.data(), &dim);
		benchmark::DoNotOptimize(r);
	}
	state.SetItemsProcessed(state.iterations());
}

void
register_all()
{
	const Isa isas[] = {Isa::Scalar, Isa::Sse, Isa::Avx2, Isa::Avx512};
	const size_t dims[] = {128, 1536};
	for (bool dot : {false, true})
		for (size_t dim : dims)
			for (Isa isa : isas) {
				if (!prism::isa_supported(isa))
					continue;
				std::string name = std::string(dot ? "dot" : "l2sq") + "/" + std::to_string(dim) + "/" +
								   prism::isa_name(isa);
				benchmark::RegisterBenchmark(name.c_str(), run_kernel, isa, dot, dim);
			}
}

}  // namespace

int
main(int argc, char **argv)
{
	register_all();
	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return 0;
}
