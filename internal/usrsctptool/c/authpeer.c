/*
 * authpeer: a usrsctp endpoint with SCTP-AUTH (RFC 4895) over UDP
 * encapsulation (RFC 6951), the far end of sctpgw's SCTP-AUTH interop tests.
 * sctpgw's own code; built by the tests with the system's C compiler
 * against libusrsctp-dev.
 *
 *   authpeer server -l UDPPORT -P SCTPPORT [auth options]
 *       accepts associations one at a time and echoes every message back
 *       on its stream with its PPID, until -m associations have ended.
 *   authpeer client -l UDPPORT -a ADDR -r UDPPORT -P SCTPPORT -n N [-s SIZE]
 *       [auth options]
 *       sends N messages, checks the N echoes, shuts down.
 *
 * Auth options:
 *   -k ID:HEX   an endpoint-pair shared key (SCTP_AUTH_KEY), repeatable;
 *               the null key 0 usrsctp starts with is deleted once a key is
 *               given, so only the keys given authenticate.
 *   -A ID       the active key (SCTP_AUTH_ACTIVE_KEY); default the first.
 *   -c LIST     chunk types the peer must authenticate (SCTP_AUTH_CHUNK),
 *               comma separated decimal.
 *   -H LIST     HMAC identifiers offered (SCTP_HMAC_IDENT), e.g. 3,1.
 *
 * It prints one line per fact a test checks: "up", "peer-auth-chunks: ...",
 * "auth-supported: N", "auth-event: NEW_KEY|NO_AUTH|FREE_KEY ID",
 * "echoed: N" (server, per association), "ok: N" (client).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <usrsctp.h>

#define MAXKEYS 8
#define BUFSZ (256 * 1024)

static struct {
	int id;
	uint8_t key[256];
	int len;
} keys[MAXKEYS];
static int nkeys, active = -1;
static int chunks[64], nchunks;
static uint16_t hmacs[8];
static int nhmacs;

static void die(const char *what)
{
	fprintf(stdout, "error: %s: %s\n", what, strerror(errno));
	fflush(stdout);
	exit(1);
}

static int parse_list(const char *s, int *out, int max)
{
	int n = 0;
	while (*s && n < max) {
		out[n++] = (int)strtol(s, (char **)&s, 10);
		if (*s == ',')
			s++;
	}
	return n;
}

static void add_key(const char *arg)
{
	const char *colon = strchr(arg, ':');
	if (!colon || nkeys == MAXKEYS) {
		fprintf(stdout, "error: bad -k %s\n", arg);
		exit(2);
	}
	keys[nkeys].id = atoi(arg);
	const char *h = colon + 1;
	int n = 0;
	while (h[0] && h[1] && n < (int)sizeof(keys[0].key)) {
		unsigned v;
		sscanf(h, "%2x", &v);
		keys[nkeys].key[n++] = (uint8_t)v;
		h += 2;
	}
	keys[nkeys].len = n;
	nkeys++;
}

/* setup_auth applies the auth options to socket s (endpoint-wide). */
static void setup_auth(struct socket *s)
{
	for (int i = 0; i < nchunks; i++) {
		struct sctp_authchunk ac = {.sauth_chunk = (uint8_t)chunks[i]};
		if (usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_AUTH_CHUNK, &ac, sizeof ac) < 0)
			die("SCTP_AUTH_CHUNK");
	}
	if (nhmacs > 0) {
		size_t sz = sizeof(struct sctp_hmacalgo) + nhmacs * sizeof(uint16_t);
		struct sctp_hmacalgo *ha = calloc(1, sz);
		ha->shmac_number_of_idents = nhmacs;
		memcpy(ha->shmac_idents, hmacs, nhmacs * sizeof(uint16_t));
		if (usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_HMAC_IDENT, ha, sz) < 0)
			die("SCTP_HMAC_IDENT");
		free(ha);
	}
	for (int i = 0; i < nkeys; i++) {
		size_t sz = sizeof(struct sctp_authkey) + keys[i].len;
		struct sctp_authkey *ak = calloc(1, sz);
		ak->sca_assoc_id = SCTP_FUTURE_ASSOC;
		ak->sca_keynumber = keys[i].id;
		ak->sca_keylength = keys[i].len;
		memcpy(ak->sca_key, keys[i].key, keys[i].len);
		if (usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_AUTH_KEY, ak, sz) < 0)
			die("SCTP_AUTH_KEY");
		free(ak);
	}
	if (nkeys > 0) {
		struct sctp_authkeyid kid = {.scact_assoc_id = SCTP_FUTURE_ASSOC};
		kid.scact_keynumber = active >= 0 ? active : keys[0].id;
		if (usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_AUTH_ACTIVE_KEY, &kid, sizeof kid) < 0)
			die("SCTP_AUTH_ACTIVE_KEY");
		int have0 = 0;
		for (int i = 0; i < nkeys; i++)
			have0 |= keys[i].id == 0;
		if (!have0) {
			kid.scact_keynumber = 0;
			if (usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_AUTH_DELETE_KEY, &kid, sizeof kid) < 0)
				die("SCTP_AUTH_DELETE_KEY 0");
		}
	}
	int on = 1;
	if (usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_RECVRCVINFO, &on, sizeof on) < 0)
		die("SCTP_RECVRCVINFO");
	if (usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_NODELAY, &on, sizeof on) < 0)
		die("SCTP_NODELAY");
	uint16_t evs[] = {SCTP_ASSOC_CHANGE, SCTP_AUTHENTICATION_EVENT};
	for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++) {
		struct sctp_event ev = {.se_assoc_id = SCTP_FUTURE_ASSOC, .se_type = evs[i], .se_on = 1};
		if (usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_EVENT, &ev, sizeof ev) < 0)
			die("SCTP_EVENT");
	}
}

