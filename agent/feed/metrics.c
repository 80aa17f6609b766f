// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "apply.h"
#include "log.h"
#include "metrics.h"
#include "names.h"
#include "pins.h"

#include "version.h"

static int read_tunnels(int fd, struct tl_metrics *m)
{
	for (__u32 t = 0; t < TL_MAX_TUNNELS; t++) {
		struct tl_metrics_tunnel *mt = &m->tunnels[m->ntunnels];
		struct tl_tunnel_state st;

		if (bpf_map_lookup_elem(fd, &t, &st))
			return -errno;
		if (!st.name[0])
			continue;
		m->ntunnels++;
		snprintf(mt->name, sizeof(mt->name), "%s", st.name);
		snprintf(mt->ifname, sizeof(mt->ifname), "%s", st.ifname);
		mt->up = st.flags & TL_TUNNEL_UP;
	}
	return 0;
}

static void read_ifaces(int fd, struct tl_metrics *m)
{
	__u32 key, next, *prev = NULL;
	struct tl_iface v;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		if (!bpf_map_lookup_elem(fd, &next, &v)) {
			if (v.flags & TL_IFACE_TUNNEL)
				m->ifaces_tunnel++;
			else if (v.flags & TL_IFACE_GUARDED)
				m->ifaces_guarded++;
			else
				m->ifaces_unguarded++;
		}
		key = next;
		prev = &key;
	}
}

int tl_metrics_collect(struct tl_bpf *b, struct tl_metrics *m)
{
	int cfd = tl_bpf_map_fd(b, TL_MAP_COUNTERS);
	int efd = tl_bpf_map_fd(b, TL_MAP_EVENT_STATS);
	struct tl_state st;
	__u32 zero = 0;
	int err;

	for (__u32 i = 0; i < TL_COUNTERS; i++)
		if ((err = tl_counter_read(cfd, i, &m->counters[i])))
			return err;
	for (__u32 i = 0; i < TL_EVSTATS; i++)
		if ((err = tl_counter_read(efd, i, &m->evstats[i])))
			return err;
	m->ntunnels = 0;
	err = read_tunnels(tl_bpf_map_fd(b, TL_MAP_TUNNELS), m);
	if (err)
		return err;
	m->ifaces_guarded = m->ifaces_tunnel = m->ifaces_unguarded = 0;
	read_ifaces(tl_bpf_map_fd(b, TL_MAP_IFACES), m);
	if (bpf_map_lookup_elem(tl_bpf_map_fd(b, TL_MAP_STATE), &zero, &st))
		return -errno;
	tl_cgroup_table_use(tl_bpf_map_fd(b, TL_MAP_STATE),
			    tl_bpf_map_fd(b, TL_MAP_CGROUPS), &m->cgroup_entries,
			    &m->cgroup_entries_max);
	m->generation = st.generation;
	m->mode = st.mode;
	m->applied_ns = st.applied_ns;
	return 0;
}

static void header(FILE *f, const char *name, const char *type,
		   const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/*
 * A label value of the text format: backslash, double quote and newline
 * escaped (a tunnel's or an interface's name may hold any of them).
 */
static void label_value(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"' || *v == '\n')
			fputc('\\', f);
		fputc(*v == '\n' ? 'n' : *v, f);
	}
}

static double seconds(uint64_t ns)
{
	return ns / 1e9;
}

static void format_decisions(FILE *f, const struct tl_metrics *m)
{
	header(f, "tunlock_leaks_total", "counter",
	       "Leak attempts judged, by layer, reason (leak class) and "
	       "verdict (blocked, redirected, audit). Exact: counted per packet "
	       "or call in the kernel, whatever events were suppressed.");
	for (__u32 l = 0; l < TL_LAYER_MAX; l++)
		for (__u32 r = TL_REASON_NONE + 1; r < TL_ALLOW_FIRST; r++)
			for (__u32 v = TL_VERDICT_BLOCKED; v < TL_VERDICT_MAX;
			     v++)
				fprintf(f,
					"tunlock_leaks_total{layer=\"%s\","
					"reason=\"%s\",verdict=\"%s\"} %llu\n",
					tl_layer_name(l), tl_reason_name(r),
					tl_verdict_name(v),
					(unsigned long long)m->counters
						[TL_COUNTER_INDEX(l, r, v)]);
	header(f, "tunlock_allowed_total", "counter",
	       "Packets and calls allowed outside the tunnel or through it, by "
	       "layer and reason.");
	for (__u32 l = 0; l < TL_LAYER_MAX; l++)
		for (__u32 r = TL_ALLOW_FIRST; r < TL_REASON_MAX; r++)
			fprintf(f,
				"tunlock_allowed_total{layer=\"%s\",reason=\"%s\"} "
				"%llu\n",
				tl_layer_name(l), tl_reason_name(r),
				(unsigned long long)m->counters[TL_COUNTER_INDEX(
					l, r, TL_VERDICT_PASS)]);
}

