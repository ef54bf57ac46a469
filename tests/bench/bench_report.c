#include "bench_report.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define MAX_FIGURES 64

struct figure {
	char name[40];
	const char *unit;
	enum fig_kind kind;
	bool failed;
	double samples[2][BENCH_MAX_RUNS];
	unsigned n[2];
};

static struct figure figures[MAX_FIGURES];
static unsigned n_figures;

static struct figure *find(const char *name)
{
	for (unsigned i = 0; i < n_figures; i++)
		if (strcmp(figures[i].name, name) == 0)
			return &figures[i];
	return NULL;
}

static struct figure *get(const char *name, const char *unit, enum fig_kind kind)
{
	struct figure *f = find(name);

	if (f || n_figures == MAX_FIGURES)
		return f;
	f = &figures[n_figures++];
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->unit = unit;
	f->kind = kind;
	return f;
}

void report_add(const char *name, const char *unit, enum fig_kind kind,
		enum fig_side side, double value)
{
	struct figure *f = get(name, unit, kind);

	if (f && f->n[side] < BENCH_MAX_RUNS)
		f->samples[side][f->n[side]++] = value;
}

void report_fail(const char *name, const char *unit)
{
	struct figure *f = get(name, unit, FIG_RATE);

	if (f)
		f->failed = true;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median and spread ((max - min) / median, in percent) of one side. */
static bool stats(const struct figure *f, enum fig_side side, double *median,
		  double *spread_pct)
{
	double s[BENCH_MAX_RUNS];
	unsigned n = f->n[side];

	if (n == 0 || f->failed)
		return false;
	memcpy(s, f->samples[side], n * sizeof(double));
	qsort(s, n, sizeof(double), cmp_double);
	*median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	*spread_pct = *median > 0 ? (s[n - 1] - s[0]) / *median * 100 : 0;
	return true;
}

bool report_median(const char *name, enum fig_side side, double *out)
{
	const struct figure *f = find(name);
	double spread;

	return f && stats(f, side, out, &spread);
}

void report_print(FILE *out)
{
	fprintf(out, "%-22s %-8s %12s %7s %12s %7s %7s\n", "figure", "unit", "ours",
		"spread", "baseline", "spread", "ratio");
	for (unsigned i = 0; i < n_figures; i++) {
		const struct figure *f = &figures[i];
		double ours = 0, ours_sp = 0, base, base_sp;

		if (f->failed) {
			fprintf(out, "%-22s %-8s %12s\n", f->name, f->unit, "FAILED");
			continue;
		}
		stats(f, SIDE_OURS, &ours, &ours_sp);
		fprintf(out, "%-22s %-8s %12.4g %6.1f%%", f->name, f->unit, ours, ours_sp);
		if (stats(f, SIDE_BASE, &base, &base_sp) && base != 0)
			fprintf(out, " %12.4g %6.1f%% %7.3f\n", base, base_sp, ours / base);
		else
			fprintf(out, " %12s %7s %7s\n", "-", "", "-");
	}
}

static void json_number(FILE *out, const char *key, bool have, double v)
{
	if (have && isfinite(v))
		fprintf(out, ", \"%s\": %.6g", key, v);
	else
		fprintf(out, ", \"%s\": null", key);
}

/* A JSON string of text, which holds no control characters (a CPU model). */
static void json_string(FILE *out, const char *text)
{
	fputc('"', out);
	for (; *text; text++) {
		if (*text == '"' || *text == '\\')
			fputc('\\', out);
		fputc(*text, out);
	}
	fputc('"', out);
}

int report_write_json(const char *path, const struct bench_machine *m)
{
	FILE *out = fopen(path, "w");

	if (!out)
		return -errno;
	fputs("[\n  {\"name\": \"machine\", \"cpu_model\": ", out);
	json_string(out, m->cpu_model);
	fprintf(out, ", \"cpus\": %ld, \"placement\": ", m->cpus);
	json_string(out, m->placement);
	fprintf(out, "}%s\n", n_figures ? "," : "");
	for (unsigned i = 0; i < n_figures; i++) {
		const struct figure *f = &figures[i];
		double ours = 0, ours_sp = 0, base = 0, base_sp = 0;
		bool have_ours = stats(f, SIDE_OURS, &ours, &ours_sp);
		bool have_base = stats(f, SIDE_BASE, &base, &base_sp);

		fprintf(out, "  {\"name\": \"%s\", \"unit\": \"%s\"", f->name, f->unit);
		json_number(out, "ours", have_ours, ours);
		json_number(out, "baseline", have_base, base);
		json_number(out, "ratio", have_ours && have_base && base != 0,
			    ours / base);
		json_number(out, "ours_spread_pct", have_ours, ours_sp);
		json_number(out, "baseline_spread_pct", have_base, base_sp);
		fprintf(out, ", \"runs\": %u}%s\n", f->n[SIDE_OURS],
			i + 1 < n_figures ? "," : "");
	}
	fputs("]\n", out);
	return fclose(out) == 0 ? 0 : -errno;
}

int report_write_plot_data(const char *path)
{
	static const struct {
		const char *tag;
		unsigned kib;
	} sizes[] = {{"4k", 4}, {"64k", 64}, {"1m", 1024}};
	static const char *const cols[] = {"g2h", "h2g"};
	static const char *const conns[] = {"1conn", "16conn"};
	FILE *out = fopen(path, "w");

	if (!out)
		return -errno;
	fputs("# write_kib then Gbit/s: for g2h, h2g; 1conn, 16conn; ours, baseline\n",
	      out);
	for (unsigned s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		fprintf(out, "%u", sizes[s].kib);
		for (unsigned d = 0; d < 2; d++) {
			for (unsigned c = 0; c < 2; c++) {
				char name[40];
				double v;

				snprintf(name, sizeof(name), "%s_%s_%s", cols[d],
					 sizes[s].tag, conns[c]);
				for (int side = SIDE_OURS; side <= SIDE_BASE; side++) {
					if (report_median(name, side, &v))
						fprintf(out, " %.6g", v);
					else
						fputs(" NaN", out);
				}
			}
		}
		fputc('\n', out);
	}
	return fclose(out) == 0 ? 0 : -errno;
}

bool report_sane(FILE *err, unsigned runs)
{
	bool ok = n_figures > 0;

	for (unsigned i = 0; i < n_figures; i++) {
		const struct figure *f = &figures[i];

		if (f->failed) {
			fprintf(err, "%s: failed\n", f->name);
			ok = false;
			continue;
		}
		for (int side = SIDE_OURS; side <= SIDE_BASE; side++) {
			if (f->n[side] == 0 && side == SIDE_BASE)
				continue;
			if (f->n[side] != runs) {
				fprintf(err, "%s: %u samples, expected %u\n", f->name,
					f->n[side], runs);
				ok = false;
			}
			for (unsigned k = 0; k < f->n[side]; k++) {
				double v = f->samples[side][k];

				if (!isfinite(v) || v < 0 || (f->kind == FIG_RATE && v <= 0)) {
					fprintf(err, "%s: impossible %s sample %g\n", f->name,
						side == SIDE_OURS ? "ours" : "baseline", v);
					ok = false;
				}
			}
		}
	}
	return ok;
}
