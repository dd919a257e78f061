// SPDX-License-Identifier: LGPL-2.1-or-later
/* MFLOW on a stock kernel: an XDP program that keeps per-flow state (inner 5-tuple + VNI), reports
 * elephants and idle split flows on a ring buffer and splits marked flows into micro-flows over a
 * CPUMAP; a cpumap program counting arrivals; a tc-ingress program counting reordered TCP segments. */
/* vmlinux.h first: the libbpf headers use its types. */
#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "mflow.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define IPPROTO_HOPOPTS 0
#define IPPROTO_ROUTING 43
#define IPPROTO_FRAGMENT 44
#define IPPROTO_DSTOPTS 60
#define CLOCK_MONOTONIC 1
#define TC_ACT_OK 0
#define NSEC_PER_SEC 1000000000ull
#define VXLAN_FLAG_VNI 0x08
#define TC_PULL_BYTES 192 /* outer + VXLAN + inner headers, for a non-linear skb */

struct vlan_tag {
        __be16 tci;
        __be16 proto;
};

struct vxlan_head {
        __u8 flags;
        __u8 reserved[3];
        __u8 vni[3];
        __u8 reserved2;
};

struct {
        __uint(type, BPF_MAP_TYPE_ARRAY);
        __uint(max_entries, 1);
        __type(key, __u32);
        __type(value, struct mflow_conf);
} maio_conf SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_LRU_HASH);
        __uint(max_entries, MFLOW_MAX_FLOWS);
        __type(key, struct mflow_key);
        __type(value, struct mflow_state);
} maio_flows SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(max_entries, MFLOW_MAX_SPLITS);
        __type(key, struct mflow_key);
        __type(value, struct mflow_split);
} maio_split SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_CPUMAP);
        __uint(max_entries, MFLOW_MAX_CPUS);
        __type(key, __u32);
        __type(value, struct bpf_cpumap_val);
} maio_cpumap SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
        __uint(max_entries, 1);
        __type(key, __u32);
        __type(value, struct mflow_cpu_stats);
} maio_stats SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_RINGBUF);
        __uint(max_entries, MFLOW_RINGBUF_BYTES);
} maio_events SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_LRU_HASH);
        __uint(max_entries, MFLOW_MAX_FLOWS);
        __type(key, struct mflow_key);
        __type(value, struct mflow_reorder);
} maio_reorder SEC(".maps");

/* A parsed packet: the flow key, and the L4 header with the length the IP header gives it. */
struct parsed {
        struct mflow_key key;
        void *l4;
        __u32 l4_len;
};

static __always_inline int parse_eth(void **pos, void *end, __u16 *ret_proto) {
        struct ethhdr *eth = *pos;
        __u16 proto;

        if ((void *) (eth + 1) > end)
                return -1;
        proto = eth->h_proto;
        *pos = eth + 1;
#pragma unroll
        for (int i = 0; i < 2; i++) {
                struct vlan_tag *v = *pos;

                if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
                        break;
                if ((void *) (v + 1) > end)
                        return -1;
                proto = v->proto;
                *pos = v + 1;
        }
        *ret_proto = bpf_ntohs(proto);
        return 0;
}

/* IPv6 extension headers before the transport header: at most 3 are skipped; a fragment header
 * ends parsing (no ports, so all fragments of a datagram stay one flow). */
static __always_inline int skip_ipv6_ext(void **pos, void *end, __u8 *nexthdr) {
#pragma unroll
        for (int i = 0; i < 3; i++) {
                struct ipv6_opt_hdr *o = *pos;

                if (*nexthdr == IPPROTO_FRAGMENT)
                        return 1;
                if (*nexthdr != IPPROTO_HOPOPTS && *nexthdr != IPPROTO_ROUTING && *nexthdr != IPPROTO_DSTOPTS)
                        return 0;
                if ((void *) (o + 1) > end)
                        return -1;
                *nexthdr = o->nexthdr;
                *pos = (void *) o + (o->hdrlen + 1) * 8;
        }
        return 1;
}

/* Fills the addresses and protocol; leaves *pos at the transport header. Returns 1 when there is
 * no transport header to read (a fragment), 0 when there is, -1 when not IP or truncated. */
