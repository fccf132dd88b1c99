/*
 * relay: an SCTP relay built on usrsctp, the one a lab engineer would write
 * without sctpgw; the benchmark's point of comparison for a gateway pair.
 * sctpgw's own code; built by the benchmark with the system's C compiler
 * against libusrsctp-dev.
 *
 *   relay -u UDPPORT -l ADDR -p PORT [-p PORT...] -d ADDR [-e ENCAPSPORT]
 *
 * It accepts associations on ADDR:PORT (-l, -p, up to 8 ports), natively
 * or over UDP encapsulation on UDPPORT (usrsctp takes both), and for each
 * dials the same port at the other ADDR (-d): over UDP encapsulation to the
 * peer's ENCAPSPORT (-e), natively without -e. Two threads per association
 * copy every message each way with its stream, PPID and unordered flag;
 * when one side ends (SHUTDOWN or ABORT) the other is shut down. The edge
 * of a pair runs "-l RAN -p P -d CORE -e 9899", the core "-l CORE -p P -d
 * MME". Socket buffers are 1 MiB each way, SCTP_NODELAY is on (as sctpgw's
 * routes default to). It prints "listening", then one line per
 * association when it ends: "relayed: port P: IN OUT" (messages each way).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <usrsctp.h>

#define BUFSZ (256 * 1024)
#define SOCKBUF (1 << 20)

static void die(const char *what)
{
	fprintf(stdout, "error: %s: %s\n", what, strerror(errno));
	fflush(stdout);
	exit(1);
}

static void tune(struct socket *s)
{
	int on = 1, size = SOCKBUF;
	if (usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_RECVRCVINFO, &on, sizeof on) < 0)
		die("SCTP_RECVRCVINFO");
	if (usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_NODELAY, &on, sizeof on) < 0)
		die("SCTP_NODELAY");
	if (usrsctp_setsockopt(s, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) < 0)
		die("SO_RCVBUF");
	if (usrsctp_setsockopt(s, SOL_SOCKET, SO_SNDBUF, &size, sizeof size) < 0)
		die("SO_SNDBUF");
	struct sctp_initmsg im = {.sinit_num_ostreams = 64, .sinit_max_instreams = 64};
	if (usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_INITMSG, &im, sizeof im) < 0)
		die("SCTP_INITMSG");
}

struct dir {
	struct socket *from, *to;
	long msgs;
};

/* copy moves whole messages from d->from to d->to until from ends. */
static void *copy(void *arg)
{
	struct dir *d = arg;
	char *buf = malloc(BUFSZ);
	size_t got = 0;
	struct sctp_rcvinfo ri = {0};
	for (;;) {
		struct sctp_rcvinfo info;
		socklen_t infolen = sizeof info;
		unsigned int infotype = 0;
		int flags = 0;
		ssize_t n = usrsctp_recvv(d->from, buf + got, BUFSZ - got, NULL, NULL, &info, &infolen, &infotype, &flags);
		if (n <= 0)
			break;
		if (flags & MSG_NOTIFICATION)
			continue;
		if (got == 0 && infotype == SCTP_RECVV_RCVINFO)
			ri = info;
		got += n;
		if (!(flags & MSG_EOR) && got < BUFSZ)
			continue;
		struct sctp_sndinfo si = {.snd_sid = ri.rcv_sid, .snd_ppid = ri.rcv_ppid,
		                          .snd_flags = ri.rcv_flags & SCTP_UNORDERED};
		if (usrsctp_sendv(d->to, buf, got, NULL, 0, &si, sizeof si, SCTP_SENDV_SNDINFO, 0) < 0)
			break;
		d->msgs++;
		got = 0;
	}
	usrsctp_shutdown(d->to, SHUT_WR);
	free(buf);
	return NULL;
}

static const char *laddr, *daddr;
static int encaps;

/* session relays one accepted association: it dials the far side, copies
 * both ways and closes both when both directions have ended. */
static void *session(void *arg)
{
	struct socket *in = arg;
	struct sockaddr_in self;
	struct sockaddr *addrs = NULL;
	int port = 0;
	/* The port the association was accepted on is the port to dial. */
	if (usrsctp_getladdrs(in, 0, &addrs) > 0) {
		memcpy(&self, addrs, sizeof self);
		port = ntohs(self.sin_port);
		usrsctp_freeladdrs(addrs);
	}
	struct socket *out = usrsctp_socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP, NULL, NULL, 0, NULL);
	if (!out)
		die("socket");
	tune(out);
	if (encaps) {
		struct sctp_udpencaps enc = {0};
		((struct sockaddr_in *)&enc.sue_address)->sin_family = AF_INET;
		enc.sue_port = htons(encaps);
		if (usrsctp_setsockopt(out, IPPROTO_SCTP, SCTP_REMOTE_UDP_ENCAPS_PORT, &enc, sizeof enc) < 0)
			die("SCTP_REMOTE_UDP_ENCAPS_PORT");
	}
	struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(port)};
	inet_pton(AF_INET, daddr, &dst.sin_addr);
	if (port == 0 || usrsctp_connect(out, (struct sockaddr *)&dst, sizeof dst) < 0) {
		printf("error: connect to port %d: %s\n", port, strerror(errno));
		fflush(stdout);
		usrsctp_close(out);
		usrsctp_close(in);
		return NULL;
	}
	struct dir up = {in, out, 0}, down = {out, in, 0};
	pthread_t t;
	pthread_create(&t, NULL, copy, &down);
	copy(&up);
	pthread_join(t, NULL);
	printf("relayed: port %d: %ld %ld\n", port, up.msgs, down.msgs);
	fflush(stdout);
	usrsctp_close(out);
	usrsctp_close(in);
	return NULL;
}

/* serve accepts on one listening socket for ever. */
static void *serve(void *arg)
{
	struct socket *ln = arg;
	for (;;) {
		struct socket *in = usrsctp_accept(ln, NULL, NULL);
		if (!in)
			die("accept");
		pthread_t t;
		pthread_create(&t, NULL, session, in);
		pthread_detach(t);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int uport = 9899, ports[8], nports = 0, opt;
	while ((opt = getopt(argc, argv, "u:l:p:d:e:")) != -1) {
		switch (opt) {
		case 'u': uport = atoi(optarg); break;
		case 'l': laddr = optarg; break;
		case 'p':
			if (nports < 8)
				ports[nports++] = atoi(optarg);
			break;
		case 'd': daddr = optarg; break;
		case 'e': encaps = atoi(optarg); break;
		default: return 2;
		}
	}
	if (!laddr || !daddr || nports == 0) {
		fprintf(stderr, "usage: relay -u UDPPORT -l ADDR -p PORT [-p PORT...] -d ADDR [-e ENCAPSPORT]\n");
		return 2;
	}
	usrsctp_init(uport, NULL, NULL);
	pthread_t t;
	for (int i = 0; i < nports; i++) {
		struct socket *ln = usrsctp_socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP, NULL, NULL, 0, NULL);
		if (!ln)
			die("socket");
		tune(ln);
		struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(ports[i])};
		inet_pton(AF_INET, laddr, &sin.sin_addr);
		if (usrsctp_bind(ln, (struct sockaddr *)&sin, sizeof sin) < 0)
			die("bind");
		if (usrsctp_listen(ln, 16) < 0)
			die("listen");
		pthread_create(&t, NULL, serve, ln);
	}
	printf("listening\n");
	fflush(stdout);
	pthread_join(t, NULL);
	return 0;
}
