/* options.h - qund's settings: the command line and qund.conf(5), through one option table. */
#ifndef QUN_OPTIONS_H
#define QUN_OPTIONS_H

#include <limits.h>
#include <sys/types.h>

#include "common/i18n.h"

#define QUND_VERSION "0.1.0"
/* Receive moderation (see moderate()): the pause's default and its ceiling. */
#define COALESCE_DEFAULT_US 250
#define COALESCE_MAX_US     1000

/* Room for an option's text value (paths included). */
#define OPT_TEXT PATH_MAX

struct options {
	const char *host, *port; /* point into host_buf/port_buf, or NULL host */
	char host_buf[256], port_buf[32];
	enum lang lang;
	int legacy;
	unsigned long idle_timeout, keepalive_timeout, max_members, max_per_address;
	unsigned long prefix_v4, prefix_v6; /* what --max-per-address counts as one address */
	unsigned long max_v1, v1_login_burst, v1_login_rate, v1_login_timeout; /* --legacy */
	unsigned long flood_burst, flood_rate;
	unsigned long coalesce_us;      /* receive moderation's pause; 0 = never pause */
	char lobby[64];                 /* the default room's name, "#大厅" */
	unsigned long max_rooms_per;    /* rooms per member, the default room included */
	unsigned long max_rooms;        /* rooms on the server, the default room included */
	unsigned long max_room_members; /* 0: the server's capacity (max_members) */
	unsigned long max_room_name;    /* bytes of a new room's name after the '#' */
	char store[OPT_TEXT];           /* the store's file (history.h), or "none" */
	int store_sync;                 /* enum store_sync */
	unsigned long history_days;     /* retention by age (0: none) */
	unsigned long history_max;      /* retention by count, per room (0: none) */
	int daemonize;
	char user[64];
	char pidfile[OPT_TEXT]; /* "" = none (in the foreground) or the default (with -d) */
	char log[OPT_TEXT];     /* "" = stderr, or syslog with -d; "syslog"; or a file */
	char control[OPT_TEXT]; /* "" = the default path; "none" = no control socket */
	int control_default;    /* control is the default path: failing to open it is not fatal */
	char control_group[64]; /* --control-group: its members may use the socket; "" = none */
	int control_self;       /* with -u, processes running as USER may use the socket too */
	gid_t control_gid;      /* control_group, resolved by main; (gid_t)-1 for none */
	/* Resolved by main from user: whom to become after binding ((uid_t)-1 for none). */
	int drop;
	uid_t uid;
	gid_t gid;
};

/*
 * Fill opt from the defaults, then the configuration file (-c FILE), then
 * the flags, which win: every key of qund.conf(5) is a long option and
 * both go through one place (set_option).  Relative paths are made
 * absolute (a daemon works from /).  -h and -V print and exit 0; a bad
 * option or value is reported and exits 2.  opt->uid, gid, drop and
 * control_gid are main's to resolve.
 */
void options_parse(int argc, char **argv, struct options *opt);

#endif