static __always_inline int parse_ip(void **pos, void *end, __u16 proto, struct parsed *p) {
        if (proto == ETH_P_IP) {
                struct iphdr *ip = *pos;
                __u32 hlen;

                if ((void *) (ip + 1) > end || ip->ihl < 5)
                        return -1;
                hlen = ip->ihl * 4;
                p->key.src[10] = p->key.src[11] = 0xff;
                p->key.dst[10] = p->key.dst[11] = 0xff;
                __builtin_memcpy(&p->key.src[12], &ip->saddr, 4);
                __builtin_memcpy(&p->key.dst[12], &ip->daddr, 4);
                p->key.proto = ip->protocol;
                p->l4_len = bpf_ntohs(ip->tot_len) > hlen ? bpf_ntohs(ip->tot_len) - hlen : 0;
                *pos = (void *) ip + hlen;
                return (ip->frag_off & bpf_htons(0x3fff)) ? 1 : 0;
        }
        if (proto == ETH_P_IPV6) {
                struct ipv6hdr *ip6 = *pos;
                __u8 nexthdr;
                int r;

                if ((void *) (ip6 + 1) > end)
                        return -1;
                __builtin_memcpy(p->key.src, &ip6->saddr, 16);
                __builtin_memcpy(p->key.dst, &ip6->daddr, 16);
                nexthdr = ip6->nexthdr;
                p->l4_len = bpf_ntohs(ip6->payload_len);
                *pos = ip6 + 1;
                r = skip_ipv6_ext(pos, end, &nexthdr);
                p->key.proto = nexthdr;
                return r;
        }
        return -1;
}

static __always_inline int parse_ports(void *pos, void *end, struct parsed *p) {
        struct udphdr *udp = pos; /* TCP and UDP ports are at the same place */

        p->l4 = pos;
        if (p->key.proto != IPPROTO_TCP && p->key.proto != IPPROTO_UDP)
                return 0;
        if ((void *) (udp + 1) > end)
                return -1;
        p->key.sport = bpf_ntohs(udp->source);
        p->key.dport = bpf_ntohs(udp->dest);
        return 0;
}

static __always_inline bool is_vxlan_port(const struct mflow_conf *conf, __u16 port) {
#pragma unroll
        for (int i = 0; i < MFLOW_MAX_PORTS; i++)
                if (conf->vxlan_ports[i] && conf->vxlan_ports[i] == port)
                        return true;
        return false;
}

/* Parses Ethernet/VLAN, IP, UDP and, on a VXLAN port, the inner Ethernet/IP/TCP/UDP into p.
 * Returns 0 for an IP packet (key filled), -1 otherwise. */
static __always_inline int parse_packet(void *data, void *end, const struct mflow_conf *conf, struct parsed *p) {
        struct vxlan_head *vx;
        void *pos = data;
        __u16 proto;
        int r;

        __builtin_memset(p, 0, sizeof(*p));
        p->key.vni = MFLOW_VNI_NONE;
        if (parse_eth(&pos, end, &proto) < 0)
                return -1;
        r = parse_ip(&pos, end, proto, p);
        if (r != 0)
                return r < 0 ? -1 : 0;
        if (parse_ports(pos, end, p) < 0)
                return -1;
        if (p->key.proto != IPPROTO_UDP || !is_vxlan_port(conf, p->key.dport))
                return 0;

        vx = pos + sizeof(struct udphdr);
        if ((void *) (vx + 1) > end || !(vx->flags & VXLAN_FLAG_VNI))
                return 0; /* not VXLAN after all: keep the outer flow */
        pos = vx + 1;
        if (parse_eth(&pos, end, &proto) < 0 || (proto != ETH_P_IP && proto != ETH_P_IPV6))
                return 0; /* an inner ARP or a truncated frame: count it as the tunnel's */
        {
                struct parsed inner;

                __builtin_memset(&inner, 0, sizeof(inner));
                r = parse_ip(&pos, end, proto, &inner);
                if (r < 0 || (r == 0 && parse_ports(pos, end, &inner) < 0))
                        return 0;
                inner.key.vni = ((__u32) vx->vni[0] << 16) | ((__u32) vx->vni[1] << 8) | vx->vni[2];
                *p = inner;
        }
        return 0;
}

