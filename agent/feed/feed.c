// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "feed.h"
#include "json.h"
#include "names.h"
#include "pins.h"
#include "policy.h"

int tl_feed_format_parse(const char *s, enum tl_feed_format *out)
{
	if (!strcmp(s, "tunlock"))
		*out = TL_FEED_NATIVE;
	else if (!strcmp(s, "ecs"))
		*out = TL_FEED_ECS;
	else
		return -1;
	return 0;
}

static bool addr_known(const struct tl_event *ev, const uint8_t a[16])
{
	static const uint8_t v4_any[16] = { [10] = 0xff, [11] = 0xff };
	static const uint8_t v6_any[16];

	return ev->family && memcmp(a, v4_any, 16) && memcmp(a, v6_any, 16);
}

/* source.* or destination.*: whatever of address and port is known; a
 * redirected DNS query's destination also has nat.* (where it went). */
static void ecs_endpoint(struct tl_json *j, const char *key,
			 const struct tl_event *ev, const uint8_t addr[16],
			 uint16_t port, bool nat)
{
	bool ports = ev->protocol == IPPROTO_TCP || ev->protocol == IPPROTO_UDP;
	bool has_addr = addr_known(ev, addr);
	char text[64];

	if (has_addr && tl_format_addr(addr, text, sizeof(text)))
		has_addr = false;
	if (!has_addr && !(ports && port))
		return;
	tl_json_open(j, key);
	if (has_addr)
		tl_json_str(j, "ip", text, sizeof(text));
	if (ports && port)
		tl_json_u64(j, "port", port);
	if (nat && ev->redirect_port)
		ecs_endpoint(j, "nat", ev, ev->redirect_addr, ev->redirect_port,
			     false);
	tl_json_close(j);
}

/* An ECS keyword list of one or two values (b NULL: one). */
static void ecs_list(struct tl_json *j, const char *key, const char *a,
		     const char *b)
{
	tl_json_array(j, key);
	tl_json_str(j, NULL, a, 32);
	tl_json_str(j, NULL, b, 32);
	tl_json_array_end(j);
}

static void ecs_event(struct tl_json *j, const struct tl_event *ev)
{
	const char *type = ev->verdict == TL_VERDICT_BLOCKED ? "denied" :
							       "allowed";
	const char *outcome = ev->verdict == TL_VERDICT_BLOCKED ? "failure" :
			      ev->verdict == TL_VERDICT_REDIRECTED ? "success" :
								     "unknown";

	tl_json_open(j, "event");
	tl_json_str(j, "kind", "event", 16);
	ecs_list(j, "category", "network", NULL);
	ecs_list(j, "type", "connection", type);
	tl_json_str(j, "action", tl_verdict_name(ev->verdict), 32);
	tl_json_str(j, "reason", tl_reason_name(ev->reason), 32);
	tl_json_str(j, "outcome", outcome, 16);
	tl_ecs_event_end(j, "tunlock.leak");
}

static void ecs_network(struct tl_json *j, const struct tl_event *ev)
{
	const char *proto = tl_protocol_name(ev->protocol);
	char num[8];

	tl_json_open(j, "network");
	if (ev->family) {
		tl_json_str(j, "transport", proto ? proto : "", 16);
		snprintf(num, sizeof(num), "%u", ev->protocol);
		tl_json_str(j, "iana_number", num, sizeof(num));
		tl_json_str(j, "type", ev->family == AF_INET ? "ipv4" : "ipv6",
			    8);
	}
	tl_json_str(j, "direction", "egress", 8);
	tl_json_close(j);
}

static void ecs_observer(struct tl_json *j, const struct tl_event *ev,
			 const struct tl_event_context *ctx)
{
	char id[16];

	tl_json_open(j, "observer");
	tl_json_str(j, "product", "tunlock", 16);
	tl_json_str(j, "vendor", "tunlock", 16);
	tl_json_str(j, "type", "firewall", 16);
	if (ev->ifindex || ctx->ifname) {
		tl_json_open(j, "egress");
		tl_json_open(j, "interface");
		tl_json_str(j, "name", ctx->ifname, IF_NAMESIZE);
		snprintf(id, sizeof(id), "%u", ev->ifindex);
		if (ev->ifindex)
			tl_json_str(j, "id", id, sizeof(id));
		tl_json_close(j);
		tl_json_close(j);
	}
	tl_json_close(j);
}

