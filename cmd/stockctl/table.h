/* table.h - prints rows of text as aligned columns, the way stockctl shows lists to people.
 *
 * Cells are copied; numeric columns are right-aligned. Bounded by memory only: callers add at most a page
 * (100 rows), a SKU's locations or the views' partitions. */
#ifndef STOCKCTL_TABLE_H
#define STOCKCTL_TABLE_H

#include <stdbool.h>
#include <stdio.h>

#define TABLE_COLUMNS_MAX 8

struct table;

/* Creates a table with the given headers ("" for none); a header starting with '>' is a right-aligned
 * column (the '>' is not printed). Returns NULL when out of memory. */
struct table *table_create(int column_count, const char *const *headers);

/* Adds a row of column_count cells (NULL prints as "-"). Returns 0, or -1 when out of memory. */
int table_add(struct table *table, const char *const *cells);

/* Prints the header line (when print_header and some header is not "") and the rows, then empties the
 * rows (a list printed page by page prints its header with the first page only). */
void table_print(struct table *table, FILE *stream, bool print_header);

void table_destroy(struct table *table);

#endif