/* report_up prints what the association negotiated. */
static void report_up(struct socket *s)
{
	uint8_t buf[sizeof(struct sctp_authchunks) + 256];
	struct sctp_authchunks *ac = (struct sctp_authchunks *)buf;
	socklen_t len = sizeof buf;
	ac->gauth_assoc_id = 0;
	printf("up\n");
	if (usrsctp_getsockopt(s, IPPROTO_SCTP, SCTP_PEER_AUTH_CHUNKS, ac, &len) == 0) {
		/* Debian's libusrsctp writes a 32-bit count before the list
		 * (gauth_number_of_chunks, left out of its header): skip it
		 * when it is there. */
		uint8_t *c = ac->gauth_chunks;
		int n = (int)len - (int)sizeof(struct sctp_authchunks);
		uint32_t count;
		if (n >= 4) {
			memcpy(&count, c, 4);
			if ((int)count == n - 4) {
				c += 4;
				n -= 4;
			}
		}
		printf("peer-auth-chunks:");
		for (int i = 0; i < n; i++)
			printf(" %d", c[i]);
		printf("\n");
	}
	struct sctp_assoc_value av = {.assoc_id = 0};
	len = sizeof av;
	if (usrsctp_getsockopt(s, IPPROTO_SCTP, SCTP_AUTH_SUPPORTED, &av, &len) == 0)
		printf("auth-supported: %u\n", av.assoc_value);
	fflush(stdout);
}

static void notification(const union sctp_notification *n)
{
	if (n->sn_header.sn_type != SCTP_AUTHENTICATION_EVENT)
		return;
	const struct sctp_authkey_event *e = &n->sn_auth_event;
	const char *what = e->auth_indication == SCTP_AUTH_NEW_KEY ? "NEW_KEY"
	                 : e->auth_indication == SCTP_AUTH_NO_AUTH ? "NO_AUTH"
	                 : e->auth_indication == SCTP_AUTH_FREE_KEY ? "FREE_KEY" : "?";
	printf("auth-event: %s %u\n", what, e->auth_keynumber);
	fflush(stdout);
}

/* recv_msg reads one whole message (or notification) into buf; it returns
 * its length, 0 at the end of the association, -1 on error. */
static ssize_t recv_msg(struct socket *s, char *buf, struct sctp_rcvinfo *ri, int *notif)
{
	size_t got = 0;
	for (;;) {
		struct sctp_rcvinfo info;
		socklen_t infolen = sizeof info;
		unsigned int infotype = 0;
		int flags = 0;
		ssize_t n = usrsctp_recvv(s, buf + got, BUFSZ - got, NULL, NULL, &info, &infolen, &infotype, &flags);
		if (n <= 0)
			return n;
		got += n;
		if (infotype == SCTP_RECVV_RCVINFO)
			*ri = info;
		*notif = (flags & MSG_NOTIFICATION) != 0;
		if (flags & MSG_EOR || got == BUFSZ)
			return got;
	}
}

static int serve(struct socket *conn)
{
	static char buf[BUFSZ];
	int echoed = 0;
	report_up(conn);
	for (;;) {
		struct sctp_rcvinfo ri = {0};
		int notif = 0;
		ssize_t n = recv_msg(conn, buf, &ri, &notif);
		if (n <= 0)
			break;
		if (notif) {
			notification((union sctp_notification *)buf);
			continue;
		}
		struct sctp_sndinfo si = {.snd_sid = ri.rcv_sid, .snd_ppid = ri.rcv_ppid, .snd_flags = ri.rcv_flags & SCTP_UNORDERED};
		if (usrsctp_sendv(conn, buf, n, NULL, 0, &si, sizeof si, SCTP_SENDV_SNDINFO, 0) < 0)
			die("sendv");
		echoed++;
	}
	printf("echoed: %d\n", echoed);
	fflush(stdout);
	usrsctp_close(conn);
	return 0;
}

