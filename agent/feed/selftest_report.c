// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A self-test report as the machine tells it: one feed line (kind
 * "selftest"), tunlock_selftest_* gauges for the metrics textfile, and
 * the table `tunlock selftest` prints.
 */
#include <stdbool.h>
#include <stdio.h>

#include "json.h"
#include "metrics.h"
#include "selftest.h"

static const char *const result_names[] = { "pass", "fail", "skip" };

int tl_selftest_format(const struct tl_selftest_report *r, char *buf,
		       size_t len)
{
	struct tl_json j;
	bool ok = true;

	tl_json_init(&j, buf, len);
	tl_json_open(&j, NULL);
	tl_json_time(&j, "time", r->time_ns);
	tl_json_u64(&j, "schema", 1);
	tl_json_str(&j, "kind", "selftest", 16);
	for (int i = 0; i < r->n; i++)
		ok &= r->c[i].result != TL_SELFTEST_FAIL;
	tl_json_str(&j, "result", ok ? "pass" : "fail", 8);
	tl_json_array(&j, "failed");
	for (int i = 0; i < r->n; i++)
		if (r->c[i].result == TL_SELFTEST_FAIL)
			tl_json_str(&j, NULL, r->c[i].name, 32);
	tl_json_array_end(&j);
	tl_json_array(&j, "classes");
	for (int i = 0; i < r->n; i++) {
		tl_json_open(&j, NULL);
		tl_json_str(&j, "class", r->c[i].name, 32);
		tl_json_str(&j, "result", result_names[r->c[i].result], 8);
		tl_json_str(&j, "reason", r->c[i].why, sizeof(r->c[i].why));
		tl_json_close(&j);
	}
	tl_json_array_end(&j);
	tl_json_close(&j);
	return tl_json_end(&j);
}

void tl_selftest_metrics(FILE *f, const struct tl_selftest_report *r)
{
	int failed = 0;

	fprintf(f, "# HELP tunlock_selftest_class_result Last self-test of a "
		   "leak class: 1 passed, 0 failed, -1 skipped.\n"
		   "# TYPE tunlock_selftest_class_result gauge\n");
	for (int i = 0; i < r->n; i++) {
		failed += r->c[i].result == TL_SELFTEST_FAIL;
		fprintf(f, "tunlock_selftest_class_result{class=\"%s\"} %d\n",
			r->c[i].name,
			r->c[i].result == TL_SELFTEST_PASS ? 1 :
			r->c[i].result == TL_SELFTEST_FAIL ? 0 : -1);
	}
	fprintf(f, "# HELP tunlock_selftest_ok 1 when every applicable class "
		   "passed the last self-test.\n"
		   "# TYPE tunlock_selftest_ok gauge\n"
		   "tunlock_selftest_ok %d\n"
		   "# HELP tunlock_selftest_failed_classes Leak classes that "
		   "failed the last self-test.\n"
		   "# TYPE tunlock_selftest_failed_classes gauge\n"
		   "tunlock_selftest_failed_classes %d\n"
		   "# HELP tunlock_selftest_timestamp_seconds When the last "
		   "self-test ran.\n"
		   "# TYPE tunlock_selftest_timestamp_seconds gauge\n"
		   "tunlock_selftest_timestamp_seconds %llu\n",
		failed == 0, failed, r->time_ns / 1000000000ull);
}

static void format_metrics(FILE *f, const void *r)
{
	tl_selftest_metrics(f, r);
}

int tl_selftest_metrics_write(const char *path,
			      const struct tl_selftest_report *r)
{
	return tl_textfile_write(path, format_metrics, r);
}

void tl_selftest_print(const struct tl_selftest_report *r, FILE *out)
{
	for (int i = 0; i < r->n; i++)
		fprintf(out, "%-14s %s  %s\n", r->c[i].name,
			result_names[r->c[i].result], r->c[i].why);
}
