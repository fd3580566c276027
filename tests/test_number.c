/* test_number.c - tests of src/domain/number.c, the one integer parser: text integers and JSON number
 * tokens decided on their exact value, and the codec's and the config's use of it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "domain/codec.h"
#include "domain/json_scan.h"
#include "domain/number.h"

static void text_expect(const char *text, int64_t min, int64_t max, enum number_result expected,
                        int64_t value)
{
    int64_t out = 12345;
    enum number_result result = number_integer_parse_string(text, min, max, &out);
    if (result != expected) fail_msg("\"%s\": got result %d, expected %d", text, result, expected);
    assert_int_equal(out, expected == NUMBER_OK ? value : 12345);
}

static void json_expect(const char *token, enum number_result expected, int64_t value)
{
    int64_t out = 12345;
    enum number_result result = number_json_integer(token, strlen(token), &out);
    if (result != expected) fail_msg("%s: got result %d, expected %d", token, result, expected);
    assert_int_equal(out, expected == NUMBER_OK ? value : 12345);
}

static void test_text_integer_accepts_only_canonical_digits(void **state)
{
    (void)state;
    text_expect("0", INT64_MIN, INT64_MAX, NUMBER_OK, 0);
    text_expect("42", INT64_MIN, INT64_MAX, NUMBER_OK, 42);
    text_expect("-7", INT64_MIN, INT64_MAX, NUMBER_OK, -7);
    text_expect("9223372036854775807", INT64_MIN, INT64_MAX, NUMBER_OK, INT64_MAX);
    text_expect("-9223372036854775808", INT64_MIN, INT64_MAX, NUMBER_OK, INT64_MIN);
    static const char *const refused[] = {"",     "-",    "+5",  " 5",  "5 ",  "05",  "-0",  "00",
                                          "5abc", "0x10", "1e3", "1.0", "5,5", "\t5", "--5", "5-"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        text_expect(refused[i], INT64_MIN, INT64_MAX, NUMBER_SYNTAX, 0);
}

static void test_text_integer_out_of_bounds_is_range(void **state)
{
    (void)state;
    text_expect("9223372036854775808", INT64_MIN, INT64_MAX, NUMBER_RANGE, 0);
    text_expect("-9223372036854775809", INT64_MIN, INT64_MAX, NUMBER_RANGE, 0);
    text_expect("99999999999999999999999999", INT64_MIN, INT64_MAX, NUMBER_RANGE, 0);
    text_expect("11", 1, 10, NUMBER_RANGE, 0);
    text_expect("0", 1, 10, NUMBER_RANGE, 0);
    text_expect("-1", 0, 10, NUMBER_RANGE, 0);
}

static void test_json_integer_decided_on_the_exact_value(void **state)
{
    (void)state;
    json_expect("0", NUMBER_OK, 0);
    json_expect("-0", NUMBER_OK, 0);
    json_expect("0.0", NUMBER_OK, 0);
    json_expect("0e-400", NUMBER_OK, 0);
    json_expect("1.0", NUMBER_OK, 1);
    json_expect("1E2", NUMBER_OK, 100);
    json_expect("1e+2", NUMBER_OK, 100);
    json_expect("10e-1", NUMBER_OK, 1);
    json_expect("100.0", NUMBER_OK, 100);
    json_expect("-0.5e+3", NUMBER_OK, -500);
    json_expect("1.50e1", NUMBER_OK, 15);
    json_expect("9007199254740993", NUMBER_OK, INT64_C(9007199254740993)); /* no double rounding */
    json_expect("9223372036854775807", NUMBER_OK, INT64_MAX);
    json_expect("-9223372036854775808", NUMBER_OK, INT64_MIN);
}

static void test_json_number_with_a_fraction_is_not_an_integer(void **state)
{
    (void)state;
    json_expect("1e-400", NUMBER_NOT_INTEGER, 0); /* a double reads it as 0 */
    json_expect("1.5", NUMBER_NOT_INTEGER, 0);
    json_expect("0.5", NUMBER_NOT_INTEGER, 0);
    json_expect("1.0000000000000001", NUMBER_NOT_INTEGER, 0); /* a double reads it as 1 */
    json_expect("15e-1", NUMBER_NOT_INTEGER, 0);
    json_expect("-1e-1", NUMBER_NOT_INTEGER, 0);
    json_expect("1e-1000000000000000000000", NUMBER_NOT_INTEGER, 0);
}

static void test_json_integer_outside_int64_is_range(void **state)
{
    (void)state;
    json_expect("9223372036854775808", NUMBER_RANGE, 0);
    json_expect("1e19", NUMBER_RANGE, 0);
    json_expect("1e400", NUMBER_RANGE, 0);
    json_expect("1e1000000000000000000000", NUMBER_RANGE, 0);
    json_expect("-9223372036854775809", NUMBER_RANGE, 0);
}

