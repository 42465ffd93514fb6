// Micro-benchmark: ns per distance call for each ISA variant the CPU supports, at 128 and 1536
// dims (float and half kernels) and 1536 and 65536 bits (Hamming). Vectors are cache-resident
// (one pair), so this measures the kernel, not memory.
//   build/core/bench_kernels [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "core/bit_distance.h"
#include "core/distance.h"
#include "core/half.h"

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
run_half_kernel(benchmark::State &state, prism::HalfIsa isa, int which, size_t dim)
{
	const prism::HalfKernels &k = prism::half_kernels_for(isa);
	prism::DistFunc f = which == 0 ? k.l2sq : which == 1 ? k.dot : k.l1;
	std::mt19937 rng(1);
	std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
	std::vector<prism::half_bits> a(dim), b(dim);
	for (size_t i = 0; i < dim; i++) {
		a[i] = prism::float_to_half(dist(rng));
		b[i] = prism::float_to_half(dist(rng));
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
run_hamming(benchmark::State &state, prism::BitIsa isa, size_t bits)
{
	const prism::BitKernels &k = prism::bit_kernels_for(isa);
	std::mt19937 rng(1);
	std::vector<uint8_t> a(bits / 8), b(bits / 8);
	for (size_t i = 0; i < a.size(); i++) {
		a[i] = uint8_t(rng());
		b[i] = uint8_t(rng());
	}
	for (auto _ : state) {
		benchmark::DoNotOptimize(a.data());
		benchmark::DoNotOptimize(b.data());
		uint64_t r = k.hamming(a.data(), b.data(), a.size());
		benchmark::DoNotOptimize(r);
	}
	state.SetItemsProcessed(state.iterations());
}

void
register_all()
{
	const char *half_names[] = {"half_l2sq", "half_dot", "half_l1"};
	for (int which = 0; which < 3; which++)
		for (size_t dim : {size_t(128), size_t(1536)})
			for (prism::HalfIsa isa : {prism::HalfIsa::Scalar, prism::HalfIsa::F16c}) {
				if (!prism::half_isa_supported(isa))
					continue;
				std::string name = std::string(half_names[which]) + "/" + std::to_string(dim) + "/" +
								   prism::half_isa_name(isa);
				benchmark::RegisterBenchmark(name.c_str(), run_half_kernel, isa, which, dim);
			}
	for (size_t bits : {size_t(1536), size_t(65536)})
		for (prism::BitIsa isa : {prism::BitIsa::Scalar, prism::BitIsa::Popcnt}) {
			if (!prism::bit_isa_supported(isa))
				continue;
			std::string name = "hamming/" + std::to_string(bits) + "/" + prism::bit_isa_name(isa);
			benchmark::RegisterBenchmark(name.c_str(), run_hamming, isa, bits);
		}

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
