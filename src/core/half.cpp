// Scalar float -> half conversion (see half.h). The kernels and their dispatch are in
// half_kernels.cpp, so the text and binary codecs (and their fuzz targets) need only this file.
#include "core/half.h"

#include <cmath>

namespace prism {

half_bits float_to_half_scalar(float f)
{
	uint32_t x;
	std::memcpy(&x, &f, sizeof(x));
	half_bits sign = half_bits((x >> 16) & 0x8000);
	uint32_t a = x & 0x7fffffffu;

	if (a >= 0x7f800000u) {
		// infinity, or NaN: keep the top of the payload and set the quiet bit
		if (a == 0x7f800000u)
			return half_bits(sign | 0x7c00);
		return half_bits(sign | 0x7e00 | ((a >> 13) & 0x3ff));
	}
	// 65520 (0x477ff000) is halfway between 65504 and 2^16; ties-to-even goes up, to infinity.
	if (a >= 0x477ff000u)
		return half_bits(sign | 0x7c00);
	if (a < 0x38800000u) {
		// Below the smallest normal half (2^-14): a multiple of 2^-24. Scaling by 2^24 is exact,
		// and nearbyint rounds to nearest even in the default rounding mode. A result of 1024
		// is the smallest normal, whose bits are 0x0400: the encoding carries over by itself.
		float units = std::nearbyint(std::fabs(f) * 16777216.0f);
		return half_bits(sign | half_bits(units));
	}
	uint32_t mant = a & 0x7fffffu;
	uint32_t h = (((a >> 23) - 112) << 10) | (mant >> 13);
	uint32_t rest = mant & 0x1fffu;
	// A carry out of the mantissa moves into the exponent, which is the right result.
	if (rest > 0x1000u || (rest == 0x1000u && (h & 1)))
		h++;
	return half_bits(sign | h);
}

}  // namespace prism
