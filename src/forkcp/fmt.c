/* fmt.c - text for people: file names made safe to print, byte counts. Pure. */
#include "run.h"

#include "fmt.h"

#include <stdio.h>
#include <string.h>

void printable(char *out, size_t outlen, const char *name)
{
	static const char dots[] = "...";
	const unsigned char *p;
	size_t o = 0;

	for (p = (const unsigned char *)name; *p != '\0'; p++) {
		char esc[8];
		size_t n;

		if (*p < 0x20 || *p == 0x7f) {
			n = (size_t)snprintf(esc, sizeof esc, "\\%03o", *p);
		} else if (*p == '\\') {
			memcpy(esc, "\\\\", 2);
			n = 2;
		} else {
			esc[0] = (char)*p;
			n = 1;
		}
		if (o + n + sizeof dots > outlen) {
			memcpy(out + o, dots, sizeof dots);
			return;
		}
		memcpy(out + o, esc, n);
		o += n;
	}
	out[o] = '\0';
}

void fmt_bytes(char *buf, double v)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	long long tenths;
	size_t u = 0;

	while (v >= 1024.0 && u + 1 < sizeof unit / sizeof unit[0]) {
		v /= 1024.0;
		u++;
	}
	tenths = (long long)(v * 10.0 + 0.5);
	if (u == 0)
		snprintf(buf, HUMANSZ, "%lld B", (tenths + 5) / 10);
	else
		snprintf(buf, HUMANSZ, "%lld.%lld %s", tenths / 10, tenths % 10, unit[u]);
}
