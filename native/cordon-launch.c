// cordon-launch: applies the kernel rules Cordon compiled for an agent to this process, then
// executes the agent's command. What it applies is inherited by every child of the command.
//
//   cordon-launch [options] -- COMMAND [ARGS...]
//
//   --allow MODE:PATH    Landlock: MODE is any of r (read files, list directories),
//                        w (write, create, remove, rename) and x (execute, which the kernel
//                        checks together with reading the file), beneath PATH
//   --connect-port N     Landlock (ABI >= 4): TCP connect() to port N is allowed; with at
//                        least one, or with --deny-connect, every other port is refused
//   --deny-connect       handle TCP connect even when no port is allowed
//   --no-fs              do not restrict files (no path rules given means deny all otherwise)
//   --cgroup DIR         move into the cgroup v2 group DIR before anything else
//   --bpf OBJ            load the egress programs from OBJ and attach them to --cgroup DIR
//   --net FAMILY,ADDR,PREFIX,PORT
//                        eBPF allowlist entry (FAMILY 4 or 6, PORT 0 = any port)
//   --best-effort        apply what the kernel supports, report what it does not, go on
//   --report             print one line per mechanism to stderr
//
// Exit status: 125 when a rule could not be applied (without --best-effort), 126/127 when
// the command could not be executed, otherwise the command's own.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/types.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifdef CORDON_WITH_BPF
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "egress-key.h"
#endif

// Landlock ABI constants, defined here so the launcher builds against older headers too.
#define LL_CREATE_RULESET_VERSION (1U << 0)
#define LL_RULE_PATH_BENEATH 1
#define LL_RULE_NET_PORT 2
#define LL_FS_EXECUTE (1ULL << 0)
#define LL_FS_WRITE_FILE (1ULL << 1)
#define LL_FS_READ_FILE (1ULL << 2)
#define LL_FS_READ_DIR (1ULL << 3)
#define LL_FS_REMOVE_DIR (1ULL << 4)
#define LL_FS_REMOVE_FILE (1ULL << 5)
#define LL_FS_MAKE_CHAR (1ULL << 6)
#define LL_FS_MAKE_DIR (1ULL << 7)
#define LL_FS_MAKE_REG (1ULL << 8)
#define LL_FS_MAKE_SOCK (1ULL << 9)
#define LL_FS_MAKE_FIFO (1ULL << 10)
#define LL_FS_MAKE_BLOCK (1ULL << 11)
#define LL_FS_MAKE_SYM (1ULL << 12)
#define LL_FS_REFER (1ULL << 13)
#define LL_FS_TRUNCATE (1ULL << 14)
#define LL_FS_IOCTL_DEV (1ULL << 15)
#define LL_NET_BIND_TCP (1ULL << 0)
#define LL_NET_CONNECT_TCP (1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define LL_SCOPE_SIGNAL (1ULL << 1)

struct ll_ruleset_attr {
	__u64 handled_access_fs;
	__u64 handled_access_net;
	__u64 scoped;
};

struct ll_path_beneath_attr {
	__u64 allowed_access;
	__s32 parent_fd;
} __attribute__((packed));

struct ll_net_port_attr {
	__u64 allowed_access;
	__u64 port;
};

#define MAX_RULES 4096

struct path_rule {
	const char *path;
	int r, w, x;
};

static struct path_rule paths[MAX_RULES];
static int npaths;
static unsigned long ports[MAX_RULES];
static int nports;
static const char *nets[MAX_RULES];
static int nnets;
static int deny_connect, no_fs, best_effort, report;
static const char *cgroup_dir, *bpf_obj;
static int unenforced;