static __always_inline struct mflow_cpu_stats *stats_get(void) {
        __u32 zero = 0;

        return bpf_map_lookup_elem(&maio_stats, &zero);
}

static __always_inline void emit_event(__u32 type, const struct mflow_key *key, struct mflow_state *st, __u64 now,
                                       __u64 rate) {
        struct mflow_cpu_stats *stats = stats_get();
        struct mflow_event *e;

        e = bpf_ringbuf_reserve(&maio_events, sizeof(*e), 0);
        if (!e) {
                if (stats)
                        stats->events_dropped++;
                return;
        }
        e->type = type;
        e->cpu = bpf_get_smp_processor_id();
        e->ts_ns = now;
        e->first_ns = st->first_ns;
        e->bytes = st->bytes;
        e->packets = st->packets;
        e->rate = rate;
        e->key = *key;
        bpf_ringbuf_submit(e, 0);
        if (stats)
                stats->events++;
}

/* Rolls the rate window and sends the elephant event once, when the window's bytes cross
 * elephant_rate * window. */
static __always_inline void account_rate(const struct mflow_conf *conf, const struct mflow_key *key,
                                         struct mflow_state *st, __u64 now, __u32 len) {
        __u64 start = st->win_start_ns, wbytes, threshold, elapsed;

        if (now - start >= conf->window_ns) {
                elapsed = now - start;
                if (elapsed)
                        st->rate = st->win_bytes * NSEC_PER_SEC / elapsed;
                st->win_start_ns = now;
                st->win_bytes = 0;
                start = now;
        }
        wbytes = __sync_fetch_and_add(&st->win_bytes, len) + len;
        threshold = conf->elephant_rate * conf->window_ns / NSEC_PER_SEC;
        if (!threshold || wbytes < threshold || (st->flags & MFLOW_F_ELEPHANT))
                return;
        if (__sync_fetch_and_or(&st->flags, MFLOW_F_ELEPHANT) & MFLOW_F_ELEPHANT)
                return; /* another CPU sent it */
        elapsed = now - start;
        emit_event(MFLOW_EVENT_ELEPHANT, key, st, now, elapsed ? wbytes * NSEC_PER_SEC / elapsed : wbytes);
}

/* The idle timer of a split flow: sends the idle event once the flow has been quiet for idle_ns,
 * otherwise sleeps until it could be. */
static int idle_timer_cb(void *map, struct mflow_key *key, struct mflow_state *st) {
        struct mflow_conf *conf;
        __u32 zero = 0;
        __u64 now = bpf_ktime_get_ns(), quiet;

        conf = bpf_map_lookup_elem(&maio_conf, &zero);
        if (!conf || !(st->flags & MFLOW_F_SPLIT))
                return 0;
        quiet = now - st->last_ns;
        if (quiet >= conf->idle_ns) {
                if (!(__sync_fetch_and_or(&st->flags, MFLOW_F_IDLE_SENT) & MFLOW_F_IDLE_SENT))
                        emit_event(MFLOW_EVENT_IDLE, key, st, now, st->rate);
                return 0;
        }
        bpf_timer_start(&st->idle_timer, conf->idle_ns - quiet, 0);
        return 0;
}

static __always_inline void idle_timer_arm(const struct mflow_conf *conf, struct mflow_state *st) {
        bpf_timer_init(&st->idle_timer, &maio_flows, CLOCK_MONOTONIC); /* -EBUSY when done before */
        bpf_timer_set_callback(&st->idle_timer, idle_timer_cb);
        bpf_timer_start(&st->idle_timer, conf->idle_ns, 0);
}

