// The eBPF allowlist key (see egress.bpf.c), shared by cordon-launch, which fills the maps at
// launch, and cordon-egress, which replaces their entries while the agent runs.
#ifndef CORDON_EGRESS_KEY_H
#define CORDON_EGRESS_KEY_H

#include <arpa/inet.h>
#include <linux/types.h>
#include <stdlib.h>
#include <string.h>

// Longest key: prefixlen (4) + port (2) + IPv6 address (16).
#define EGRESS_KEY_MAX 22

/*
 * FAMILY,ADDR,PREFIX,PORT → key. The address bits past the prefix are cleared, so two entries
 * for the same range compare equal byte for byte (the trie keeps one node for both).
 */
static int parse_net(const char *spec, int *family, unsigned char *key, int *keylen)
{
	char buf[128];
	if (strlen(spec) >= sizeof buf)
		return -1;
	strcpy(buf, spec);
	char *f = strtok(buf, ","), *a = strtok(NULL, ","), *p = strtok(NULL, ","),
	     *port = strtok(NULL, ",");
	if (!f || !a || !p || !port)
		return -1;
	*family = atoi(f);
	long prefix = strtol(p, NULL, 10), portn = strtol(port, NULL, 10);
	if (portn < 0 || portn > 65535)
		return -1;
	int addrlen = *family == 4 ? 4 : *family == 6 ? 16 : -1;
	if (addrlen < 0 || prefix < 0 || prefix > addrlen * 8)
		return -1;
	unsigned char addr[16];
	if (inet_pton(*family == 4 ? AF_INET : AF_INET6, a, addr) != 1)
		return -1;
	for (int bit = (int)prefix; bit < addrlen * 8; bit++)
		addr[bit / 8] &= (unsigned char)~(0x80 >> (bit % 8));
	// prefixlen (host order u32), port (network order), address
	__u32 plen = (__u32)(16 + prefix);
	memcpy(key, &plen, 4);
	key[4] = (unsigned char)(portn >> 8);
	key[5] = (unsigned char)(portn & 0xff);
	memcpy(key + 6, addr, (size_t)addrlen);
	*keylen = 6 + addrlen;
	return 0;
}

#endif
