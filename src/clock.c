/* clock.c - the clocks stockd reads (clock.h). */
#include "clock.h"

int64_t clock_monotonic_ms(void)
{
    return clock_monotonic_us() / 1000;
}

int64_t clock_monotonic_us(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

int64_t clock_wall_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

struct timespec clock_deadline_after(clockid_t clock, int milliseconds)
{
    struct timespec deadline;
    clock_gettime(clock, &deadline);
    if (milliseconds < 0) milliseconds = 0;
    deadline.tv_sec += milliseconds / 1000;
    deadline.tv_nsec += (long)(milliseconds % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    return deadline;
}
