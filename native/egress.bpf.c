// SPDX-License-Identifier: GPL-2.0
// Cordon egress allowlist for one agent's cgroup v2 group: connect() and sendmsg() to an
// address and port that no entry of the LPM tries covers fail with EPERM.
// Key layout: 16 bits of destination port (network order; 0 = any port) then the address,
// so an entry's prefix length is 16 + the CIDR bits.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct key4 {
	__u32 prefixlen;
	__u8 data[6];
} __attribute__((packed));

struct key6 {
	__u32 prefixlen;
	__u8 data[18];
} __attribute__((packed));

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__type(key, struct key4);
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} allow4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__type(key, struct key6);
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} allow6 SEC(".maps");

static __always_inline int lookup4(__u32 ip_be, __u32 port_be)
{
	struct key4 k = { .prefixlen = 48 };
	__u16 port = (__u16)port_be;
	__builtin_memcpy(&k.data[0], &port, 2);
	__builtin_memcpy(&k.data[2], &ip_be, 4);
	if (bpf_map_lookup_elem(&allow4, &k))
		return 1;
	k.data[0] = 0;
	k.data[1] = 0;
	return bpf_map_lookup_elem(&allow4, &k) ? 1 : 0;
}

static __always_inline int lookup6(const __u32 *ip_be, __u32 port_be)
{
	/* An IPv4-mapped address (::ffff:a.b.c.d) is an IPv4 destination. */
	if (ip_be[0] == 0 && ip_be[1] == 0 && ip_be[2] == bpf_htonl(0x0000ffff))
		return lookup4(ip_be[3], port_be);
	struct key6 k = { .prefixlen = 144 };
	__u16 port = (__u16)port_be;
	__builtin_memcpy(&k.data[0], &port, 2);
	__u32 a0 = ip_be[0], a1 = ip_be[1], a2 = ip_be[2], a3 = ip_be[3];
	__builtin_memcpy(&k.data[2], &a0, 4);
	__builtin_memcpy(&k.data[6], &a1, 4);
	__builtin_memcpy(&k.data[10], &a2, 4);
	__builtin_memcpy(&k.data[14], &a3, 4);
	if (bpf_map_lookup_elem(&allow6, &k))
		return 1;
	k.data[0] = 0;
	k.data[1] = 0;
	return bpf_map_lookup_elem(&allow6, &k) ? 1 : 0;
}

SEC("cgroup/connect4")
int cordon_connect4(struct bpf_sock_addr *ctx)
{
	return lookup4(ctx->user_ip4, ctx->user_port);
}

SEC("cgroup/sendmsg4")
int cordon_sendmsg4(struct bpf_sock_addr *ctx)
{
	return lookup4(ctx->user_ip4, ctx->user_port);
}

SEC("cgroup/connect6")
int cordon_connect6(struct bpf_sock_addr *ctx)
{
	__u32 ip[4] = { ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3] };
	return lookup6(ip, ctx->user_port);
}

SEC("cgroup/sendmsg6")
int cordon_sendmsg6(struct bpf_sock_addr *ctx)
{
	__u32 ip[4] = { ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3] };
	return lookup6(ip, ctx->user_port);
}

char _license[] SEC("license") = "GPL";
