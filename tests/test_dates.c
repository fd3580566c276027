/* test_dates.c - RFC 3339 times and YYYY-MM-DD days of the query parameters (src/api/dates.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "api/dates.h"

#define DEC_1_2026_10H_MS INT64_C(1796119200000) /* 2026-12-01T10:00:00Z */

static int64_t time_of(const char *text)
{
    int64_t time_ms = -1;
    if (api_time_parse(text, &time_ms) != 0) fail_msg("refused: %s", text);
    return time_ms;
}

static void test_time_parse_utc_offsets_and_fractions(void **state)
{
    (void)state;
    assert_int_equal(time_of("2026-12-01T10:00:00Z"), DEC_1_2026_10H_MS);
    assert_int_equal(time_of("2026-12-01t10:00:00z"), DEC_1_2026_10H_MS);
    assert_int_equal(time_of("2026-12-01 10:00:00Z"), DEC_1_2026_10H_MS);
    assert_int_equal(time_of("2026-12-01T11:30:00+01:30"), DEC_1_2026_10H_MS);
    assert_int_equal(time_of("2026-12-01T05:00:00-05:00"), DEC_1_2026_10H_MS);
    assert_int_equal(time_of("2026-12-01T10:00:00.5Z"), DEC_1_2026_10H_MS + 500);
    assert_int_equal(time_of("2026-12-01T10:00:00.123456789Z"), DEC_1_2026_10H_MS + 123);
    assert_int_equal(time_of("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(time_of("1969-12-31T23:59:59.999Z"), -1);
}

static void test_time_parse_refuses_what_is_not_rfc_3339(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "2026-12-01",
        "2026-12-01T10:00:00",
        "2026-12-01T10:00Z",
        "2026-12-01T24:00:00Z",
        "2026-12-01T10:60:00Z",
        "2026-12-01T10:00:60Z",
        "2026-13-01T10:00:00Z",
        "2026-02-29T10:00:00Z",
        "2026-12-01T10:00:00.Z",
        "2026-12-01T10:00:00.1234567890Z",
        "2026-12-01T10:00:00+1:00",
        "2026-12-01T10:00:00+01:00x",
        "2026-12-01T10:00:00Zx",
        "0000-01-01T00:00:00Z",
        "2026-12-01X10:00:00Z",
        "+2026-12-01T10:00:00Z",
        "2026-12-01T10:00:00+24:00",
        "3:17",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t time_ms;
        if (api_time_parse(bad[i], &time_ms) == 0) fail_msg("accepted: %s", bad[i]);
    }
}

static void test_date_parse_and_format_round_trip(void **state)
{
    (void)state;
    int64_t day;
    assert_int_equal(api_date_parse("1970-01-01", &day), 0);
    assert_int_equal(day, 0);
    assert_int_equal(api_date_parse("2026-12-05", &day), 0);
    assert_int_equal(day, 20792);
    assert_int_equal(api_date_parse("2000-02-29", &day), 0);
    assert_int_equal(day, 11016);
    assert_int_equal(api_date_parse("0001-01-01", &day), 0);
    assert_int_equal(day, -719162);
    assert_int_equal(api_date_parse("9999-12-31", &day), 0);
    assert_int_equal(day, 2932896);
    assert_int_equal(api_date_parse("1900-02-29", &day), -1);
    assert_int_equal(api_date_parse("2026-12-5", &day), -1);
    assert_int_equal(api_date_parse("2026-12-05T", &day), -1);
    char text[API_DATE_BYTES];
    for (int64_t d = -719162; d <= 2932896; d += 997) {
        api_date_format(d, text);
        int64_t back;
        assert_int_equal(api_date_parse(text, &back), 0);
        assert_int_equal(back, d);
    }
    api_date_format(20792, text);
    assert_string_equal(text, "2026-12-05");
}

static void test_day_of_is_floor(void **state)
{
    (void)state;
    assert_int_equal(api_day_of(0), 0);
    assert_int_equal(api_day_of(86399999), 0);
    assert_int_equal(api_day_of(-1), -1);
    assert_int_equal(api_day_of(DEC_1_2026_10H_MS), 20788);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_parse_utc_offsets_and_fractions),
        cmocka_unit_test(test_time_parse_refuses_what_is_not_rfc_3339),
        cmocka_unit_test(test_date_parse_and_format_round_trip),
        cmocka_unit_test(test_day_of_is_floor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