static void fill(char *b, int i, int size)
{
	for (int j = 0; j < size; j++)
		b[j] = (char)('a' + (i * 7 + j) % 26);
	char tag[16];
	int l = snprintf(tag, sizeof tag, "msg%08d", i % 100000000);
	memcpy(b, tag, l < size ? l : size);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: authpeer server|client options\n");
		return 2;
	}
	int server = strcmp(argv[1], "server") == 0;
	int lport = 0, rport = 0, sport = 0, n = 10, size = 100, assocs = 1, opt;
	const char *addr = "127.0.0.1";
	optind = 2;
	while ((opt = getopt(argc, argv, "l:r:a:P:n:s:m:k:A:c:H:")) != -1) {
		int list[8];
		switch (opt) {
		case 'l': lport = atoi(optarg); break;
		case 'r': rport = atoi(optarg); break;
		case 'a': addr = optarg; break;
		case 'P': sport = atoi(optarg); break;
		case 'n': n = atoi(optarg); break;
		case 's': size = atoi(optarg); break;
		case 'm': assocs = atoi(optarg); break;
		case 'k': add_key(optarg); break;
		case 'A': active = atoi(optarg); break;
		case 'c': nchunks = parse_list(optarg, chunks, 64); break;
		case 'H':
			nhmacs = parse_list(optarg, list, 8);
			for (int i = 0; i < nhmacs; i++)
				hmacs[i] = (uint16_t)list[i];
			break;
		default: return 2;
		}
	}
	if (size < 12 || size > BUFSZ) {
		fprintf(stderr, "size out of range\n");
		return 2;
	}
	usrsctp_init(lport, NULL, NULL);
	usrsctp_sysctl_set_sctp_auth_enable(1);
	struct socket *s = usrsctp_socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP, NULL, NULL, 0, NULL);
	if (!s)
		die("socket");
	setup_auth(s);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(sport)};
	if (server) {
		sin.sin_addr.s_addr = htonl(INADDR_ANY);
		if (usrsctp_bind(s, (struct sockaddr *)&sin, sizeof sin) < 0)
			die("bind");
		if (usrsctp_listen(s, 1) < 0)
			die("listen");
		printf("listening\n");
		fflush(stdout);
		for (int i = 0; i < assocs; i++) {
			struct socket *conn = usrsctp_accept(s, NULL, NULL);
			if (!conn)
				die("accept");
			serve(conn);
		}
	} else {
		struct sctp_udpencaps enc = {0};
		struct sockaddr_in *ea = (struct sockaddr_in *)&enc.sue_address;
		ea->sin_family = AF_INET;
		enc.sue_port = htons(rport);
		if (usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_REMOTE_UDP_ENCAPS_PORT, &enc, sizeof enc) < 0)
			die("SCTP_REMOTE_UDP_ENCAPS_PORT");
		inet_pton(AF_INET, addr, &sin.sin_addr);
		if (usrsctp_connect(s, (struct sockaddr *)&sin, sizeof sin) < 0)
			die("connect");
		report_up(s);
		static char out[BUFSZ], in[BUFSZ];
		for (int i = 0; i < n; i++) {
			fill(out, i, size);
			struct sctp_sndinfo si = {.snd_sid = (uint16_t)(i % 3), .snd_ppid = htonl(18)};
			if (usrsctp_sendv(s, out, size, NULL, 0, &si, sizeof si, SCTP_SENDV_SNDINFO, 0) < 0)
				die("sendv");
		}
		int ok = 0, next[3] = {0, 1, 2};
		while (ok < n) {
			struct sctp_rcvinfo ri = {0};
			int notif = 0;
			ssize_t got = recv_msg(s, in, &ri, &notif);
			if (got <= 0)
				break;
			if (notif) {
				notification((union sctp_notification *)in);
				continue;
			}
			int sid = ri.rcv_sid % 3, i = next[sid];
			fill(out, i, size);
			if (got != size || memcmp(in, out, size) != 0 || ri.rcv_ppid != htonl(18)) {
				printf("error: echo %d on stream %d differs\n", i, sid);
				return 1;
			}
			next[sid] += 3;
			ok++;
		}
		printf("ok: %d\n", ok);
		fflush(stdout);
		usrsctp_close(s);
		s = NULL;
	}
	if (s)
		usrsctp_close(s);
	for (int i = 0; i < 100 && usrsctp_finish() != 0; i++)
		usleep(50000);
	return 0;
}
