/* crc32.h - CRC-32 (IEEE 802.3, as zlib computes it): protocol v2's check against corrupted
 * datagrams. Pure. */
#ifndef QUN_CRC32_H
#define QUN_CRC32_H

#include <stddef.h>
#include <stdint.h>

/*
 * The CRC-32 of p[0..n), the same value as zlib's crc32(0, p, n).  It
 * catches what the UDP checksum let through or a middlebox introduced;
 * it is no defence against deliberate forgery (session ids are that).
 */
uint32_t crc32_ieee(const void *p, size_t n);

#endif
