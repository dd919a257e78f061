/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The stand-in NIC's wire cutter: a tc egress program (direct action) that drops every packet,
 * used by tests/bench/maio/run when nft is not installed. Built with clang -target bpf. */

#define TC_ACT_SHOT 2

__attribute__((section("tc"), used)) int maio_bench_drop(void *skb) {
        return TC_ACT_SHOT;
}

char _license[] __attribute__((section("license"), used)) = "GPL";
