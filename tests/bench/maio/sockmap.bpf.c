/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The in-kernel relay of the benchmark's Fig. 4 SOCKMAP row (issue 14 item 2's alternative to
 * splice): every segment that reaches the relay's inbound socket (the only one in `in_socks`) is
 * redirected to the egress of its outbound socket (the only one in `out_socks`) by a stream
 * verdict, and counted, so the relay process never touches the bytes. */
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

struct {
        __uint(type, BPF_MAP_TYPE_SOCKMAP);
        __uint(max_entries, 1);
        __type(key, __u32);
        __type(value, __u64);
} in_socks SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_SOCKMAP);
        __uint(max_entries, 1);
        __type(key, __u32);
        __type(value, __u64);
} out_socks SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
        __uint(max_entries, 1);
        __type(key, __u32);
        __type(value, __u64);
} relayed SEC(".maps");

SEC("sk_skb/stream_verdict")
int relay_verdict(struct __sk_buff *skb) {
        __u32 k = 0;
        __u64 *n = bpf_map_lookup_elem(&relayed, &k);

        if (n)
                *n += skb->len;
        return bpf_sk_redirect_map(skb, &out_socks, 0, 0);
}

char LICENSE[] SEC("license") = "GPL";