/* Picks the slot (index into the mark's cores) of this packet of a split-marked flow. */
static __always_inline __u32 split_slot(const struct mflow_conf *conf, const struct mflow_split *sp, __u32 mode,
                                        struct mflow_state *st, __u64 gap, struct mflow_cpu_stats *stats) {
        __u32 batch = sp->batch ?: conf->batch ?: MFLOW_DEFAULT_BATCH;
        __u64 n, delta, k;
        __u32 slot;

        if (mode == MFLOW_MODE_SPLIT) {
                n = __sync_fetch_and_add(&st->split_packets, 1);
                if (n % batch == 0 && n) {
                        __sync_fetch_and_add(&st->microflows, 1);
                        if (stats)
                                stats->microflows++;
                }
                return (n / batch) % sp->ncores;
        }

        /* flowlet: move on an idle gap; after K batches without one, move every batch */
        delta = sp->flowlet_gap_ns ?: conf->flowlet_gap_ns;
        k = sp->flowlet_k ?: conf->flowlet_k;
        __sync_fetch_and_add(&st->split_packets, 1);
        slot = st->slot;
        if (gap >= delta || (k && st->gapless >= k * batch && st->slot_packets >= batch)) {
                slot = (slot + 1) % sp->ncores;
                st->slot = slot;
                st->slot_packets = 0;
                if (gap >= delta)
                        st->gapless = 0;
                __sync_fetch_and_add(&st->microflows, 1);
                if (stats)
                        stats->microflows++;
        }
        st->slot_packets++;
        st->gapless++;
        return slot;
}

/* The split decision for a flow with a mark: the XDP action. */
static __always_inline int split_packet(const struct mflow_conf *conf, const struct mflow_split *sp,
                                        struct mflow_state *st, __u64 gap, struct mflow_cpu_stats *stats) {
        __u32 mode = sp->mode ?: conf->mode, slot, cpu;
        long act;

        if (!(st->flags & MFLOW_F_SPLIT) && !(__sync_fetch_and_or(&st->flags, MFLOW_F_SPLIT) & MFLOW_F_SPLIT)) {
                st->split_packets = st->slot_packets = st->gapless = 0;
                st->slot = 0;
                idle_timer_arm(conf, st);
        } else if (st->flags & MFLOW_F_IDLE_SENT) {
                __sync_fetch_and_and(&st->flags, ~MFLOW_F_IDLE_SENT);
                idle_timer_arm(conf, st);
        }
        if (conf->mode == MFLOW_MODE_PASS || mode == MFLOW_MODE_PASS || mode >= _MFLOW_MODE_MAX)
                return XDP_PASS;
        if (sp->ncores == 0 || sp->ncores > MFLOW_MAX_CORES)
                return XDP_PASS;

        slot = split_slot(conf, sp, mode, st, gap, stats) & (MFLOW_MAX_CORES - 1);
        cpu = sp->cores[slot];
        __sync_fetch_and_add(&st->core_packets[slot], 1);
        act = bpf_redirect_map(&maio_cpumap, cpu, XDP_PASS);
        if (stats) {
                if (act == XDP_REDIRECT)
                        stats->redirects++;
                else
                        stats->redirect_errors++;
        }
        return act;
}

SEC("xdp")
int maio_xdp(struct xdp_md *ctx) {
        void *data = (void *) (long) ctx->data, *end = (void *) (long) ctx->data_end;
        struct mflow_cpu_stats *stats = stats_get();
        struct mflow_state *st, fresh;
        struct mflow_split *sp;
        struct mflow_conf *conf;
        struct parsed p;
        __u32 zero = 0, len = end - data;
        __u64 now, prev;

        conf = bpf_map_lookup_elem(&maio_conf, &zero);
        if (!conf)
                return XDP_PASS;
        if (stats) {
                stats->packets++;
                stats->bytes += len;
        }
        if (parse_packet(data, end, conf, &p) < 0) {
                if (stats)
                        stats->non_ip++;
                return XDP_PASS;
        }

        now = bpf_ktime_get_ns();
        st = bpf_map_lookup_elem(&maio_flows, &p.key);
        if (!st) {
                __builtin_memset(&fresh, 0, sizeof(fresh));
                fresh.first_ns = fresh.win_start_ns = now;
                bpf_map_update_elem(&maio_flows, &p.key, &fresh, BPF_NOEXIST);
                st = bpf_map_lookup_elem(&maio_flows, &p.key);
                if (!st)
                        return XDP_PASS;
        }
        prev = st->last_ns;
        st->last_ns = now;
        __sync_fetch_and_add(&st->bytes, len);
        __sync_fetch_and_add(&st->packets, 1);
        account_rate(conf, &p.key, st, now, len);

        sp = bpf_map_lookup_elem(&maio_split, &p.key);
        if (!sp) {
                if (st->flags & MFLOW_F_SPLIT)
                        __sync_fetch_and_and(&st->flags, ~(MFLOW_F_SPLIT | MFLOW_F_IDLE_SENT));
                return XDP_PASS;
        }
        return split_packet(conf, sp, st, prev ? now - prev : ~0ull, stats);
}