static void test_json_number_outside_the_grammar_is_syntax(void **state)
{
    (void)state;
    static const char *const refused[] = {"", "-", "01", "1.", ".5", "1e", "1e+", "+1", "0x1", "1.5.5", "1 "};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        json_expect(refused[i], NUMBER_SYNTAX, 0);
}

/* The case: quantity 1e-400 was decoded as the integer 0 (then refused only by the range), and
 * 1.0000000000000001 as the integer 1 (accepted). */
static void test_command_with_fractional_quantity_is_refused(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        "{\"command_id\":\"c\",\"type\":\"ReceiveStock\",\"sku\":\"S\","
        "\"data\":{\"location\":\"L\",\"quantity\":1.0000000000000001}}",
        "{\"command_id\":\"c\",\"type\":\"AdjustStock\",\"sku\":\"S\","
        "\"data\":{\"location\":\"L\",\"reason\":\"r\",\"counted\":1e-400}}",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        struct command command;
        struct codec_error error;
        assert_int_equal(codec_command_decode(bodies[i], strlen(bodies[i]), &command, &error), -1);
        assert_non_null(strstr(error.message, "must be an integer"));
    }
    static const char accepted[] = "{\"command_id\":\"c\",\"type\":\"ReceiveStock\",\"sku\":\"S\","
                                   "\"data\":{\"location\":\"L\",\"quantity\":1.0e1}}";
    struct command command;
    struct codec_error error;
    assert_int_equal(codec_command_decode(accepted, sizeof(accepted) - 1, &command, &error), 0);
    assert_int_equal(command.quantity, 10);
}

/* The fuzzer's first find (fuzz_codec_command): the refusal quoted the number with strspn, past the end of
 * an input that ends in it (inputs are not NUL-terminated). */
static void test_fraction_at_the_very_end_is_quoted_within_the_input(void **state)
{
    (void)state;
    static const char text[] = "{\"command_id\":\"c\",\"type\":\"ReceiveStock\",\"sku\":\"S\","
                               "\"data\":{\"location\":\"L\",\"quantity\":1.5";
    char *exact = malloc(sizeof(text) - 1); /* no NUL after it: ASan sees a read past the end */
    assert_non_null(exact);
    memcpy(exact, text, sizeof(text) - 1);
    struct command command;
    struct codec_error error;
    assert_int_equal(codec_command_decode(exact, sizeof(text) - 1, &command, &error), -1);
    assert_string_equal(error.message, "data.quantity: must be an integer, got 1.5");
    free(exact);
}

static void test_json_scan_reports_not_integer_with_path(void **state)
{
    (void)state;
    static const char json[] = "{\"data\":{\"quantity\":1e-400}}";
    struct json_scan_result result;
    assert_int_equal(json_scan(json, sizeof(json) - 1, STOCKD_JSON_DEPTH_MAX, &result), -1);
    assert_int_equal(result.problem, JSON_SCAN_NOT_INTEGER);
    assert_string_equal(result.path, "data.quantity");
}

/* A flag, an environment variable and the config file take the same integers. */
static void test_config_integers_parsed_the_same_everywhere(void **state)
{
    (void)state;
    static const char *const refused[] = {"+8", "08", " 8", "8.0", "1e1"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        struct stockd_config config;
        struct stockd_config_error error;
        stockd_config_defaults(&config);
        assert_int_equal(stockd_config_set(&config, "http.threads", refused[i], &error), -1);
    }
    char path[] = "/tmp/stockd-test-number-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static const char file[] = "{\"http\":{\"request_timeout_ms\":1e-400}}";
    assert_int_equal(write(fd, file, sizeof(file) - 1), (ssize_t)(sizeof(file) - 1));
    close(fd);
    char *argv[] = {"stockd", "--config", path, NULL};
    char *envp[] = {NULL};
    struct stockd_config config;
    struct stockd_config_error error;
    assert_int_equal(stockd_config_load(&config, 3, argv, envp, &error), -1);
    assert_non_null(strstr(error.message, "integer"));
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_integer_accepts_only_canonical_digits),
        cmocka_unit_test(test_text_integer_out_of_bounds_is_range),
        cmocka_unit_test(test_json_integer_decided_on_the_exact_value),
        cmocka_unit_test(test_json_number_with_a_fraction_is_not_an_integer),
        cmocka_unit_test(test_json_integer_outside_int64_is_range),
        cmocka_unit_test(test_json_number_outside_the_grammar_is_syntax),
        cmocka_unit_test(test_command_with_fractional_quantity_is_refused),
        cmocka_unit_test(test_fraction_at_the_very_end_is_quoted_within_the_input),
        cmocka_unit_test(test_json_scan_reports_not_integer_with_path),
        cmocka_unit_test(test_config_integers_parsed_the_same_everywhere),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
