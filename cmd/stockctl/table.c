/* table.c - aligned text columns for stockctl's human output. */
#include "table.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct table {
    int column_count;
    char *headers[TABLE_COLUMNS_MAX];
    bool right_aligned[TABLE_COLUMNS_MAX];
    char **cells; /* row-major, row_count * column_count */
    size_t row_count;
    size_t row_capacity;
};

struct table *table_create(int column_count, const char *const *headers)
{
    assert(column_count >= 1 && column_count <= TABLE_COLUMNS_MAX && headers != NULL);
    struct table *table = calloc(1, sizeof(*table));
    if (table == NULL) return NULL;
    table->column_count = column_count;
    for (int column = 0; column < column_count; column++) {
        const char *header = headers[column];
        table->right_aligned[column] = header[0] == '>';
        table->headers[column] = strdup(header + (header[0] == '>'));
        if (table->headers[column] == NULL) {
            table_destroy(table);
            return NULL;
        }
    }
    return table;
}

int table_add(struct table *table, const char *const *cells)
{
    assert(table != NULL && cells != NULL);
    if (table->row_count == table->row_capacity) {
        size_t capacity = table->row_capacity == 0 ? 16 : table->row_capacity * 2;
        char **grown = realloc(table->cells, capacity * (size_t)table->column_count * sizeof(char *));
        if (grown == NULL) return -1;
        table->cells = grown;
        table->row_capacity = capacity;
    }
    char **row = table->cells + table->row_count * (size_t)table->column_count;
    for (int column = 0; column < table->column_count; column++) {
        row[column] = strdup(cells[column] != NULL ? cells[column] : "-");
        if (row[column] == NULL) {
            for (int done = 0; done < column; done++)
                free(row[done]);
            return -1;
        }
    }
    table->row_count++;
    return 0;
}

static void cell_print(FILE *stream, const char *text, int width, bool right_aligned, bool last)
{
    if (last && !right_aligned)
        fputs(text, stream);
    else
        fprintf(stream, right_aligned ? "%*s" : "%-*s", width, text);
    fputs(last ? "\n" : "  ", stream);
}

void table_print(struct table *table, FILE *stream, bool print_header)
{
    assert(table != NULL && stream != NULL);
    int widths[TABLE_COLUMNS_MAX] = {0};
    bool has_header = false;
    for (int column = 0; column < table->column_count; column++) {
        widths[column] = (int)strlen(table->headers[column]);
        has_header = has_header || (print_header && widths[column] > 0);
    }
    for (size_t cell = 0; cell < table->row_count * (size_t)table->column_count; cell++) {
        int column = (int)(cell % (size_t)table->column_count);
        int width = (int)strlen(table->cells[cell]);
        if (width > widths[column]) widths[column] = width;
    }
    for (int column = 0; has_header && column < table->column_count; column++)
        cell_print(stream, table->headers[column], widths[column], table->right_aligned[column],
                   column + 1 == table->column_count);
    for (size_t cell = 0; cell < table->row_count * (size_t)table->column_count; cell++) {
        int column = (int)(cell % (size_t)table->column_count);
        cell_print(stream, table->cells[cell], widths[column], table->right_aligned[column],
                   column + 1 == table->column_count);
        free(table->cells[cell]);
    }
    table->row_count = 0;
}

void table_destroy(struct table *table)
{
    if (table == NULL) return;
    for (size_t cell = 0; cell < table->row_count * (size_t)table->column_count; cell++)
        free(table->cells[cell]);
    for (int column = 0; column < table->column_count; column++)
        free(table->headers[column]);
    free(table->cells);
    free(table);
}
