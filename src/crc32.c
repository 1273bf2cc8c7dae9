/* crc32.c - table-driven CRC-32 (reflected polynomial 0xEDB88320), zlib-compatible. */
#include "crc32.h"

/* The table for one byte at a time, built on first use (idempotent, so no locking is needed). */
static uint32_t table[256];
static int table_ready;

static void build_table(void)
{
	uint32_t c;
	int i, k;

	for (i = 0; i < 256; i++) {
		c = (uint32_t)i;
		for (k = 0; k < 8; k++)
			c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
		table[i] = c;
	}
	table_ready = 1;
}

uint32_t crc32_ieee(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint32_t c = 0xFFFFFFFFu;

	if (!table_ready)
		build_table();
	while (n-- > 0)
		c = table[(c ^ *b++) & 0xFF] ^ (c >> 8);
	return c ^ 0xFFFFFFFFu;
}
