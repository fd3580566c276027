/* main.c - stockd entry point (placeholder until config lands). */
#include <stdio.h>
int main(void)
{
    puts("stockd " STOCKD_VERSION);
    return 0;
}
