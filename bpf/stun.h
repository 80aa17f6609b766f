/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * STUN and TURN ChannelData never leave outside the tunnel, however they
 * are cut. Both packet layers ask stun_verdict() (decide_packet) and, for
 * IP fragments, stun_later_fragment() and stun_first_fragment()
 * (judge_packet):
 *
 * - UDP: each datagram on its own, its length from the UDP header. A GSO
 *   superpacket (UDP_SEGMENT: the packet layers see it before the kernel
 *   or the NIC cuts it) is judged segment by segment at skb->gso_size, and
 *   fails closed with more than TL_STUN_MAX_SEGS segments.
 * - IP fragments (IPv4 and IPv6): a first fragment must hold the bytes that
 *   tell STUN (a UDP header and 8 bytes); its verdict is kept in
 *   tl_stun_frags, and the later fragments of its datagram pass or fail
 *   with it. A later fragment whose first fragment was not judged here, or
 *   that reaches back below TL_STUN_FRAG_MIN_OFF (overlapping the headers
 *   and the bytes that tell), is malformed.
 * - TCP: the receiver reads a stream, not segments. Per stream, the first
 *   TL_STUN_ID_LEN bytes of each framed message are collected from the
 *   SYN's sequence number on, whatever the segmentation: a segment that
 *   ends before they are all known passes (half a header is inert), a
 *   segment past bytes not seen yet is held (dropped: TCP sends it again in
 *   order), and the segment that completes them is judged. STUN taints the
 *   stream for good; ChannelData moves on to the message after it, up to
 *   TL_STUN_HEADS messages (a stream still framed as TURN then is taken for
 *   TURN); anything else makes it clean. Bytes once collected must never
 *   change (a retransmission with other bytes taints the stream), and
 *   urgent data before them taints it (the receiver takes the urgent byte
 *   out of the stream, which shifts the framing). Sequence numbers are 32
 *   bits: offsets past 2 GiB cannot be told from offsets before the start,
 *   nor those past 4 GiB from the heads. So a clean stream that has gone
 *   TL_STUN_PAST_OFF on without a gap is past its heads for good, and is
 *   no longer compared (a local socket's kernel never has more than its
 *   largest window, 2^30 bytes, unacknowledged: its heads were taken).
 *   A local TCP socket keeps its stream in socket-local storage
 *   (tl_stun_streams); anything else (forwarded, raw) by addresses and
 *   ports in tl_stun_tcp, an LRU.
 */
#ifndef TL_BPF_STUN_H
#define TL_BPF_STUN_H

#include "parse.h"

#define STUN_MAGIC_COOKIE    0x2112A442
#define STUN_HEADER_LEN	     20
#define TL_STUN_ID_LEN	     8	 /* bytes that tell STUN or ChannelData */
#define TL_STUN_MAX_SEGS     128 /* UDP_MAX_SEGMENTS of current kernels */
#define TL_STUN_HEADS	     4	 /* TCP: framed messages followed */
#define TL_STUN_FRAG_ENTRIES 16384
#define TL_STUN_TCP_ENTRIES  65536
/* A clean stream this far on without a gap is past its heads for good. */
#define TL_STUN_PAST_OFF     (1u << 30)
/* A later fragment must start past a TCP header with options (60) and the
 * bytes that tell: a first fragment holds all of them. */
#define TL_STUN_FRAG_MIN_OFF 72

struct tl_stun_frag_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__u32 id;
	__u32 protocol; /* IPv4 protocol, or the fragment header's next */
};

/* First fragments' verdicts (a reason), for the rest of their datagram. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TL_STUN_FRAG_ENTRIES);
	__type(key, struct tl_stun_frag_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_stun_frags SEC(".maps");

enum tl_stream_state {
	TL_STREAM_OPEN = 0, /* head[cur] is being collected */
	TL_STREAM_CLEAN,    /* no STUN framing: heads 0..cur only compared */
	TL_STREAM_STUN,	    /* tainted for good */
	TL_STREAM_PAST,	    /* clean, TL_STUN_PAST_OFF on: nothing to compare */
};

struct tl_stun_stream {
	__u32 start;		 /* sequence number of stream byte 0 */
	__u32 at[TL_STUN_HEADS]; /* stream offset of each message's head */
	__u8 head[TL_STUN_HEADS][TL_STUN_ID_LEN];
	__u8 state;
	__u8 cur;    /* the head being collected, or the last one judged */
	__u8 have;   /* bytes of head[cur] known (OPEN) */
	__u8 synced; /* 1: start from a SYN; 2: from the first data seen */
	__u32 front; /* stream offset after the last byte seen without a gap */
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct tl_stun_stream);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_stun_streams SEC(".maps");