/* What ECS has no field for, under tunlock.* (same names as schema 1). */
static void ecs_tunlock(struct tl_json *j, const struct tl_event *ev,
			const struct tl_event_context *ctx)
{
	tl_json_open(j, "tunlock");
	tl_json_u64(j, "schema", TL_EVENT_SCHEMA);
	tl_json_str(j, "kind", "leak", 8);
	tl_json_str(j, "verdict", tl_verdict_name(ev->verdict), 32);
	tl_json_str(j, "layer", tl_layer_name(ev->layer), 32);
	tl_json_str(j, "hook", tl_hook_name(ev->hook), 32);
	tl_json_str(j, "cgroup", ctx->cgroup, 4096);
	if (ev->cgroup_id)
		tl_json_u64(j, "cgroup_id", ev->cgroup_id);
	tl_json_str(j, "tunnel", ev->tunnel_up ? "up" : "down", 8);
	tl_json_u64(j, "generation", ev->generation);
	tl_json_bool(j, "selftest", ev->flags & TL_EVENT_SELFTEST);
	tl_json_close(j);
}

int tl_event_format_ecs(const struct tl_event *ev,
			const struct tl_event_context *ctx, char *buf,
			size_t len)
{
	struct tl_json j;
	char ver[16];

	tl_json_init(&j, buf, len);
	tl_json_open(&j, NULL);
	tl_json_time(&j, "@timestamp", ev->boot_ns + ctx->boot_to_real_ns);
	tl_json_open(&j, "ecs");
	tl_json_str(&j, "version", TL_ECS_VERSION, 16);
	tl_json_close(&j);
	ecs_event(&j, ev);
	ecs_network(&j, ev);
	ecs_endpoint(&j, "source", ev, ev->saddr, ev->sport, false);
	ecs_endpoint(&j, "destination", ev, ev->daddr, ev->dport, true);
	if (ev->pid) {
		tl_json_open(&j, "process");
		tl_json_u64(&j, "pid", ev->pid);
		tl_json_str(&j, "name", ev->comm, sizeof(ev->comm));
		tl_json_close(&j);
	}
	ecs_observer(&j, ev, ctx);
	tl_json_open(&j, "rule");
	tl_json_str(&j, "name", ctx->profile, TL_NAME_LEN);
	snprintf(ver, sizeof(ver), "%u", ev->generation);
	tl_json_str(&j, "version", ver, sizeof(ver));
	tl_json_str(&j, "ruleset", "tunlock", 16);
	tl_json_close(&j);
	ecs_tunlock(&j, ev, ctx);
	tl_json_close(&j);
	return tl_json_end(&j);
}

static void summary_counts(struct tl_json *j, const struct tl_summary *s)
{
	tl_json_u64(j, "decisions", s->decisions);
	tl_json_u64(j, "emitted", s->emitted);
	tl_json_u64(j, "suppressed", s->suppressed);
	tl_json_u64(j, "lost", s->lost);
	tl_json_u64(j, "dropped", s->dropped);
	tl_json_u64(j, "unformatted", s->unformatted);
	tl_json_u64(j, "generation", s->generation);
}

void tl_ecs_head(struct tl_json *j, uint64_t time_ns, const char *kind,
		     const char *category, const char *type)
{
	tl_json_time(j, "@timestamp", time_ns);
	tl_json_open(j, "ecs");
	tl_json_str(j, "version", TL_ECS_VERSION, 16);
	tl_json_close(j);
	tl_json_open(j, "event");
	tl_json_str(j, "kind", kind, 16);
	ecs_list(j, "category", category, NULL);
	ecs_list(j, "type", type, NULL);
}