static void format_events(FILE *f, const struct tl_metrics *m)
{
	static const char *const outcome[TL_EVSTAT_MAX] = {
		[TL_EVSTAT_EMITTED] = "emitted",
		[TL_EVSTAT_SUPPRESSED] = "suppressed",
		[TL_EVSTAT_LOST] = "lost",
	};

	header(f, "tunlock_events_total", "counter",
	       "Leak events by reason and outcome: emitted to the ring buffer, "
	       "suppressed by the rate limit, lost to a full ring buffer.");
	for (__u32 r = TL_REASON_NONE + 1; r < TL_ALLOW_FIRST; r++)
		for (__u32 k = 0; k < TL_EVSTAT_MAX; k++)
			fprintf(f,
				"tunlock_events_total{reason=\"%s\",outcome=\"%s\"} "
				"%llu\n",
				tl_reason_name(r), outcome[k],
				(unsigned long long)m->evstats[TL_EVSTAT_INDEX(r, k)]);
	header(f, "tunlock_feed_lines_total", "counter",
	       "Lines of the event feed written, dropped because its consumer "
	       "did not keep up, or never made (an event that could not be "
	       "formatted).");
	fprintf(f, "tunlock_feed_lines_total{result=\"written\"} %llu\n",
		(unsigned long long)m->lines_written);
	fprintf(f, "tunlock_feed_lines_total{result=\"dropped\"} %llu\n",
		(unsigned long long)m->lines_dropped);
	fprintf(f, "tunlock_feed_lines_total{result=\"unformatted\"} %llu\n",
		(unsigned long long)m->lines_unformatted);
}

static void format_state(FILE *f, const struct tl_metrics *m)
{
	header(f, "tunlock_tunnel_up", "gauge",
	       "1 when the tunnel's interface is up, else 0.");
	for (unsigned int t = 0; t < m->ntunnels; t++) {
		fprintf(f, "tunlock_tunnel_up{tunnel=\"");
		label_value(f, m->tunnels[t].name);
		fprintf(f, "\",interface=\"");
		label_value(f, m->tunnels[t].ifname);
		fprintf(f, "\"} %d\n", m->tunnels[t].up);
	}
	header(f, "tunlock_interfaces", "gauge",
	       "Interfaces of the agent's network namespace by role: guarded "
	       "(TC egress attached), tunnel, unguarded (attach failed).");
	fprintf(f, "tunlock_interfaces{role=\"guarded\"} %u\n",
		m->ifaces_guarded);
	fprintf(f, "tunlock_interfaces{role=\"tunnel\"} %u\n", m->ifaces_tunnel);
	fprintf(f, "tunlock_interfaces{role=\"unguarded\"} %u\n",
		m->ifaces_unguarded);
	header(f, "tunlock_policy_generation", "gauge",
	       "Generation of the policy in force (one more per reload).");
	fprintf(f, "tunlock_policy_generation %u\n", m->generation);
	header(f, "tunlock_policy_audit_mode", "gauge",
	       "1 when the policy in force is in audit mode, 0 when enforcing.");
	fprintf(f, "tunlock_policy_audit_mode %d\n", m->mode == TL_MODE_AUDIT);
	header(f, "tunlock_policy_applied_timestamp_seconds", "gauge",
	       "When the policy in force was switched in (Unix time).");
	fprintf(f, "tunlock_policy_applied_timestamp_seconds %.3f\n",
		seconds(m->applied_ns));
}

