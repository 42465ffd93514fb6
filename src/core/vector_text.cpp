// Vector text parsing and shortest round-trip float printing (see vector_text.h).
#include "core/vector_text.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace prism {

namespace {

// Same set as Postgres' scanner and strtof in the C locale.
inline bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

inline const char *skip_space(const char *p)
{
	while (is_space(*p))
		p++;
	return p;
}

inline bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

// Integers of up to 9 digits with an optional '-' (pixel values, counts, one-hot vectors) skip
// from_chars, whose setup costs more than their digits: they fit a uint32, and its conversion to
// float rounds once, to nearest, as strtof does. Anything with a point or an exponent goes to
// from_chars, which parses long digit strings faster than a digit-at-a-time loop ("0.123" and
// hex "0x1p3" are recognised by their second character).
inline bool parse_small_integer(const char *p, float *out, const char **end)
{
	bool negative = *p == '-';
	const char *q = p + negative;
	if (!is_digit(*q) || q[1] == '.' || q[1] == 'x' || q[1] == 'X')
		return false;
	uint32_t m = 0;
	const char *s = q;
	for (; is_digit(*s) && s - q < 10; s++)
		m = m * 10 + uint32_t(*s - '0');
	if (s - q > 9 || *s == '.' || *s == 'e' || *s == 'E')
		return false;
	*out = negative ? -float(m) : float(m);
	*end = s;
	return true;
}

// strtof semantics (which pgvector's input has), with the common case on std::from_chars:
// glibc's strtof is locale-aware and measured 2x slower per vector. Anything from_chars does
// not take the same way (a '+' sign, hex floats, overflow/underflow, inf/nan spellings) goes to
// strtof, so errno is only meaningful after that path; it is cleared first either way.
inline float parse_float(const char *p, const char *limit, const char **end)
{
	errno = 0;
	const char *q = p + (*p == '-');
	if (is_digit(*q) && !(q[0] == '0' && (q[1] == 'x' || q[1] == 'X'))) {
		float v;
		auto r = std::from_chars(p, limit, v);
		if (r.ec == std::errc()) {
			*end = r.ptr;
			return v;
		}
	}
	char *e;
	float v = std::strtof(p, &e);
	*end = e;
	return v;
}

ParseResult status_only(ParseStatus s)
{
	return ParseResult{s, 0, nullptr, 0};
}

}  // namespace

size_t vector_text_max_elements(const char *text)
{
	// Every element takes a character and a separator (',' or ']'), after the '['. strlen
	// runs with SIMD; counting the commas byte by byte cost ~2% of a query.
	return std::strlen(text) / 2 + 1;
}

ParseResult parse_vector_text(const char *text, float *out, size_t capacity, size_t max_dim)
{
	const char *p = skip_space(text);
	const char *limit = p + std::strlen(p);
	size_t dim = 0;

	if (*p != '[')
		return status_only(ParseStatus::MissingBracket);
	p = skip_space(p + 1);

	if (*p == ']')
		p++;
	else {
		for (;;) {
			if (dim >= max_dim || dim >= capacity)
				return status_only(ParseStatus::TooManyDims);

			p = skip_space(p);
			// strtof would skip a sign-less empty field's whitespace and read the next
			// element, so an empty field must be caught here.
			if (*p == '\0' || *p == ',' || *p == ']')
				return status_only(ParseStatus::Syntax);

			const char *end;
			float v;
			// Small integers are finite and leave errno alone: no checks for them.
			if (!parse_small_integer(p, &v, &end)) {
				v = parse_float(p, limit, &end);
				if (end == p)
					return status_only(ParseStatus::Syntax);
				// Overflow is an error; underflow (ERANGE with a tiny result) reads as 0 or a
				// denormal, as pgvector accepts it.
				if (errno == ERANGE && std::isinf(v))
					return ParseResult{ParseStatus::OutOfRange, 0, p, static_cast<size_t>(end - p)};
				if (std::isnan(v))
					return status_only(ParseStatus::NotANumber);
				if (std::isinf(v))
					return status_only(ParseStatus::Infinite);
			}
			out[dim++] = v;

			p = skip_space(end);
			if (*p == ',') {
				p++;
				continue;
			}
			if (*p == ']') {
				p++;
				break;
			}
			return status_only(ParseStatus::Syntax);
		}
	}

	p = skip_space(p);
	if (*p != '\0')
		return status_only(ParseStatus::JunkAfter);
	if (dim == 0)
		return status_only(ParseStatus::Empty);
	return ParseResult{ParseStatus::Ok, dim, nullptr, 0};
}

