// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A self-test report as the machine tells it: one feed line (kind
 * "selftest"), tunlock_selftest_* gauges for the metrics textfile, and
 * the table `tunlock selftest` prints.
 */
#include <stdbool.h>
#include <stdio.h>

#include "feed.h"
#include "json.h"
#include "metrics.h"
#include "selftest.h"

const char *const tl_selftest_class_names[TL_SELFTEST_CLASSES] = {
	"enforcement", "bypass",	"dns",	       "ipv6",
	"stun",	       "endpoint",	"raw_socket",  "packet_socket",
	"tunnel_down", "forwarded",	"inbound",
};

static const char *const result_names[] = { "pass", "fail", "skip" };

static bool report_ok(const struct tl_selftest_report *r)
{
	for (int i = 0; i < r->n; i++)
		if (r->c[i].result == TL_SELFTEST_FAIL)
			return false;
	return true;
}

/* What schema 1 says of a run, in both formats. */
static void selftest_fields(struct tl_json *j,
			    const struct tl_selftest_report *r)
{
	tl_json_u64(j, "schema", TL_EVENT_SCHEMA);
	tl_json_str(j, "kind", "selftest", 16);
	tl_json_str(j, "result", report_ok(r) ? "pass" : "fail", 8);
	tl_json_array(j, "failed");
	for (int i = 0; i < r->n; i++)
		if (r->c[i].result == TL_SELFTEST_FAIL)
			tl_json_str(j, NULL, r->c[i].name, 32);
	tl_json_array_end(j);
	tl_json_u64(j, "probe_verdicts", r->probe_verdicts);
	tl_json_array(j, "classes");
	for (int i = 0; i < r->n; i++) {
		tl_json_open(j, NULL);
		tl_json_str(j, "class", r->c[i].name, 32);
		tl_json_str(j, "result", result_names[r->c[i].result], 8);
		tl_json_str(j, "reason", r->c[i].why, sizeof(r->c[i].why));
		tl_json_close(j);
	}
	tl_json_array_end(j);
}

int tl_selftest_format(const struct tl_selftest_report *r, int f, char *buf,
		       size_t len)
{
	struct tl_json j;

	tl_json_init(&j, buf, len);
	tl_json_open(&j, NULL);
	if (f == TL_FEED_ECS) {
		tl_ecs_head(&j, r->time_ns, "state", "configuration", "info");
		tl_json_str(&j, "action", "selftest", 16);
		tl_json_str(&j, "outcome", report_ok(r) ? "success" : "failure",
			    16);
		tl_ecs_event_end(&j, "tunlock.selftest");
		tl_json_open(&j, "tunlock");
		selftest_fields(&j, r);
		tl_json_close(&j);
	} else {
		tl_json_time(&j, "time", r->time_ns);
		selftest_fields(&j, r);
	}
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
		   "tunlock_selftest_timestamp_seconds %llu\n"
		   "# HELP tunlock_selftest_probe_verdicts Leak verdicts "
		   "tunlock gave the last self-test's probes (not counted as "
		   "leaks).\n"
		   "# TYPE tunlock_selftest_probe_verdicts gauge\n"
		   "tunlock_selftest_probe_verdicts %llu\n",
		failed == 0, failed, r->time_ns / 1000000000ull,
		r->probe_verdicts);
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