/* Runs on the splitting core for each packet the CPUMAP hands it: the real per-CPU spread. */
SEC("xdp/cpumap")
int maio_xdp_cpumap(struct xdp_md *ctx) {
        struct mflow_cpu_stats *stats = stats_get();

        if (stats)
                stats->cpumap_packets++;
        return XDP_PASS;
}

/* Makes the headers linear when the skb is not; a separate function so the compiler does not keep
 * ctx pointers across the helper call (the verifier forbids a modified ctx pointer). */
static __noinline int tc_pull_headers(struct __sk_buff *skb) {
        __u32 linear = skb->data_end - skb->data, len = skb->len;

        if (linear < TC_PULL_BYTES && len > linear)
                return bpf_skb_pull_data(skb, len < TC_PULL_BYTES ? len : TC_PULL_BYTES);
        return 0;
}

/* tc ingress on the receiving side: per flow, TCP segments (gso_segs each) whose sequence starts
 * below the highest end sequence seen, compared modulo 2^32. */
SEC("tc")
int maio_tc_ingress(struct __sk_buff *skb) {
        struct mflow_cpu_stats *stats;
        struct mflow_reorder *r, fresh;
        struct mflow_conf *conf;
        struct tcphdr *tcp;
        struct parsed p;
        __u32 zero = 0, seq, end_seq, payload, segs, cur, ooo = 0;
        void *data, *end;

        conf = bpf_map_lookup_elem(&maio_conf, &zero);
        if (!conf)
                return TC_ACT_OK;
        tc_pull_headers(skb);
        data = (void *) (long) skb->data;
        end = (void *) (long) skb->data_end;
        if (parse_packet(data, end, conf, &p) < 0 || p.key.proto != IPPROTO_TCP || !p.l4)
                return TC_ACT_OK;
        tcp = p.l4;
        if ((void *) (tcp + 1) > end || p.l4_len <= tcp->doff * 4u)
                return TC_ACT_OK; /* no payload: a pure ACK, SYN or FIN */
        payload = p.l4_len - tcp->doff * 4;
        seq = bpf_ntohl(tcp->seq);
        end_seq = seq + payload;
        segs = skb->gso_segs ?: 1;

        r = bpf_map_lookup_elem(&maio_reorder, &p.key);
        if (!r) {
                __builtin_memset(&fresh, 0, sizeof(fresh));
                fresh.max_end = seq; /* the first segment is in order by definition */
                bpf_map_update_elem(&maio_reorder, &p.key, &fresh, BPF_NOEXIST);
                r = bpf_map_lookup_elem(&maio_reorder, &p.key);
                if (!r)
                        return TC_ACT_OK;
        }
        cur = r->max_end;
        if ((__s32) (seq - cur) < 0)
                ooo = segs;
        /* Move max_end forward; a lost race retries a few times, then leaves it to the next packet. */
        for (int i = 0; i < 4 && (__s32) (end_seq - cur) > 0; i++) {
                __u32 seen = __sync_val_compare_and_swap(&r->max_end, cur, end_seq);

                if (seen == cur)
                        break;
                cur = seen;
        }
        __sync_fetch_and_add(&r->segments, segs);
        if (ooo)
                __sync_fetch_and_add(&r->ooo_segments, ooo);
        stats = stats_get();
        if (stats) {
                stats->tc_segments += segs;
                stats->tc_ooo_segments += ooo;
        }
        return TC_ACT_OK;
}
