/* number.c - the one integer parser of stockd (contracts in number.h).
 *
 * Exact: a JSON number's digits and exponent are reduced to digits x 10^scale with no floating point, so
 * whether it is an integer, and which, never depends on rounding. Pure: no I/O, no allocation. */
#include "domain/number.h"

#include <assert.h>
#include <stdbool.h>
#include <string.h>

/* An exponent beyond this says nothing more: it outweighs any count of digits a token in memory can have,
 * so a nonzero value scaled by it is out of int64 (or has a fraction) whatever its digits. */
#define NUMBER_EXPONENT_SATURATE INT64_C(1000000000000000)

static bool digit(char byte)
{
    return byte >= '0' && byte <= '9';
}

/* Adds digits to a magnitude, false once it would pass magnitude_max. */
static bool magnitude_append(uint64_t *magnitude, char byte, uint64_t magnitude_max)
{
    uint64_t value = (uint64_t)(byte - '0');
    if (*magnitude > (magnitude_max - value) / 10) return false;
    *magnitude = *magnitude * 10 + value;
    return true;
}

/* Turns a sign and a magnitude into an int64 inside [min, max]. */
static enum number_result number_signed(bool negative, uint64_t magnitude, int64_t min, int64_t max,
                                        int64_t *out)
{
    int64_t value;
    if (negative) {
        if (magnitude > (uint64_t)INT64_MAX + 1) return NUMBER_RANGE;
        value = magnitude == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)magnitude;
    } else {
        if (magnitude > (uint64_t)INT64_MAX) return NUMBER_RANGE;
        value = (int64_t)magnitude;
    }
    if (value < min || value > max) return NUMBER_RANGE;
    if (out != NULL) *out = value;
    return NUMBER_OK;
}

enum number_result number_integer_parse(const char *text, size_t length, int64_t min, int64_t max,
                                        int64_t *out)
{
    assert(text != NULL || length == 0);
    assert(min <= max);
    size_t position = 0;
    bool negative = length > 0 && text[0] == '-';
    if (negative) position++;
    if (position == length || !digit(text[position])) return NUMBER_SYNTAX;
    if (text[position] == '0' && (length - position > 1 || negative)) return NUMBER_SYNTAX; /* 05, -0 */
    uint64_t magnitude = 0;
    bool overflow = false;
    for (; position < length; position++) {
        if (!digit(text[position])) return NUMBER_SYNTAX;
        if (!overflow && !magnitude_append(&magnitude, text[position], UINT64_MAX)) overflow = true;
    }
    if (overflow) return NUMBER_RANGE;
    return number_signed(negative, magnitude, min, max, out);
}

enum number_result number_integer_parse_string(const char *text, int64_t min, int64_t max, int64_t *out)
{
    assert(text != NULL);
    return number_integer_parse(text, strlen(text), min, max, out);
}

/* Reads the exponent's digits, saturating at NUMBER_EXPONENT_SATURATE. */
static int64_t exponent_read(const char *token, size_t from, size_t to)
{
    int64_t exponent = 0;
    for (size_t i = from; i < to; i++) {
        exponent = exponent * 10 + (token[i] - '0');
        if (exponent > NUMBER_EXPONENT_SATURATE) return NUMBER_EXPONENT_SATURATE;
    }
    return exponent;
}

enum number_result number_json_integer(const char *token, size_t length, int64_t *out)
{
    assert(token != NULL || length == 0);
    /* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?: find the parts. */
    size_t position = 0;
    bool negative = position < length && token[position] == '-';
    if (negative) position++;
    size_t integer_start = position;
    while (position < length && digit(token[position]))
        position++;
    size_t integer_end = position;
    if (integer_end == integer_start) return NUMBER_SYNTAX;
    if (token[integer_start] == '0' && integer_end - integer_start > 1) return NUMBER_SYNTAX;
    size_t fraction_start = integer_end, fraction_end = integer_end;
    if (position < length && token[position] == '.') {
        fraction_start = ++position;
        while (position < length && digit(token[position]))
            position++;
        fraction_end = position;
        if (fraction_end == fraction_start) return NUMBER_SYNTAX;
    }
    int64_t exponent = 0;
    if (position < length && (token[position] == 'e' || token[position] == 'E')) {
        position++;
        bool exponent_negative = position < length && token[position] == '-';
        if (position < length && (token[position] == '-' || token[position] == '+')) position++;
        size_t exponent_start = position;
        while (position < length && digit(token[position]))
            position++;
        if (position == exponent_start) return NUMBER_SYNTAX;
        exponent = exponent_read(token, exponent_start, position);
        if (exponent_negative) exponent = -exponent;
    }
    if (position != length) return NUMBER_SYNTAX;
    /* The value is the digits of integer and fraction, times 10^(exponent - fraction digits). Drop
     * leading zeros, then move trailing zeros into the scale. */
    size_t digits_start = integer_start;
    size_t digits_end = fraction_end; /* the '.' between the parts is skipped below */
    int64_t scale = exponent - (int64_t)(fraction_end - fraction_start);
    while (digits_start < digits_end && (token[digits_start] == '0' || token[digits_start] == '.'))
        digits_start++;
    if (digits_start == digits_end) return number_signed(false, 0, INT64_MIN, INT64_MAX, out); /* zero */
    while (token[digits_end - 1] == '0' || token[digits_end - 1] == '.') {
        if (token[digits_end - 1] == '0') scale++;
        digits_end--;
    }
    /* The fraction digits still inside the range were counted in scale; those cut off as trailing zeros
     * were added back one by one. */
    if (scale < 0) return NUMBER_NOT_INTEGER;
    size_t digit_count = 0;
    for (size_t i = digits_start; i < digits_end; i++)
        digit_count += token[i] != '.';
    if ((int64_t)digit_count + scale > 20) return NUMBER_RANGE;
    uint64_t magnitude = 0;
    for (size_t i = digits_start; i < digits_end; i++) {
        if (token[i] == '.') continue;
        if (!magnitude_append(&magnitude, token[i], UINT64_MAX)) return NUMBER_RANGE;
    }
    for (int64_t i = 0; i < scale; i++) {
        if (!magnitude_append(&magnitude, '0', UINT64_MAX)) return NUMBER_RANGE;
    }
    return number_signed(negative, magnitude, INT64_MIN, INT64_MAX, out);
}
