/* test_it_topics.c - topic provisioning on a real broker: stockd creates its four topics, and refuses to
 * start when the existing by-sku/events topics have another partition count than kafka.partitions,
 * saying which topic and how to fix it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "harness.h"

#define PARTITIONS 3

static void test_existing_topics_with_other_partition_count_refuse_start(void **state)
{
    (void)state;
    struct harness *harness = harness_create("topics", PARTITIONS);
    if (harness == NULL) fail();
    struct harness_stockd *first = harness_stockd_new(harness, "first", NULL);
    assert_non_null(first);
    assert_int_equal(harness_stockd_start(first), 0);
    assert_int_equal(harness_stockd_wait_ready(first, 60000), 0);
    assert_int_equal(harness_stockd_log_count(first, "created ") >= 4, 1);
    assert_int_equal(harness_stockd_stop(first, 30000), 0);

    const char *const wider[] = {"--kafka.partitions=4", NULL};
    struct harness_stockd *second = harness_stockd_new(harness, "second", wider);
    assert_non_null(second);
    assert_int_equal(harness_stockd_start(second), 0);
    const char *const needles[] = {"has 3 partitions but kafka.partitions is 4", "Set kafka.partitions=3",
                                   NULL};
    char line[1024];
    if (harness_stockd_wait_line(second, needles, 60000, line, sizeof(line)) != 0) {
        harness_stockd_log_tail(second, 20);
        fail_msg("stockd did not refuse topics with 3 partitions when configured for 4");
    }
    for (int waited_ms = 0; harness_stockd_running(second) && waited_ms < 10000; waited_ms += 100)
        harness_sleep_ms(100);
    assert_false(harness_stockd_running(second));
    assert_int_equal(harness_stockd_log_count(second, "assigned partitions"), 0);
    harness->passed = true;
    harness_destroy(harness);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_existing_topics_with_other_partition_count_refuse_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