struct tl_stun_tcp_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TL_STUN_TCP_ENTRIES);
	__type(key, struct tl_stun_tcp_key);
	__type(value, struct tl_stun_stream);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_stun_tcp SEC(".maps");

/* RFC 8489: the top two bits zero, a length of 4-byte words, the cookie. */
static __always_inline bool stun_header(const __u8 *p)
{
	return !(p[0] & 0xc0) && !(p[3] & 3) &&
	       ((__u32)p[4] << 24 | (__u32)p[5] << 16 | (__u32)p[6] << 8 |
		p[7]) == STUN_MAGIC_COOKIE;
}

/* RFC 8656: a channel number in 0x4000-0x4FFF. */
static __always_inline bool channel_data_header(const __u8 *p)
{
	return p[0] >= 0x40 && p[0] <= 0x4f;
}

/*
 * A datagram's payload of len bytes, whose first bytes (8, or 4 when it is
 * shorter) are at p: STUN (a 20-byte header at least) or ChannelData whose
 * length fits, padded to 4 at most. The length checks keep QUIC short
 * headers (0x40-0x7f) from passing for it.
 */
static __always_inline bool stun_datagram(const __u8 *p, __u32 len)
{
	__u32 field = (p[2] << 8) | p[3];

	if (channel_data_header(p))
		return field + 4 <= len && len <= field + 4 + 3;
	return len >= STUN_HEADER_LEN && stun_header(p);
}

/* The datagram at off (in place where it can be). */
static __always_inline bool stun_datagram_at(struct __sk_buff *skb, __u32 off,
					     __u32 len)
{
	__u8 buf[TL_STUN_ID_LEN];
	const __u8 *p;

	if (len < 4)
		return false;
	p = len >= 8 ? tl_header(skb, off, 8, buf)
		     : tl_header(skb, off, 4, buf);
	return p && stun_datagram(p, len);
}

struct tl_stun_gso {
	struct __sk_buff *skb;
	__u32 off;     /* the payload */
	__u32 present; /* its length */
	__u32 gso;     /* segment size */
	bool stun;
	/* the segment's first bytes: here, not on the callback's stack, which
	 * Linux 6.1 adds to TC egress's and stun_verdict's (512 at most) */
	__u8 buf[8];
};

/* bpf_loop: segment i of a GSO superpacket (copied: its offset is not
 * bounded enough for direct packet access). */
static long stun_gso_segment(__u32 i, void *ctx)
{
	struct tl_stun_gso *g = ctx;
	__u32 seg = i * g->gso, len;

	if (seg >= g->present)
		return 1;
	len = g->present - seg < g->gso ? g->present - seg : g->gso;
	if (len < 4)
		return 0;
	if (len >= 8 ? bpf_skb_load_bytes(g->skb, g->off + seg, g->buf, 8)
		     : bpf_skb_load_bytes(g->skb, g->off + seg, g->buf, 4))
		return 0;
	g->stun = stun_datagram(g->buf, len);
	return g->stun;
}

static __always_inline __u32 stun_udp(struct __sk_buff *skb,
				      const struct tl_flow *f)
{
	struct udphdr ubuf;
	const struct udphdr *udp =
	    tl_header(skb, f->l4_off, sizeof(ubuf), &ubuf);
	__u32 off = f->l4_off + sizeof(ubuf), present, len, gso;
	struct tl_stun_gso g = {};

	if (!udp)
		return TL_REASON_MALFORMED;
	present = skb->len > off ? skb->len - off : 0;
	/* what the receiver takes: the UDP length, which a first fragment
	 * holds only the start of */
	len = bpf_ntohs(udp->len);
	if (len >= sizeof(ubuf) && (f->frag_first || len - 8 <= present))
		len -= sizeof(ubuf);
	else
		len = present;
	if (f->frag_first && present < (len < 8 ? len : 8))
		return TL_REASON_MALFORMED; /* too short to tell */
	if (stun_datagram_at(skb, off, len))
		return TL_REASON_STUN;
	gso = skb->gso_size;
	if (!gso || f->frag_first)
		return TL_REASON_NONE;
	if (present > gso * TL_STUN_MAX_SEGS)
		return TL_REASON_STUN; /* more segments than we judge */
	g.skb = skb;
	g.off = off;
	g.present = present;
	g.gso = gso;
	if (bpf_loop(TL_STUN_MAX_SEGS, stun_gso_segment, &g, 0) < 0)
		return TL_REASON_STUN;
	return g.stun ? TL_REASON_STUN : TL_REASON_NONE;
}

/* ---- TCP ---- */

/* A new stream's value: read-only data, not 56 bytes of stun_verdict's
 * stack (Linux 6.1 counts the bpf_loop callback's frame on top of it and
 * the layer's, 512 bytes at most) */
