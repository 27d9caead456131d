// Syscall loop for the kernel benchmark (src/bench/kernel.bench.ts): nanoseconds per call of
//   open PATH N          open(PATH, O_RDONLY) + close
//   udp PORT N           socket(AF_INET, SOCK_DGRAM) + connect(127.0.0.1:PORT) + close
//   tcp PORT N           socket(AF_INET, SOCK_STREAM) + connect(127.0.0.1:PORT) + close
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc != 4)
		return 2;
	long n = atol(argv[3]);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2])) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	int udp = !strcmp(argv[1], "udp"), tcp = !strcmp(argv[1], "tcp");
	double t0 = now();
	for (long i = 0; i < n; i++) {
		if (!udp && !tcp) {
			int fd = open(argv[2], O_RDONLY | O_CLOEXEC);
			if (fd < 0) {
				perror("open");
				return 1;
			}
			close(fd);
		} else {
			int fd = socket(AF_INET, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
			if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a)) {
				perror("connect");
				return 1;
			}
			close(fd);
		}
	}
	printf("%.1f\n", (now() - t0) / n);
	return 0;
}
