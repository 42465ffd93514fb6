// Bit distances (core/bit_distance.h): every kernel variant this CPU supports against a
// bit-by-bit reference, at lengths around the word and unroll boundaries.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

#include "core/bit_distance.h"

namespace {

using prism::BitIsa;

std::vector<BitIsa> supported()
{
	std::vector<BitIsa> out;
	for (BitIsa isa : {BitIsa::Scalar, BitIsa::Popcnt})
		if (prism::bit_isa_supported(isa))
			out.push_back(isa);
	return out;
}

bool bit(const std::vector<uint8_t> &v, size_t i) { return (v[i / 8] >> (7 - i % 8)) & 1; }

TEST(BitDistance, EveryIsaMatchesBitByBitReference)
{
	std::mt19937 rng(3);
	for (size_t bytes : {0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 1000, 8000}) {
		for (double density : {0.0, 0.05, 0.5, 1.0}) {
			std::bernoulli_distribution coin(density);
			std::vector<uint8_t> a(bytes + 1), b(bytes + 1);  // +1: data() valid at 0 bytes
			for (size_t i = 0; i < bytes * 8; i++) {
				if (coin(rng))
					a[i / 8] |= uint8_t(0x80 >> (i % 8));
				if (coin(rng))
					b[i / 8] |= uint8_t(0x80 >> (i % 8));
			}
			uint64_t diff = 0, both = 0, either = 0;
			for (size_t i = 0; i < bytes * 8; i++) {
				diff += bit(a, i) != bit(b, i);
				both += bit(a, i) && bit(b, i);
				either += bit(a, i) || bit(b, i);
			}
			for (BitIsa isa : supported()) {
				const prism::BitKernels &k = prism::bit_kernels_for(isa);
				SCOPED_TRACE(std::string(prism::bit_isa_name(isa)) + " bytes " + std::to_string(bytes));
				EXPECT_EQ(k.isa, isa);
				EXPECT_EQ(k.hamming(a.data(), b.data(), bytes), diff);
				EXPECT_EQ(k.hamming(a.data(), a.data(), bytes), 0u);
				uint64_t x = 99, y = 99;
				k.jaccard_counts(a.data(), b.data(), bytes, &x, &y);
				EXPECT_EQ(x, both);
				EXPECT_EQ(y, either);
				EXPECT_EQ(k.hamming_dist(a.data(), b.data(), &bytes), float(diff));
				EXPECT_EQ(k.jaccard_dist(a.data(), b.data(), &bytes), float(prism::jaccard_from_counts(both, either)));
			}
		}
	}
}

TEST(BitDistance, UnalignedInput)
{
	std::vector<uint8_t> buf(200);
	for (size_t i = 0; i < buf.size(); i++)
		buf[i] = uint8_t(i * 37 + 11);
	for (BitIsa isa : supported()) {
		const prism::BitKernels &k = prism::bit_kernels_for(isa);
		const prism::BitKernels &ref = prism::bit_kernels_for(BitIsa::Scalar);
		for (size_t off = 0; off < 8; off++)
			EXPECT_EQ(k.hamming(buf.data() + off, buf.data() + 100 + off, 90),
					  ref.hamming(buf.data() + off, buf.data() + 100 + off, 90));
	}
}

TEST(BitDistance, JaccardFromCounts)
{
	EXPECT_EQ(prism::jaccard_from_counts(0, 0), 1.0);	// two empty sets: pgvector says 1
	EXPECT_EQ(prism::jaccard_from_counts(0, 5), 1.0);
	EXPECT_EQ(prism::jaccard_from_counts(4, 4), 0.0);
	EXPECT_DOUBLE_EQ(prism::jaccard_from_counts(2, 6), 1.0 - 2.0 / 6.0);
}

TEST(BitDistance, BestIsSupported)
{
	EXPECT_TRUE(prism::bit_isa_supported(prism::best_bit_kernels().isa));
	if (!prism::bit_isa_supported(BitIsa::Popcnt))
		EXPECT_THROW(prism::bit_kernels_for(BitIsa::Popcnt), std::invalid_argument);
	else
		EXPECT_EQ(prism::best_bit_kernels().isa, BitIsa::Popcnt);
}

}  // namespace