static const struct tl_stun_stream tl_stun_fresh;

/* The stream of a segment; created (zeroed) only when create is set. */
static __always_inline struct tl_stun_stream *
stun_stream(struct __sk_buff *skb, const struct tl_flow *f, bool create)
{
	struct tl_stun_stream *st;
	struct tl_stun_tcp_key key = {};
	struct bpf_sock *sk = skb->sk;

	if (sk)
		sk = bpf_sk_fullsock(sk);
	if (sk && sk->type == SOCK_STREAM && sk->protocol == IPPROTO_TCP)
		return bpf_sk_storage_get(&tl_stun_streams, sk, NULL,
					  create ? BPF_SK_STORAGE_GET_F_CREATE
						 : 0);
	__builtin_memcpy(key.saddr, f->saddr.b, 16);
	__builtin_memcpy(key.daddr, f->daddr.b, 16);
	key.sport = f->sport;
	key.dport = f->dport;
	st = bpf_map_lookup_elem(&tl_stun_tcp, &key);
	if (st || !create)
		return st;
	/* EEXIST: another CPU made it meanwhile; any other error: NULL */
	bpf_map_update_elem(&tl_stun_tcp, &key, &tl_stun_fresh, BPF_NOEXIST);
	return bpf_map_lookup_elem(&tl_stun_tcp, &key);
}

/* A SYN: the stream starts after its sequence number. Another SYN on a
 * stream that is being told would restart the count: taint it instead. */
static __always_inline void stun_syn(struct tl_stun_stream *st, __u32 seq)
{
	if (st->synced && st->start == seq + 1)
		return; /* the same SYN again */
	if (st->state == TL_STREAM_STUN)
		return;
	if (st->synced && st->state == TL_STREAM_OPEN &&
	    (st->have || st->cur)) {
		st->state = TL_STREAM_STUN;
		return;
	}
	__builtin_memset(st, 0, sizeof(*st));
	st->start = seq + 1;
	st->synced = 1;
}

/*
 * The payload bytes [off, off + len) of the stream (stream offsets), at
 * payload in the skb. open_ended: a first IP fragment, whose segment goes
 * on past what it holds.
 */
static __always_inline __u32 stun_segment(struct __sk_buff *skb,
					  struct tl_stun_stream *st, __u32 off,
					  __u32 len, __u32 payload, __u32 urg,
					  bool open_ended)
{
	__u32 h, j, at, rel, cur, field;
	__u8 b, *head;

	cur = st->cur & (TL_STUN_HEADS - 1);
	/* urgent byte (urg: the pointer) before the end of the last head */
	if (urg && (__s32)(off + urg - 1 - (st->at[cur] + TL_STUN_ID_LEN)) < 0)
		goto taint;
	if (st->state == TL_STREAM_CLEAN &&
	    (__s32)(off - (st->at[cur] + TL_STUN_ID_LEN)) >= 0)
		return TL_REASON_NONE; /* past every head */
	for (h = 0; h < TL_STUN_HEADS; h++) {
		if (h > st->cur)
			break;
		at = st->at[h];
		head = st->head[h];
		for (j = 0; j < TL_STUN_ID_LEN; j++) {
			rel = at + j - off;
			if (rel >= len)
				continue;
			if (bpf_skb_load_bytes(skb, payload + rel, &b, 1))
				return TL_REASON_MALFORMED;
			if (h < st->cur || st->state != TL_STREAM_OPEN ||
			    j < st->have) {
				/* seen before: other bytes now taint */
				if (head[j] != b)
					goto taint;
				continue;
			}
			/* held: bytes before it not seen yet */
			if (j > st->have)
				return TL_REASON_STUN;
			head[j] = b;
			st->have++;
		}
		if (h != st->cur || st->state != TL_STREAM_OPEN ||
		    st->have < TL_STUN_ID_LEN)
			continue;
		if (stun_header(head))
			goto taint;
		if (!channel_data_header(head)) {
			st->state = TL_STREAM_CLEAN;
			break;
		}
		if (h + 1 >= TL_STUN_HEADS)
			goto taint; /* still framed as TURN */
		field = (__u32)head[2] << 8 | head[3];
		st->at[(h + 1) & (TL_STUN_HEADS - 1)] =
		    at + 4 + ((field + 3) & ~3u);
		st->cur = h + 1;
		st->have = 0;
	}
	if (st->state != TL_STREAM_OPEN)
		return TL_REASON_NONE;
	if (open_ended)
		return TL_REASON_MALFORMED; /* cannot tell from what it holds */
	cur = st->cur & (TL_STUN_HEADS - 1);
	if ((__s32)(off + len - (st->at[cur] + st->have)) > 0)
		return TL_REASON_STUN; /* held: bytes before it unseen */
	return TL_REASON_NONE;
taint:
	st->state = TL_STREAM_STUN;
	return TL_REASON_STUN;
}