/* A counter with one label of two values. */
static void counter2(FILE *f, const char *name, const char *help,
		     const char *label, const char *k1, uint64_t v1,
		     const char *k2, uint64_t v2)
{
	header(f, name, "counter", help);
	fprintf(f, "%s{%s=\"%s\"} %llu\n", name, label, k1,
		(unsigned long long)v1);
	fprintf(f, "%s{%s=\"%s\"} %llu\n", name, label, k2,
		(unsigned long long)v2);
}

static void format_agent(FILE *f, const struct tl_metrics *m)
{
	counter2(f, "tunlock_reloads_total",
		 "Policy reloads (SIGHUP or a change of the file) by result; a "
		 "failed one leaves the running policy in force.",
		 "result", "success", m->reloads_ok, "failure",
		 m->reloads_failed);
	header(f, "tunlock_last_reload_timestamp_seconds", "gauge",
	       "When the last reload was attempted (Unix time; 0: none yet).");
	fprintf(f, "tunlock_last_reload_timestamp_seconds %.3f\n",
		seconds(m->last_reload_ns));
	header(f, "tunlock_last_reload_success", "gauge",
	       "1 when the last reload succeeded (or none was tried), else 0.");
	fprintf(f, "tunlock_last_reload_success %d\n",
		!m->last_reload_ns || m->last_reload_ok);
	header(f, "tunlock_agent_start_time_seconds", "gauge",
	       "When this agent started (Unix time).");
	fprintf(f, "tunlock_agent_start_time_seconds %.3f\n",
		seconds(m->start_ns));
	header(f, "tunlock_build_info", "gauge",
	       "The agent's version and the pinned map layout it knows.");
	fprintf(f, "tunlock_build_info{version=\"%s\",layout=\"%d\"} 1\n",
		TL_VERSION, TL_LAYOUT_VERSION);
}

/* A metric of one value, without labels. */
static void scalar(FILE *f, const char *name, const char *type,
		   const char *help, uint64_t v)
{
	header(f, name, type, help);
	fprintf(f, "%s %llu\n", name, (unsigned long long)v);
}

static void format_integrity(FILE *f, const struct tl_metrics *m)
{
	header(f, "tunlock_cgroup_entries", "gauge",
	       "Entries of the live cgroup table, and its size (limit).");
	fprintf(f, "tunlock_cgroup_entries{kind=\"used\"} %u\n",
		m->cgroup_entries);
	fprintf(f, "tunlock_cgroup_entries{kind=\"limit\"} %u\n",
		m->cgroup_entries_max);
	scalar(f, "tunlock_cgroup_table_full_total", "counter",
	       "New cgroups whose entry could not be written (the table was "
	       "full): frozen until it could.",
	       m->cgroup_table_full);
	scalar(f, "tunlock_cgroups_frozen", "gauge",
	       "Cgroups frozen now because their entry is not written yet "
	       "(fail closed).",
	       m->cgroups_frozen);
	scalar(f, "tunlock_cgroup_rescans_total", "counter",
	       "Rescans of the cgroup tree after cgroup events were lost "
	       "(inotify queue overflow).",
	       m->cgroup_rescans);
	scalar(f, "tunlock_event_cgroups_unresolved_total", "counter",
	       "Events whose cgroup id had no path (the cgroup was gone).",
	       m->cgroup_paths_unknown);
	counter2(f, "tunlock_restored_total",
		 "Pinned state found changed by someone else and put back: "
		 "cgroup links (unpinned or detached), the live settings.",
		 "object", "link", m->links_restored, "settings",
		 m->settings_restored);
}

void tl_metrics_format(FILE *f, const struct tl_metrics *m)
{
	format_decisions(f, m);
	format_events(f, m);
	format_state(f, m);
	format_agent(f, m);
	format_integrity(f, m);
}

int tl_textfile_write(const char *path, tl_textfile_fn fn, const void *ctx)
{
	char tmp[4096];
	FILE *f;
	int fd, err = 0;

	/* same directory: rename(2) is atomic only within a file system */
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, getpid()) >=
	    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		err = -errno;
		close(fd);
		unlink(tmp);
		return err;
	}
	fn(f, ctx);
	if (fflush(f) || ferror(f))
		err = -errno;
	if (fclose(f) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

static void format_metrics(FILE *f, const void *m)
{
	tl_metrics_format(f, m);
}

int tl_metrics_write(const char *path, const struct tl_metrics *m)
{
	return tl_textfile_write(path, format_metrics, m);
}
