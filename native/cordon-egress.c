// cordon-egress: changes the egress allowlist of an agent that is already running, in place.
// `cordon run` calls it when the agent's isolation changes (docs/kernel.md, "Isolation of a
// running agent"). The programs stay loaded and attached; only their LPM-trie maps change, so
// the next connect() or sendmsg() of every process in the group sees the new list.
//
//   cordon-egress set CGROUPDIR [FAMILY,ADDR,PREFIX,PORT]...
//       the allowlist becomes exactly these entries (none: nothing is allowed)
//   cordon-egress list CGROUPDIR
//       prints the entries, one FAMILY,ADDR,PREFIX,PORT a line
//   cordon-egress serve CGROUPDIR
//       a `set` per stdin line (entries separated by spaces), answered by its status line
//
// The maps are found from the group itself (the programs attached to it, then their maps), so
// nothing is pinned and nothing outlives the group. New entries go in before old ones come
// out: an entry in both lists is never missing, not even for an instant.
//
// Exit status: 0 done; 2 usage; 3 no Cordon programs on the group; 4 a map update failed.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "egress-key.h"

#define MAX_ENTRIES 1024

static int usage(void)
{
	fputs("usage: cordon-egress set CGROUPDIR [FAMILY,ADDR,PREFIX,PORT]...\n"
	      "       cordon-egress list CGROUPDIR\n"
	      "       cordon-egress serve CGROUPDIR\n",
	      stderr);
	return 2;
}

/* The allow4/allow6 maps of the cordon_* programs attached to the group (fds, or -1). */
static void find_maps(int cg, int *m4, int *m6)
{
	*m4 = *m6 = -1;
	enum bpf_attach_type types[] = { BPF_CGROUP_INET4_CONNECT, BPF_CGROUP_INET6_CONNECT };
	for (unsigned t = 0; t < sizeof types / sizeof types[0]; t++) {
		__u32 ids[64], cnt = 64, flags = 0;
		if (bpf_prog_query(cg, types[t], 0, &flags, ids, &cnt))
			continue;
		for (__u32 i = 0; i < cnt; i++) {
			int pfd = bpf_prog_get_fd_by_id(ids[i]);
			if (pfd < 0)
				continue;
			__u32 map_ids[16];
			struct bpf_prog_info pinfo;
			memset(&pinfo, 0, sizeof pinfo);
			pinfo.nr_map_ids = 16;
			pinfo.map_ids = (__u64)(unsigned long)map_ids;
			__u32 plen = sizeof pinfo;
			if (bpf_obj_get_info_by_fd(pfd, &pinfo, &plen) ||
			    strncmp(pinfo.name, "cordon_", 7)) {
				close(pfd);
				continue;
			}
			for (__u32 j = 0; j < pinfo.nr_map_ids && j < 16; j++) {
				int mfd = bpf_map_get_fd_by_id(map_ids[j]);
				if (mfd < 0)
					continue;
				struct bpf_map_info minfo;
				memset(&minfo, 0, sizeof minfo);
				__u32 mlen = sizeof minfo;
				int *slot = NULL;
				if (!bpf_obj_get_info_by_fd(mfd, &minfo, &mlen)) {
					if (!strcmp(minfo.name, "allow4"))
						slot = m4;
					else if (!strcmp(minfo.name, "allow6"))
						slot = m6;
				}
				if (slot && *slot < 0)
					*slot = mfd;
				else
					close(mfd);
			}
			close(pfd);
		}
	}
}

struct entry {
	unsigned char key[EGRESS_KEY_MAX];
};

/* Every key of the map (at most MAX_ENTRIES); -1 on error. */
static int keys_of(int map, int keylen, struct entry *out)
{
	int n = 0;
	unsigned char cur[EGRESS_KEY_MAX], next[EGRESS_KEY_MAX];
	const void *prev = NULL;
	while (n < MAX_ENTRIES && bpf_map_get_next_key(map, prev, next) == 0) {
		memcpy(out[n++].key, next, (size_t)keylen);
		memcpy(cur, next, (size_t)keylen);
		prev = cur;
	}
	return errno == ENOENT || n == MAX_ENTRIES ? n : -1;
}

static void print_key(int family, const unsigned char *k)
{
	__u32 plen;
	memcpy(&plen, k, 4);
	char addr[INET6_ADDRSTRLEN];
	inet_ntop(family == 4 ? AF_INET : AF_INET6, k + 6, addr, sizeof addr);
	printf("%d,%s,%u,%u\n", family, addr, plen - 16, (unsigned)(k[4] << 8 | k[5]));
}

static struct entry want[2][MAX_ENTRIES], have[MAX_ENTRIES];
static int nwant[2];