namespace {

// A decimal d * 10^k as its digits (no dot) and exponent of the first digit.
struct Decimal {
	char digits[16];
	size_t nd;
	int exp;  // decimal exponent of digits[0]
};

// Splits to_chars' scientific output ("-1.2345e+07") into digits and exponent.
Decimal split_scientific(const char *s)
{
	Decimal d{};
	if (*s == '-')
		s++;
	for (; *s != 'e'; s++)
		if (*s != '.' && d.nd < sizeof(d.digits))
			d.digits[d.nd++] = *s;
	// the exponent: 'e', a sign, digits (std::atoi's strtol measured ~8% of vector_out)
	const char *e = s + 1;
	bool negative = *e == '-';
	if (*e == '-' || *e == '+')
		e++;
	int x = 0;
	while (*e >= '0' && *e <= '9')
		x = x * 10 + (*e++ - '0');
	d.exp = negative ? -x : x;
	// Precision-limited output may end in zeros; they carry no information.
	while (d.nd > 1 && d.digits[d.nd - 1] == '0')
		d.nd--;
	return d;
}

// Removes all factors p from n, returning how many there were.
int strip_factor(uint64_t &n, uint64_t p)
{
	int count = 0;
	while (n != 0 && n % p == 0) {
		n /= p;
		count++;
	}
	return count;
}

// True if the decimal equals the positive finite double x exactly. With x = odd * 2^E and the
// decimal = r * 2^(a+k) * 5^(b+k) (r coprime to 10), unique factorisation makes this a few
// integer comparisons.
bool decimal_equals(const Decimal &d, double x)
{
	uint64_t m = 0;
	for (size_t i = 0; i < d.nd; i++)
		m = m * 10 + static_cast<uint64_t>(d.digits[i] - '0');
	int k = d.exp - static_cast<int>(d.nd) + 1;
	int a = strip_factor(m, 2);
	int b = strip_factor(m, 5);

	int e;
	double frac = std::frexp(x, &e);
	uint64_t odd = static_cast<uint64_t>(std::ldexp(frac, 53));
	int exp2 = e - 53 + strip_factor(odd, 2);
	int c = strip_factor(odd, 5);
	return m == odd && a + k == exp2 && b + k == c;
}

// True if the decimal lies exactly halfway between |value| and a neighbouring float. Postgres'
// float4out (Ryu with the interval bounds excluded) never prints such a decimal, even though
// round-half-even parsing would read it back correctly; std::to_chars may.
bool on_rounding_boundary(const Decimal &d, float value)
{
	float a = std::fabs(value);
	if (a == 0)
		return false;
	float up = std::nextafter(a, std::numeric_limits<float>::infinity());
	float down = std::nextafter(a, 0.0f);
	double mid_up = (static_cast<double>(a) + up) / 2, mid_down = (static_cast<double>(a) + down) / 2;
	// Cheap rejection first (the exact test below dominated vector_out): the digits (< 10^16)
	// and 10^|k| (|k| <= 22) are exact doubles, so one correctly rounded multiply or divide
	// gives exactly the midpoint whenever the decimal equals it.
	static const double kPow10[] = {1e0,  1e1,	1e2,  1e3,	1e4,  1e5,	1e6,  1e7,	1e8,  1e9,	1e10, 1e11,
									1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
	int k = d.exp - static_cast<int>(d.nd) + 1;
	if (k >= -22 && k <= 22) {
		uint64_t m = 0;
		for (size_t i = 0; i < d.nd; i++)
			m = m * 10 + static_cast<uint64_t>(d.digits[i] - '0');
		double dd = k >= 0 ? static_cast<double>(m) * kPow10[k] : static_cast<double>(m) / kPow10[-k];
		if (dd != mid_down && !(std::isfinite(up) && dd == mid_up))
			return false;
	}
	// Midpoints between floats are exact in double (25 significant bits).
	if (std::isfinite(up) && decimal_equals(d, mid_up))
		return true;
	return decimal_equals(d, mid_down);
}

bool round_trips(const Decimal &d, float value)
{
	char s[40];
	char *o = s;
	if (std::signbit(value))
		*o++ = '-';
	for (size_t i = 0; i < d.nd; i++)
		*o++ = d.digits[i];
	std::snprintf(o, sizeof(s) - (o - s), "e%d", d.exp - static_cast<int>(d.nd) + 1);
	return std::strtof(s, nullptr) == value;
}

}  // namespace

size_t format_float(float value, char *buf)
{
	// std::to_chars without a precision gives the shortest digits that round-trip (Ryu);
	// scientific form makes the digits and the decimal exponent easy to pick apart.
	char sci[48];
	auto res = std::to_chars(sci, sci + sizeof(sci) - 1, value, std::chars_format::scientific);
	*res.ptr = '\0';
	Decimal d = split_scientific(sci);

	// Match float4out when the shortest decimal sits exactly on a rounding boundary: take the
	// shortest correctly rounded longer form that lies strictly inside the interval.
	if (on_rounding_boundary(d, value)) {
		for (int precision = static_cast<int>(d.nd); precision < 9; precision++) {
			res = std::to_chars(sci, sci + sizeof(sci) - 1, value, std::chars_format::scientific,
								precision);
			*res.ptr = '\0';
			Decimal longer = split_scientific(sci);
			if (round_trips(longer, value) && !on_rounding_boundary(longer, value)) {
				d = longer;
				break;
			}
		}
	}

	const char *digits = d.digits;
	size_t nd = d.nd;
	int exp = d.exp;
	char *o = buf;
	if (std::signbit(value))
		*o++ = '-';

	if (exp >= -4 && exp < 6) {
		// Fixed notation, as printf %g would choose.
		if (exp < 0) {
			*o++ = '0';
			*o++ = '.';
			for (int i = -1; i > exp; i--)
				*o++ = '0';
			for (size_t i = 0; i < nd; i++)
				*o++ = digits[i];
		} else {
			size_t int_digits = static_cast<size_t>(exp) + 1;
			for (size_t i = 0; i < int_digits; i++)
				*o++ = i < nd ? digits[i] : '0';
			if (nd > int_digits) {
				*o++ = '.';
				for (size_t i = int_digits; i < nd; i++)
					*o++ = digits[i];
			}
		}
	} else {
		*o++ = digits[0];
		if (nd > 1) {
			*o++ = '.';
			for (size_t i = 1; i < nd; i++)
				*o++ = digits[i];
		}
		*o++ = 'e';
		*o++ = exp < 0 ? '-' : '+';
		int a = exp < 0 ? -exp : exp;
		if (a >= 100)
			*o++ = static_cast<char>('0' + a / 100);
		*o++ = static_cast<char>('0' + (a / 10) % 10);
		*o++ = static_cast<char>('0' + a % 10);
	}
	*o = '\0';
	return static_cast<size_t>(o - buf);
}

size_t format_vector(const float *x, size_t n, char *buf)
{
	char *o = buf;
	*o++ = '[';
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			*o++ = ',';
		o += format_float(x[i], o);
	}
	*o++ = ']';
	*o = '\0';
	return static_cast<size_t>(o - buf);
}

}  // namespace prism