void tl_ecs_event_end(struct tl_json *j, const char *dataset)
{
	tl_json_str(j, "module", "tunlock", 16);
	tl_json_str(j, "dataset", dataset, 32);
	tl_json_close(j);
}

int tl_summary_format(const struct tl_summary *s, enum tl_feed_format f,
		      char *buf, size_t len)
{
	struct tl_json j;

	tl_json_init(&j, buf, len);
	tl_json_open(&j, NULL);
	if (f == TL_FEED_ECS) {
		tl_ecs_head(&j, s->end_ns, "metric", "network", "info");
		tl_json_str(&j, "reason", tl_reason_name(s->reason), 32);
		tl_json_time(&j, "start", s->start_ns);
		tl_json_time(&j, "end", s->end_ns);
		tl_ecs_event_end(&j, "tunlock.summary");
		tl_json_open(&j, "tunlock");
		tl_json_u64(&j, "schema", TL_EVENT_SCHEMA);
		tl_json_str(&j, "kind", "summary", 16);
		summary_counts(&j, s);
		tl_json_close(&j);
	} else {
		tl_json_time(&j, "time", s->end_ns);
		tl_json_u64(&j, "schema", TL_EVENT_SCHEMA);
		tl_json_str(&j, "kind", "summary", 16);
		tl_json_str(&j, "reason", tl_reason_name(s->reason), 32);
		tl_json_time(&j, "start", s->start_ns);
		summary_counts(&j, s);
	}
	tl_json_close(&j);
	return tl_json_end(&j);
}

static void integrity_fields(struct tl_json *j,
			     const struct tl_integrity_event *x)
{
	tl_json_u64(j, "schema", TL_EVENT_SCHEMA);
	tl_json_str(j, "kind", "integrity", 16);
	tl_json_str(j, "object", x->object, 16);
	tl_json_str(j, "name", x->name, 64);
	tl_json_str(j, "found", x->found, 16);
	tl_json_str(j, "action", x->action, 16);
	tl_json_u64(j, "generation", x->generation);
}

int tl_integrity_format(const struct tl_integrity_event *x,
			enum tl_feed_format f, char *buf, size_t len)
{
	struct tl_json j;

	tl_json_init(&j, buf, len);
	tl_json_open(&j, NULL);
	if (f == TL_FEED_ECS) {
		tl_ecs_head(&j, x->time_ns, "alert", "configuration", "change");
		tl_json_str(&j, "action", x->action, 16);
		tl_json_str(&j, "reason", x->found, 16);
		tl_json_str(&j, "outcome",
			    strcmp(x->action, "failed") ? "success" : "failure",
			    16);
		tl_ecs_event_end(&j, "tunlock.integrity");
		tl_json_open(&j, "tunlock");
		integrity_fields(&j, x);
		tl_json_close(&j);
	} else {
		tl_json_time(&j, "time", x->time_ns);
		integrity_fields(&j, x);
	}
	tl_json_close(&j);
	return tl_json_end(&j);
}

int tl_feed_read_totals(int counters_fd, int evstats_fd,
			struct tl_feed_totals *t)
{
	__u64 v;
	int err;

	memset(t, 0, sizeof(*t));
	for (__u32 r = TL_REASON_NONE + 1; r < TL_ALLOW_FIRST; r++) {
		for (__u32 l = 0; l < TL_LAYER_MAX; l++)
			for (__u32 k = TL_VERDICT_BLOCKED; k < TL_VERDICT_MAX;
			     k++) {
				err = tl_counter_read(
					counters_fd, TL_COUNTER_INDEX(l, r, k),
					&v);
				if (err)
					return err;
				t->decisions[r] += v;
			}
		for (__u32 k = 0; k < TL_EVSTAT_MAX; k++) {
			err = tl_counter_read(evstats_fd, TL_EVSTAT_INDEX(r, k),
					      &v);
			if (err)
				return err;
			t->ev[r][k] = v;
		}
	}
	return 0;
}