static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("cordon-launch: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

// A mechanism the kernel refused: fatal unless --best-effort, in which case it is reported.
static void refused(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs(best_effort ? "cordon-launch: NOT ENFORCED: " : "cordon-launch: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	if (!best_effort)
		exit(125);
	unenforced++;
}

static void usage(void)
{
	fputs("usage: cordon-launch [--allow MODE:PATH]... [--connect-port N]... [--deny-connect]\n"
	      "                     [--no-fs] [--cgroup DIR [--bpf OBJ] [--net F,ADDR,PREFIX,PORT]...]\n"
	      "                     [--best-effort] [--report] -- COMMAND [ARGS...]\n",
	      stderr);
	exit(125);
}

static void join_cgroup(void)
{
	char procs[4096];
	snprintf(procs, sizeof procs, "%s/cgroup.procs", cgroup_dir);
	int fd = open(procs, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		refused("cannot join cgroup %s: %s", cgroup_dir, strerror(errno));
		return;
	}
	char pid[32];
	int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
	if (write(fd, pid, (size_t)n) != n)
		refused("cannot join cgroup %s: %s", cgroup_dir, strerror(errno));
	close(fd);
}

#ifdef CORDON_WITH_BPF
static void load_bpf(void)
{
	int cg = open(cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg < 0) {
		refused("egress eBPF: cannot open cgroup %s: %s", cgroup_dir, strerror(errno));
		return;
	}
	libbpf_set_print(NULL);
	struct bpf_object *obj = bpf_object__open_file(bpf_obj, NULL);
	if (!obj) {
		refused("egress eBPF: cannot open %s: %s", bpf_obj, strerror(errno));
		close(cg);
		return;
	}
	if (bpf_object__load(obj)) {
		refused("egress eBPF: the kernel refused to load the programs: %s", strerror(errno));
		bpf_object__close(obj);
		close(cg);
		return;
	}
	int m4 = bpf_object__find_map_fd_by_name(obj, "allow4");
	int m6 = bpf_object__find_map_fd_by_name(obj, "allow6");
	for (int i = 0; i < nnets; i++) {
		unsigned char key[32];
		int family, keylen;
		if (parse_net(nets[i], &family, key, &keylen)) {
			say("bad --net entry: %s", nets[i]);
			exit(125);
		}
		__u8 one = 1;
		if (bpf_map_update_elem(family == 4 ? m4 : m6, key, &one, BPF_ANY)) {
			refused("egress eBPF: cannot add %s: %s", nets[i], strerror(errno));
		}
	}
	struct bpf_program *prog;
	int attached = 0;
	bpf_object__for_each_program(prog, obj)
	{
		if (bpf_prog_attach(bpf_program__fd(prog), cg, bpf_program__expected_attach_type(prog),
				    BPF_F_ALLOW_MULTI)) {
			refused("egress eBPF: cannot attach %s to %s: %s", bpf_program__name(prog),
				cgroup_dir, strerror(errno));
			continue;
		}
		attached++;
	}
	// The attachments hold the programs (and their maps) for as long as the group exists.
	bpf_object__close(obj);
	close(cg);
	if (report)
		say("egress eBPF: %d programs attached to %s, %d allowlist entries", attached,
		    cgroup_dir, nnets);
}
#endif

static void apply_landlock(void)
{
	int abi = (int)syscall(__NR_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
	if (abi < 0) {
		refused("Landlock is not available (%s): files, exec and TCP ports are not restricted",
			strerror(errno));
		return;
	}
	__u64 fs = 0;
	if (!no_fs) {
		fs = LL_FS_EXECUTE | LL_FS_WRITE_FILE | LL_FS_READ_FILE | LL_FS_READ_DIR |
		     LL_FS_REMOVE_DIR | LL_FS_REMOVE_FILE | LL_FS_MAKE_CHAR | LL_FS_MAKE_DIR |
		     LL_FS_MAKE_REG | LL_FS_MAKE_SOCK | LL_FS_MAKE_FIFO | LL_FS_MAKE_BLOCK |
		     LL_FS_MAKE_SYM;
		if (abi >= 2)
			fs |= LL_FS_REFER;
		if (abi >= 3)
			fs |= LL_FS_TRUNCATE;
		if (abi >= 5)
			fs |= LL_FS_IOCTL_DEV;
	}
	__u64 net = 0;
	if (nports > 0 || deny_connect) {
		if (abi >= 4)
			net = LL_NET_CONNECT_TCP;
		else
			refused("Landlock ABI %d has no TCP port rules (needs ABI 4, Linux 6.7): "
				"TCP connect ports are not restricted",
				abi);
	}
	__u64 scoped = abi >= 6 ? (LL_SCOPE_ABSTRACT_UNIX_SOCKET | LL_SCOPE_SIGNAL) : 0;
	struct ll_ruleset_attr attr = { fs, net, scoped };
	size_t size = abi >= 6 ? 24 : abi >= 4 ? 16 : 8;
	int rs = (int)syscall(__NR_landlock_create_ruleset, &attr, size, 0);
	if (rs < 0) {
		refused("Landlock refused the ruleset: %s", strerror(errno));
		return;
	}
	const __u64 file_rights = LL_FS_EXECUTE | LL_FS_WRITE_FILE | LL_FS_READ_FILE |
				  LL_FS_TRUNCATE | LL_FS_IOCTL_DEV;
	int nfs = 0;
	for (int i = 0; i < npaths && fs; i++) {
		__u64 a = 0;
		if (paths[i].r)
			a |= LL_FS_READ_FILE | LL_FS_READ_DIR;
		if (paths[i].w)
			a |= LL_FS_WRITE_FILE | LL_FS_TRUNCATE | LL_FS_REMOVE_DIR | LL_FS_REMOVE_FILE |
			     LL_FS_MAKE_DIR | LL_FS_MAKE_REG | LL_FS_MAKE_SYM | LL_FS_MAKE_SOCK |
			     LL_FS_MAKE_FIFO | LL_FS_REFER | LL_FS_IOCTL_DEV;
		if (paths[i].x) // execve opens the file for reading too
			a |= LL_FS_EXECUTE | LL_FS_READ_FILE;
		int fd = open(paths[i].path, O_PATH | O_CLOEXEC);
		if (fd < 0) {
			// Nothing there to grant: the rule stays empty, nothing is widened.
			if (report)
				say("skipped %s: %s", paths[i].path, strerror(errno));
			continue;
		}
		struct stat st;
		if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
			a &= file_rights;
		a &= fs;
		struct ll_path_beneath_attr pb = { .allowed_access = a, .parent_fd = fd };
		if (a && syscall(__NR_landlock_add_rule, rs, LL_RULE_PATH_BENEATH, &pb, 0)) {
			say("cannot add the rule for %s: %s", paths[i].path, strerror(errno));
			exit(125);
		}
		close(fd);
		nfs++;
	}
	for (int i = 0; i < nports && net; i++) {
		struct ll_net_port_attr np = { .allowed_access = LL_NET_CONNECT_TCP, .port = ports[i] };
		if (syscall(__NR_landlock_add_rule, rs, LL_RULE_NET_PORT, &np, 0)) {
			say("cannot add the rule for port %lu: %s", ports[i], strerror(errno));
			exit(125);
		}
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		refused("cannot set no_new_privs: %s", strerror(errno));
		close(rs);
		return;
	}
	if (syscall(__NR_landlock_restrict_self, rs, 0)) {
		refused("Landlock refused to restrict this process: %s", strerror(errno));
		close(rs);
		return;
	}
	close(rs);
	if (report)
		say("landlock ABI %d: files %s (%d path rules), TCP connect %s (%d ports), scoping %s",
		    abi, fs ? "restricted" : "not restricted", nfs,
		    net ? "restricted" : "not restricted", nports, scoped ? "on" : "unavailable");
}

/*
 * A root agent keeps no capability, now or after execve: with CAP_SYS_ADMIN or CAP_BPF it could
 * detach the egress programs, with CAP_NET_RAW send packets no connect hook sees. Dropping the
 * bounding set makes execve grant root nothing; the current sets are cleared as well.
 */
static void drop_capabilities(void)
{
	if (geteuid() != 0)
		return; // no_new_privs already keeps file capabilities and setuid from granting any
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL) {
		refused("cannot clear the ambient capabilities: %s", strerror(errno));
		return;
	}
	for (int cap = 0; cap <= 63; cap++) {
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0 || errno == EINVAL)
			continue; // dropped, or past the last capability this kernel knows
		refused("cannot drop capability %d from the bounding set: %s", cap, strerror(errno));
		return;
	}
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof data);
	if (syscall(SYS_capset, &hdr, data))
		refused("cannot clear the capabilities: %s", strerror(errno));
	else if (report)
		say("capabilities: none (the agent runs as root without privileges)");
}

