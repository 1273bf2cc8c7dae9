/* crc32.c - table-driven CRC-32 (reflected polynomial 0xEDB88320), zlib-compatible. */
#include "crc32.h"

/*
 * Slicing-by-8 (Intel's method, as zlib and the Linux kernel use it):
 * table[0] is the classic one-byte table, and table[k][i] is the CRC of
 * byte i followed by k zero bytes, so eight bytes are folded in with
 * eight independent lookups instead of a chain of eight.  Every v2
 * datagram is sealed or checked, and with one byte at a time this was
 * the largest part of qund's own time (docs/PERFORMANCE.md).  The tables
 * (8 KB) are built on first use; building them is idempotent, so no
 * locking is needed.
 */
static uint32_t table[8][256];
static int table_ready;

static void build_table(void)
{
	uint32_t c;
	int i, k;

	for (i = 0; i < 256; i++) {
		c = (uint32_t)i;
		for (k = 0; k < 8; k++)
			c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
		table[0][i] = c;
	}
	for (i = 0; i < 256; i++)
		for (k = 1; k < 8; k++)
			table[k][i] = (table[k - 1][i] >> 8) ^ table[0][table[k - 1][i] & 0xFF];
	table_ready = 1;
}

/* Four bytes as a little-endian number, whatever the machine's order. */
static uint32_t le32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

uint32_t crc32_ieee(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint32_t c = 0xFFFFFFFFu;

	if (!table_ready)
		build_table();
	for (; n >= 8; n -= 8, b += 8) {
		uint32_t lo = le32(b) ^ c, hi = le32(b + 4);

		c = table[7][lo & 0xFF] ^ table[6][(lo >> 8) & 0xFF] ^ table[5][(lo >> 16) & 0xFF] ^
		    table[4][lo >> 24] ^ table[3][hi & 0xFF] ^ table[2][(hi >> 8) & 0xFF] ^
		    table[1][(hi >> 16) & 0xFF] ^ table[0][hi >> 24];
	}
	while (n-- > 0)
		c = table[0][(c ^ *b++) & 0xFF] ^ (c >> 8);
	return c ^ 0xFFFFFFFFu;
}
