// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <bpf/libbpf.h>

#include "apply.h"
#include "cgindex.h"
#include "cgroup.h"
#include "events.h"
#include "feed.h"
#include "json.h"
#include "log.h"
#include "names.h"
#include "output.h"
#include "policy.h"

/* A string, or null when unknown. */
static void str_or_null(struct tl_json *j, const char *key, const char *s,
			size_t max)
{
	if (s)
		tl_json_str(j, key, s, max);
	else
		tl_json_null(j, key);
}

/* A number, or null when absent. */
static void u64_or_null(struct tl_json *j, const char *key, uint64_t v,
			bool present)
{
	if (present)
		tl_json_u64(j, key, v);
	else
		tl_json_null(j, key);
}

static void put_addr(struct tl_json *j, const char *key,
		     const uint8_t addr[16], int family)
{
	char text[64];

	static const uint8_t v4_any[16] = { [10] = 0xff, [11] = 0xff };
	static const uint8_t v6_any[16];

	/* unbound sockets have no source yet: null, not 0.0.0.0 */
	if (!family || !memcmp(addr, v4_any, 16) || !memcmp(addr, v6_any, 16) ||
	    tl_format_addr(addr, text, sizeof(text))) {
		tl_json_null(j, key);
		return;
	}
	tl_json_str(j, key, text, sizeof(text));
}

static void put_protocol(struct tl_json *j, const struct tl_event *ev)
{
	const char *proto = tl_protocol_name(ev->protocol);
	char num[16];

	if (!proto && ev->family) {
		snprintf(num, sizeof(num), "%u", ev->protocol);
		proto = num;
	}
	str_or_null(j, "protocol", proto, sizeof(num));
}

int tl_event_format(const struct tl_event *ev,
		    const struct tl_event_context *ctx, char *buf, size_t len)
{
	bool ports = ev->protocol == IPPROTO_TCP || ev->protocol == IPPROTO_UDP;
	struct tl_json j;

	tl_json_init(&j, buf, len);
	tl_json_open(&j, NULL);
	tl_json_time(&j, "time", ev->boot_ns + ctx->boot_to_real_ns);
	tl_json_u64(&j, "schema", TL_EVENT_SCHEMA);
	tl_json_str(&j, "kind", "leak", 8);
	tl_json_str(&j, "reason", tl_reason_name(ev->reason), 32);
	tl_json_str(&j, "verdict", tl_verdict_name(ev->verdict), 32);
	tl_json_str(&j, "layer", tl_layer_name(ev->layer), 32);
	tl_json_str(&j, "hook", tl_hook_name(ev->hook), 32);
	put_protocol(&j, ev);
	str_or_null(&j, "family",
		    ev->family == AF_INET  ? "ipv4" :
		    ev->family == AF_INET6 ? "ipv6" :
					     NULL,
		    8);
	put_addr(&j, "src", ev->saddr, ev->family);
	u64_or_null(&j, "sport", ev->sport, ports && ev->sport);
	put_addr(&j, "dst", ev->daddr, ev->family);
	u64_or_null(&j, "dport", ev->dport, ports);
	/* where a redirected DNS query went instead (null for others) */
	if (ev->redirect_port)
		put_addr(&j, "redirect_dst", ev->redirect_addr, ev->family);
	else
		tl_json_null(&j, "redirect_dst");
	u64_or_null(&j, "redirect_dport", ev->redirect_port,
		    ev->redirect_port);
	str_or_null(&j, "interface", ctx->ifname, IF_NAMESIZE);
	u64_or_null(&j, "ifindex", ev->ifindex, ev->ifindex);
	u64_or_null(&j, "pid", ev->pid, ev->pid);
	str_or_null(&j, "comm", ev->pid ? ev->comm : NULL, sizeof(ev->comm));
	str_or_null(&j, "cgroup", ctx->cgroup, 4096);
	u64_or_null(&j, "cgroup_id", ev->cgroup_id, ev->cgroup_id);
	str_or_null(&j, "profile", ctx->profile, TL_NAME_LEN);
	tl_json_str(&j, "tunnel", ev->tunnel_up ? "up" : "down", 8);
	tl_json_u64(&j, "generation", ev->generation);
	/* a probe of `tunlock selftest`, not a leak (docs/events.md) */
	tl_json_bool(&j, "selftest", ev->flags & TL_EVENT_SELFTEST);
	tl_json_close(&j);
	return tl_json_end(&j);
}

static int64_t boot_to_real(void)
{
	struct timespec real, boot;

	clock_gettime(CLOCK_REALTIME, &real);
	clock_gettime(CLOCK_BOOTTIME, &boot);
	return (real.tv_sec - boot.tv_sec) * 1000000000ll +
	       (real.tv_nsec - boot.tv_nsec);
}

int tl_events_write(struct tl_events *e, const struct tl_event *ev,
		    const struct tl_event_context *ctx)
{
	size_t len = e->line_max && e->line_max < TL_EVENT_LINE_MAX ?
			     e->line_max :
			     TL_EVENT_LINE_MAX;
	char line[TL_EVENT_LINE_MAX];
	unsigned int r = ev->reason < TL_REASON_MAX ? ev->reason : 0;
	int n;

	if (e->format == TL_FEED_ECS)
		n = tl_event_format_ecs(ev, ctx, line, len);
	else
		n = tl_event_format(ev, ctx, line, len);
	if (n < 0) {
		/* counted, and said in the summary and the metrics */
		e->unformatted[r]++;
		log_debug("an event (reason %s) could not be formatted",
			  tl_reason_name(r));
		return -1;
	}
	if (!tl_output_line(e->out, line, n)) {
		e->dropped[r]++;
		return -1;
	}
	e->emitted++;
	return 0;
}

static int handle_event(void *arg, void *data, size_t size)
{
	struct tl_events *e = arg;
	const struct tl_event *ev = data;
	struct tl_event_context ctx = { .boot_to_real_ns = boot_to_real() };
	char ifname[IF_NAMESIZE];

	if (size < sizeof(*ev))
		return 0;
	if (ev->ifindex && if_indextoname(ev->ifindex, ifname))
		ctx.ifname = ifname;
	ctx.cgroup = tl_cgroup_path(e->cg_mount, ev->cgroup_id);
	ctx.profile = tl_profile_name(e->policy, ev->profile);
	tl_events_write(e, ev, &ctx);
	return 0;
}

int tl_events_open(struct tl_events *e, int ringbuf_fd, struct tl_output *out,
		   const char *cg_mount)
{
	memset(e, 0, sizeof(*e));
	e->out = out;
	e->cg_mount = cg_mount;
	e->rb = ring_buffer__new(ringbuf_fd, handle_event, e, NULL);
	if (!e->rb) {
		log_error("opening the event ring buffer: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

int tl_events_fd(struct tl_events *e)
{
	return ring_buffer__epoll_fd(e->rb);
}

int tl_events_drain(struct tl_events *e)
{
	int n = ring_buffer__consume(e->rb);

	tl_output_flush(e->out);
	return n < 0 ? n : 0;
}

void tl_events_close(struct tl_events *e)
{
	ring_buffer__free(e->rb);
	e->rb = NULL;
}