int main(int argc, char **argv)
{
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			i++;
			break;
		} else if (!strcmp(a, "--allow") && i + 1 < argc) {
			const char *spec = argv[++i], *colon = strchr(spec, ':');
			if (!colon || npaths >= MAX_RULES)
				usage();
			struct path_rule *p = &paths[npaths++];
			p->path = colon + 1;
			for (const char *m = spec; m < colon; m++) {
				if (*m == 'r')
					p->r = 1;
				else if (*m == 'w')
					p->w = 1;
				else if (*m == 'x')
					p->x = 1;
				else
					usage();
			}
		} else if (!strcmp(a, "--connect-port") && i + 1 < argc && nports < MAX_RULES) {
			char *end;
			unsigned long port = strtoul(argv[++i], &end, 10);
			if (*end || port > 65535)
				usage();
			ports[nports++] = port;
		} else if (!strcmp(a, "--net") && i + 1 < argc && nnets < MAX_RULES) {
			nets[nnets++] = argv[++i];
		} else if (!strcmp(a, "--cgroup") && i + 1 < argc) {
			cgroup_dir = argv[++i];
		} else if (!strcmp(a, "--bpf") && i + 1 < argc) {
			bpf_obj = argv[++i];
		} else if (!strcmp(a, "--deny-connect")) {
			deny_connect = 1;
		} else if (!strcmp(a, "--no-fs")) {
			no_fs = 1;
		} else if (!strcmp(a, "--best-effort")) {
			best_effort = 1;
		} else if (!strcmp(a, "--report")) {
			report = 1;
		} else {
			usage();
		}
	}
	if (i >= argc)
		usage();

	if (cgroup_dir && bpf_obj) {
#ifdef CORDON_WITH_BPF
		load_bpf();
#else
		refused("egress eBPF: this launcher was built without libbpf "
			"(install libbpf-dev and rebuild): IP egress is not restricted");
#endif
	}
	// Join the group after its programs are attached, so no connect() slips through.
	if (cgroup_dir)
		join_cgroup();
	apply_landlock();
	drop_capabilities();
	if (unenforced && report)
		say("%d mechanism(s) not enforced (--best-effort)", unenforced);

	execvp(argv[i], &argv[i]);
	int e = errno;
	say("cannot execute %s: %s", argv[i], strerror(e));
	return e == ENOENT ? 127 : 126;
}
