// Unit tests for the vector binary wire format decoder/encoder (send/recv).
#include "core/vector_binary.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

using prism::BinaryResult;
using prism::BinaryStatus;

namespace {

constexpr size_t kMaxDim = 16000;

std::vector<uint8_t> encode(const std::vector<float> &x)
{
	std::vector<uint8_t> b(prism::vector_binary_size(x.size()));
	size_t n = prism::encode_vector_binary(x.data(), x.size(), b.data());
	EXPECT_EQ(n, b.size());
	return b;
}

// Header with arbitrary dim/unused, followed by `floats` raw big-endian words.
std::vector<uint8_t> raw(int dim, int unused, const std::vector<uint32_t> &words)
{
	std::vector<uint8_t> b;
	b.push_back(static_cast<uint8_t>((dim >> 8) & 0xff));
	b.push_back(static_cast<uint8_t>(dim & 0xff));
	b.push_back(static_cast<uint8_t>((unused >> 8) & 0xff));
	b.push_back(static_cast<uint8_t>(unused & 0xff));
	for (uint32_t w : words)
		for (int s = 24; s >= 0; s -= 8)
			b.push_back(static_cast<uint8_t>(w >> s));
	return b;
}

BinaryResult decode(const std::vector<uint8_t> &b, std::vector<float> &out, int32_t typmod = -1)
{
	out.assign(kMaxDim, -7.0f);
	return prism::decode_vector_binary(b.data(), b.size(), typmod, kMaxDim, out.data(), out.size());
}

}  // namespace

TEST(VectorBinary, EncodesBigEndian)
{
	auto b = encode({1.0f, -2.0f});
	std::vector<uint8_t> want = {0, 2, 0, 0, 0x3f, 0x80, 0, 0, 0xc0, 0, 0, 0};
	EXPECT_EQ(b, want);
}

TEST(VectorBinary, RoundTrip)
{
	std::mt19937 rng(42);
	std::uniform_real_distribution<float> dist(-1e6f, 1e6f);
	for (size_t n : {1u, 2u, 3u, 17u, 1000u, 16000u}) {
		std::vector<float> x(n);
		for (auto &v : x)
			v = dist(rng);
		x[0] = -0.0f;
		std::vector<float> out;
		BinaryResult r = decode(encode(x), out);
		ASSERT_EQ(r.status, BinaryStatus::Ok) << n;
		ASSERT_EQ(r.dim, static_cast<int>(n));
		EXPECT_EQ(std::memcmp(out.data(), x.data(), n * sizeof(float)), 0);
		EXPECT_TRUE(std::signbit(out[0]));
	}
}

TEST(VectorBinary, KeepsDenormalsAndExtremes)
{
	std::vector<float> x = {std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::max(),
							-std::numeric_limits<float>::max(), std::numeric_limits<float>::min()};
	std::vector<float> out;
	ASSERT_EQ(decode(encode(x), out).status, BinaryStatus::Ok);
	EXPECT_EQ(std::memcmp(out.data(), x.data(), x.size() * sizeof(float)), 0);
}

TEST(VectorBinary, Truncated)
{
	std::vector<float> out;
	for (size_t len = 0; len < 4; len++) {
		std::vector<uint8_t> b(len, 0);
		EXPECT_EQ(decode(b, out).status, BinaryStatus::Truncated) << len;
	}
	auto b = encode({1, 2, 3});
	for (size_t cut = 1; cut <= 12; cut++) {
		std::vector<uint8_t> s(b.begin(), b.end() - cut);
		EXPECT_EQ(decode(s, out).status, BinaryStatus::Truncated) << cut;
	}
}

