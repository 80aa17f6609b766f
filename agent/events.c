// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <bpf/libbpf.h>

#include "apply.h"
#include "cgroup.h"
#include "events.h"
#include "feed.h"
#include "json.h"
#include "log.h"
#include "names.h"
#include "output.h"
#include "policy.h"

struct out {
	char *buf;
	size_t len, pos;
	bool overflow;
};

static void put(struct out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->pos, o->len - o->pos, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->len - o->pos)
		o->overflow = true;
	else
		o->pos += n;
}

/* A JSON string (escaped and cut by the feed's one rule), or null. */
static void put_str(struct out *o, const char *key, const char *s, size_t max)
{
	put(o, ",\"%s\":", key);
	if (!s) {
		put(o, "null");
		return;
	}
	put(o, "\"");
	if (!o->overflow)
		o->pos += tl_json_escape(o->buf + o->pos, o->len - o->pos, s,
					 max);
	put(o, "\"");
}

static void put_time(struct out *o, uint64_t boot_ns, int64_t offset)
{
	uint64_t ns = boot_ns + offset;
	time_t sec = ns / 1000000000ull;
	struct tm tm;
	char when[32];

	gmtime_r(&sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	put(o, "{\"time\":\"%s.%09lluZ\"", when,
	    (unsigned long long)(ns % 1000000000ull));
}

static void put_addr(struct out *o, const char *key, const uint8_t addr[16],
		     int family)
{
	char text[64];

	static const uint8_t v4_any[16] = { [10] = 0xff, [11] = 0xff };
	static const uint8_t v6_any[16];

	/* unbound sockets have no source yet: null, not 0.0.0.0 */
	if (!family || !memcmp(addr, v4_any, 16) || !memcmp(addr, v6_any, 16) ||
	    tl_format_addr(addr, text, sizeof(text))) {
		put(o, ",\"%s\":null", key);
		return;
	}
	put(o, ",\"%s\":\"%s\"", key, text);
}

/* Where a redirected DNS query went instead (null for other events). */
static void put_redirect(struct out *o, const struct tl_event *ev)
{
	if (!ev->redirect_port) {
		put(o, ",\"redirect_dst\":null,\"redirect_dport\":null");
		return;
	}
	put_addr(o, "redirect_dst", ev->redirect_addr, ev->family);
	put(o, ",\"redirect_dport\":%u", ev->redirect_port);
}

int tl_event_format(const struct tl_event *ev,
		    const struct tl_event_context *ctx, char *buf, size_t len)
{
	struct out o = { buf, len, 0, false };
	const char *proto = tl_protocol_name(ev->protocol);
	bool ports = ev->protocol == IPPROTO_TCP || ev->protocol == IPPROTO_UDP;

	put_time(&o, ev->boot_ns, ctx->boot_to_real_ns);
	put(&o, ",\"schema\":%d", TL_EVENT_SCHEMA);
	put(&o, ",\"kind\":\"leak\"");
	put(&o, ",\"reason\":\"%s\"", tl_reason_name(ev->reason));
	put(&o, ",\"verdict\":\"%s\"", tl_verdict_name(ev->verdict));
	put(&o, ",\"layer\":\"%s\"", tl_layer_name(ev->layer));
	put(&o, ",\"hook\":\"%s\"", tl_hook_name(ev->hook));
	if (proto)
		put(&o, ",\"protocol\":\"%s\"", proto);
	else if (ev->family)
		put(&o, ",\"protocol\":\"%u\"", ev->protocol);
	else
		put(&o, ",\"protocol\":null");
	put(&o, ",\"family\":%s",
	    ev->family == AF_INET  ? "\"ipv4\"" :
	    ev->family == AF_INET6 ? "\"ipv6\"" :
				     "null");
	put_addr(&o, "src", ev->saddr, ev->family);
	if (ports && ev->sport)
		put(&o, ",\"sport\":%u", ev->sport);
	else
		put(&o, ",\"sport\":null");
	put_addr(&o, "dst", ev->daddr, ev->family);
	if (ports)
		put(&o, ",\"dport\":%u", ev->dport);
	else
		put(&o, ",\"dport\":null");
	put_redirect(&o, ev);
	put_str(&o, "interface", ctx->ifname, IF_NAMESIZE);
	if (ev->ifindex)
		put(&o, ",\"ifindex\":%u", ev->ifindex);
	else
		put(&o, ",\"ifindex\":null");
	if (ev->pid)
		put(&o, ",\"pid\":%u", ev->pid);
	else
		put(&o, ",\"pid\":null");
	put_str(&o, "comm", ev->pid ? ev->comm : NULL, sizeof(ev->comm));
	put_str(&o, "cgroup", ctx->cgroup, 4096);
	if (ev->cgroup_id)
		put(&o, ",\"cgroup_id\":%llu",
		    (unsigned long long)ev->cgroup_id);
	else
		put(&o, ",\"cgroup_id\":null");
	put_str(&o, "profile", ctx->profile, TL_NAME_LEN);
	put(&o, ",\"tunnel\":\"%s\"", ev->tunnel_up ? "up" : "down");
	put(&o, ",\"generation\":%u}\n", ev->generation);
	return o.overflow ? -1 : (int)o.pos;
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