/*
 * A segment of stream bytes [off, off + len) passed: the front moves on
 * when the segment reaches it (no gap), and a clean stream far enough on
 * is past its heads. Offsets stay below 2^31 until then.
 */
static __always_inline void stun_advance(struct tl_stun_stream *st, __u32 off,
					 __u32 len)
{
	if ((__s32)(off - st->front) > 0)
		return; /* past bytes not seen: a gap */
	if ((__s32)(off + len - st->front) > 0)
		st->front = off + len;
	if (st->state == TL_STREAM_CLEAN && st->front >= TL_STUN_PAST_OFF)
		st->state = TL_STREAM_PAST;
}

static __always_inline __u32 stun_tcp(struct __sk_buff *skb,
				      const struct tl_flow *f)
{
	struct tcphdr tbuf;
	const struct tcphdr *tcp =
	    tl_header(skb, f->l4_off, sizeof(tbuf), &tbuf);
	struct tl_stun_stream *st;
	__u32 payload, len, seq, urg, reason;
	bool syn, ack;

	if (!tcp)
		return TL_REASON_MALFORMED;
	payload = f->l4_off + tcp->doff * 4;
	len = skb->len > payload ? skb->len - payload : 0;
	seq = bpf_ntohl(tcp->seq);
	syn = tcp->syn;
	ack = tcp->ack;
	urg = tcp->urg ? bpf_ntohs(tcp->urg_ptr) : 0;
	st = stun_stream(skb, f, len || (syn && !ack));
	if (!st)
		/* nothing to follow it with: fail closed on data */
		return len ? TL_REASON_STUN : TL_REASON_NONE;
	if (syn) {
		stun_syn(st, seq);
		seq++; /* data on a SYN (Fast Open) follows it */
	} else if (!st->synced) {
		st->start = seq; /* begun before we saw it: from here */
		st->synced = 2;
	}
	if (st->state == TL_STREAM_STUN)
		return TL_REASON_STUN;
	if (st->state == TL_STREAM_PAST || !len)
		return TL_REASON_NONE;
	/* before a SYN's start: not of this stream. Before a start taken
	 * from the first segment seen: a retransmission, whose bytes from
	 * the start on are compared */
	if ((__s32)(seq - st->start) < 0 && st->synced == 1)
		return TL_REASON_STUN;
	reason = stun_segment(skb, st, seq - st->start, len, payload, urg,
			      f->frag_first);
	if (reason == TL_REASON_NONE && !f->frag_first)
		stun_advance(st, seq - st->start, len);
	return reason;
}

/*
 * Decide_packet: a reason when the flow, outside the tunnel, is or may be
 * STUN or ChannelData (TL_REASON_STUN) or cannot be told (malformed). A
 * global function: the verifier checks it once, not on every path of the
 * layer that calls it.
 */
__noinline __u32 stun_verdict(struct __sk_buff *skb, const struct tl_flow *f)
{
	if (!skb || !f)
		return TL_REASON_MALFORMED;
	if (!f->has_ports)
		return TL_REASON_NONE;
	if (f->protocol == IPPROTO_UDP)
		return stun_udp(skb, f);
	if (f->protocol == IPPROTO_TCP)
		return stun_tcp(skb, f);
	return TL_REASON_NONE;
}

static __always_inline void stun_frag_key(const struct tl_flow *f,
					  struct tl_stun_frag_key *k)
{
	__builtin_memcpy(k->saddr, f->saddr.b, 16);
	__builtin_memcpy(k->daddr, f->daddr.b, 16);
	k->id = f->frag_id;
	k->protocol = f->frag_proto;
}

/* A first fragment's verdict, for the rest of its datagram. When it cannot
 * be kept, the later fragments are dropped as malformed: closed. */
static __always_inline void stun_first_fragment(const struct tl_flow *f,
						__u32 reason)
{
	struct tl_stun_frag_key k = {};

	stun_frag_key(f, &k);
	bpf_map_update_elem(&tl_stun_frags, &k, &reason, BPF_ANY);
}

/* A later fragment: its first fragment's verdict. */
static __always_inline __u32 stun_later_fragment(const struct tl_flow *f)
{
	struct tl_stun_frag_key k = {};
	__u32 *reason;

	if (f->frag_off < TL_STUN_FRAG_MIN_OFF)
		return TL_REASON_MALFORMED;
	stun_frag_key(f, &k);
	reason = bpf_map_lookup_elem(&tl_stun_frags, &k);
	return reason ? *reason : TL_REASON_MALFORMED;
}

#endif