TEST(VectorBinary, DimRange)
{
	std::vector<float> out;
	BinaryResult r = decode(raw(0, 0, {}), out);
	EXPECT_EQ(r.status, BinaryStatus::BadDim);
	EXPECT_EQ(r.dim, 0);
	r = decode(raw(-1, 0, {}), out);  // 0xffff is int16 -1
	EXPECT_EQ(r.status, BinaryStatus::BadDim);
	EXPECT_EQ(r.dim, -1);
	r = decode(raw(0x8000, 0, {}), out);
	EXPECT_EQ(r.status, BinaryStatus::BadDim);
	EXPECT_EQ(r.dim, -32768);
	r = decode(raw(16001, 0, {}), out);
	EXPECT_EQ(r.status, BinaryStatus::BadDim);
	EXPECT_EQ(r.dim, 16001);
	// dim is checked before the length: a huge dim with no data is BadDim, not Truncated
	EXPECT_EQ(decode(raw(32767, 0, {}), out).status, BinaryStatus::BadDim);
	// 16000 itself is fine when the data is there
	std::vector<uint32_t> zeros(16000, 0);
	EXPECT_EQ(decode(raw(16000, 0, zeros), out).status, BinaryStatus::Ok);
}

TEST(VectorBinary, CapacityBoundsOutput)
{
	std::vector<uint8_t> b = encode({1, 2, 3});
	float out[2] = {0, 0};
	BinaryResult r = prism::decode_vector_binary(b.data(), b.size(), -1, kMaxDim, out, 2);
	EXPECT_EQ(r.status, BinaryStatus::BadDim);
	float out3[3];
	r = prism::decode_vector_binary(b.data(), b.size(), -1, 3, out3, 3);
	EXPECT_EQ(r.status, BinaryStatus::Ok);
	r = prism::decode_vector_binary(b.data(), b.size(), -1, 2, out3, 3);
	EXPECT_EQ(r.status, BinaryStatus::BadDim);
}

TEST(VectorBinary, Typmod)
{
	std::vector<float> out;
	auto b = encode({1, 2, 3});
	EXPECT_EQ(decode(b, out, 3).status, BinaryStatus::Ok);
	BinaryResult r = decode(b, out, 4);
	EXPECT_EQ(r.status, BinaryStatus::DimMismatch);
	EXPECT_EQ(r.dim, 3);
	// typmod is checked before unused and before the data length, as vector_recv does
	EXPECT_EQ(decode(raw(3, 1, {}), out, 2).status, BinaryStatus::DimMismatch);
}

TEST(VectorBinary, UnusedMustBeZero)
{
	std::vector<float> out;
	BinaryResult r = decode(raw(1, 1, {0}), out);
	EXPECT_EQ(r.status, BinaryStatus::UnusedNotZero);
	EXPECT_EQ(r.unused, 1);
	r = decode(raw(1, 0xffff, {0}), out);
	EXPECT_EQ(r.status, BinaryStatus::UnusedNotZero);
	EXPECT_EQ(r.unused, -1);
	// unused is checked before the data length
	EXPECT_EQ(decode(raw(2, 5, {}), out).status, BinaryStatus::UnusedNotZero);
}

TEST(VectorBinary, NonFiniteElements)
{
	std::vector<float> out;
	EXPECT_EQ(decode(raw(2, 0, {0x3f800000, 0x7fc00000}), out).status, BinaryStatus::NotANumber);
	EXPECT_EQ(decode(raw(1, 0, {0xffc00001}), out).status, BinaryStatus::NotANumber);
	EXPECT_EQ(decode(raw(1, 0, {0x7f800001}), out).status, BinaryStatus::NotANumber);  // signalling
	EXPECT_EQ(decode(raw(1, 0, {0x7f800000}), out).status, BinaryStatus::Infinite);
	EXPECT_EQ(decode(raw(2, 0, {0, 0xff800000}), out).status, BinaryStatus::Infinite);
	// elements are checked in order: a NaN before a missing element wins
	EXPECT_EQ(decode(raw(3, 0, {0x7fc00000}), out).status, BinaryStatus::NotANumber);
	EXPECT_EQ(decode(raw(3, 0, {0}), out).status, BinaryStatus::Truncated);
}

TEST(VectorBinary, TrailingBytes)
{
	std::vector<float> out;
	auto b = encode({1, 2});
	b.push_back(0);
	EXPECT_EQ(decode(b, out).status, BinaryStatus::TrailingBytes);
	b.insert(b.end(), 3, 0);
	EXPECT_EQ(decode(b, out).status, BinaryStatus::TrailingBytes);
}