/* The wanted entries from FAMILY,ADDR,PREFIX,PORT specs; 2 when one is bad. */
static int parse_entries(char **specs, int n)
{
	nwant[0] = nwant[1] = 0;
	for (int i = 0; i < n; i++) {
		int family, keylen;
		unsigned char key[EGRESS_KEY_MAX];
		if (parse_net(specs[i], &family, key, &keylen)) {
			fprintf(stderr, "cordon-egress: bad entry %s\n", specs[i]);
			return 2;
		}
		int f = family == 4 ? 0 : 1;
		if (nwant[f] >= MAX_ENTRIES) {
			fprintf(stderr, "cordon-egress: more than %d entries\n", MAX_ENTRIES);
			return 2;
		}
		memcpy(want[f][nwant[f]++].key, key, (size_t)keylen);
	}
	return 0;
}

/* The group's maps into maps[0..1]; 3 when the programs are not (yet) attached. */
static int open_maps(const char *dir, int maps[2])
{
	int cg = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg < 0) {
		fprintf(stderr, "cordon-egress: cannot open the group %s: %s\n", dir, strerror(errno));
		return 3;
	}
	find_maps(cg, &maps[0], &maps[1]);
	close(cg);
	if (maps[0] < 0 || maps[1] < 0) {
		if (maps[0] >= 0)
			close(maps[0]);
		if (maps[1] >= 0)
			close(maps[1]);
		maps[0] = maps[1] = -1;
		fprintf(stderr, "cordon-egress: no Cordon egress programs are attached to %s\n", dir);
		return 3;
	}
	return 0;
}

/* Lists the maps (list) or makes them hold exactly the wanted entries; 4 when one failed. */
static int apply(int maps[2], int list)
{
	int failed = 0;
	for (int f = 0; f < 2; f++) {
		int keylen = f == 0 ? 10 : 22, family = f == 0 ? 4 : 6;
		int n = keys_of(maps[f], keylen, have);
		if (n < 0) {
			fprintf(stderr, "cordon-egress: cannot read the IPv%d allowlist: %s\n", family,
				strerror(errno));
			failed = 1;
			continue;
		}
		if (list) {
			for (int i = 0; i < n; i++)
				print_key(family, have[i].key);
			continue;
		}
		__u8 one = 1;
		for (int i = 0; i < nwant[f]; i++)
			if (bpf_map_update_elem(maps[f], want[f][i].key, &one, BPF_ANY)) {
				fprintf(stderr, "cordon-egress: cannot add an IPv%d entry: %s\n", family,
					strerror(errno));
				failed = 1;
			}
		for (int i = 0; i < n; i++) {
			int keep = 0;
			for (int j = 0; j < nwant[f] && !keep; j++)
				keep = !memcmp(have[i].key, want[f][j].key, (size_t)keylen);
			if (!keep && bpf_map_delete_elem(maps[f], have[i].key) && errno != ENOENT) {
				fprintf(stderr, "cordon-egress: cannot remove an IPv%d entry: %s\n",
					family, strerror(errno));
				failed = 1;
			}
		}
	}
	return failed ? 4 : 0;
}

/*
 * serve: one `set` per stdin line (the entries separated by spaces; an empty line allows
 * nothing), answered by one line with its exit status, so `cordon run` changes the allowlist
 * without starting a process each time. The maps are looked up again until they are found.
 */
static int serve(const char *dir)
{
	int maps[2] = { -1, -1 };
	char *line = NULL;
	size_t cap = 0;
	static char *specs[2 * MAX_ENTRIES];
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (getline(&line, &cap, stdin) >= 0) {
		int n = 0, rc;
		for (char *tok = strtok(line, " \t\r\n"); tok && n < 2 * MAX_ENTRIES;
		     tok = strtok(NULL, " \t\r\n"))
			specs[n++] = tok;
		rc = parse_entries(specs, n);
		if (!rc && maps[0] < 0)
			rc = open_maps(dir, maps);
		if (!rc)
			rc = apply(maps, 0);
		printf("%d\n", rc);
	}
	free(line);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return usage();
	libbpf_set_print(NULL);
	if (!strcmp(argv[1], "serve"))
		return argc == 3 ? serve(argv[2]) : usage();
	int list = !strcmp(argv[1], "list");
	if (!list && strcmp(argv[1], "set"))
		return usage();
	if (list && argc != 3)
		return usage();
	int rc = list ? 0 : parse_entries(argv + 3, argc - 3);
	int maps[2];
	if (!rc)
		rc = open_maps(argv[2], maps);
	return rc ? rc : apply(maps, list);
}
