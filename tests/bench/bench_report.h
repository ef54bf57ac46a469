/* The results: samples per figure for our path and for the baseline, then
 * medians and spreads as a table, as JSON and as plot data. */
#ifndef BENCH_REPORT_H
#define BENCH_REPORT_H

#include <stdbool.h>
#include <stdio.h>

enum fig_kind {
	FIG_RATE, /* throughput, latency, rate: a sane run gives > 0 */
	FIG_COST, /* CPU or memory: 0 is possible (and ideal) */
};

enum fig_side { SIDE_OURS, SIDE_BASE };

/* Records one sample (the figure is created on first use). */
void report_add(const char *name, const char *unit, enum fig_kind kind,
		enum fig_side side, double value);
/* Marks a figure failed (shown as FAILED, null in JSON, not sane). */
void report_fail(const char *name, const char *unit);
/* Median of a figure's samples on one side; false if it has none. */
bool report_median(const char *name, enum fig_side side, double *out);
/* The table, one line per figure. */
void report_print(FILE *out);
struct bench_machine;
/* A list: first {"name": "machine", "cpu_model", "cpus"}, then a
 * {"name","unit","ours","baseline","ratio",...} per figure.  Returns 0 or
 * -errno. */
int report_write_json(const char *path, const struct bench_machine *m);
/* Throughput against write size, one row per size, for the plot script. */
int report_write_plot_data(const char *path);
/* Sanity (not performance): every figure has runs samples on each side it
 * uses and rates are positive.  Prints what is wrong to err. */
bool report_sane(FILE *err, unsigned runs);

#endif
